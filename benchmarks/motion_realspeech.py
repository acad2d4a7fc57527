"""Lip sync on REAL speakers: predicted jaw opening vs the speaker's measured mouth opening.

Clips: every real talking-face video here that motion model 2.0 was NOT trained on (its training used GRID speaker
s1 and the four Obama addresses):
  * ../shared/media/SadTalker__*.mp4 (2 speakers, interview-style),
  * ../shared/data/real-av/grid-speakers/*.mp4 (10 other GRID speakers, studio), scored with GRID's recording
    offset corrected: the mouth track is read ``--grid-offset`` frames later (3: measured on the TRAINING speaker
    s1 against motion model 1.3.0, which never saw a real video; ``python -m models.motion.video_targets`` logs it),
  * ../shared/data/real-av/presidential/styletalk_reagan_clip1.mp4 (Reagan, 30 fps, resampled to 25).
Real mouth opening per frame: FaceMesh inner-lip gap (13-14) / eye-corner distance (33-263)
(``models.motion.video_targets``). Each method predicts a jaw opening from the clip's AUDIO only. Metric: Pearson r
at lag 0 per clip; in brackets the r at the clip's best lag in -4..4 frames (optimistic, diagnosis only).
Methods, all in the same run: the loudness baseline, PocketSphinx phone loop -> visemes, PocketSphinx words +
forced phone alignment -> visemes (both with the 100 ms lead of the synthetic targets, fixed before looking at any
clip), ``--baseline`` (e.g. motion model 1.3.0) and the shipped model (8 seeds; r per seed, averaged).

    python benchmarks/motion_realspeech.py [--package DIR] [--baseline DIR] [--cache /tmp/lm] [--json out.json]

Motion model 1.3.0 for ``--baseline``: ``mkdir /tmp/m13 && git show d741a78:models/data/dirfa_motion.zip >
/tmp/m13/dirfa_motion.zip && git show d741a78:models/data/dirfa_motion.json > /tmp/m13/dirfa_motion.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from models.motion.audio import load_audio
from models.motion.baseline import LoudnessBaseline, PhoneVisemeBaseline
from models.motion.video_targets import extract, shift

SHARED = Path(__file__).resolve().parents[2] / "shared"
MEDIA = SHARED / "media"
REAL_AV = SHARED / "data" / "real-av"


def clips(grid_offset: int) -> list[tuple[str, Path, int]]:
    """(group, video, offset in frames) of every held-out real clip found."""
    out = [("interview", v, 0) for v in sorted(MEDIA.glob("SadTalker__*.mp4"))]
    out += [("GRID", v, grid_offset) for v in sorted((REAL_AV / "grid-speakers").glob("*.mp4"))]
    out += [("Reagan", v, 0) for v in sorted((REAL_AV / "presidential").glob("*reagan*.mp4"))]
    return out


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    n = min(a.size, b.size)
    a, b = a[:n], b[:n]
    if a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def lagged(pred: np.ndarray, real: np.ndarray, lag: int) -> float:
    """r with the prediction moved ``lag`` frames later (lag > 0: prediction delayed)."""
    if lag > 0:
        return pearson(pred[:-lag], real[lag:])
    if lag < 0:
        return pearson(pred[-lag:], real[:lag])
    return pearson(pred, real)


def best_lag(pred: np.ndarray, real: np.ndarray) -> tuple[float, int]:
    scores = {lag: lagged(pred, real, lag) for lag in range(-4, 5)}
    lag = max(scores, key=scores.get)
    return scores[lag], lag


def checkpoint_jaw(path: str):
    import torch

    from models.motion import features as F
    from models.motion.train import Normalizer, load_checkpoint
    from models.schema import neutral_motion

    torch.set_num_threads(1)
    net, _ = load_checkpoint(path)
    norm = Normalizer(net.cfg)

    def jaw(samples: np.ndarray) -> np.ndarray:
        feats = F.audio_features(
            samples, phones=net.cfg.phones, mel=net.cfg.mel, visemes=net.cfg.visemes, whisper=net.cfg.whisper
        )
        with torch.no_grad():
            audio = net.encoder(torch.from_numpy(norm.feats(feats))[None])
            prev = torch.from_numpy(np.tile(norm.motion(neutral_motion()), (1, feats.shape[0], 1)))
            mu, _ = net.decode(audio, prev, torch.zeros(1, net.cfg.z_dim))
        return norm.unmotion(mu[0].numpy())[:, 0]

    return jaw


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--package", help="directory with dirfa_motion.json (default: the shipped model)")
    p.add_argument("--baseline", help="another motion model directory to score in the same run (e.g. 1.3.0)")
    p.add_argument("--checkpoint", help="torch checkpoint instead of the ONNX package")
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--grid-offset", type=int, default=3)
    p.add_argument("--no-align", action="store_true", help="skip the slow words + alignment baseline")
    p.add_argument("--cache", help="landmark cache folder (see models.motion.video_targets --cache)")
    p.add_argument("--json")
    a = p.parse_args(argv)
    todo = clips(a.grid_offset)
    if not todo:
        print(f"no real talking-face videos under {SHARED}", file=sys.stderr)
        return 2
    methods: dict = {
        "loudness envelope": lambda s: LoudnessBaseline().generate(s, sample_rate=16000, seed=0).column("jaw_open"),
        "PocketSphinx phone loop -> visemes": lambda s: PhoneVisemeBaseline(align=False).jaw(s, sample_rate=16000),
    }
    if not a.no_align:
        methods["PocketSphinx words + alignment -> visemes"] = lambda s: PhoneVisemeBaseline(align=True).jaw(
            s, sample_rate=16000
        )
    from models.motion.model import MotionModel

    def network(model: MotionModel):
        return lambda s: np.stack(
            [model.generate(s, sample_rate=16000, seed=k).column("jaw_open") for k in range(a.seeds)]
        )

    if a.baseline:
        base = MotionModel.load(a.baseline)
        methods[f"DIRFA network {base.card.version}"] = network(base)
    if a.checkpoint:
        methods[f"DIRFA checkpoint {Path(a.checkpoint).name} (teacher-forced, z=0)"] = checkpoint_jaw(a.checkpoint)
    else:
        model = MotionModel.load(a.package)
        methods[f"DIRFA network {model.card.version}"] = network(model)
    results: dict = {m: {} for m in methods}
    for group, video, offset in todo:
        t = extract(video, cache=a.cache)
        real = np.where(t.found, t.motion[:, 0], np.nan).astype(np.float32)
        real = shift(real, offset)
        ok = ~np.isnan(real)
        samples = load_audio(video)
        for name, fn in methods.items():
            t0 = time.perf_counter()
            pred = fn(samples)
            el = time.perf_counter() - t0
            preds = pred if pred.ndim == 2 else pred[None]
            n = min(preds.shape[1], real.size)
            m = ok[:n]
            r0 = float(np.mean([pearson(q[:n][m], real[:n][m]) for q in preds]))
            raw = np.nan_to_num(shift(real, -offset), nan=float(np.nanmean(real)))[:n]
            rb = [best_lag(q[:n], raw) for q in preds]
            results[name][video.stem] = {
                "group": group,
                "offset": offset,
                "r_lag0": r0,
                "r_best_raw": float(np.mean([x[0] for x in rb])),
                "best_lag_raw": int(np.median([x[1] for x in rb])),
                "seconds": el,
                "frames": int(n),
            }
        print(f"{video.stem}: " + ", ".join(f"{k.split(' ')[0]} {v[video.stem]['r_lag0']:.2f}"
                                              for k, v in results.items()), file=sys.stderr, flush=True)  # fmt: skip
    names = list(methods)
    print("| clip | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for _group, video, _offset in todo:
        cells = [f"{results[m][video.stem]['r_lag0']:.2f}" for m in names]
        print(f"| {video.stem} | " + " | ".join(cells) + " |")
    for label, keep in (("**mean, all held-out clips**", None), ("mean, interview", "interview"),
                        ("mean, GRID speakers", "GRID")):  # fmt: skip
        cells = []
        for m in names:
            v = [x["r_lag0"] for x in results[m].values() if keep is None or x["group"] == keep]
            cells.append(f"**{np.mean(v):.2f}**" if keep is None else f"{np.mean(v):.2f}")
        print(f"| {label} | " + " | ".join(cells) + " |")
    cells = [f"({np.mean([x['r_best_raw'] for x in results[m].values()]):.2f})" for m in names]
    print("| (best lag in -4..4 on the raw files, mean) | " + " | ".join(cells) + " |")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
