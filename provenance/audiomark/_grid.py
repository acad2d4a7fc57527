"""The audio mark's time-frequency grid and keyed layout (numpy only).

Grid: STFT with a 32 ms sqrt-Hann window and a 16 ms hop (31.25 Hz bins at every sample rate that is a multiple of
8 kHz). Cells are pooled into TILES: 4 frames (64 ms) x one of N_BANDS mel-spaced bands between 500 Hz and
6 kHz (below the 8 kHz Nyquist of a 16 kHz resample, above most music's and pink noise's bulk). A tile's
statistic is its log in-band power minus the mean over the bands of the same time tile, so gain, fades and
loudness changes cancel.

Payload layout: one PERIOD is 64 time tiles (4.096 s). Each time tile carries SYMBOLS_PER_TILE spread-transform
QIM symbols; a symbol is BANDS_PER_SYMBOL adjacent bands of ONE time tile with keyed zero-sum weights, so a pause,
a burst of noise or noise in the weak high bands erases whole symbols instead of corrupting many. 64 x 4 = 256
symbols per period carry the 232 coded bits of provenance.watermark's code (24 of them twice).
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np

from ..watermark._code import N_CODED

PUBLIC_KEY = b"dirfa-public-audiomark-v1"
ANALYSIS_RATE = 16_000
WINDOW_S = 0.032
HOP_S = 0.016
FRAMES_PER_TILE = 4
TILES_PER_PERIOD = 64
N_BANDS = 20
BANDS_PER_SYMBOL = 5
SYMBOLS_PER_TILE = N_BANDS // BANDS_PER_SYMBOL  # 4
SYMBOLS_PER_PERIOD = TILES_PER_PERIOD * SYMBOLS_PER_TILE  # 256
BAND_LO_HZ = 500.0
BAND_HI_HZ = 6000.0
PERIOD_S = TILES_PER_PERIOD * FRAMES_PER_TILE * HOP_S  # 4.096
EPS_POWER = 1e-12


def _mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def _imel(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


@functools.lru_cache(maxsize=8)
def band_edges(bin_hz: float = 1.0 / WINDOW_S) -> np.ndarray:
    """(N_BANDS + 1,) bin indices; band b covers bins [edges[b], edges[b+1])."""
    hz = _imel(np.linspace(_mel(BAND_LO_HZ), _mel(BAND_HI_HZ), N_BANDS + 1))
    edges = np.round(hz / bin_hz).astype(np.int64)
    edges.setflags(write=False)
    return edges


def frame_sizes(rate: int) -> tuple[int, int]:
    """(n_fft, hop) in samples at ``rate``; None-safe callers check ``rate`` first."""
    return round(rate * WINDOW_S), round(rate * HOP_S)


@functools.lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    # periodic sqrt-Hann: analysis x synthesis = Hann, which sums to 1 at 50 % overlap (perfect reconstruction)
    return np.sqrt(0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft))


def stft(x: np.ndarray, n_fft: int, hop: int, max_bin: int) -> np.ndarray:
    """(frames, max_bin) complex STFT of a 1-D signal; frame i starts at sample i * hop."""
    n_frames = 1 + (x.size - n_fft) // hop if x.size >= n_fft else 0
    if n_frames <= 0:
        return np.zeros((0, max_bin), dtype=np.complex128)
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    return np.fft.rfft(x[idx] * _window(n_fft), axis=1)[:, :max_bin]


def istft_add(spec: np.ndarray, n_fft: int, hop: int, n_samples: int) -> np.ndarray:
    """Overlap-add synthesis of a (frames, bins) spectrum (bins above ``spec.shape[1]`` are zero)."""
    full = np.zeros((spec.shape[0], n_fft // 2 + 1), dtype=np.complex128)
    full[:, : spec.shape[1]] = spec
    frames = np.fft.irfft(full, n=n_fft, axis=1) * _window(n_fft)
    out = np.zeros(max(n_samples, hop * spec.shape[0] + n_fft))
    idx = np.arange(n_fft)[None, :] + hop * np.arange(spec.shape[0])[:, None]
    np.add.at(out, idx.reshape(-1), frames.reshape(-1))
    return out[:n_samples]


def band_power(spec: np.ndarray) -> np.ndarray:
    """(frames, N_BANDS) in-band power per frame."""
    edges = band_edges()
    power = np.abs(spec) ** 2
    csum = np.concatenate([np.zeros((power.shape[0], 1)), np.cumsum(power, axis=1)], axis=1)
    return csum[:, edges[1:]] - csum[:, edges[:-1]]


def stft_band_power(x: np.ndarray, n_fft: int, hop: int, chunk: int = 256) -> np.ndarray:
    """``band_power(stft(x, n_fft, hop, top bin))``, ``chunk`` frames at a time: the whole complex STFT of a long
    clip is megabytes, and passes over it went to memory rather than cache."""
    n_frames = 1 + (x.size - n_fft) // hop if x.size >= n_fft else 0
    max_bin = int(band_edges()[-1]) + 1
    out = np.zeros((n_frames, N_BANDS))
    for start in range(0, n_frames, chunk):
        count = min(chunk, n_frames - start)
        out[start : start + count] = band_power(
            stft(x[start * hop : (start + count - 1) * hop + n_fft], n_fft, hop, max_bin)
        )
    return out


REL_FLOOR = 0.02  # a band weaker than 2 % of its tile's mean band power (-17 dB) is held at that floor


def tile_power(frame_power: np.ndarray, start: int = 0) -> np.ndarray:
    """(tiles, N_BANDS) band power per tile, tiles starting at frame ``start``."""
    n_tiles = max(0, (frame_power.shape[0] - start) // FRAMES_PER_TILE)
    p = frame_power[start : start + n_tiles * FRAMES_PER_TILE]
    return p.reshape(n_tiles, FRAMES_PER_TILE, N_BANDS).sum(1)


def stats_from_power(power: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(stat, log total power, slope) of (..., tiles, N_BANDS) powers.

    stat = log(power + REL_FLOOR * tile mean) minus its band mean: near-empty bands (above a speech recording's
    bandwidth, between formants), which codecs zero or fill with noise at will, sit at the floor and do not move
    the statistic; slope = d stat / d log power (~1 for strong bands, ~0 for those)."""
    floor = REL_FLOOR * power.mean(axis=-1, keepdims=True) + EPS_POWER
    logp = np.log(power + floor)
    slope = power / (power + floor)
    return logp - logp.mean(axis=-1, keepdims=True), np.log(power.sum(axis=-1) + EPS_POWER), slope


