"""Raw watermark embedding: emits frames WITHOUT signed provenance (``sdk`` is the only caller that makes
files).

Per frame and carrier plane (luma Y and red-difference chroma V by default): area-downsample to the working
grid (short side 256) -> Haar LL -> 4x4 blocks -> move each block's top singular value s0 to the nearest point
of its channel bit's QIM lattice by a uniform (DC) shift of the block, scaled by a luma-texture mask -> back
to pixels (inverse Haar with unchanged details; ``r * D^T`` to the native size) along the RGB direction that
changes only that plane -> round and clip once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..errors import WatermarkInputError
from . import _code, _keys, _resample, _rule
from ._frames import MIN_EMBED_SHORT, check_frame


@dataclass(frozen=True)
class EmbedParams:
    """Carriers, strength and masking (defaults measured in benchmarks/watermark_bench.py).

    carriers: (plane, QIM step S) pairs; S is in LL units of the working grid, where a uniform change of one
    level over a block moves s0 by 8. Every carrier carries the same channel bits: the detector adds their
    evidence. V is used rather than U because an RGB change that moves only V costs 1.8x less MSE per level
    than one that moves Y, and 2.6x less than U.
    alpha_flat: fraction of the QIM move applied on flat blocks (texture masking keeps flat areas clean);
    texture_ref: luma LL texture energy (sqrt(|B|^2 - s0^2)) at which a block gets the full move.
    """

    carriers: tuple[tuple[str, float], ...] = (("v", 70.0), ("y", 24.0))
    alpha_flat: float = 0.6
    texture_ref: float = 32.0
    version: int = _code.VERSION
    alpha_flat_luma: float = 0.3  # the luma carrier's share on flat blocks: luma steps show where chroma ones do not
    # Carriers the DETECTOR also measures (not embedded): mark version 1 put V alone at step 76, so v1 files are
    # still found; a carrier at the wrong step is incoherent and gets no weight.
    legacy: tuple[tuple[str, float], ...] = (("v", 76.0),)

    @property
    def detect_carriers(self) -> tuple[tuple[str, float], ...]:
        return self.carriers + tuple(c for c in self.legacy if c not in self.carriers)

    def __post_init__(self) -> None:
        if not self.carriers or any(c not in _rule.CHANNEL_RGB or s <= 0 for c, s in self.carriers):
            raise WatermarkInputError("carriers must be (plane in 'y','u','v', positive step) pairs")
        if self.version not in _code.VERSIONS:
            raise WatermarkInputError(f"version must be one of {_code.VERSIONS}")


def channel_bits(coded_bits: np.ndarray, key: bytes, layout: int, bh: int, bw: int) -> np.ndarray:
    """(bh, bw) channel bits in ``layout``: keyed 2-D tile, whitened with the layout's balanced word."""
    coded_index, sign = _keys.layouts(key, _code.N_CODED)
    q = (np.arange(bh)[:, None] % _keys.TILE) * _keys.TILE + np.arange(bw)[None, :] % _keys.TILE
    whiten = (sign[layout] < 0).astype(np.int64)
    return coded_bits[coded_index[layout]][q] ^ whiten[q]


def dc_shift(blocks: np.ndarray, bits: np.ndarray, step: float, iterations: int = 2) -> np.ndarray:
    """Uniform LL shift per block (bh, bw) that puts s0 on the bit's lattice.

    A uniform LL shift changes only the block's DCT DC coefficient, the component codecs preserve best (a
    rank-1 ``u0 v0^T`` update follows the block's texture and H.264 quantises it away). To first order
    ``ds0 = c (1^T u0)(1^T v0)``; two Newton steps land within a fraction of a level of the target.
    """
    b = blocks.astype(np.float64)
    s0, u, v, _ = _rule.top_singular(b)
    target = _rule.qim_targets(s0, bits, step)
    target = np.where(target < 0, target + step, target)
    shift = np.zeros(b.shape[:2])
    for it in range(iterations):
        if it:
            s0, u, v, _ = _rule.top_singular(b + shift[..., None, None])
        gain = np.abs(u.sum(-1) * v.sum(-1))
        shift += (target - s0) / np.maximum(gain, 1.0)
    return shift


def texture_mask(y_blocks: np.ndarray, params: EmbedParams, flat: float | None = None) -> np.ndarray:
    return mask_of(texture_of(y_blocks, params), params.alpha_flat if flat is None else flat)


def texture_of(y_blocks: np.ndarray, params: EmbedParams) -> np.ndarray:
    """Local texture in [0, 1] per block: the luma energy outside the top singular component, over the reference."""
    s0, _, _, fro2 = _rule.top_singular(y_blocks, iterations=3)
    return np.minimum(np.sqrt(np.maximum(fro2 - s0**2, 0.0)) / params.texture_ref, 1.0)


def mask_of(texture: np.ndarray, flat: float) -> np.ndarray:
    return flat + (1.0 - flat) * texture


