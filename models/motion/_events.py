"""What a per-frame Gaussian cannot draw: blinks, brow raises and smooth gaze, put on the network's output at 25 fps.

The network outputs a mean and a spread per frame. Rare, sharp events average out in the mean. The network learns
a blink's *expectation*, which is a faint flutter, and a brow raise's expectation, which is a faint bump where a
raise is likely. A mean that follows the audio frame by frame also jitters. Measured on the 1.2.0 network, on 40
training-corpus clips, seed 1:

* brow_raise had 3.9x the targets' jerk (mean absolute third difference) at 0.24x their standard deviation;
* gaze had 2.6-3.1x the targets' jerk.

So, like the training corpus (``models.motion.corpus.build.prosody_motion``), events are drawn from the clip's seed:

* blinks: a renewal process (0.15-0.5 per second, intervals halved in pauses), each an asymmetric Gaussian pulse.
  The network's own blink values are kept where they are larger.
* brow raises: the network says WHERE and the seed says WHETHER. Candidate moments are the peaks of the network's
  smoothed brow_raise that rise ``BROW_PROMINENCE`` above their +-0.5 s surroundings, which is where it expects
  emphasis. Each is raised with a per-clip probability. Each raise is a 0.3-0.8 pulse (rise 2 frames, fall 8),
  the corpus's shape, added on the smoothed network value.
* gaze: the network's gaze is smoothed (Gaussian, sigma ``GAZE_SIGMA`` frames, zero phase).

The constants were chosen on training-corpus clips, not on held-out ones, so that generated brow_raise matches the
targets in jerk and spread. The resulting figures are in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import numpy as np

from ..schema import MOTION_INDEX

FPS = 25
BROW_SIGMA = 1.5  # frames: smoothing of the network's brow_raise before peak picking
BROW_PROMINENCE = 0.04  # brow_raise units: how far a peak must rise above the minimum within +-BROW_REACH frames
BROW_REACH = 12
BROW_PROBABILITY = (0.2, 0.7)  # per clip: chance that a candidate becomes a raise
BROW_AMPLITUDE = (0.3, 0.8)
GAZE_SIGMA = 1.0  # frames


def gaussian_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing of a 1-D sequence, with the ends held (no pull towards zero)."""
    r = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    return np.convolve(np.pad(np.asarray(x, np.float64), r, mode="edge"), k / k.sum(), mode="valid")


def pulse(n: int, centre: float, rise: float, fall: float) -> np.ndarray:
    """An asymmetric Gaussian bump of height 1 at ``centre`` (frames), as in the training corpus."""
    t = np.arange(n) - centre
    return np.where(t < 0, np.exp(-0.5 * (t / rise) ** 2), np.exp(-0.5 * (t / fall) ** 2))


def prominent_peaks(x: np.ndarray, prominence: float, reach: int = BROW_REACH) -> np.ndarray:
    """Indices of local maxima of ``x`` that rise at least ``prominence`` above the minimum within +-``reach``."""
    if x.size < 3:
        return np.zeros(0, np.int64)
    inner = np.flatnonzero((x[1:-1] >= x[:-2]) & (x[1:-1] > x[2:])) + 1
    padded = np.pad(x, reach, mode="edge")
    lows = np.array([padded[i : i + 2 * reach + 1].min() for i in inner]) if inner.size else np.zeros(0)
    return inner[x[inner] - lows >= prominence] if inner.size else inner


def with_brow_raises(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Replace brow_raise by the smoothed network value plus seeded raises at its prominent peaks (in place)."""
    i = MOTION_INDEX["brow_raise"]
    base = gaussian_smooth(values[:, i], BROW_SIGMA)
    n = base.size
    p = rng.uniform(*BROW_PROBABILITY)
    out = base.copy()
    for c in prominent_peaks(base, BROW_PROMINENCE):
        if rng.random() < p:
            out += rng.uniform(*BROW_AMPLITUDE) * pulse(n, c, 2.0, 8.0)
    values[:, i] = np.clip(out, 0.0, 1.0)
    return values


def with_smooth_gaze(values: np.ndarray) -> np.ndarray:
    for name in ("gaze_x", "gaze_y"):
        i = MOTION_INDEX[name]
        values[:, i] = gaussian_smooth(values[:, i], GAZE_SIGMA)
    return values


def with_blinks(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Overlay seeded blinks (in place): a renewal process like the corpus's, likelier in pauses."""
    n = values.shape[0]
    jaw = values[:, MOTION_INDEX["jaw_open"]]
    pause = np.convolve(jaw, np.ones(25) / 25, mode="same") < 0.01  # ~1 s without mouth movement
    blink = np.zeros(n)
    rate = rng.uniform(0.15, 0.5)
    t = rng.uniform(0.0, 2.0)
    while t * FPS < n:
        f = int(t * FPS)
        blink = np.maximum(blink, pulse(n, f, 1.0, 2.0))
        t += rng.exponential(1.0 / rate) * (0.5 if pause[f] else 1.0) + 0.3
    for dim in ("blink_left", "blink_right"):
        i = MOTION_INDEX[dim]
        values[:, i] = np.maximum(values[:, i], blink)
    return values


def add_events(values: np.ndarray, seed: int) -> np.ndarray:
    """All of the above on a (T, dims) 25 fps sequence, drawn from ``seed`` (blinks and brows from separate streams,
    so one does not shift the other)."""
    values = with_smooth_gaze(values)
    values = with_brow_raises(values, np.random.default_rng([seed, 2]))
    return with_blinks(values, np.random.default_rng([seed, 1]))
