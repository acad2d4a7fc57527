"""Area (box) resampling with numpy only: the working-resolution normalisation of the watermark.

The mark lives on a grid at a WORKING resolution (short side 128 px). Frames are area-downsampled to it for
both embedding and detection, so any isotropic rescale of a marked video is undone by the detector. The
embedder brings its working-resolution change back to the frame with ``r * D^T`` (D = the area-downsampling
operator, r its factor): a partition of unity with ``D (r D^T) = I`` for integer factors, i.e. the detector
sees exactly the change that was computed.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=64)
def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in): output i averages the input interval [i, i+1) * n_in / n_out (pixel-centre aligned)."""
    r = n_in / n_out
    lo = np.arange(n_out)[:, None] * r
    hi = lo + r
    edges = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, edges + 1) - np.maximum(lo, edges), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def _taps(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nz = matrix > 1e-12
    k = int(nz.sum(axis=1).max())
    idx = np.argsort(~nz, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(matrix, idx, axis=1).astype(np.float32)


@functools.lru_cache(maxsize=64)
def down_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    return _taps(_area_matrix(n_in, n_out))


@functools.lru_cache(maxsize=64)
def up_taps(n_native: int, n_work: int) -> tuple[np.ndarray, np.ndarray]:
    """Taps of r * D^T: from the working grid back to the native one."""
    d = _area_matrix(n_native, n_work)
    return _taps(d.T * (n_native / n_work))


def _apply(x: np.ndarray, taps: tuple[np.ndarray, np.ndarray], axis: int) -> np.ndarray:
    """Resample along ``axis`` (0: rows, 1: columns of the last two axes; leading axes are a batch)."""
    idx, w = taps
    if axis == 0:
        out = x[..., idx[:, 0], :] * w[:, 0, None]
        for t in range(1, idx.shape[1]):
            out += x[..., idx[:, t], :] * w[:, t, None]
    else:
        out = x[..., idx[:, 0]] * w[None, :, 0]
        for t in range(1, idx.shape[1]):
            out += x[..., idx[:, t]] * w[None, :, t]
    return out


def resize(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Area-resample the last two axes of a float array to ``shape`` (identity when the shape already matches);
    a stack of planes gives the same values as plane by plane."""
    h, w = x.shape[-2:]
    if (h, w) == tuple(shape):
        return x
    if h == 2 * shape[0] and w == 2 * shape[1]:
        lead = x.shape[:-2]
        return x[..., : shape[0] * 2, : shape[1] * 2].reshape(*lead, shape[0], 2, shape[1], 2).mean(axis=(-3, -1))
    if h != shape[0]:  # an axis already at its size is left alone (its area matrix is the identity)
        x = _apply(x, down_taps(h, shape[0]), 0)
    return x if w == shape[1] else _apply(x, down_taps(w, shape[1]), 1)


def upsample_delta(delta: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bring a working-resolution change back to the native ``shape`` with r * D^T."""
    h, w = delta.shape
    if (h, w) == tuple(shape):
        return delta
    if shape[0] == 2 * h and shape[1] == 2 * w:
        return np.repeat(np.repeat(delta, 2, axis=0), 2, axis=1)
    return _apply(_apply(delta, up_taps(shape[0], h), 0), up_taps(shape[1], w), 1)


WORK_SHORT = 128  # 8x8 blocks of the working grid are 32x32 px on a 512 px frame


def working_shape(h: int, w: int, scale: float = 1.0) -> tuple[int, int]:
    """Working-grid shape of an (h, w) frame; ``scale`` < 1 models a frame that is a crop of the original."""
    f = WORK_SHORT * scale / min(h, w)
    return max(1, round(h * f)), max(1, round(w * f))
