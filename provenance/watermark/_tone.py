"""Tone-curve hypotheses for re-synchronisation: a gamma curve and a contrast gain, undone before measuring.

A tone curve f applied to R, G and B moves the V carrier by ``0.701 f'(R) + 0.299 f'(G)`` times the mark, a
factor that depends on local brightness, so no single QIM step fits the whole frame. Each hypothesis
(gamma, gain) undoes it instead: the received RGB goes through the inverse gamma curve
``255 (x / 255) ** (1 / gamma)`` (exact on uint8 input), and the carrier plane is then scaled by ``gain``
(a contrast change about ANY pivot is a pure gain on V = 0.877 (R - Y) + 128 around 128; the offset is a QIM
phase, which the detector estimates). Because s0 is homogeneous (s0(g B) = g s0(B)), the gain is the same as
measuring with the step S / gain.

Hypotheses are ranked by the blind coherence |sum z^2| of the sync frames (key and payload play no part) and
the best few are decoded; the detector counts every hypothesis of the set in its union bound.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from . import _resample, _rule
from ._measure import block_s0, per_plane

GAMMAS = (0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.4)
GAINS = tuple(float(g) for g in np.round(np.arange(0.70, 1.4001, 0.05), 2))  # 15 gains, 0.70 .. 1.40
# Candidate 1 decodes the best TRY non-identity hypotheses by score (all of the set are counted in the union
# bound, so decoding more costs time only): on small or clipped frames the right curve is not always first.
TRY = 4
# After a grid search, a gain other than 1 is adopted only when it scores twice as high (on weak marks the
# best of many gains is otherwise a noise peak).
ADOPT_RATIO = 2.0


@dataclass(frozen=True)
class Tone:
    gamma: float = 1.0
    gain: float = 1.0

    @property
    def identity(self) -> bool:
        return self.gamma == 1.0 and self.gain == 1.0

    def describe(self) -> str:
        return f"gamma={self.gamma:g} gain={self.gain:g}"


IDENTITY = Tone()
TONES = tuple(Tone(g, k) for g in GAMMAS for k in GAINS)  # 105 hypotheses, identity included


@functools.lru_cache(maxsize=16)
def inverse_lut(gamma: float) -> np.ndarray:
    x = np.arange(256, dtype=np.float64)
    return (255.0 * (x / 255.0) ** (1.0 / gamma)).astype(np.float32)


def carrier_planes(rgb: np.ndarray, channels: tuple[str, ...], gamma: float) -> list[np.ndarray]:
    """Full-resolution carrier planes of a uint8 RGB frame (or a stack of frames, (..., H, W, 3)) after undoing
    ``gamma`` (float32). A channel listed twice (measured at two QIM steps) is the same array."""
    if gamma == 1.0:
        colours = [rgb[..., i].astype(np.float32) for i in range(3)]
    else:  # one take per colour: the same values as indexing the LUT with the whole frame, in half the time
        lut = inverse_lut(gamma)
        colours = [np.take(lut, rgb[..., i]) for i in range(3)]
    done: dict[str, np.ndarray] = {}
    for c in channels:
        if c not in done:
            done[c] = _rule.carrier_of(colours[0], colours[1], colours[2], c)
    return [done[c] for c in channels]


def steps_for(steps: tuple[float, ...], tone: Tone) -> tuple[float, ...]:
    return tuple(s / tone.gain for s in steps)


def scores(work_by_gamma: dict[float, list[list[np.ndarray]]], steps: tuple[float, ...]) -> dict[Tone, float]:
    """Mark coherence |sum z^2| / sqrt(blocks) (a z-score), summed over carriers, of every tone hypothesis.

    ``work_by_gamma``: per gamma, per frame, the working-grid carrier planes (the grid under test)."""
    out: dict[Tone, float] = {}
    gains = np.array(GAINS)
    for gamma, frames in work_by_gamma.items():
        total = np.zeros(len(gains))
        s0_of = [per_plane(f, block_s0) for f in frames]  # a plane listed twice: one s0
        for k, step in enumerate(steps):
            s0 = np.concatenate([s[k].reshape(-1) for s in s0_of])
            z2 = np.exp((4j * np.pi / step) * np.outer(gains, s0)).sum(axis=1)
            total += np.abs(z2) / np.sqrt(max(s0.size, 1))
        for g, v in zip(GAINS, total, strict=True):
            out[Tone(gamma, g)] = float(v)
    return out


def search(
    rgbs: list[np.ndarray], channels: tuple[str, ...], steps: tuple[float, ...], work_shape=None
) -> tuple[Tone, dict[Tone, float]]:
    """Best tone hypothesis on the aligned grid of ``rgbs`` (uint8 frames), with every score."""
    work: dict[float, list[list[np.ndarray]]] = {}
    for gamma in GAMMAS:
        per = []
        for rgb in rgbs:
            shape = work_shape or _resample.working_shape(*rgb.shape[:2])
            planes = carrier_planes(rgb, channels, gamma)
            per.append(per_plane(planes, lambda p, shape=shape: _resample.resize(p, shape)))
        work[gamma] = per
    sc = scores(work, steps)
    return max(sc, key=lambda t: sc[t]), sc


def ranked(sc: dict[Tone, float], n: int = TRY) -> list[Tone]:
    """The ``n`` best-scoring hypotheses other than the identity, best first."""
    return sorted((t for t in sc if not t.identity), key=lambda t: -sc[t])[:n]


def best_gain(sc: dict[Tone, float], gamma: float) -> Tone:
    """The gain to use at a found grid: the best one if it scores ADOPT_RATIO x gain 1, else gain 1."""
    unity = Tone(gamma, 1.0)
    best = max((t for t in sc if t.gamma == gamma), key=lambda t: sc[t])
    return best if sc[best] > ADOPT_RATIO * sc[unity] else unity
