"""Render speed, provenance share and peak memory of Generator.render (issue targets: >= 4x real time at 512x512,
provenance <= 20% of the time, <= 1.5 GB peak for 600 s of audio).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/render_speed.py [--durations 10 60 600] [--out FILE.json]

Each case runs in its own process (clean peak-memory reading). Speech is the bundled sample, looped to length.
Cases up to 60 s render ``--repeat`` times (default 3) and report the median; the 10 s case renders once first to
warm up (mediapipe and onnxruntime start-up would otherwise dominate it).
For each case it also measures, in the same process, the same pipeline with the watermark stage replaced by a
pass-through (benchmark-only, private hook): the difference is the watermark's marginal wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_audio(seconds: float, path: Path) -> None:
    import numpy as np

    from models.motion.audio import encode_wav, load_audio

    speech = load_audio(ROOT / "sdk" / "data" / "speech.wav")
    gap = np.zeros(8000, np.float32)
    unit = np.concatenate([speech, gap])
    reps = int(np.ceil(seconds * 16000 / unit.size))
    path.write_bytes(encode_wav(np.tile(unit, reps)[: int(seconds * 16000)], 16000))


class _PassThrough:
    """Stands in for the watermarker to measure its marginal cost (never used by the product)."""

    def embed(self, frames, content_id, *, fps=25.0):
        return iter(frames)


class _ChildPeak:
    """Peak RSS (VmHWM) of this process's render children, polled from /proc (Linux). ``RUSAGE_CHILDREN`` would
    also count helpers that imports fork (ctypes' gcc, lscpu) while this process is large."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        me = str(os.getpid())
        while not self._stop.wait(0.2):
            for status in Path("/proc").glob("[0-9]*/status"):
                try:
                    text = status.read_text()
                    cmdline = (status.parent / "cmdline").read_bytes()
                except OSError:
                    continue
                fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
                if fields.get("PPid", "").strip() == me and b"sdk._render_worker" in cmdline:
                    self.peak_kb = max(self.peak_kb, int(fields.get("VmHWM", "0 kB").split()[0]))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return round(self.peak_kb / 1024)


def run_case(seconds: float, size: int, pipelined: bool, repeat: int) -> dict:
    from sdk import Generator

    child_peak = _ChildPeak()

    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "speech.wav"
        make_audio(seconds, audio)
        gen = Generator(size=size, pipelined=pipelined)
        portrait = ROOT / "sdk" / "data" / "portrait.jpg"
        if seconds <= 10:  # first-render costs (mediapipe and onnxruntime start-up) would dominate a short case
            gen.render(portrait, audio, output=Path(tmp) / "warmup.mp4", seed=0)
        walls, results = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            results.append(gen.render(portrait, audio, output=Path(tmp) / "out.mp4", seed=1))
            walls.append(time.perf_counter() - t)
        order = sorted(range(repeat), key=walls.__getitem__)
        median = order[repeat // 2]
        wall, result = walls[median], results[median]
        size_bytes = result.path.stat().st_size

        row = {
            "audio_s": seconds,
            "size": size,
            "pipelined": pipelined,
            "frames": result.frame_count,
            "runs": repeat,
            "wall_s": round(wall, 2),
            "wall_s_all": [round(w, 2) for w in walls],
            "x_real_time": round(seconds / wall, 2),
            "ms_per_frame": round(1000 * wall / result.frame_count, 2),
            "stages_s": result.timings,
            "file_mb": round(size_bytes / 1e6, 2),
        }
        if seconds <= 120:  # the marginal-cost rerun would double a long case; peak memory is what that one is for
            marginal = _watermark_marginal(gen, portrait, audio, size, result.content_id, Path(tmp))
            provenance = max(0.0, marginal) + sum(result.timings[k] for k in ("sign", "self_verify", "store"))
            row["watermark_marginal_s"] = round(marginal, 2)
            row["provenance_share"] = round(provenance / wall, 3)
    row["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    row["peak_rss_render_child_mb"] = child_peak.stop()
    row["peak_rss_total_mb"] = row["peak_rss_mb"] + row["peak_rss_render_child_mb"]  # an upper bound
    return row


def _watermark_marginal(gen, portrait: Path, audio: Path, size: int, content_id: str, tmp: Path) -> float:
    """Wall time of the same frames through the same pipeline, with minus without the watermark stage."""
    from sdk._encode import AUDIO_RATE
    from sdk._inputs import prepare
    from sdk._render_worker import RenderProcess

    inputs = prepare(portrait, audio, out_rate=AUDIO_RATE, max_seconds=gen.max_duration)
    renderer = gen.renderer_factory(inputs.image, size=size, framing=gen.framing)
    motion = gen.model.generate(inputs.audio_16k, sample_rate=16_000, seed=1, fps=gen.fps)
    w, h = renderer.frame_size
    real, timings = gen.watermarker, {}
    try:
        for label, marker in (("with", real), ("without", _PassThrough())):
            gen.watermarker = marker
            with RenderProcess() as proc:
                proc.start(renderer)
                proc.ready()
                t = time.perf_counter()
                frames = proc.frames([motion.values])
                gen._encode(frames, len(motion), content_id, tmp / f"{label}.mp4", w, h, inputs.audio_out, None)
                timings[label] = time.perf_counter() - t
    finally:
        gen.watermarker = real
    return timings["with"] - timings["without"]


def run_photo_case(seconds: float, size: int, photo: str) -> dict:
    """ALL fixed costs with a user's photo: this process starts cold, then ``Generator()`` + one render (``cold``),
    then the reused Generator renders a photo it has not seen (``reused, new photo``: landmarks and portrait
    preparation included, model load excluded) and the same photo again (``reused, same photo``)."""
    t_import = time.perf_counter()
    from sdk import Generator

    import_s = time.perf_counter() - t_import
    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "speech.wav"
        make_audio(seconds, audio)
        t = time.perf_counter()
        gen = Generator(size=size)
        gen.render(photo, audio, output=Path(tmp) / "cold.mp4", seed=0)
        cold = time.perf_counter() - t
        other = ROOT / "sdk" / "data" / "portrait.jpg"
        news, sames = [], []
        for k in range(2):
            gen.render(other, audio, output=Path(tmp) / "other.mp4", seed=k)  # evicts nothing (cache of 2)
            # a photo the Generator has not prepared: a copy under a new name with one pixel changed
            fresh = Path(tmp) / f"photo{k}.png"
            from PIL import Image

            im = Image.open(photo).convert("RGB")
            im.putpixel((0, 0), (k, k, k))
            im.save(fresh)
            t = time.perf_counter()
            gen.render(fresh, audio, output=Path(tmp) / "new.mp4", seed=1)
            news.append(time.perf_counter() - t)
            t = time.perf_counter()
            gen.render(fresh, audio, output=Path(tmp) / "same.mp4", seed=2)
            sames.append(time.perf_counter() - t)
    return {
        "audio_s": seconds,
        "photo": Path(photo).name,
        "import_s": round(import_s, 2),
        "cold_wall_s": round(cold, 2),
        "cold_x_real_time": round(seconds / cold, 2),
        "cold_incl_import_x_real_time": round(seconds / (cold + import_s), 2),
        "reused_new_photo_wall_s": [round(w, 2) for w in news],
        "reused_new_photo_x_real_time": round(seconds / statistics.median(news), 2),
        "reused_same_photo_x_real_time": round(seconds / statistics.median(sames), 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--durations", type=float, nargs="+", default=[10, 60, 600])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--sequential", action="store_true", help="also run each case without pipelining")
    p.add_argument("--repeat", type=int, default=3, help="renders per case up to 60 s; the median is reported")
    p.add_argument("--out", type=Path)
    p.add_argument("--photo", help="also measure cold and new-photo renders of this (1-2 megapixel) photo")
    p.add_argument("--case", nargs=4, metavar=("SECONDS", "SIZE", "PIPELINED", "REPEAT"), help=argparse.SUPPRESS)
    p.add_argument("--photo-case", nargs=2, metavar=("SECONDS", "SIZE"), help=argparse.SUPPRESS)
    ns = p.parse_args()
    if ns.photo_case:
        print(json.dumps(run_photo_case(float(ns.photo_case[0]), int(ns.photo_case[1]), ns.photo)))
        return
    if ns.case:
        print(json.dumps(run_case(float(ns.case[0]), int(ns.case[1]), ns.case[2] == "1", int(ns.case[3]))))
        return
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", DIRFA_HOME=tempfile.mkdtemp(prefix="dirfa-bench-"))
    rows = []
    for seconds in ns.durations:
        for pipelined in [True, False] if ns.sequential else [True]:
            repeat = ns.repeat if seconds <= 60 else 1
            cmd = [
                sys.executable,
                __file__,
                "--case",
                str(seconds),
                str(ns.size),
                "1" if pipelined else "0",
                str(repeat),
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(json.dumps(row), flush=True)
        if ns.photo:
            cmd = [sys.executable, __file__, "--photo", ns.photo, "--photo-case", str(seconds), str(ns.size)]
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(json.dumps(row), flush=True)
    meta = {"machine": f"{platform.machine()} {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"), "rows": rows}
    if ns.out:
        ns.out.write_text(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
