"""The dwtDctSvd per-block rule of invisible-watermark, re-implemented with numpy only.

Rule (invisible-watermark 0.2.0, ``imwatermark/dwtDctSvd.py``): take the level-1 Haar LL band of a channel,
cut it into 4x4 blocks (one block = 8x8 pixels), and quantise the largest singular value s0 of each block's
4x4 DCT with step S: a block reads bit 1 when ``s0 mod S > S/2``. The 2-D DCT is orthonormal, so s0 of the
DCT equals s0 of the block itself and changing s0 is the rank-1 update ``block + (s0_new - s0) u0 v0^T``: no
DCT is needed, and the whole frame is processed as one batched SVD (no per-block Python loop).

Where the library is wrong we do not copy it: it swaps the horizontal and vertical detail bands in ``idwt2``
(so even an unchanged frame is damaged), truncates float->uint8, and moves s0 to ``floor(s0/S)*S + S/4
(+S/2)``, up to 0.75 S away. Here only LL changes (so no band order can be wrong), s0 moves to the NEAREST
point of the bit's lattice (at most S/2), and pixels are rounded and clipped once. The decoding rule is
unchanged, so marks made by the library decode with :func:`decode_stock_bits` and vice versa.
"""

from __future__ import annotations

import numpy as np

BLOCK = 8  # pixels per block side (4x4 LL coefficients)


def rgb_to_yuv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float Y, U, V as OpenCV's COLOR_BGR2YUV defines them (BT.601, U/V offset 128), without rounding."""
    r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return y, 0.492 * (b - y) + 128.0, 0.877 * (r - y) + 128.0


def luma(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float32)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


# RGB change that moves one channel of OpenCV's BT.601 YUV by +1 and leaves the other two unchanged.
CHANNEL_RGB = {
    "y": np.array([1.0, 1.0, 1.0], np.float32),
    "u": np.array([0.0, -0.114 / 0.587 / 0.492, 1.0 / 0.492], np.float32),
    "v": np.array([1.0 / 0.877, -0.299 / 0.587 / 0.877, 0.0], np.float32),
}
_CHANNEL_WEIGHTS = {
    "y": (0.299, 0.587, 0.114, 0.0),
    "u": (-0.492 * 0.299, -0.492 * 0.587, 0.492 * (1 - 0.114), 128.0),
    "v": (0.877 * (1 - 0.299), -0.877 * 0.587, -0.877 * 0.114, 128.0),
}


def carrier(rgb: np.ndarray, channel: str) -> np.ndarray:
    """One float plane of OpenCV's BT.601 YUV ("y", "u" or "v")."""
    rgb = np.asarray(rgb, dtype=np.float32)  # (..., 3): any leading axes (a batch of frames)
    return carrier_of(rgb[..., 0], rgb[..., 1], rgb[..., 2], channel)


def carrier_of(r: np.ndarray, g: np.ndarray, b: np.ndarray, channel: str) -> np.ndarray:
    """:func:`carrier` from separate float32 R, G and B planes (the same values; several carriers of one frame
    then share one conversion of each colour)."""
    wr, wg, wb, off = _CHANNEL_WEIGHTS[channel]
    out = r * wr
    out += g * wg
    out += b * wb
    out += off
    return out


def haar_ll(channel: np.ndarray) -> np.ndarray:
    """Level-1 Haar LL band (equals ``pywt.dwt2(x, 'haar')[0]`` on even-sized input): 2x2 sums / 2.

    Works on the last two axes (a stack of planes gives the same values as plane by plane). Adds of strided
    views, (x00 + x01) + (x10 + x11): the order numpy's ``reshape(h/2, 2, w/2, 2).sum(axis=(1, 3))`` uses on a
    C-ordered plane, so the same values, 10x faster."""
    h, w = channel.shape[-2] // 2 * 2, channel.shape[-1] // 2 * 2
    c = channel[..., :h, :w]
    pairs = c[..., 0::2] + c[..., 1::2]
    return (pairs[..., 0::2, :] + pairs[..., 1::2, :]) * 0.5


def ll_blocks(ll: np.ndarray) -> np.ndarray:
    """(..., h, w) LL -> (..., h//4, w//4, 4, 4) blocks in raster order (a view where possible)."""
    bh, bw = ll.shape[-2] // 4, ll.shape[-1] // 4
    return ll[..., : bh * 4, : bw * 4].reshape(*ll.shape[:-2], bh, 4, bw, 4).swapaxes(-3, -2)


def top_singular_values(blocks: np.ndarray) -> np.ndarray:
    """s0 of every 4x4 block: (..., 4, 4) -> (...)."""
    return np.linalg.svd(blocks.astype(np.float64), compute_uv=False)[..., 0]


