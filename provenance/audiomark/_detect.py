"""Detection: an exhaustive search over alignments (and optionally speeds), soft combining of every repetition
of the payload, Viterbi decoding, and a binomial test whose union bound counts every hypothesis searched.

Null model (what the p-value means): for a fixed unmarked signal and a random key, every symbol's dither is
uniform on [0, 1) and independent, so each coded bit's combined soft value is symmetric about 0 (shifting its
dithers by 1/2 flips its sign) and independent of the other coded bits: the hard decisions agree with any
fixed codeword like fair coins. The p-value is then (codewords x hypotheses) x P(Binomial(n, 1/2) >= agree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..watermark import _code
from . import _grid as g

N_OFFSETS = 4  # sub-hop sample offsets searched (a quarter hop apart: 4 ms)
N_ALIGNMENTS = N_OFFSETS * g.FRAMES_PER_TILE * g.TILES_PER_PERIOD  # 1024
AUDIO_PAYLOAD_VERSION = 1
LOG10_ALPHA = -9.0
N_DECODED = 32  # alignments per speed passed to the Viterbi decoder, best lattice fit first


def resample(x: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """Band-limited (FFT) resampling of a whole 1-D signal."""
    if rate == new_rate:
        return np.asarray(x, dtype=np.float64)
    n_out = round(x.size * new_rate / rate)
    spec = np.fft.rfft(x)
    keep = min(spec.size, n_out // 2 + 1)
    out = np.zeros(n_out // 2 + 1, dtype=np.complex128)
    out[:keep] = spec[:keep]
    return np.fft.irfft(out, n=n_out) * (n_out / x.size)


def change_speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Undo a playback-speed change by ``factor`` (>1: the attack sped the audio up): band-limited resampling
    to ``factor`` times as many samples. (Linear interpolation is not enough: its fractional delays attenuate
    6 kHz by up to 8 dB, differently in every tile, and the band statistics do not survive it.)"""
    return resample(x, 1_000_000, round(1_000_000 * factor))


def encode_batch(info: np.ndarray) -> np.ndarray:
    """Vectorised ``_code.encode``: (B, 52) info bits -> (B, 232) coded bits."""
    u = np.concatenate(
        [np.zeros((info.shape[0], _code.K - 1), np.int64), info, np.zeros((info.shape[0], _code.K - 1), np.int64)], 1
    )
    steps = _code.N_STEPS
    out = np.zeros((info.shape[0], steps, len(_code.GENERATORS)), dtype=np.int64)
    for j, gen in enumerate(_code.GENERATORS):
        for i in range(_code.K):  # register bit i holds u[t - (K-1) + i]
            if (gen >> i) & 1:
                out[:, :, j] ^= u[:, i : i + steps]
    return out.reshape(info.shape[0], -1)


@dataclass(frozen=True)
class Candidate:
    content_id: str
    version: int
    agree: int
    n_bits: int
    log10_p: float
    offset_s: float
    speed: float
    soft: np.ndarray  # (232,) combined soft values of the winning hypothesis
    tile_start_s: float
    n_tiles: int
    segments: tuple = ()


def spreading_matrix(key: bytes) -> np.ndarray:
    """(N_BANDS, TILES_PER_PERIOD * SYMBOLS_PER_TILE): column (j, s) holds symbol s's weights at period position j."""
    members, weights, _, _ = g.layout(key)
    out = np.zeros((g.N_BANDS, g.TILES_PER_PERIOD, g.SYMBOLS_PER_TILE))
    j, sym, _k = np.indices(members.shape)
    out[members, j, sym] = weights
    return out.reshape(g.N_BANDS, -1)


