"""CPU cost of audio-mark detection on an unmarked excerpt (docs/audiomark.md has the results).

    OMP_WAIT_POLICY=PASSIVE nice -n 10 .venv/bin/python benchmarks/audiomark_cost.py \
        ../shared/data/real-av/presidential/styletalk_Obama_clip2.mp4 [--start 5] [--seconds 10] [--reps 5]

Decodes the excerpt at 48 kHz, peak-normalises it like a render's soundtrack, and times ``AudioWatermarker.detect``
with ``time.process_time`` (every thread of the process): speed 1 only (the verifier's fast mode, and where a
marked file stops) and the full default speed search (what an unmarked file costs in full mode). Prints the median
and every repetition, and the embedding cost of the same excerpt.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _audio_attacks import RATE
from audiomark_bench import load

from provenance.audiomark import SPEED_SEARCH, AudioWatermarker


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("media", type=Path)
    ap.add_argument("--start", type=float, default=5.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    x = load(args.media, args.start, args.seconds)
    x = 0.7 * x / max(1e-9, float(np.abs(x).max()))
    wm = AudioWatermarker()
    wm.detect(x, RATE, speeds=(1.0,))  # caches (layout, windows) warm
    runs = {
        "embed": lambda: wm.embed(x, RATE, "0123456789ab"),
        "detect speed 1": lambda: wm.detect(x, RATE, speeds=(1.0,)),
        "detect full": lambda: wm.detect(x, RATE),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    found = False
    for _ in range(args.reps):
        for name, fn in runs.items():
            t = time.process_time()
            out = fn()
            times[name].append(time.process_time() - t)
            found = found or bool(getattr(out, "found", False))
    print(f"{args.media.name} {args.start:g}-{args.start + args.seconds:g} s ({x.size / RATE:.1f} s), {args.reps} reps")
    for name, v in times.items():
        print(f"{name:15s} median {statistics.median(v):.3f} s CPU  {[round(t, 3) for t in v]}")
    print(f"full search: {len(SPEED_SEARCH)} speeds; a mark found in the unmarked excerpt: {found}")


if __name__ == "__main__":
    main()
