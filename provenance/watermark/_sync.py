"""Blind re-synchronisation: grid scale and phase, cyclic tile shift, luma gain. Payload-free statistics only.

The statistic is |sum of z^2| (see ``_measure``): it peaks where the block grid of the received frames lines
up with the embedding grid, and where the assumed QIM step matches the received luma scale (contrast
changes), and it ignores the bits. The cyclic tile shift is chosen by the energy of the soft coded bits,
which is invariant to the sign of every coded bit and so favours no codeword. Only the single resulting
candidate is decoded.
"""

from __future__ import annotations

import numpy as np

from . import _resample
from ._measure import SUPER, Geometry, block_s0, super_shape, work_from_fine

# A crop kept at its cropped size maps the original to ``scale`` < 1 of the working grid. 2 % steps: with
# 32-px blocks on a 512-px frame a 1 % scale error moves the frame edge by a tenth of a block.
SCALES = tuple(float(s) for s in np.round(0.98 ** np.arange(-2, 18), 4))  # 1.04 .. 0.71
GAINS = tuple(float(g) for g in np.round(np.arange(0.76, 1.34, 0.002), 4))  # 1 / level gain searched
_BLOCK_SUPER = 8 * SUPER  # one block in super-resolution pixels


def _box_means(y: np.ndarray, size: int) -> np.ndarray:
    """Mean of every size x size window (top-left anchored): (h - size + 1, w - size + 1)."""
    c = np.zeros((y.shape[0] + 1, y.shape[1] + 1))
    c[1:, 1:] = np.cumsum(np.cumsum(y, axis=0, dtype=np.float64), axis=1)
    s = c[size:, size:] - c[:-size, size:] - c[size:, :-size] + c[:-size, :-size]
    return s / float(size * size)


def _proxy(means: np.ndarray, step: float, py: int, px: int) -> tuple[complex, int]:
    """Sum of z^2 over the grid at super-pixel phase (py, px), s0 ~ 8 x block mean (exact on flat blocks)."""
    m = means[py::_BLOCK_SUPER, px::_BLOCK_SUPER]
    return complex(np.exp(4j * np.pi * 8.0 * m / step).sum()), m.size


# Scores are |sum z^2| / sqrt(blocks): a z-score, so that small (down-scaled) grids, whose mean over fewer
# blocks is noisier, are not favoured. Sums are coherent over frames: the QIM phase is shared by the frames.
def _exact_score(fines: list[np.ndarray], steps: tuple[float, ...], g: Geometry) -> float:
    total = np.zeros(len(steps), complex)
    count = 0
    for fine in fines:
        for k, (plane, step) in enumerate(zip(fine, steps, strict=True)):
            s0 = block_s0(work_from_fine(plane, g))
            total[k] += np.exp(4j * np.pi * s0 / step).sum()
            count += s0.size
    return float(np.sum(np.abs(total)) / np.sqrt(max(count, 1)))


def _phase_score(means: list[list[np.ndarray]], steps: tuple[float, ...], py: int, px: int) -> float:
    acc = np.zeros(len(steps), complex)
    count = 0
    for fm in means:
        for k, step in enumerate(steps):
            z, n = _proxy(fm[k], step, py, px)
            acc[k] += z
            count += n
    return float(np.abs(acc).sum() / np.sqrt(max(count, 1)))


def search_grid(fines: list[np.ndarray], steps: tuple[float, ...], keep: int = 6) -> Geometry:
    """Best (scale, py, px): SCALES x 256 coarse phases by the proxy, the best ``keep`` refined in scale and
    to the quarter working pixel, then re-scored exactly. ``fines``: per frame, the (K, h, w) stored
    planes."""
    coarse = []
    cache = {}
    for scale in SCALES:
        means = [
            [_box_means(_resample.resize(pl, super_shape(*pl.shape, scale)), _BLOCK_SUPER) for pl in f] for f in fines
        ]
        cache[scale] = means
        for py in range(0, _BLOCK_SUPER, 2):
            for px in range(0, _BLOCK_SUPER, 2):
                coarse.append((_phase_score(means, steps, py, px), Geometry(scale, py, px)))
    coarse.sort(key=lambda r: -r[0])
    refined = []
    for _, g in coarse[:keep]:
        for scale in g.scale * (1.0 + np.arange(-4, 5) * 0.0025):
            means = cache.get(scale) or [
                [_box_means(_resample.resize(pl, super_shape(*pl.shape, scale)), _BLOCK_SUPER) for pl in f]
                for f in fines
            ]
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    py, px = (g.py + dy) % _BLOCK_SUPER, (g.px + dx) % _BLOCK_SUPER
                    refined.append((_phase_score(means, steps, py, px), Geometry(float(scale), py, px)))
    refined.sort(key=lambda r: -r[0])
    return max(refined[:keep], key=lambda r: _exact_score(fines, steps, r[1]))[1]


def search_gains(work: list[list[np.ndarray]], steps: tuple[float, ...]) -> tuple[float, ...]:
    """Per carrier, the QIM step matching the received level scale: step / gain for the best gain in GAINS."""
    out = []
    gains = np.array(GAINS)
    for k, step in enumerate(steps):
        s0 = np.concatenate([block_s0(f[k]).reshape(-1) for f in work])
        scores = np.array([abs(np.exp(4j * np.pi * s0 * gain / step).mean()) for gain in gains])
        # Keep the nominal step unless another gain is clearly better: with a weak mark the maximum over
        # hundreds of gains is otherwise a noise peak.
        unity = scores[int(np.argmin(np.abs(gains - 1.0)))]
        best = int(np.argmax(scores))
        out.append(step / float(gains[best]) if scores[best] > 2.0 * unity else step)
    return tuple(out)
