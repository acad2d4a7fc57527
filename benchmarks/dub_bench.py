"""Visual dubbing on REAL videos: does the dubbed mouth follow the new speech, is the rest kept, how fast is it?

Each case dubs a real talking video with the speech of ANOTHER real recording (``Generator.dub``, seed 0), then
measures the OUTPUT with FaceMesh (inner-lip gap 13-14 / eye-corner distance 33-263, ``models.motion.video_targets``):
  * r_pred: Pearson r (lag 0) of the output's mouth opening vs the motion model's jaw for the new speech (>= 0.6);
  * r_src: vs the source video's own mouth opening on the same frames (looped as the dub loops it; target <= 0.2);
  * r_phone: vs the PocketSphinx phone-loop -> viseme jaw of the new speech (``PhoneVisemeBaseline``), a lip-sync
    reference independent of the motion model (PocketSphinx needed; else n/a);
  * r_src0: the source's own mouth vs the model's jaw for the new speech (what the undubbed video scores: chance);
  * SSIM outside the synthesised box (the manifest's ``region_box``), every 5th frame, output vs source (>= 0.95);
  * speed: output seconds / wall seconds of the whole dub (decode, track, warp, watermark, encode, sign, verify),
    the median of ``--repeats`` dubs, after one warm-up dub (model sessions, FaceMesh graph).
Videos: ../shared/media (2 interview clips, 512x512) and ../shared/data/real-av (GRID 360x288, presidential 256 px
30 fps / 450 px); never committed, the benchmark skips what is missing.

    nice -n 10 python benchmarks/dub_bench.py [--seconds 8] [--json out.json] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import av
import numpy as np
from skimage.metrics import structural_similarity

from models.motion.audio import encode_wav, load_audio
from models.motion.video_targets import landmark_frames
from models.schema import MOTION_INDEX
from sdk import Generator
from verifier import verify

SHARED = Path(__file__).resolve().parents[2] / "shared"
MEDIA, REAL = SHARED / "media", SHARED / "data" / "real-av"
CASES = [  # (source video, video whose speech is dubbed in)
    (MEDIA / "SadTalker__WDA_KatieHill_000.mp4", MEDIA / "SadTalker__WDA_AlexandriaOcasioCortez_000.mp4"),
    (MEDIA / "SadTalker__WDA_AlexandriaOcasioCortez_000.mp4", MEDIA / "SadTalker__WDA_KatieHill_000.mp4"),
    (REAL / "presidential" / "EDTalk_uncrop_Obama.mp4", REAL / "presidential" / "styletalk_reagan_clip1.mp4"),
    (REAL / "presidential" / "styletalk_reagan_clip1.mp4", MEDIA / "SadTalker__WDA_KatieHill_000.mp4"),
]


def _grid_case() -> tuple[Path, Path] | None:
    clips = sorted((REAL / "grid-speakers").glob("*.mp4"))
    return (clips[0], clips[1]) if len(clips) > 1 else None


def frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def jaw(fr: list[np.ndarray]) -> np.ndarray:
    p = landmark_frames(fr)
    return np.linalg.norm(p[:, 13, :2] - p[:, 14, :2], axis=1) / np.linalg.norm(p[:, 263, :2] - p[:, 33, :2], axis=1)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 10 or a[ok].std() == 0 or b[ok].std() == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def phone_jaw(samples: np.ndarray, fps: int) -> np.ndarray | None:
    try:
        from models.motion.baseline import PhoneVisemeBaseline

        j = np.asarray(PhoneVisemeBaseline(align=False).jaw(samples, sample_rate=16000), np.float64)
    except ImportError:
        return None
    if fps == 25:
        return j
    t = np.arange(round(len(j) * fps / 25)) * 25 / fps
    return np.interp(t, np.arange(len(j)), j)


def run_case(gen: Generator, source: Path, speech_from: Path, seconds: float, work: Path, repeats: int = 3) -> dict:
    speech = load_audio(speech_from)[: int(seconds * 16000)]
    wav = work / f"{speech_from.stem}-speech.wav"
    wav.write_bytes(encode_wav(speech, 16000))
    out = work / f"dub-{source.stem}.mp4"
    walls = []
    for _ in range(repeats):  # the same dub again (new content ID): speed as the median, quality from the last
        out.unlink(missing_ok=True)
        t = time.perf_counter()
        result = gen.dub(source, wav, output=out, seed=0)
        walls.append(time.perf_counter() - t)
    wall = float(np.median(walls))
    fps = result.fps
    pred = gen.model.generate(speech, sample_rate=16000, seed=0, fps=fps).values[:, MOTION_INDEX["jaw_open"]]
    out_frames = frames(out)
    src_frames = frames(source)
    looped = [src_frames[i % len(src_frames)][: result.height, : result.width] for i in range(len(out_frames))]
    jaw_out, jaw_src = jaw(out_frames), jaw(looped)
    box = verify(out).c2pa.generation["region_box"]
    ssim = []
    for i in range(0, len(out_frames), 5):
        a, b = out_frames[i].copy(), looped[i].copy()
        for f in (a, b):
            f[box["y"] : box["y"] + box["height"], box["x"] : box["x"] + box["width"]] = 0
        ssim.append(structural_similarity(a, b, channel_axis=2, data_range=255))
    pj = phone_jaw(speech, fps)
    return {
        "source": source.name,
        "speech_from": speech_from.name,
        "size": f"{result.width}x{result.height}",
        "fps": fps,
        "seconds": round(result.duration, 2),
        "face_lost_frames": sum(b - a for a, b in result.face_lost),
        "r_pred": round(pearson(jaw_out, pred), 3),
        "r_src": round(pearson(jaw_out, jaw_src), 3),
        "r_phone": None if pj is None else round(pearson(jaw_out, pj), 3),
        "r_src0": round(pearson(jaw_src, pred), 3),
        "r_src0_phone": None if pj is None else round(pearson(jaw_src, pj), 3),
        "mae_pred": round(float(np.nanmean(np.abs(jaw_out[: len(pred)] - pred[: len(jaw_out)]))), 4),
        "ssim_outside_min": round(float(np.min(ssim)), 4),
        "ssim_outside_mean": round(float(np.mean(ssim)), 4),
        "x_real_time": round(result.duration / wall, 2),
        "timings": result.timings,
        "verdict": result.verdict,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=8.0, help="seconds of new speech per case (default 8)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--keep", help="keep the dubbed videos in this folder")
    p.add_argument("--repeats", type=int, default=3, help="dubs per case for the speed median (default 3)")
    a = p.parse_args(argv)
    cases = [c for c in CASES if c[0].is_file() and c[1].is_file()]
    grid = _grid_case()
    if grid:
        cases.append(grid)
    if not cases:
        print("no real videos found under", SHARED)
        return 1
    gen = Generator()
    rows = []
    with tempfile.TemporaryDirectory() as warm:  # model sessions and FaceMesh loaded once, outside the timings
        run_case(gen, cases[0][0], cases[0][1], 1.0, Path(warm), repeats=1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(a.keep) if a.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for source, speech_from in cases:
            row = run_case(gen, source, speech_from, a.seconds, work, a.repeats)
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "timings"}), flush=True)
    cols = ("source", "size", "seconds", "r_pred", "r_src", "r_phone", "r_src0", "r_src0_phone", "ssim_outside_min",
            "x_real_time")  # fmt: skip
    print("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