def tile_stats(frame_power: np.ndarray, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(stat (tiles, N_BANDS), log total power (tiles,)) of the tiles starting at frame ``start``."""
    power = tile_power(frame_power, start)
    if power.shape[0] == 0:
        return np.zeros((0, N_BANDS)), np.zeros(0)
    stat, loud, _ = stats_from_power(power)
    return stat, loud


def _stream(key: bytes, label: str, n: int) -> np.ndarray:
    data = len(key).to_bytes(4, "big") + key + label.encode("ascii")
    return np.frombuffer(hashlib.shake_256(data).digest(8 * n), dtype=">u8").astype(np.uint64)


@functools.lru_cache(maxsize=16)
def layout(key: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The keyed layout of one period.

    Returns
      members (TILES_PER_PERIOD, SYMBOLS_PER_TILE, BANDS_PER_SYMBOL): the bands of each symbol: symbol s of
        every tile is the s-th group of BANDS_PER_SYMBOL ADJACENT bands (s = 0 lowest), so a symbol's bands have
        similar speech-to-noise ratios and noise in the weak high bands leaves the strong low ones intact,
      weights (same shape): keyed ZERO-SUM spreading weights of unit norm (two bands +sqrt(3/10), three
        -sqrt(2/15), or the opposite): a change common to a symbol's bands (the tile's loudness, or the band mean
        that the statistic subtracts, which added noise moves) does not move the projection,
      coded (TILES_PER_PERIOD, SYMBOLS_PER_TILE): the coded-bit index each symbol carries,
      dither (TILES_PER_PERIOD, SYMBOLS_PER_TILE): the QIM dither in units of the step, uniform in [0, 1).
    Coded bits are assigned by a keyed permutation of the period's symbols, so a coded bit and its repeat
    lie in different tiles (and mostly different band groups).
    """
    members = np.broadcast_to(
        np.arange(N_BANDS).reshape(SYMBOLS_PER_TILE, BANDS_PER_SYMBOL),
        (TILES_PER_PERIOD, SYMBOLS_PER_TILE, BANDS_PER_SYMBOL),
    ).copy()
    k = BANDS_PER_SYMBOL
    n_pos = k // 2
    base = np.concatenate([np.full(n_pos, 1.0 / n_pos), np.full(k - n_pos, -1.0 / (k - n_pos))])
    base /= np.sqrt((base**2).sum())
    order = np.argsort(_stream(key, "weights", members.size).reshape(-1, k), axis=1, kind="stable")
    flip = 1.0 - 2.0 * (_stream(key, "weight-signs", members.size // k) >> np.uint64(63)).astype(np.float64)
    weights = (base[order] * flip[:, None]).reshape(members.shape)
    order = np.argsort(_stream(key, "coded", SYMBOLS_PER_PERIOD), kind="stable")
    coded = (order % N_CODED).reshape(TILES_PER_PERIOD, SYMBOLS_PER_TILE)
    dither = (_stream(key, "dither", SYMBOLS_PER_PERIOD) >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    dither = dither.reshape(TILES_PER_PERIOD, SYMBOLS_PER_TILE)
    for a in (members, weights, coded, dither):
        a.setflags(write=False)
    return members, weights, coded, dither


def key_id(key: bytes) -> str:
    """A short public fingerprint of a key (never the key itself)."""
    return hashlib.blake2b(key, digest_size=4, person=b"dirfa-am-keyid").hexdigest()
