"""Per-frame soft measurements for detection (numpy only).

A frame is reduced to 256 complex numbers, one per tile position: the sum over the blocks at that position of
``z = exp(2 pi i s0 / S)``. A block carrying channel bit b has ``s0 mod S = (1/4 + b/2) S``, i.e. ``z = -i``
for 1 and ``+i`` for 0, so ``-Im(z e^{-i theta})`` is a soft bit once the QIM phase theta (a luma offset,
e.g. a brightness change or a colour-range conversion) is known. ``z^2 = -e^{2 i theta}`` for EVERY marked
block whatever its bit, so the frame sum of z^2 estimates theta (mod pi) and measures grid alignment without
knowing the key or the payload: that is the blind re-synchronisation statistic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _keys, _resample, _rule


@dataclass(frozen=True)
class Geometry:
    """Where the embedding grid lies in a received frame, at the working resolution.

    scale: the received frame's short side maps to ``256 * scale`` working pixels (< 1 for a crop that was
    kept at its cropped size); (py, px): pixel phase of the 8x8 block grid; (sy, sx): cyclic tile shift in
    blocks.
    """

    scale: float = 1.0
    py: int = 0
    px: int = 0
    sy: int = 0
    sx: int = 0


def working_luma(frame: np.ndarray, scale: float = 1.0) -> np.ndarray:
    h, w = frame.shape[:2]
    return _resample.resize(_rule.luma(frame), _resample.working_shape(h, w, scale))


def block_s0(y_work: np.ndarray, py: int = 0, px: int = 0) -> np.ndarray:
    return _rule.top_singular_values(_rule.ll_blocks(_rule.haar_ll(y_work[py:, px:])))


def fold(s0: np.ndarray, step: float, sy: int = 0, sx: int = 0) -> tuple[np.ndarray, complex]:
    """(bh, bw) s0 -> (256 complex tile sums, frame sum of z^2)."""
    bh, bw = s0.shape
    z = np.exp(2j * np.pi * s0 / step)
    q = ((np.arange(bh)[:, None] + sy) % _keys.TILE) * _keys.TILE + (np.arange(bw)[None, :] + sx) % _keys.TILE
    q = q.reshape(-1)
    zf = z.reshape(-1)
    tiles = np.bincount(q, weights=zf.real, minlength=_keys.N_POSITIONS) + 1j * np.bincount(
        q, weights=zf.imag, minlength=_keys.N_POSITIONS
    )
    return tiles, complex(np.sum(zf * zf))


def measure(frame: np.ndarray, step: float, geometry: Geometry = Geometry()) -> tuple[np.ndarray, complex]:
    y = working_luma(frame, geometry.scale)
    return fold(block_s0(y, geometry.py, geometry.px), step, geometry.sy, geometry.sx)


def sync_score(y_work: np.ndarray, step: float, py: int, px: int) -> float:
    """|mean z^2| of the grid at phase (py, px): near 1 on a marked, aligned grid; payload- and key-free."""
    s0 = block_s0(y_work, py, px)
    z2 = np.exp(4j * np.pi * s0 / step)
    return float(abs(z2.mean()))
