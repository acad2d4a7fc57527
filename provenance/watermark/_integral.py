"""Exact area integrals of a plane over boxes with fractional corners, from its integral image (numpy only).

The integral of a piecewise-constant image over [0, y] x [0, x] is bilinear inside every pixel cell, so bilinear
interpolation of the summed-area table gives EXACT box integrals at any fractional coordinates. Area resampling
at any scale and sub-pixel offset is therefore one table per plane plus a few lookups per output pixel: the
re-synchronisation search evaluates hundreds of (scale, grid phase) hypotheses from one table per frame instead of
resampling the frame for each.
"""

from __future__ import annotations

import numpy as np


def table(plane: np.ndarray) -> np.ndarray:
    """(..., h + 1, w + 1) float64 summed-area table: t[..., y, x] = sum of plane[..., :y, :x]."""
    h, w = plane.shape[-2:]
    t = np.zeros((*plane.shape[:-2], h + 1, w + 1))
    np.cumsum(np.cumsum(plane, axis=-2, dtype=np.float64), axis=-1, out=t[..., 1:, 1:])
    return t


def _lerp(t: np.ndarray, coords: np.ndarray, axis: int) -> np.ndarray:
    n = t.shape[axis] - 1
    c = np.clip(coords, 0.0, float(n))
    i0 = np.minimum(np.floor(c).astype(np.intp), n - 1)
    shape = [1] * t.ndim
    shape[axis] = -1
    f = (c - i0).reshape(shape)
    a, b = np.take(t, i0, axis=axis), np.take(t, i0 + 1, axis=axis)
    b -= a  # a + (b - a) f, in place: half the passes over memory of a (1 - f) + b f (the search's largest cost)
    b *= f
    b += a
    return b


def at(t: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """The integral image at every (ys[i], xs[j]) (fractional pixel coordinates): (..., len(ys), len(xs))."""
    return _lerp(_lerp(t, ys, t.ndim - 2), xs, t.ndim - 1)


def box_means(t: np.ndarray, y_edges: np.ndarray, x_edges: np.ndarray) -> np.ndarray:
    """Means over the boxes between consecutive edges: (..., len(y_edges) - 1, len(x_edges) - 1)."""
    f = at(t, y_edges, x_edges)
    sums = f[..., 1:, 1:] - f[..., :-1, 1:] - f[..., 1:, :-1] + f[..., :-1, :-1]
    return sums / (np.diff(y_edges)[:, None] * np.diff(x_edges)[None, :])
