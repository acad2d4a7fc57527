"""Per-frame soft measurements for detection (numpy only).

A frame is reduced, per carrier plane, to 256 complex numbers, one per tile position: the sum over the blocks
at that position of ``z = exp(2 pi i s0 / S)``. A block carrying channel bit b has ``s0 mod S = (1/4 + b/2)
S``, i.e. ``z = -i`` for 1 and ``+i`` for 0, so ``-Im(z e^{-i theta})`` is a soft bit once the QIM phase
theta (a level offset: brightness change, colour-range conversion) is known. ``z^2 = -e^{2 i theta}`` for
EVERY marked block whatever its bit, so the sum of z^2 estimates theta (mod pi) and measures grid alignment
without knowing the key or the payload: it is the blind re-synchronisation statistic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _keys, _resample, _rule


@dataclass(frozen=True)
class Geometry:
    """Where the embedding grid lies in a received frame, at the working resolution.

    scale: the received short side maps to ``128 * scale`` working pixels (< 1 for a crop kept at its cropped
    size); (py, px): phase of the block grid in quarter working pixels (0..31, one block = 32); (sy, sx):
    cyclic tile shift in blocks.
    """

    scale: float = 1.0
    py: int = 0
    px: int = 0
    sy: int = 0
    sx: int = 0
    aspect: float = 0.0  # > 0: first resample the frame to this width / height, keeping its short side (stretch)
    mirror: bool = False  # first flip the frame back horizontally


def planes(frame: np.ndarray, channels: tuple[str, ...], shape: tuple[int, int]) -> list[np.ndarray]:
    rgb = frame.astype(np.float32)
    done: dict[str, np.ndarray] = {}
    for c in channels:  # a plane measured at two QIM steps is computed once
        if c not in done:
            done[c] = _resample.resize(_rule.carrier(rgb, c), shape)
    return [done[c] for c in channels]


SUPER = 4  # re-synchronisation works at 4x the working resolution: crops need sub-pixel grid phases


def super_shape(h: int, w: int, scale: float) -> tuple[int, int]:
    wh, ww = _resample.working_shape(h, w, scale)
    return wh * SUPER, ww * SUPER


def work_from_fine(plane: np.ndarray, g: Geometry) -> np.ndarray:
    """A stored fine plane -> the working plane under geometry ``g`` (scale, then sub-pixel grid phase)."""
    if g.mirror:
        plane = plane[:, ::-1]
    if g.aspect > 0:
        plane = unstretch(plane, g.aspect)
    h, w = plane.shape
    sup = _resample.resize(plane, super_shape(h, w, g.scale))[g.py :, g.px :]
    hh, ww = sup.shape[0] // SUPER * SUPER, sup.shape[1] // SUPER * SUPER
    return sup[:hh, :ww].reshape(hh // SUPER, SUPER, ww // SUPER, SUPER).mean(axis=(1, 3))


def unstretch(plane: np.ndarray, aspect: float) -> np.ndarray:
    """Resample ``plane`` to width / height = ``aspect``, keeping its short side (undoes a non-uniform scaling
    that turned a frame of that aspect into this one)."""
    h, w = plane.shape
    shape = (h, max(8, round(h * aspect))) if h <= w else (max(8, round(w / aspect)), w)
    return _resample.resize(plane, shape)


def block_s0(plane: np.ndarray, py: int = 0, px: int = 0) -> np.ndarray:
    return _rule.top_singular(_rule.ll_blocks(_rule.haar_ll(plane[py:, px:])))[0]


def fold(s0: np.ndarray, step: float, sy: int = 0, sx: int = 0) -> tuple[np.ndarray, complex]:
    """(bh, bw) s0 -> (256 complex tile sums, frame MEAN of z^2: its modulus is the mark's coherence)."""
    bh, bw = s0.shape
    z = np.exp(2j * np.pi * s0 / step).reshape(-1)
    q = ((np.arange(bh)[:, None] + sy) % _keys.TILE) * _keys.TILE + (np.arange(bw)[None, :] + sx) % _keys.TILE
    q = q.reshape(-1)
    tiles = np.bincount(q, weights=z.real, minlength=_keys.N_POSITIONS) + 1j * np.bincount(
        q, weights=z.imag, minlength=_keys.N_POSITIONS
    )
    return tiles, complex(np.mean(z * z))


# A carrier whose blocks all have (nearly) the same s0 carries no evidence: a plane a greyscale filter flattened
# (V = 128 everywhere) would otherwise look perfectly coherent (|mean z^2| = 1) and outweigh the carrier that
# still holds the mark. Its frame contributes nothing for that carrier.
FLAT_S0_STD = 1.0  # LL units (one level over a block moves s0 by 8)


def measure_planes(
    work_planes: list[np.ndarray], steps: tuple[float, ...], sy: int = 0, sx: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Working planes -> ((K, 256) tile sums, (K,) mean z^2)."""
    tiles, pairs = [], []
    cache: dict[int, np.ndarray] = {}
    for p, step in zip(work_planes, steps, strict=True):
        if id(p) not in cache:  # the same plane at two steps: one s0
            cache[id(p)] = block_s0(p)
        s0 = cache[id(p)]
        if s0.size == 0 or float(np.std(s0)) < FLAT_S0_STD:
            tiles.append(np.zeros(_keys.N_POSITIONS, complex))
            pairs.append(0j)
            continue
        t, m = fold(s0, step, sy, sx)
        tiles.append(t)
        pairs.append(m)
    return np.array(tiles), np.array(pairs)
