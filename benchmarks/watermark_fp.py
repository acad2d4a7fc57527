"""Watermark false positives: detections on unmarked clips, and the analytic bound beside them.

python benchmarks/watermark_fp.py [--clips 10000] [--frames 4] [--size 256] [--resync-clips 300] [--json FILE]

Unmarked clips of ``--frames`` frames, cycling through six families: natural (random crops, scales and drift
of the portraits in ../shared/media and of scikit-image's sample photos), flat (uniform grey or colour, some
with sensor-like noise), noise (uniform and Gaussian), text (random strings on random backgrounds) and
marked-with-another-key (natural frames marked with a random private key, detected with the public key) and
edited (issue 16's edits on unmarked natural frames, then H.264).
Every clip goes through the aligned detector (``resync=False``); the first ``--resync-clips`` also through the
full detector with re-synchronisation (its cost bounds how many fit in minutes). Reported: detections (any
``found``), the smallest log10 p seen, and the largest agreeing-bit margin to the threshold.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import string
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from provenance.watermark import (  # noqa: E402
    VideoWatermarker,
    _code,
    _decide,
    _tone,
)

MEDIA = REPO.parent / "shared" / "media"


def natural_sources() -> list[np.ndarray]:
    from skimage import data

    imgs = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry()]
    for name in ("hallo__5.jpg", "echomimic__a.png", "echomimic__d.png", "hallo__1.jpg"):
        p = MEDIA / name
        if p.exists():
            imgs.append(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB))
    return imgs


def natural(rng, sources, n, size):
    img = sources[rng.integers(len(sources))]
    h, w = img.shape[:2]
    side = int(rng.uniform(0.3, 1.0) * min(h, w))
    y0, x0 = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    out = []
    for k in range(n):
        dy, dx = min(h - side, y0 + k), min(w - side, x0 + 2 * k)
        out.append(cv2.resize(img[dy : dy + side, dx : dx + side], (size, size), interpolation=cv2.INTER_AREA))
    return out


def flat(rng, n, size):
    colour = rng.integers(0, 256, 3) if rng.random() < 0.5 else np.full(3, rng.integers(0, 256))
    sigma = rng.choice([0.0, 0.0, 1.0, 3.0])
    base = np.broadcast_to(colour, (size, size, 3)).astype(np.float64)
    return [np.clip(base + rng.normal(0, sigma, base.shape), 0, 255).astype(np.uint8) for _ in range(n)]


def noise(rng, n, size):
    if rng.random() < 0.5:
        return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(n)]
    m, s = rng.uniform(40, 210), rng.uniform(5, 60)
    return [np.clip(rng.normal(m, s, (size, size, 3)), 0, 255).astype(np.uint8) for _ in range(n)]


def text(rng, n, size):
    bg = rng.integers(0, 256, 3)
    img = np.empty((size, size, 3), np.uint8)
    img[:] = bg
    for line in range(rng.integers(3, 12)):
        s = "".join(rng.choice(list(string.ascii_letters + string.digits + " "), rng.integers(5, 30)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        y = int(20 + line * rng.uniform(18, 30))
        cv2.putText(
            img,
            s,
            (int(rng.integers(0, 40)), y),
            int(rng.integers(0, 7)),
            rng.uniform(0.4, 1.2),
            colour,
            int(rng.integers(1, 3)),
            cv2.LINE_AA,
        )
    return [np.roll(img, k, axis=1) for k in range(n)]


def other_key(rng, sources, n, size):
    frames = natural(rng, sources, n, max(size, 256))
    wm = VideoWatermarker(key=rng.bytes(16))
    return list(wm.embed(frames, f"{int(rng.integers(0, 2**47)):012x}"))


def edited(rng, sources, n, size):
    """Issue 16's edits applied to UNMARKED natural frames, then H.264: a crop to 50-60 % of the area off-centre,
    a 9:16 canvas with a blurred fill, picture-in-picture at 0.3-0.6, a 1.4:1 stretch, a small rotation, a mirror."""
    import _wm_attacks as attacks

    frames = natural(rng, sources, n, size)
    kind = int(rng.integers(6))
    if kind == 0:
        frames = attacks.crop_at(frames, rng.uniform(0.5, 0.6), (rng.random(), rng.random()))
    elif kind == 1:
        frames = attacks.vertical_canvas(frames)
    elif kind == 2:
        frames = attacks.picture_in_picture(frames, rng.uniform(0.3, 0.6), (rng.uniform(0, 0.5), rng.uniform(0, 0.3)))
    elif kind == 3:
        frames = attacks.stretch(frames, 1.4)
    elif kind == 4:
        frames = attacks.rotate(frames, rng.uniform(-3, 3))
    else:
        frames = attacks.mirror(frames)
    return attacks.h264(frames, 23)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=10000)
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--resync-clips", type=int, default=300)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    sources = natural_sources()
    wm = VideoWatermarker()
    families = ["natural", "flat", "noise", "text", "other_key", "edited"]
    stats = {f: {"clips": 0, "found": 0, "min_log10_p": 0.0, "max_margin": -999} for f in families}
    resync = {"clips": 0, "found": 0, "min_log10_p": 0.0, "max_margin": -999, "seconds": 0.0}
    agree_hist: dict[int, int] = {}
    t_start = time.perf_counter()
    for i in range(args.clips):
        fam = families[i % len(families)]
        if fam == "natural":
            frames = natural(rng, sources, args.frames, args.size)
        elif fam == "flat":
            frames = flat(rng, args.frames, args.size)
        elif fam == "noise":
            frames = noise(rng, args.frames, args.size)
        elif fam == "text":
            frames = text(rng, args.frames, args.size)
        elif fam == "other_key":
            frames = other_key(rng, sources, args.frames, args.size)
        else:
            frames = edited(rng, sources, args.frames, args.size)
        det = wm.detect(frames, resync=False)
        st = stats[fam]
        st["clips"] += 1
        st["found"] += int(det.found)
        st["min_log10_p"] = min(st["min_log10_p"], det.log10_p)
        if det.n_bits:  # a clip with no observable coded bit (flat) has no margin
            st["max_margin"] = max(st["max_margin"], det.agreeing_bits - det.threshold_bits)
        agree_hist[det.agreeing_bits] = agree_hist.get(det.agreeing_bits, 0) + 1
        if i < args.resync_clips:
            t0 = time.perf_counter()
            full = wm.detect(frames)
            resync["seconds"] += time.perf_counter() - t0
            resync["clips"] += 1
            resync["found"] += int(full.found)
            resync["min_log10_p"] = min(resync["min_log10_p"], full.log10_p)
            if full.n_bits:
                resync["max_margin"] = max(resync["max_margin"], full.agreeing_bits - full.threshold_bits)
        if (i + 1) % 1000 == 0:
            print(
                f"{i + 1} clips, {sum(s['found'] for s in stats.values())} detections, "
                f"{time.perf_counter() - t_start:.0f} s",
                flush=True,
            )
    # Analytic bound for the aligned test on these clips and for a 5 s clip with re-synchronisation.
    # Mark v2's detector: carrier groups (V, Y) and v1's V, each with its own hypotheses; the re-synchronisation
    # candidates are one blind test each (mirror, tones but the identity, aspects, tile shifts).
    h_aligned = _decide.hypotheses_per_test(2) + _decide.hypotheses_per_test(1)
    bound = {
        "per_test": "p = T * H * 2^48 * P(Binomial(n, 1/2) >= A); declared when p <= 1e-9",
        "threshold_bits_n232_aligned_short_clip": _code.min_agreeing_bits(
            232, math.log10(h_aligned) + _decide.LOG10_CODEWORDS
        ),
        "threshold_bits_n232_5s_clip_with_resync": _code.min_agreeing_bits(
            232, math.log10(h_aligned * (1 + 9 + 1 + len(_tone.TONES) - 1 + 9 + 256)) + _decide.LOG10_CODEWORDS
        ),
        "hypotheses_per_test": h_aligned,
        "tone_hypotheses": len(_tone.TONES),
        "expected_false_detections_in_run": args.clips * 1e-9,
    }
    report = {
        "clips": args.clips,
        "frames": args.frames,
        "size": args.size,
        "families": stats,
        "with_resync": resync,
        "agreeing_bits_histogram": dict(sorted(agree_hist.items())),
        "analytic": bound,
        "seconds": time.perf_counter() - t_start,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
