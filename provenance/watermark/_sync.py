"""Blind re-synchronisation: grid scale and phase, cyclic tile shift, luma gain. Payload-free statistics only.

The statistic is |sum of z^2| (see ``_measure``): it peaks where the block grid of the received frames lines
up with the embedding grid, and where the assumed QIM step matches the received luma scale (contrast
changes), and it ignores the bits. The cyclic tile shift is chosen by the energy of the soft coded bits,
which is invariant to the sign of every coded bit and so favours no codeword. Only the single resulting
candidate is decoded.
"""

from __future__ import annotations

import numpy as np

from . import _decide, _keys, _resample
from ._measure import Geometry, block_s0

# A crop kept at its cropped size maps the original to ``scale`` < 1 of the working grid.
SCALES = tuple(float(s) for s in np.round(0.988 ** np.arange(-3, 31), 4))  # 1.037 .. 0.69
GAINS = tuple(float(g) for g in np.round(np.arange(0.76, 1.34, 0.002), 4))  # 1 / luma gain searched


def _box_means(y: np.ndarray) -> np.ndarray:
    """Mean of every 8x8 window (top-left anchored): (h - 7, w - 7)."""
    c = np.zeros((y.shape[0] + 1, y.shape[1] + 1))
    c[1:, 1:] = np.cumsum(np.cumsum(y, axis=0, dtype=np.float64), axis=1)
    s = c[8:, 8:] - c[:-8, 8:] - c[8:, :-8] + c[:-8, :-8]
    return s / 64.0


def _proxy_scores(y: np.ndarray, step: float) -> np.ndarray:
    """(8, 8) |mean z^2| per grid phase, with s0 approximated by 8 x the block mean (exact on flat blocks)."""
    means = _box_means(y)
    scores = np.zeros((8, 8))
    for py in range(8):
        for px in range(8):
            m = means[py::8, px::8]
            scores[py, px] = abs(np.exp(4j * np.pi * 8.0 * m / step).mean())
    return scores


def _exact_score(lumas: list[np.ndarray], step: float, g: Geometry) -> float:
    total = 0.0
    for y_fine in lumas:
        y = _resample.resize(y_fine, _resample.working_shape(*y_fine.shape, g.scale))
        s0 = block_s0(y, g.py, g.px)
        total += abs(np.exp(4j * np.pi * s0 / step).mean())
    return total / len(lumas)


def search_grid(lumas: list[np.ndarray], step: float, refine: int = 4) -> tuple[Geometry, float]:
    """Best (scale, py, px) over SCALES x 64 phases by the proxy, the top ``refine`` re-scored exactly."""
    ranked = []
    for scale in SCALES:
        acc = np.zeros((8, 8))
        for y_fine in lumas:
            y = _resample.resize(y_fine, _resample.working_shape(*y_fine.shape, scale))
            acc += _proxy_scores(y, step)
        for py, px in zip(*np.unravel_index(np.argsort(acc, axis=None)[-2:], acc.shape), strict=True):
            ranked.append((acc[py, px] / len(lumas), Geometry(scale, int(py), int(px))))
    ranked.sort(key=lambda r: -r[0])
    best = max(((_exact_score(lumas, step, g), g) for _, g in ranked[:refine]), key=lambda r: r[0])
    return best[1], best[0]


def search_gain(s0_frames: list[np.ndarray], step: float) -> float:
    """The QIM step that best matches the received luma scale: step / gain for the best gain in GAINS."""
    s0 = np.concatenate([s.reshape(-1) for s in s0_frames])
    best, best_score = 1.0, -1.0
    for g in GAINS:
        score = abs(np.exp(4j * np.pi * s0 * g / step).mean())
        if score > best_score:
            best, best_score = g, score
    return step / best


def search_shift(tile_sums: np.ndarray, t_centre: np.ndarray, key: bytes) -> tuple[int, int]:
    """Cyclic tile shift (sy, sx) maximising the energy of the soft coded bits over temporal key phases."""
    grid = tile_sums.reshape(-1, _keys.TILE, _keys.TILE)
    lay = _decide.layouts_for(t_centre)
    onehot = (lay[:, :, None] == np.arange(_keys.N_LAYOUTS)[None, None, :]).astype(np.float64)
    best, best_e = (0, 0), -1.0
    for sy in range(_keys.TILE):
        for sx in range(_keys.TILE):
            rolled = np.roll(grid, (sy, sx), axis=(1, 2)).reshape(len(grid), -1)
            sums = _decide.coded_sums(rolled, key)  # (N, P, C)
            z = np.einsum("onp,npc->oc", onehot, sums)
            e = float(np.max(np.sum(np.abs(z) ** 2, axis=1)))
            if e > best_e:
                best, best_e = (sy, sx), e
    return best
