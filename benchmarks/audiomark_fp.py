"""False positives of the audio mark on unmarked audio (docs/audiomark.md has the results).

    OMP_WAIT_POLICY=PASSIVE nice -n 10 .venv/bin/python benchmarks/audiomark_fp.py [--n 10000] [--speeds 1] [--skip 0]

5 s clips: windows of real speech (../shared/data/real-av presidential addresses, 1 s apart; GRID s1 clip pairs;
../shared/media speech) as they are and after attacks (AAC 64k, MP3 64k, resampling to 16 kHz, pink noise at
20 dB, -10 dB gain); then, in turn, music-like signals, pink/white/brown noise, and REPETITIVE or steady signals,
which repeat the keyed symbols (each symbol's repetitions share its dither, so they are one fair coin, not many):
steady chords and tones, real speech looped at the payload's 4.096 s period and at other periods (half, double,
and unrelated ones), pink noise looped at the period, silence with mains hum (50/60 Hz and harmonics) and a faint
noise floor, and looped music-like audio; 16-25 s each, every other loop through AAC 64k. Each clip is searched
over all 1,024 alignments (and ``--speeds`` speed hypotheses; the p-value's union bound counts the full default
search either way). Prints the count found (a false positive) and the smallest log10 p-value seen, per kind.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _audio_attacks import RATE, codec_roundtrip, mix, music, pink_noise
from audiomark_bench import SHARED, load

from provenance.audiomark import SPEED_SEARCH, AudioWatermarker
from provenance.audiomark._detect import resample

CLIP_S = 5.0


def speech_windows():
    pres = sorted((SHARED / "data" / "real-av" / "presidential").glob("*.mp4"))
    for p in pres:
        x = load(p)
        for s in range(0, int(x.size / RATE - CLIP_S), 1):
            yield f"{p.stem}@{s}", x[s * RATE : s * RATE + int(CLIP_S * RATE)]
    grid = sorted((SHARED / "data" / "real-av" / "grid-s1").glob("*.mp4"))
    for a, b in zip(grid[0::2], grid[1::2], strict=False):
        yield f"grid:{a.stem}+{b.stem}", np.concatenate([load(a), load(b)])[: int(CLIP_S * RATE)]


def variants(x: np.ndarray, i: int):
    yield "plain", x, RATE
    k = i % 5  # one attack per window, in turn (the attacks cost more CPU than the search)
    if k == 0:
        yield ("aac_64k", *codec_roundtrip(x, RATE, "aac", 64_000, "adts"))
    elif k == 1:
        yield ("mp3_64k", *codec_roundtrip(x, RATE, "libmp3lame", 64_000, "mp3"))
    elif k == 2:
        yield "resample_16k", resample(x, RATE, 16_000), 16_000
    elif k == 3:
        yield "pink_20dB", mix(x, pink_noise(x.size, i), 20.0), RATE
    else:
        yield "gain_-10dB", x * 10**-0.5, RATE


PERIOD_S = 4.096  # the payload's period (provenance.audiomark._grid.PERIOD_S)
SYNTHETIC = ("music", "pink", "white", "brown", "chord", "loop_period", "loop_other", "hum", "noise_loop", "music_loop")


@functools.lru_cache(maxsize=1)
def _speech_pool() -> np.ndarray:
    """Real speech for the loops: the presidential addresses back to back (their first 60 s each)."""
    pres = sorted((SHARED / "data" / "real-av" / "presidential").glob("*.mp4"))
    return np.concatenate([load(p, 0.0, 60.0) for p in pres])


def _loop(x: np.ndarray, period_s: float, total_s: float) -> np.ndarray:
    return np.resize(x[: int(period_s * RATE)], int(total_s * RATE))


def _level(x: np.ndarray, peak: float = 0.5) -> np.ndarray:
    return peak * x / max(1e-9, float(np.abs(x).max()))


def synthetic(i: int):
    n = int(CLIP_S * RATE)
    rng = np.random.default_rng(i)
    kind = SYNTHETIC[i % len(SYNTHETIC)]
    if kind == "music":
        return kind, 0.3 * music(n, i) / 8.0, RATE
    if kind == "pink":
        return kind, 0.1 * pink_noise(n, i) / np.std(pink_noise(n, i)), RATE
    if kind == "white":
        return kind, 0.1 * rng.standard_normal(n), RATE
    if kind == "brown":
        return kind, 0.1 * np.cumsum(rng.standard_normal(n)) / np.sqrt(n), RATE
    total = float(rng.uniform(16.0, 25.0))
    t = np.arange(int(total * RATE)) / RATE
    if kind == "chord":  # 1-8 steady partials, sometimes with a slow tremolo or vibrato
        freqs = rng.uniform(150.0, 5000.0, size=int(rng.integers(1, 9)))
        wobble = 0.003 * np.sin(2 * np.pi * rng.uniform(0.2, 6.0) * t) if rng.random() < 0.3 else 0.0
        y = sum(rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * f * (t + wobble) + rng.uniform(0, 6)) for f in freqs)
        if rng.random() < 0.3:
            y = y * (1.0 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.5, 8.0) * t))
        return kind, _level(np.asarray(y)), RATE
    if kind == "hum":  # "silence" with mains hum and a faint noise floor
        f0 = 50.0 if rng.random() < 0.5 else 60.0
        one = np.arange(round(RATE / f0)) / RATE  # one mains cycle, tiled (hum is exactly periodic)
        cycle = sum(
            rng.uniform(0.1, 1.0) / k * np.sin(2 * np.pi * f0 * k * one + rng.uniform(0, 6)) for k in range(1, 40)
        )
        y = _level(np.resize(np.asarray(cycle), t.size), 10 ** rng.uniform(-3.5, -1.5))
        return kind, y + 10 ** rng.uniform(-5.0, -3.5) * rng.standard_normal(t.size), RATE
    if kind == "noise_loop":
        y = _loop(pink_noise(int(PERIOD_S * RATE) + 1, i), PERIOD_S, total)
    elif kind == "music_loop":
        period = float(rng.choice([PERIOD_S, 2.0, 4.0, 8.0]))
        y = _loop(music(int(period * RATE) + 1, i), period, total)
    else:
        pool = _speech_pool()
        if kind == "loop_period":
            period = PERIOD_S * float(rng.choice([1.0, 1.0, 2.0, 0.5]))
        else:
            period = float(rng.choice([1.0, 2.0, 3.0, 5.0, 6.0, 8.0])) * float(rng.uniform(0.9, 1.1))
        start = int(rng.integers(0, pool.size - int(period * RATE)))
        y = _loop(pool[start:], period, total)
    y = _level(y)
    if (i // len(SYNTHETIC)) % 2:  # every other loop through AAC 64k
        return f"{kind}+aac", *codec_roundtrip(y, RATE, "aac", 64_000, "adts")
    return kind, y, RATE


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--speeds", type=int, default=1, help="1: speed 1 only; 0: the full default speed search")
    ap.add_argument("--skip", type=int, default=0, help="skip the first SKIP clips (to split a run: --n counts after)")
    args = ap.parse_args()
    speeds = (1.0,) if args.speeds == 1 else SPEED_SEARCH
    wm = AudioWatermarker()
    n, found, best, t0 = 0, 0, 0.0, time.process_time()
    kinds: dict[str, int] = {}
    lowest: dict[str, float] = {}

    def cases():
        skipped = 0  # every speech window gives 2 clips (plain + one attack); skipping makes neither
        for i, (name, x) in enumerate(speech_windows()):
            if skipped + 2 <= args.skip:
                skipped += 2
                continue
            for v, y, r in variants(x, i):
                yield f"{name}:{v}", v, y, r
        for i in itertools.count(max(0, args.skip - skipped)):
            name, y, r = synthetic(i)
            yield f"{name}-{i}", name, y, r

    for label, kind, y, r in cases():
        if n >= args.n:
            break
        det = wm.detect(y, r, speeds=speeds)
        n += 1
        kinds[kind] = kinds.get(kind, 0) + 1
        best = min(best, det.log10_p_value)
        lowest[kind] = min(lowest.get(kind, 0.0), det.log10_p_value)
        if det.found:
            found += 1
            print(f"FALSE POSITIVE {label} log10 p {det.log10_p_value:.1f}", flush=True)
        if n % 500 == 0:
            print(f"{n} clips, {found} found, min log10 p {best:.2f}, {time.process_time() - t0:.0f} s CPU", flush=True)
    print(f"clips: {n} ({kinds}); found: {found}; smallest log10 p-value: {best:.2f}")
    print("smallest log10 p per kind: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(lowest.items())))


if __name__ == "__main__":
    main()
