"""Lip sync on REAL speakers: predicted jaw opening vs the speaker's measured mouth opening.

For every real talking-face video in ../shared/media (SadTalker__*.mp4, 25 fps with audio): the real mouth opening
per frame is FaceMesh's inner-lip gap (13-14) / eye-corner distance (33-263)
(``models.motion.video_targets``); each method predicts a jaw opening from the video's AUDIO only.
Metric: Pearson r at lag 0 per video, then the mean over videos;
in brackets the r when each video may pick its best lag in -4..4 frames (optimistic, for diagnosis only).
Methods, all in the same run: the loudness baseline, PocketSphinx phone loop -> visemes, PocketSphinx recognised
words + forced phone alignment -> visemes (both with the same 100 ms lead as the network's targets, chosen before
looking at these clips), and the DIRFA network (8 seeds; r per seed, averaged).

    python benchmarks/motion_realspeech.py [--package models/motion/data] [--checkpoint ckpt.pt] [--json out.json]

``--checkpoint`` evaluates a torch checkpoint teacher-forced with z = 0 (to watch training; needs torch).
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
from models.motion.video_targets import extract

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


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
        feats = F.audio_features(samples, phones=net.cfg.phones, mel=net.cfg.mel, visemes=net.cfg.visemes)
        with torch.no_grad():
            audio = net.encoder(torch.from_numpy(norm.feats(feats))[None])
            prev = torch.from_numpy(np.tile(norm.motion(neutral_motion()), (1, feats.shape[0], 1)))
            mu, _ = net.decode(audio, prev, torch.zeros(1, net.cfg.z_dim))
        return norm.unmotion(mu[0].numpy())[:, 0]

    return jaw


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--package", help="directory with dirfa_motion.json (default: the shipped model)")
    p.add_argument("--checkpoint", help="torch checkpoint instead of the ONNX package")
    p.add_argument("--seeds", type=int, default=8)
    p.add_argument("--json")
    a = p.parse_args(argv)
    videos = sorted(MEDIA.glob("SadTalker__*.mp4"))
    if not videos:
        print(f"no real talking-face videos in {MEDIA}", file=sys.stderr)
        return 2
    methods: dict = {
        "loudness envelope (LoudnessBaseline)": lambda s: (
            LoudnessBaseline().generate(s, sample_rate=16000, seed=0).column("jaw_open")
        ),
        "PocketSphinx phone loop -> visemes (100 ms lead)": lambda s: PhoneVisemeBaseline(align=False).jaw(
            s, sample_rate=16000
        ),
        "PocketSphinx words + phone alignment -> visemes (100 ms lead)": lambda s: PhoneVisemeBaseline(align=True).jaw(
            s, sample_rate=16000
        ),
    }
    if a.checkpoint:
        methods[f"DIRFA checkpoint {Path(a.checkpoint).name} (teacher-forced, z=0)"] = checkpoint_jaw(a.checkpoint)
    else:
        from models.motion.model import MotionModel

        model = MotionModel.load(a.package)
        label = f"DIRFA network {model.card.version} ({a.seeds} seeds, mean of per-seed r)"
        methods[label] = lambda s: np.stack(
            [model.generate(s, sample_rate=16000, seed=k).column("jaw_open") for k in range(a.seeds)]
        )
    results: dict = {m: {} for m in methods}
    for video in videos:
        real = extract(video).motion[:, 0]
        samples = load_audio(video)
        for name, fn in methods.items():
            t = time.perf_counter()
            pred = fn(samples)
            el = time.perf_counter() - t
            preds = pred if pred.ndim == 2 else pred[None]
            r0 = float(np.mean([pearson(q, real) for q in preds]))
            rb = [best_lag(q, real) for q in preds]
            results[name][video.stem] = {
                "r_lag0": r0,
                "r_best": float(np.mean([x[0] for x in rb])),
                "best_lag": int(np.median([x[1] for x in rb])),
                "seconds": el,
                "frames": int(real.size),
            }
    print(f"| method | {' | '.join(v.stem.replace('SadTalker__WDA_', '') for v in videos)} | mean r at lag 0 | "
          "(best lag) |")  # fmt: skip
    print("|---" * (len(videos) + 3) + "|")
    for name, per in results.items():
        cells = [f"{per[v.stem]['r_lag0']:.2f} ({per[v.stem]['r_best']:.2f} @ {per[v.stem]['best_lag']:+d})"
                 for v in videos]  # fmt: skip
        mean0 = np.mean([per[v.stem]["r_lag0"] for v in videos])
        meanb = np.mean([per[v.stem]["r_best"] for v in videos])
        print(f"| {name} | {' | '.join(cells)} | **{mean0:.2f}** | ({meanb:.2f}) |")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