def _soft_all(z: np.ndarray, key: bytes, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Combined soft values for every alignment of a 16 kHz signal.

    Returns soft (N_ALIGNMENTS, 232), observed weight (N_ALIGNMENTS, 232), per alignment (offset samples,
    tile phase frame, period phase, n_tiles) as an int array (N_ALIGNMENTS, 4), and each alignment's lattice
    fit (N_ALIGNMENTS,)."""
    _members, _weights, coded, dither = g.layout(key)
    n_fft, hop = g.frame_sizes(g.ANALYSIS_RATE)
    max_bin = int(g.band_edges()[-1]) + 1
    softs: list[np.ndarray] = []
    obs: list[np.ndarray] = []
    fits: list[np.ndarray] = []
    meta: list[tuple[int, int, int, int]] = []
    k0 = np.arange(g.TILES_PER_PERIOD)
    spread = spreading_matrix(key)
    for o in range(N_OFFSETS):
        off = o * hop // N_OFFSETS
        frame_power = g.band_power(g.stft(z[off:], n_fft, hop, max_bin))
        for ph in range(g.FRAMES_PER_TILE):
            stat, loud = g.tile_stats(frame_power, ph)
            n_t = stat.shape[0]
            if n_t == 0:
                fits.append(np.full(len(k0), -np.inf))
                softs.append(np.zeros((len(k0), _code.N_CODED)))
                obs.append(np.zeros((len(k0), _code.N_CODED)))
                meta.extend([(off, ph, int(k), 0) for k in k0])
                continue
            # reliability: loud tiles count fully, tiles 30-40 dB below the loud ones fade out
            ref = np.quantile(loud, 0.95)
            rel = np.clip((loud - (ref - 4.0 * math.log(10.0))) / math.log(10.0), 0.0, 1.0)  # (T,)
            pos = (np.arange(n_t)[None, :] + k0[:, None]) % g.TILES_PER_PERIOD  # (P, T)
            # every tile projected on every period position's spreading vectors at once: (T, 64 * S)
            proj_all = (stat @ spread).reshape(n_t, g.TILES_PER_PERIOD, g.SYMBOLS_PER_TILE)
            proj = proj_all[np.arange(n_t)[None, :], pos]  # (P, T, S)
            soft = -np.cos(2.0 * np.pi * (proj / step - dither[pos])) * rel[None, :, None]
            idx = (np.arange(len(k0))[:, None, None] * _code.N_CODED + coded[pos]).reshape(-1)
            acc = np.bincount(idx, weights=soft.reshape(-1), minlength=len(k0) * _code.N_CODED)
            wsum = np.bincount(
                idx,
                weights=np.broadcast_to(rel[None, :, None], soft.shape).reshape(-1),
                minlength=len(k0) * _code.N_CODED,
            )
            # lattice fit: at the right alignment every projection sits on a lattice point (|cos| ~ 1, whichever
            # bit); elsewhere |cos| averages 2/pi. Used only to choose which alignments to decode.
            fits.append((np.abs(soft).sum(axis=(1, 2)) - 2.0 / np.pi * rel.sum() * g.SYMBOLS_PER_TILE)
                        / np.sqrt(max(rel.sum(), 1.0)))  # fmt: skip
            softs.append(acc.reshape(len(k0), -1))
            obs.append(wsum.reshape(len(k0), -1))
            meta.extend([(off, ph, int(k), n_t) for k in k0])
    return np.concatenate(softs), np.concatenate(obs), np.asarray(meta, dtype=np.int64), np.concatenate(fits)


def log10_factor(n_speeds: int) -> float:
    """log10 of the union bound: 2^48 content IDs x one payload version x every alignment and speed searched."""
    return _code.ID_BITS * math.log10(2.0) + math.log10(N_ALIGNMENTS * n_speeds)


def _segments(z: np.ndarray, key: bytes, step: float, off: int, ph: int, k0: int, codeword: np.ndarray, speed: float):
    """Per payload period of one alignment: (start_s, end_s, agreement of its symbols with ``codeword``)."""
    members, weights, coded, dither = g.layout(key)
    n_fft, hop = g.frame_sizes(g.ANALYSIS_RATE)
    stat, _loud = g.tile_stats(g.band_power(g.stft(z[off:], n_fft, hop, int(g.band_edges()[-1]) + 1)), ph)
    n_t = stat.shape[0]
    pos = (np.arange(n_t) + k0) % g.TILES_PER_PERIOD
    proj = (stat[np.arange(n_t)[:, None, None], members[pos]] * weights[pos]).sum(-1)
    hard = (-np.cos(2.0 * np.pi * (proj / step - dither[pos])) > 0).astype(np.int64)
    ok = hard == codeword[coded[pos]]  # (T, S)
    tile_s = g.FRAMES_PER_TILE * g.HOP_S
    out = []
    first = 0
    while first < n_t:
        last = min(n_t, first + g.TILES_PER_PERIOD - (pos[first] if first == 0 else 0))
        t0 = (off / g.ANALYSIS_RATE + ph * g.HOP_S + first * tile_s) / speed
        t1 = (off / g.ANALYSIS_RATE + ph * g.HOP_S + last * tile_s) / speed
        out.append((round(t0, 3), round(t1, 3), float(ok[first:last].mean())))
        first = last
    return tuple(out)


def search(
    z: np.ndarray, key: bytes, step: float, speeds: tuple[float, ...], *, n_speeds: int | None = None
) -> Candidate | None:
    """The best hypothesis over alignments x speeds of a 16 kHz mono signal (None if too short to test).

    ``n_speeds``: how many speed hypotheses the caller searches in all (the union bound counts every one)."""
    factor = log10_factor(n_speeds or len(speeds))
    best: Candidate | None = None
    for speed in speeds:
        zs = z if speed == 1.0 else change_speed(z, speed)
        soft, obs, meta, fit = _soft_all(zs, key, step)
        keep = np.argsort(-fit)[:N_DECODED]  # the union bound still counts all N_ALIGNMENTS
        soft, obs, meta = soft[keep], obs[keep], meta[keep]
        seen = obs > 1e-6
        n_bits = seen.sum(axis=1)
        info = _code.viterbi(np.where(seen, soft, 0.0))
        # the decoded version field is forced to the audio payload's version before re-encoding
        vbits = np.array(
            [(AUDIO_PAYLOAD_VERSION >> (_code.VERSION_BITS - 1 - i)) & 1 for i in range(_code.VERSION_BITS)]
        )
        info[:, : _code.VERSION_BITS] = vbits
        cw = encode_batch(info)
        hard = (soft > 0).astype(np.int64)
        agree = ((hard == cw) & seen).sum(axis=1)
        # rank by the binomial tail (exactly what is tested); fractions pre-select to keep it cheap
        frac = agree / np.maximum(n_bits, 1)
        for i in np.argsort(-frac)[:8]:
            if n_bits[i] == 0:
                continue
            lp = factor + _code.log10_binom_tail(int(agree[i]), int(n_bits[i]))
            if best is None or lp < best.log10_p:
                version, cid = _code.bits_to_payload(info[i])
                off, ph, k, n_t = (int(v) for v in meta[i])
                start_frames = ph
                best = Candidate(
                    cid,
                    version,
                    int(agree[i]),
                    int(n_bits[i]),
                    min(lp, 0.0),
                    off / g.ANALYSIS_RATE,
                    speed,
                    soft[i].copy(),
                    (off + start_frames * g.frame_sizes(g.ANALYSIS_RATE)[1]) / g.ANALYSIS_RATE / speed,
                    n_t,
                    (off, ph, k, cw[i].copy(), zs),
                )
    if best is not None:
        off, ph, k, codeword, zs = best.segments
        object.__setattr__(best, "segments", _segments(zs, key, step, off, ph, k, codeword, best.speed))
    return best