def _block_map_to_native(values: np.ndarray, wshape: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """Per-block constant (bh, bw) pixel change at the working grid -> native (h, w) change."""
    h, w = shape
    if (h, w) == (2 * wshape[0], 2 * wshape[1]) or (h, w) == wshape:
        size = _rule.BLOCK * (h // wshape[0])
        out = np.zeros((h, w), np.float32)
        big = np.repeat(np.repeat(values.astype(np.float32), size, axis=0), size, axis=1)
        out[: big.shape[0], : big.shape[1]] = big
        return out
    work = np.zeros(wshape, np.float32)
    small = np.repeat(np.repeat(values.astype(np.float32), _rule.BLOCK, axis=0), _rule.BLOCK, axis=1)
    work[: small.shape[0], : small.shape[1]] = small
    return _resample.upsample_delta(work, (h, w))


def _box_sums(frame: np.ndarray, wshape: tuple[int, int], f: int) -> np.ndarray:
    """Exact integer f x f box sums of a uint8 frame that is an exact multiple of ``wshape`` (adds of strided
    views: 5x faster than ``sum(axis=..., dtype=...)``)."""
    acc = np.uint16 if f <= 16 else np.uint32
    rows = frame.reshape(wshape[0], f, -1)
    total = rows[:, 0].astype(acc)
    for i in range(1, f):
        np.add(total, rows[:, i], out=total)
    cols = total.reshape(wshape[0], wshape[1], f, 3)
    out = cols[:, :, 0].copy()
    for i in range(1, f):
        np.add(out, cols[:, :, i], out=out)
    return out


def _add_block_constant(frame: np.ndarray, step: np.ndarray, size: int) -> np.ndarray:
    """``clip(frame + step)`` with ``step`` (bh, bw, 3) integer and constant over ``size`` x ``size`` pixel blocks,
    channel by channel and only where a channel changes (the V carrier leaves blue alone)."""
    bh, bw = step.shape[:2]
    h, w = bh * size, bw * size
    out = frame.copy()
    for c in range(3):
        if not step[..., c].any():
            continue
        plane = frame[:h, :w, c].astype(np.int16)
        plane.reshape(bh, size, bw, size)[...] += step[:, None, :, None, c]
        np.clip(plane, 0, 255, out=plane)
        out[:h, :w, c] = plane
    return out


def _working_rgb(frame: np.ndarray, wshape: tuple[int, int]) -> tuple[np.ndarray, int]:
    """Area-downsampled float RGB at the working grid (area resampling commutes with the linear YUV planes),
    and the integer factor when the frame is an exact multiple of the grid (0 otherwise)."""
    h, w = frame.shape[:2]
    f = h // wshape[0]
    if f >= 1 and (h, w) == (wshape[0] * f, wshape[1] * f):
        return _box_sums(frame, wshape, f).astype(np.float32) * np.float32(1.0 / (f * f)), f
    rgb = frame.astype(np.float32)
    return np.stack([_resample.resize(rgb[..., i], wshape) for i in range(3)], axis=-1), 0


def embed_frame(frame: np.ndarray, bits: np.ndarray, params: EmbedParams) -> np.ndarray:
    h, w = frame.shape[:2]
    wshape = _resample.working_shape(h, w)
    work, factor = _working_rgb(frame, wshape)
    y_blocks = _rule.ll_blocks(_rule.haar_ll(_rule.carrier(work, "y")))
    texture = texture_of(y_blocks, params)  # one estimate, two masks (chroma and luma carriers)
    alpha = mask_of(texture, params.alpha_flat)
    delta = np.zeros((*bits.shape, 3), np.float64)  # per-block RGB change
    for channel, step in params.carriers:
        blocks = y_blocks if channel == "y" else _rule.ll_blocks(_rule.haar_ll(_rule.carrier(work, channel)))
        a = mask_of(texture, params.alpha_flat_luma) if channel == "y" else alpha
        # A uniform LL shift c is a pixel change of c / 2 over the block (inverse Haar, details unchanged).
        delta += (dc_shift(blocks, bits, step) * a * 0.5)[..., None] * _rule.CHANNEL_RGB[channel]
    if factor:
        # Block-constant change on an exact multiple of the grid: round once per block and add in integers
        # (rint(frame + d) == frame + rint(d) for integer frames).
        return _add_block_constant(frame, np.rint(delta).astype(np.int16), _rule.BLOCK * factor)
    rgb = frame.astype(np.float32)
    for i in range(3):
        if np.any(delta[..., i]):
            rgb[..., i] += _block_map_to_native(delta[..., i], wshape, (h, w))
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def embed_stream(
    frames: Iterable[np.ndarray], content_id: str, key: bytes, fps: float, params: EmbedParams
) -> Iterator[np.ndarray]:
    coded = _code.encode(_code.content_id_to_bits(content_id, params.version))
    shape = None
    bits_cache: dict[int, np.ndarray] = {}
    count = 0
    for index, frame in enumerate(frames):
        check_frame(frame, index, min_short=MIN_EMBED_SHORT)
        if shape is None:
            shape = frame.shape
            wshape = _resample.working_shape(*shape[:2])
            bh, bw = wshape[0] // _rule.BLOCK, wshape[1] // _rule.BLOCK
        elif frame.shape != shape:
            raise WatermarkInputError(f"frame {index}: shape {frame.shape} differs from the first one {shape}")
        layout = int(_keys.layout_of_time((index + 0.5) / fps))
        if layout not in bits_cache:
            bits_cache[layout] = channel_bits(coded, key, layout, bh, bw)
        count += 1
        yield embed_frame(frame, bits_cache[layout], params)
    if count == 0:
        raise WatermarkInputError("no frames to watermark")
