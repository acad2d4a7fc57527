"""Verifier speed against plain PyAV decoding of the same file, measured in the same run (issue targets: full mode
<= 2x decode time and >= 20x real time on a 10 s 512x512 clip; fast mode >= 100x real time; 1080p downscaled early).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/verify_speed.py [--seconds 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]


def decode_only(path: Path) -> float:
    t = time.perf_counter()
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for frame in c.decode(s):
            frame.to_ndarray(format="rgb24")
    return time.perf_counter() - t


def upscale(src: Path, dst: Path, width: int, height: int) -> None:
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.options = {"crf": "20", "preset": "veryfast"}
        for f in inp.decode(video=0):
            for p in s.encode(
                av.VideoFrame.from_ndarray(f.to_ndarray(width=width, height=height, format="rgb24"), format="rgb24")
            ):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)


def best(fn, repeat: int) -> float:
    return min(fn() for _ in range(repeat))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--repeat", type=int, default=3)
    ns = p.parse_args()
    os.environ.setdefault("DIRFA_HOME", tempfile.mkdtemp(prefix="dirfa-bench-"))

    from render_speed import make_audio

    from sdk import Generator
    from verifier import verify

    tmp = Path(tempfile.mkdtemp(prefix="verify-speed-"))
    audio = tmp / "speech.wav"
    make_audio(ns.seconds, audio)
    clip = (
        Generator(size=512).render(ROOT / "sdk" / "data" / "portrait.jpg", audio, output=tmp / "clip.mp4", seed=1).path
    )
    hd = tmp / "clip-1080.mp4"
    upscale(clip, hd, 1080, 1080)
    rows = []
    for label, path in (("512x512", clip), ("1080x1080 (upscaled, re-encoded CRF 20)", hd)):
        t_dec = best(lambda path=path: decode_only(path), ns.repeat)
        for mode in ("full", "fast"):
            reports = []

            def run(path=path, mode=mode, reports=reports):
                t = time.perf_counter()
                reports.append(verify(path, mode=mode))
                return time.perf_counter() - t

            t_ver = best(run, ns.repeat)
            r = reports[-1]
            rows.append(
                {
                    "clip": label,
                    "mode": mode,
                    "decode_s": round(t_dec, 3),
                    "verify_s": round(t_ver, 3),
                    "verify_over_decode": round(t_ver / t_dec, 2),
                    "x_real_time": round(ns.seconds / t_ver, 1),
                    "verdict": r.verdict.value,
                    "watermark_found": r.watermark.found,
                    "frames_analysed": r.watermark.frames_analysed,
                    "timings": r.timings,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"machine": f"{platform.machine()} {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d")}))


if __name__ == "__main__":
    main()
