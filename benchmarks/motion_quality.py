"""Motion model quality on synthetic held-out speech: lip sync, silences, diversity across seeds, smoothness.

Held-out clips are made by the corpus generator with voice variants never used in training
(``models.motion.corpus.build.HELDOUT_VARIANTS``) and a seed the training corpus did not use, clean and augmented. Every
number goes through the shipped runtime path (``MotionModel.generate`` on the audio), not teacher forcing.

    python benchmarks/motion_quality.py [--package DIR] [--clips 40] [--json out.json]

Synthetic scores say little about real speakers: see benchmarks/motion_realspeech.py for the measure that matters.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from models.motion.audio import load_audio
from models.motion.baseline import LoudnessBaseline
from models.motion.corpus.build import HELDOUT_VARIANTS, make_clip
from models.motion.model import MotionModel
from models.schema import MOTION_INDEX

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
HEAD = [MOTION_INDEX[d] for d in ("head_yaw", "head_pitch", "head_roll")]


def jerk(x: np.ndarray) -> float:
    """Mean absolute third difference per frame (units of x per frame^3)."""
    return float(np.mean(np.abs(np.diff(x, n=3, axis=0)))) if x.shape[0] > 3 else 0.0


def lip_sync(model, clips) -> dict:
    preds, targets, per_clip, closed, open_ = [], [], [], [], []
    for clip in clips:
        jaw = model.generate(clip.audio, sample_rate=16000, seed=0).column("jaw_open")
        n = min(jaw.size, clip.motion.shape[0])
        p, t = jaw[:n], clip.motion[:n, 0]
        preds.append(p)
        targets.append(t)
        if t.std() > 1e-6 and p.std() > 1e-6:
            per_clip.append(np.corrcoef(p, t)[0, 1])
        silent = np.convolve((t < 0.005).astype(float), np.ones(5) / 5, mode="same") > 0.99  # 5 closed frames
        closed.append(p[silent])
        open_.append(p[t > 0.1])
    p, t = np.concatenate(preds), np.concatenate(targets)
    return {
        "jaw_r_pooled": float(np.corrcoef(p, t)[0, 1]),
        "jaw_r_per_clip_mean": float(np.mean(per_clip)),
        "jaw_in_silence_mean": float(np.mean(np.concatenate(closed))),
        "jaw_in_silence_p95": float(np.percentile(np.concatenate(closed), 95)),
        "jaw_when_target_open_mean": float(np.mean(np.concatenate(open_))),
        "frames": int(t.size),
    }


def diversity(model, samples: np.ndarray, seeds: int = 8) -> dict:
    runs = [model.generate(samples, sample_rate=16000, seed=s).values for s in range(seeds)]
    head = np.stack([r[:, HEAD] for r in runs])  # (S, T, 3)
    jaw = np.stack([r[:, 0] for r in runs])
    pair_dist = [float(np.sqrt(np.mean((head[a] - head[b]) ** 2))) for a, b in itertools.combinations(range(seeds), 2)]
    pair_r = [float(np.corrcoef(jaw[a], jaw[b])[0, 1]) for a, b in itertools.combinations(range(seeds), 2)]
    return {
        "head_std_deg_yaw_pitch_roll": [float(v) for v in head.std(axis=1).mean(axis=0)],
        "head_pose_std_deg_mean": float(head.std(axis=1).mean()),
        "pairwise_head_rms_distance_deg": float(np.mean(pair_dist)),
        "pairwise_jaw_r_min": float(np.min(pair_r)),
        "pairwise_jaw_r_mean": float(np.mean(pair_r)),
        "brow_raises_per_min": float(
            np.mean([np.sum(np.diff((r[:, MOTION_INDEX["brow_raise"]] > 0.4).astype(int)) == 1) for r in runs])
            / (jaw.shape[1] / 25 / 60)
        ),
        "blinks_per_min": float(
            np.mean([np.sum(np.diff((r[:, MOTION_INDEX["blink_left"]] > 0.5).astype(int)) == 1) for r in runs])
            / (jaw.shape[1] / 25 / 60)
        ),
    }


def smoothness(model, clips) -> dict:
    gen = [model.generate(c.audio, sample_rate=16000, seed=1).values for c in clips]
    tgt = [c.motion for c in clips]
    out = {}
    for name in ("jaw_open", "head_yaw", "head_pitch", "brow_raise", "brow_furrow", "gaze_x", "gaze_y"):
        i = MOTION_INDEX[name]
        out[name] = {
            "generated": float(np.mean([jerk(g[:, i]) for g in gen])),
            "targets": float(np.mean([jerk(t[:, i]) for t in tgt])),
            # how much the dim moves within a clip: smoothness bought by flattening would show here
            "std_generated": float(np.mean([g[:, i].std() for g in gen])),
            "std_targets": float(np.mean([t[:, i].std() for t in tgt])),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--package")
    p.add_argument("--clips", type=int, default=40)
    p.add_argument("--seed", type=int, default=2000)
    p.add_argument("--json")
    a = p.parse_args(argv)
    model = MotionModel.load(a.package)
    rng = np.random.default_rng(a.seed)
    clean = [make_clip(rng, variants=HELDOUT_VARIANTS, augment=False) for _ in range(a.clips)]
    noisy = [make_clip(rng, variants=HELDOUT_VARIANTS, augment=True) for _ in range(a.clips)]
    res: dict = {"model": model.card.version}
    res["lip_sync_heldout_clean"] = lip_sync(model, clean)
    res["lip_sync_heldout_augmented"] = lip_sync(model, noisy)
    res["loudness_baseline_heldout_clean"] = lip_sync(LoudnessBaseline(), clean)
    syn = np.concatenate([c.audio for c in clean[:4]])
    res["diversity_synthetic_8_seeds"] = diversity(model, syn)
    real = MEDIA / "hallo__1.wav"
    if real.is_file():
        res["diversity_real_speech_8_seeds"] = diversity(model, load_audio(real))
    res["smoothness_jerk"] = smoothness(model, clean[:10])
    print(json.dumps(res, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
