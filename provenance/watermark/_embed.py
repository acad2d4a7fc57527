"""Raw watermark embedding: emits frames WITHOUT signed provenance (``sdk`` is the only caller that makes
files).

Per frame: carrier plane (luma by default) -> area-downsample to the working grid (short side 256) -> Haar LL
-> 4x4 blocks -> move each block's top singular value s0 to the nearest point of its channel bit's QIM lattice
by a uniform (DC) shift of the block -> LL change back to pixels (inverse Haar with unchanged details)
-> ``r * D^T`` to the native size -> the RGB direction that changes only the carrier plane -> round and clip.
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
    """Strength and masking. Defaults measured in benchmarks/watermark_bench.py (PSNR >= 42 dB at 512x512)."""

    step: float = (
        48.0  # QIM step S on s0 (LL units at the working grid; 1 luma level = 8 units on a flat block)
    )
    alpha_flat: float = 0.6  # fraction of the QIM move applied on perfectly flat blocks (texture masking)
    texture_ref: float = 32.0  # non-rank-1 LL energy (sqrt(s1^2+s2^2+s3^2)) at which blocks get the full move
    channel: str = "y"  # carrier plane of BT.601 YUV: "y", "u" or "v"


def channel_bits(coded_bits: np.ndarray, key: bytes, layout: int, bh: int, bw: int) -> np.ndarray:
    """(bh, bw) channel bits in ``layout``: keyed 2-D tile, whitened with the layout's balanced word."""
    coded_index, sign = _keys.layouts(key, _code.N_CODED)
    q = (np.arange(bh)[:, None] % _keys.TILE) * _keys.TILE + np.arange(bw)[None, :] % _keys.TILE
    whiten = (sign[layout] < 0).astype(np.int64)
    return coded_bits[coded_index[layout]][q] ^ whiten[q]


def mask(singular_values: np.ndarray, params: EmbedParams) -> np.ndarray:
    texture = np.sqrt(np.sum(singular_values[..., 1:] ** 2, axis=-1))
    return params.alpha_flat + (1.0 - params.alpha_flat) * np.minimum(texture / params.texture_ref, 1.0)


def dc_move(blocks: np.ndarray, bits: np.ndarray, params: EmbedParams, iterations: int = 2) -> np.ndarray:
    """LL change per block (bh, bw, 4, 4) that puts s0 on the bit's lattice by a UNIFORM shift of the block.

    A uniform LL shift is a change of the block's DCT DC coefficient only: the component codecs preserve best
    (a rank-1 ``u0 v0^T`` update follows the block's texture and H.264 quantises much of it away). To first
    order ``ds0 = c (1^T u0)(1^T v0)``; two Newton steps land within a fraction of a level of the target.
    """
    b = blocks.astype(np.float64)
    u, s, vt = np.linalg.svd(b)
    target = _rule.qim_targets(s[..., 0], bits, params.step)
    target = np.where(target < 0, target + params.step, target)
    alpha = mask(s, params)
    shift = np.zeros(b.shape[:2])
    for it in range(iterations):
        if it:
            u, s, vt = np.linalg.svd(b + shift[..., None, None])
        gain = np.abs(u[..., :, 0].sum(-1) * vt[..., 0, :].sum(-1))
        shift += (target - s[..., 0]) / np.maximum(gain, 1.0)
    return np.broadcast_to((shift * alpha)[..., None, None], b.shape)


def embed_frame(frame: np.ndarray, bits: np.ndarray, params: EmbedParams) -> np.ndarray:
    h, w = frame.shape[:2]
    wshape = _resample.working_shape(h, w)
    y_work = _resample.resize(_rule.carrier(frame, params.channel), wshape)
    blocks = _rule.ll_blocks(_rule.haar_ll(y_work))  # (bh, bw, 4, 4)
    ll_delta = _rule.blocks_to_ll(dc_move(blocks, bits, params))
    delta_work = np.zeros(wshape, dtype=np.float32)
    pix = _rule.ll_delta_to_pixels(ll_delta)
    delta_work[: pix.shape[0], : pix.shape[1]] = pix
    delta = _resample.upsample_delta(delta_work, (h, w))
    out = frame.astype(np.float32) + delta[..., None] * _rule.CHANNEL_RGB[params.channel]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def embed_stream(
    frames: Iterable[np.ndarray], content_id: str, key: bytes, fps: float, params: EmbedParams
) -> Iterator[np.ndarray]:
    coded = _code.encode(_code.content_id_to_bits(content_id))
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
            raise WatermarkInputError(
                f"frame {index}: shape {frame.shape} differs from the first frame's {shape}"
            )
        layout = int(_keys.layout_of_time((index + 0.5) / fps))
        if layout not in bits_cache:
            bits_cache[layout] = channel_bits(coded, key, layout, bh, bw)
        count += 1
        yield embed_frame(frame, bits_cache[layout], params)
    if count == 0:
        raise WatermarkInputError("no frames to watermark")
