"""Detection: an exhaustive search over alignments (and optionally speeds), reliability-weighted soft combining of
every repetition of the payload, Viterbi decoding, and a test whose union bound counts every hypothesis searched.

Null model (what the p-value means): for a fixed unmarked signal and a random key, every symbol's dither is
uniform on [0, 1) and independent of the others, so shifting one symbol's dither by 1/2 flips the sign of its
soft value and keeps its magnitude: given the magnitudes (and the reliability weights, which depend on the audio's
power only), the signs are independent fair coins. A symbol's repetitions (every period) share its dither, so the
unit is the keyed symbol: its weighted soft values summed over the clip (``per_symbol``). The statistic is the sum
of those, signed by the tested codeword; its tail under fair signs is bounded by Chernoff's bound for Rademacher sums
(log10_rademacher_tail), and the p-value is (codewords x hypotheses) x that bound. Choosing which alignments to
decode uses magnitudes only, so it changes which hypotheses are tested, not how many are counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..watermark import _code
from . import _grid as g

N_OFFSETS = 4  # sub-hop sample offsets searched (a quarter hop apart: 4 ms)
N_ALIGNMENTS = N_OFFSETS * g.FRAMES_PER_TILE * g.TILES_PER_PERIOD  # 1024
SPEED_OFFSETS = 1  # off speed 1, a subset of the offsets is searched (all N_ALIGNMENTS are still counted)
AUDIO_PAYLOAD_VERSION = 2  # 1: the first layout (random bands, non-zero-sum weights), no longer detected
LOG10_ALPHA = -9.0
N_DECODED = 32  # alignments per speed passed to the Viterbi decoder, best lattice fit first
NOISE_QUANTILE = 0.1  # a band's noise floor: this quantile of its power over the clip's tiles


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


@dataclass(frozen=True)
class Alignments:
    """Every alignment of one speed hypothesis.

    soft (N_ALIGNMENTS, 232): each coded bit's combined weighted soft value (sign = bit); weight (same): its
    summed reliability weights (0 = not observed); meta (N_ALIGNMENTS, 4): (offset samples, tile phase frame,
    period phase, n_tiles); fit (N_ALIGNMENTS,): how close the symbols sit to a lattice (chooses what to decode);
    symbols: per (offset, tile phase) group, the weighted soft value of every symbol (TILES_PER_PERIOD, T, S)
    and the coded bit it carries (same), or None when the signal is too short for one tile."""

    soft: np.ndarray
    weight: np.ndarray
    meta: np.ndarray
    fit: np.ndarray
    symbols: list[tuple[np.ndarray, np.ndarray] | None]


def reliability(power: np.ndarray, loud: np.ndarray, step: float) -> np.ndarray:
    """(T, S) weight of every symbol of a tile grid (T, N_BANDS band powers): a function of the audio's power only,
    never of the key's dithers, so the null model below is untouched.

    Loudness: tiles 30-40 dB below the loud ones fade out. Noise: each band's noise floor is its NOISE_QUANTILE
    power over the clip (minimum statistics: pauses show what is always there); at local noise-to-signal q a band's
    log power varies by about (2 / cells) q (1 + q / 2) (the speech x noise cross-term and the noise's own spread),
    and a symbol whose projection varies by sigma keeps exp(-2 pi^2 sigma^2 / step^2) of its mean soft value."""
    ref = np.quantile(loud, 0.95)
    rel = np.clip((loud - (ref - 4.0 * math.log(10.0))) / math.log(10.0), 0.0, 1.0)  # (T,)
    floor = np.quantile(power, NOISE_QUANTILE, axis=0) + g.EPS_POWER  # (N_BANDS,)
    edges = g.band_edges()
    cells = (edges[1:] - edges[:-1]) * g.FRAMES_PER_TILE
    q = floor / (power + g.EPS_POWER)
    var = (2.0 / cells) * q * (1.0 + 0.5 * q)  # (T, N_BANDS)
    # sum_k w_k^2 var_k with the unit-norm weights taken as their mean square 1 / BANDS_PER_SYMBOL (no key used)
    sig2 = var.reshape(-1, g.SYMBOLS_PER_TILE, g.BANDS_PER_SYMBOL).mean(-1)  # (T, S)
    return rel[:, None] * np.exp(-2.0 * np.pi**2 * sig2 / step**2)


def _soft_all(z: np.ndarray, key: bytes, step: float, offsets: int = N_OFFSETS) -> Alignments:
    """Soft values of every alignment of a 16 kHz signal (one speed); ``offsets``: how many of the N_OFFSETS
    sub-hop offsets to search (the first ``offsets``, spread over the hop)."""
    _members, _weights, coded, dither = g.layout(key)
    n_fft, hop = g.frame_sizes(g.ANALYSIS_RATE)
    max_bin = int(g.band_edges()[-1]) + 1
    n_pos = g.TILES_PER_PERIOD
    softs: list[np.ndarray] = []
    obs: list[np.ndarray] = []
    fits: list[np.ndarray] = []
    symbols: list[tuple[np.ndarray, np.ndarray] | None] = []
    meta: list[tuple[int, int, int, int]] = []
    k0 = np.arange(n_pos)
    spread = spreading_matrix(key)
    for o in range(offsets):
        off = o * hop // offsets
        frame_power = g.band_power(g.stft(z[off:], n_fft, hop, max_bin))
        for ph in range(g.FRAMES_PER_TILE):
            power = g.tile_power(frame_power, ph)
            n_t = power.shape[0]
            meta.extend([(off, ph, int(k), n_t) for k in k0])
            if n_t == 0:
                fits.append(np.full(n_pos, -np.inf))
                softs.append(np.zeros((n_pos, _code.N_CODED)))
                obs.append(np.zeros((n_pos, _code.N_CODED)))
                symbols.append(None)
                continue
            stat, loud, _slope = g.stats_from_power(power)
            rel = reliability(power, loud, step)  # (T, S)
            pos = (np.arange(n_t)[None, :] + k0[:, None]) % n_pos  # (P, T)
            # every tile projected on every period position's spreading vectors at once: (T, 64 * S)
            proj_all = (stat @ spread).reshape(n_t, n_pos, g.SYMBOLS_PER_TILE)
            proj = proj_all[np.arange(n_t)[None, :], pos]  # (P, T, S)
            raw = -np.cos(2.0 * np.pi * (proj / step - dither[pos]))
            soft = raw * rel[None]
            bits = coded[pos]  # (P, T, S)
            idx = (k0[:, None, None] * _code.N_CODED + bits).reshape(-1)
            acc = np.bincount(idx, weights=soft.reshape(-1), minlength=n_pos * _code.N_CODED)
            wsum = np.bincount(
                idx, weights=np.broadcast_to(rel[None], soft.shape).reshape(-1), minlength=n_pos * _code.N_CODED
            )
            # lattice fit: at the right alignment every projection sits on a lattice point (|cos| ~ 1, whichever
            # bit); elsewhere |cos| averages 2/pi. Used only to choose which alignments to decode.
            total = max(float(rel.sum()), 1e-9)
            fits.append(((np.abs(raw) * rel[None]).sum(axis=(1, 2)) - 2.0 / np.pi * total) / np.sqrt(max(total, 1.0)))
            softs.append(acc.reshape(n_pos, -1))
            obs.append(wsum.reshape(n_pos, -1))
            symbols.append((soft, bits))
    return Alignments(
        np.concatenate(softs), np.concatenate(obs), np.asarray(meta, dtype=np.int64), np.concatenate(fits), symbols
    )


def log10_rademacher_tail(signed: np.ndarray) -> float:
    """log10 of a Chernoff bound on P(sum_j eps_j |a_j| >= sum_j a_j) for independent fair signs eps_j:
    min over lambda > 0 of exp(-lambda t) prod_j cosh(lambda a_j), with t = sum_j a_j (``signed`` holds the a_j,
    each a symbol's weighted soft value signed by the tested codeword). 0 when t <= 0."""
    a = np.abs(signed.reshape(-1))
    t = float(signed.sum())
    if t <= 0.0 or not np.any(a > 0):
        return 0.0
    lam = np.geomspace(1e-2, 1e3, 96)[:, None] * (t / float((a**2).sum()))  # Hoeffding's lambda is t / sum a^2
    la = lam * a[None, :]
    log_cosh = la + np.log1p(np.exp(-2.0 * la)) - math.log(2.0)
    return min(float((log_cosh.sum(axis=1) - lam[:, 0] * t).min()) / math.log(10.0), 0.0)


def per_symbol(signed: np.ndarray, k: int) -> np.ndarray:
    """(T, S) signed soft values of every symbol INSTANCE -> (TILES_PER_PERIOD * S,) sums per keyed symbol.

    The repetitions of a symbol (the same period position, every 4.1 s) share its dither, so their signs are NOT
    independent under the null: shifting that one dither by 1/2 flips all of them at once. The independent fair
    signs are the keyed symbols', so instances are summed per symbol first (a steady chord or a looped clip, whose
    repetitions are identical, otherwise reached log10 p -41 and -116 unmarked). ``k``: the alignment's period
    phase (tile t sits at period position (t + k) mod TILES_PER_PERIOD)."""
    n_t, n_s = signed.shape
    pos = (np.arange(n_t) + k) % g.TILES_PER_PERIOD
    unit = (pos[:, None] * n_s + np.arange(n_s)[None, :]).reshape(-1)
    return np.bincount(unit, weights=signed.reshape(-1), minlength=g.TILES_PER_PERIOD * n_s)


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
    vbits = np.array([(AUDIO_PAYLOAD_VERSION >> (_code.VERSION_BITS - 1 - i)) & 1 for i in range(_code.VERSION_BITS)])
    for speed in speeds:
        zs = z if speed == 1.0 else change_speed(z, speed)
        al = _soft_all(zs, key, step, N_OFFSETS if speed == 1.0 else SPEED_OFFSETS)
        keep = np.argsort(-al.fit)[:N_DECODED]  # the union bound still counts all N_ALIGNMENTS
        soft, obs, meta = al.soft[keep], al.weight[keep], al.meta[keep]
        seen = obs > 1e-6
        n_bits = seen.sum(axis=1)
        info = _code.viterbi(np.where(seen, soft, 0.0))
        info[:, : _code.VERSION_BITS] = vbits  # the version field is forced to the audio payload's before re-encoding
        cw = encode_batch(info)
        agree = (((soft > 0).astype(np.int64) == cw) & seen).sum(axis=1)
        # pre-select by the normalised correlation, then bound exactly what is tested
        sign = 2.0 * cw - 1.0
        corr = (sign * soft).sum(axis=1) / np.sqrt((soft**2).sum(axis=1) + 1e-12)
        for i in np.argsort(-corr)[:4]:
            off, ph, k, n_t = (int(v) for v in meta[i])
            group = al.symbols[int(keep[i]) // g.TILES_PER_PERIOD]
            if n_bits[i] == 0 or group is None:
                continue
            sym_soft, sym_bits = group
            lp = factor + log10_rademacher_tail(per_symbol(sign[i][sym_bits[k]] * sym_soft[k], k))
            if best is None or lp < best.log10_p:
                version, cid = _code.bits_to_payload(info[i])
                hop = g.frame_sizes(g.ANALYSIS_RATE)[1]
                best = Candidate(
                    cid,
                    version,
                    int(agree[i]),
                    int(n_bits[i]),
                    min(lp, 0.0),
                    off / g.ANALYSIS_RATE,
                    speed,
                    soft[i].copy(),
                    (off + ph * hop) / g.ANALYSIS_RATE / speed,
                    n_t,
                    (off, ph, k, cw[i].copy(), zs),
                )
    if best is not None:
        off, ph, k, codeword, zs = best.segments
        object.__setattr__(best, "segments", _segments(zs, key, step, off, ph, k, codeword, best.speed))
    return best