def top_singular(blocks: np.ndarray, iterations: int = 5):
    """Top singular triplet of every 4x4 block by power iteration on B^T B (6x faster than a batched SVD).

    Returns (s0, u0, v0, frobenius^2). Natural image blocks are dominated by their mean, so starting from the
    uniform vector converges in a few steps; where s0 and s1 are close the result is slightly off, but such
    blocks are unreliable carriers anyway, and embedder and detector use the same estimate.
    """
    b = blocks.astype(np.float64)
    v = _top_right_vector(b, np.einsum("...ij,...ik->...jk", b, b), iterations)
    bv = np.einsum("...ij,...j->...i", b, v)
    s0 = np.linalg.norm(bv, axis=-1)
    u = bv / np.maximum(s0, 1e-12)[..., None]
    return s0, u, v, np.einsum("...ij,...ij->...", b, b)


def top_s0(blocks: np.ndarray, iterations: int = 5) -> np.ndarray:
    """s0 alone, as :func:`top_singular` computes it, for the detector (which needs neither u0, v0 nor |B|^2).

    B^T B is a stacked matmul, 2-4x faster than the einsum. On the detector's blocks (float32 LL values, whose
    products are exact in float64) it adds the same terms in the same order, so s0 is the same to the bit; on
    arbitrary float64 blocks (the embedder's Newton steps) it may differ in the last bit, hence the einsum there.
    """
    b = np.asarray(blocks, dtype=np.float64)
    v = _top_right_vector(b, b.swapaxes(-1, -2) @ b, iterations)
    return np.linalg.norm(np.einsum("...ij,...j->...i", b, v), axis=-1)


def _top_right_vector(b: np.ndarray, g: np.ndarray, iterations: int) -> np.ndarray:
    """Power iteration on g = B^T B from the uniform vector."""
    v = np.full((*b.shape[:-2], 4), 0.5)
    for _ in range(iterations):
        v = np.einsum("...jk,...k->...j", g, v)
        v /= np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)
    return v


def qim_targets(s0: np.ndarray, bits: np.ndarray, step: float) -> np.ndarray:
    """Nearest point of the lattice ``(k + 1/4 + bit/2) * step`` to each s0 (decodes as ``bit``)."""
    offset = (0.25 + 0.5 * bits) * step
    return np.round((s0 - offset) / step) * step + offset


def embed_ll_blocks(blocks: np.ndarray, bits: np.ndarray, step: float, alpha: np.ndarray | float = 1.0):
    """Rank-1 update of every block so that its s0 reads ``bits``; returns the LL delta blocks.

    ``alpha`` (per block, in [0, 1]) moves s0 only that fraction of the way (distortion-compensated QIM): it
    is the perceptual mask, and the decoder needs no knowledge of it.
    """
    u, s, vt = np.linalg.svd(blocks.astype(np.float64))
    s0 = s[..., 0]
    target = qim_targets(s0, bits, step)
    # A negative s0 is impossible; step one lattice period up instead.
    target = np.where(target < 0, target + step, target)
    delta = (target - s0) * alpha
    return delta[..., None, None] * (u[..., :, 0, None] * vt[..., 0, None, :])


def blocks_to_ll(blocks: np.ndarray) -> np.ndarray:
    bh, bw = blocks.shape[:2]
    return blocks.swapaxes(1, 2).reshape(bh * 4, bw * 4)


def ll_delta_to_pixels(ll_delta: np.ndarray) -> np.ndarray:
    """Inverse Haar with unchanged detail bands: each LL change d spreads as d/2 over its 2x2 pixels."""
    return np.repeat(np.repeat(ll_delta * 0.5, 2, axis=0), 2, axis=1)


def decode_stock_bits(rgb: np.ndarray, n_bits: int, scales: tuple[float, float, float] = (0, 36, 0)):
    """Decode a mark made by invisible-watermark's own ``dwtDctSvd`` encoder (stock layout and decision).

    Stock layout: block k of the frame (raster order over the whole LL band) carries bit ``k mod n_bits``;
    only the Y and U channels are used (the library ignores V); hard per-block votes are averaged per bit and
    a bit is 1 when the average exceeds 127/255. ``scales`` follows the library's (Y, U, V) convention.
    """
    h, w = rgb.shape[0] // 4 * 4, rgb.shape[1] // 4 * 4
    y, u, _ = rgb_to_yuv(rgb[:h, :w])
    sums = np.zeros(n_bits)
    counts = np.zeros(n_bits)
    for channel, step in zip((y, u), scales[:2], strict=True):
        if step <= 0:
            continue
        chan = np.clip(np.round(channel), 0, 255)  # the library works on uint8 YUV
        s0 = top_singular_values(ll_blocks(haar_ll(chan))).reshape(-1)
        vote = (np.mod(s0, step) > step * 0.5).astype(np.float64)
        idx = np.arange(s0.size) % n_bits
        sums += np.bincount(idx, weights=vote, minlength=n_bits)
        counts += np.bincount(idx, minlength=n_bits)
    return (sums / np.maximum(counts, 1) * 255 > 127).astype(np.int64)
