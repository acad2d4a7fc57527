"""Detection: an exhaustive search over alignments (and optionally speeds), reliability-weighted soft combining of
every repetition of the payload, Viterbi decoding, and a test whose union bound counts every hypothesis searched.

Null model (what the p-value means): for a fixed unmarked signal and a random key, every symbol's dither is
uniform on [0, 1) and independent of the others, so shifting one symbol's dither by 1/2 flips the sign of its
soft value and keeps its magnitude: given the magnitudes (and the reliability weights, which depend on the audio's
power only), the signs are independent fair coins. A symbol's repetitions (every period) share its dither, so the
unit is the keyed symbol: its weighted soft values summed over the clip (``per_symbol``). The statistic is the sum
of those, signed by the tested codeword; its tail under fair signs is bounded by Chernoff's bound for Rademacher sums
(log10_rademacher_tail), and the p-value is (codewords x hypotheses) x that bound. Choosing which alignments and
which speeds to decode uses magnitudes only (the lattice fit), so it changes which hypotheses are tested, not how
many are counted.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..watermark import _code
from . import _grid as g
from . import _warp

N_OFFSETS = 4  # sub-hop sample offsets searched (a quarter hop apart: 4 ms)
N_ALIGNMENTS = N_OFFSETS * g.FRAMES_PER_TILE * g.TILES_PER_PERIOD  # 1024
AUDIO_PAYLOAD_VERSION = 2  # 1: the first layout (random bands, non-zero-sum weights), no longer detected
LOG10_ALPHA = -9.0
N_DECODED = 32  # alignments per speed passed to the Viterbi decoder, best lattice fit first
# Of a multi-speed search, only the N_DECODED_SPEEDS speeds whose best alignment fits a lattice best on the warped
# spectrogram (over PRESCORE_OFFSETS sub-hop offsets, 8 ms apart) are searched exactly, over all N_OFFSETS (on real
# speech 0.125 % off a hypothesis, one offset lost 8 of 42 cases, four none); every speed is still counted.
N_DECODED_SPEEDS = 4
PRESCORE_OFFSETS = 2
NOISE_QUANTILE = 0.1  # a band's noise floor: this quantile of its power over the clip's tiles
# Detection only: this fraction of each band's noise floor is taken off its tile powers before the statistic (a
# stationary noise's share of a band compresses the mark's log-power modulation; the embedder is untouched). The
# benchmark (docs/audiomark.md): pink noise at 20 dB 6 -> 9/11 at 0.5, no case lost; 1.0 lost two babble cases.
NOISE_SUBTRACT = 0.5


def _smooth(n: int) -> bool:
    for p in (2, 3, 5, 7):
        while n % p == 0:
            n //= p
    return n == 1


def fast_length(n: int, multiple: int = 1) -> int:
    """The smallest multiple of ``multiple`` >= n whose quotient has no prime factor above 7: FFTs of lengths
    with a large prime factor are ~10x slower (a 9.99 s clip at 48 kHz: 0.14 s to resample instead of 0.013)."""
    k = max(1, -(-n // multiple))
    while not _smooth(k):
        k += 1
    return k * multiple


def resample(x: np.ndarray, rate: int, new_rate: int, spec: np.ndarray | None = None) -> np.ndarray:
    """Band-limited (FFT) resampling of a whole 1-D signal (``spec``: ``np.fft.rfft(x)`` if the caller has it; it
    fixes the FFT length). Without ``spec`` the signal is zero-padded to a fast FFT length (the output trimmed to
    ``round(x.size * new_rate / rate)``): only its last few ms differ from the unpadded, circular resampling."""
    if rate == new_rate:
        return np.asarray(x, dtype=np.float64)
    n_final = round(x.size * new_rate / rate)
    step = rate // math.gcd(rate, new_rate)
    if spec is None and _smooth(step) and _smooth(new_rate // math.gcd(rate, new_rate)):
        n_in = fast_length(x.size, step)
        spec = np.fft.rfft(x, n=n_in)
    else:
        n_in = x.size
        spec = np.fft.rfft(x) if spec is None else spec
    n_out = round(n_in * new_rate / rate)
    keep = min(spec.size, n_out // 2 + 1)
    out = np.zeros(n_out // 2 + 1, dtype=np.complex128)
    out[:keep] = spec[:keep]
    return np.fft.irfft(out, n=n_out)[:n_final] * (n_out / n_in)


def change_speed(x: np.ndarray, factor: float, spec: np.ndarray | None = None) -> np.ndarray:
    """Undo a playback-speed change by ``factor`` (>1: the attack sped the audio up): band-limited resampling
    to ``factor`` times as many samples. (Linear interpolation is not enough: its fractional delays attenuate
    6 kHz by up to 8 dB, differently in every tile, and the band statistics do not survive it.)"""
    return resample(x, 1_000_000, round(1_000_000 * factor), spec)


def _restored(z: np.ndarray, speed: float, spec: np.ndarray) -> np.ndarray:
    """``change_speed(z, speed)`` from the spectrum of z zero-padded (``spec``), trimmed to the unpadded length."""
    n_in = 2 * (spec.size - 1)
    n_out = round(n_in * round(1_000_000 * speed) / 1_000_000)
    out = np.zeros(n_out // 2 + 1, dtype=np.complex128)
    keep = min(spec.size, out.size)
    out[:keep] = spec[:keep]
    return np.fft.irfft(out, n=n_out)[: _warp.restored_length(z.size, speed)] * (n_out / n_in)


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


@functools.lru_cache(maxsize=16)
def _coded_units(key: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first, second, twice), each (N_CODED,): the keyed symbols (period position j x SYMBOLS_PER_TILE + s) that
    carry each coded bit, its second symbol (the first again where there is none) and whether it has one."""
    coded = g.layout(key)[2].reshape(-1)
    order = np.argsort(coded, kind="stable")
    counts = np.bincount(coded, minlength=_code.N_CODED)
    first = order[np.cumsum(counts) - counts]
    twice = counts == 2
    second = np.where(twice, order[np.minimum(np.cumsum(counts) - 1, coded.size - 1)], first)
    for a in (first, second, twice):
        a.setflags(write=False)
    return first, second, twice


@dataclass(frozen=True)
class Alignments:
    """Every alignment of one speed hypothesis: N_ALIGNMENTS = groups (offset, tile phase) x TILES_PER_PERIOD
    period phases k (alignment index = group * TILES_PER_PERIOD + k).

    meta (N_ALIGNMENTS, 4): (offset samples, tile phase frame, period phase, n_tiles); fit (N_ALIGNMENTS,): how
    close the symbols sit to a lattice (chooses what to decode); folded: per group, (TILES_PER_PERIOD,
    TILES_PER_PERIOD, SYMBOLS_PER_TILE) weighted soft values, [r, j, s] summed over the tiles t = r mod P projected
    on period position j's symbol s; rel: per group, (TILES_PER_PERIOD, SYMBOLS_PER_TILE), their reliability
    weights folded the same way. Both are all zeros for a signal too short for one tile."""

    key: bytes
    meta: np.ndarray
    fit: np.ndarray
    folded: list[np.ndarray]
    rel: list[np.ndarray]

    def units(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(soft, weight), each (SYMBOLS_PER_PERIOD,), of alignment ``i``: every keyed symbol's weighted soft value
        summed over its repetitions in the clip (sign = bit; the null model's independent units), and its summed
        reliability weight (0 = not observed). Period phase k puts tile t at position j = (t + k) mod P, so
        symbol (j, s) is the folded row (j - k) mod P."""
        group, k = divmod(int(i), g.TILES_PER_PERIOD)
        j = np.arange(g.TILES_PER_PERIOD)
        rows = (j - k) % g.TILES_PER_PERIOD
        return self.folded[group][rows, j].reshape(-1), self.rel[group][rows].reshape(-1)

    def coded(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(soft, weight), each (len(idx), N_CODED): every coded bit's combined soft value and reliability weight
        for the alignments ``idx``."""
        pairs = [self.units(i) for i in idx]
        first, second, twice = _coded_units(self.key)
        soft, weight = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        return soft[:, first] + soft[:, second] * twice, weight[:, first] + weight[:, second] * twice

    @property
    def soft(self) -> np.ndarray:
        return self.coded(np.arange(self.fit.size))[0]

    @property
    def weight(self) -> np.ndarray:
        return self.coded(np.arange(self.fit.size))[1]


def reliability(power: np.ndarray, loud: np.ndarray, step: float) -> np.ndarray:
    """(..., T, S) weight of every symbol of a tile grid (..., T, N_BANDS band powers; loud (..., T)): a function
    of the audio's power only, never of the key's dithers, so the null model below is untouched.

    Loudness: tiles 30-40 dB below the loud ones fade out. Noise: each band's noise floor is its NOISE_QUANTILE
    power over the clip (minimum statistics: pauses show what is always there); at local noise-to-signal q a band's
    log power varies by about (2 / cells) q (1 + q / 2) (the speech x noise cross-term and the noise's own spread),
    and a symbol whose projection varies by sigma keeps exp(-2 pi^2 sigma^2 / step^2) of its mean soft value."""
    ref = _quantile(loud, 0.95, axis=-1)[..., None]
    rel = np.clip((loud - (ref - 4.0 * math.log(10.0))) / math.log(10.0), 0.0, 1.0)  # (..., T)
    floor = _quantile(power, NOISE_QUANTILE, axis=-2)[..., None, :] + g.EPS_POWER  # (..., 1, N_BANDS)
    edges = g.band_edges()
    cells = (edges[1:] - edges[:-1]) * g.FRAMES_PER_TILE
    q = floor / (power + g.EPS_POWER)
    var = (2.0 / cells) * q * (1.0 + 0.5 * q)  # (..., T, N_BANDS)
    # sum_k w_k^2 var_k with the unit-norm weights taken as their mean square 1 / BANDS_PER_SYMBOL (no key used)
    sig2 = var.reshape(*var.shape[:-1], g.SYMBOLS_PER_TILE, g.BANDS_PER_SYMBOL).mean(-1)  # (..., T, S)
    return rel[..., None] * np.exp(-2.0 * np.pi**2 * sig2 / step**2)


def _statistic(power: np.ndarray) -> np.ndarray:
    """(T, N_BANDS) detection statistic of tile powers: ``stats_from_power`` after NOISE_SUBTRACT x each band's noise
    floor (its NOISE_QUANTILE power over the clip) is taken off. A function of the audio's power only."""
    if power.shape[-2] == 0:
        return np.zeros(power.shape)
    floor = _quantile(power, NOISE_QUANTILE, axis=-2)[..., None, :]
    return g.stats_from_power(np.maximum(power - NOISE_SUBTRACT * floor, 0.0))[0]


def _fold(a: np.ndarray) -> np.ndarray:
    """(T, ...) -> (TILES_PER_PERIOD, ...): the sum over the tiles t with t mod TILES_PER_PERIOD = r, for each r."""
    n_pos = g.TILES_PER_PERIOD
    full, rest = divmod(a.shape[0], n_pos)
    out = a[: full * n_pos].reshape(full, n_pos, *a.shape[1:]).sum(axis=0) if full else np.zeros((n_pos, *a.shape[1:]))
    out[:rest] += a[full * n_pos :]
    return out


def _quantile(a: np.ndarray, q: float, axis: int) -> np.ndarray:
    """np.quantile(a, q, axis=axis) (linear interpolation) by a partial sort: np.quantile's overhead dominated."""
    n = a.shape[axis]
    pos = q * (n - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    part = np.partition(a, [lo, hi], axis=axis)
    low, high = np.take(part, lo, axis=axis), np.take(part, hi, axis=axis)
    return low + (high - low) * (pos - lo)


@functools.lru_cache(maxsize=32)
def _phase_matrix(key: bytes, step: float, dtype: type = np.float64) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Per symbol s, (BANDS_PER_SYMBOL, TILES_PER_PERIOD) weights of its bands x 2 pi / step, and (TILES_PER_PERIOD,
    SYMBOLS_PER_TILE) 2 pi x dither - pi: symbol s's soft value -cos(2 pi (p / step - dither)) at period position j
    is cos(stat[bands of s] @ first[s][:, j] - second[j, s]). Symbol s's bands are the s-th group of adjacent bands
    (``_grid.layout``), so each product is BANDS_PER_SYMBOL deep, not N_BANDS (the dense spreading matrix is 3/4
    zeros)."""
    members, weights, _, dither = g.layout(key)
    if np.any(members != members[:1]) or np.any(
        members[0] != np.arange(g.N_BANDS).reshape(g.SYMBOLS_PER_TILE, g.BANDS_PER_SYMBOL)
    ):
        raise ValueError("the fast path assumes symbols of fixed adjacent band groups")
    scale = 2.0 * np.pi / step
    first: tuple[np.ndarray, ...] = tuple(
        np.ascontiguousarray(weights[:, s, :].T * scale, dtype=dtype) for s in range(g.SYMBOLS_PER_TILE)
    )
    second: np.ndarray = np.ascontiguousarray(2.0 * np.pi * dither - np.pi, dtype=dtype)
    for a in (*first, second):
        a.setflags(write=False)
    return first, second


CHUNK_ROWS = 256  # tiles per block: a (CHUNK_ROWS, TILES_PER_PERIOD) float64 phase block is 128 KB, kept in cache


def _soft_cos(stat: np.ndarray, key: bytes, step: float, *, exact: bool = True) -> np.ndarray:
    """(..., T, P, S) float32 soft values -cos(2 pi (p / step - dither)) of every tile's projection on every
    period position's symbols, CHUNK_ROWS tiles at a time (the 2.5 MB temporaries of a whole batch made each pass
    a trip to memory: 4x slower here). 2-D products: numpy's stacked matmul does not use BLAS.

    ``exact``: phases in float64, reduced to [-pi, pi] before a float32 cosine (error < 1e-6); otherwise all in
    float32 (phases of up to ~50 rad: error ~3e-6, 2x faster), for the speed ranking, which uses magnitudes only."""
    dtype = np.float64 if exact else np.float32
    first, second = _phase_matrix(key, step, dtype)
    rows = np.ascontiguousarray(stat, dtype=dtype).reshape(-1, g.N_BANDS)
    out = np.empty((rows.shape[0], g.TILES_PER_PERIOD, g.SYMBOLS_PER_TILE), dtype=np.float32)
    k = g.BANDS_PER_SYMBOL
    two_pi, inv = dtype(2.0 * np.pi), dtype(0.5 / np.pi)
    for r in range(0, rows.shape[0], CHUNK_ROWS):
        block = rows[r : r + CHUNK_ROWS]
        for s in range(g.SYMBOLS_PER_TILE):
            arg = block[:, s * k : (s + 1) * k] @ first[s]
            arg -= second[:, s]
            arg -= np.rint(arg * inv) * two_pi
            np.cos(arg, out=out[r : r + CHUNK_ROWS, :, s], dtype=np.float32, casting="same_kind")
    return out.reshape(*stat.shape[:-1], g.TILES_PER_PERIOD, g.SYMBOLS_PER_TILE)


def _group(power: np.ndarray, key: bytes, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fit (P,), folded soft values (P, P, S), folded reliability (P, S)) of one tile grid's P = TILES_PER_PERIOD
    period phases (see Alignments). Phase k's symbols are a subset of the (tile, position) projections, so those
    are computed once for every pair and folded over the tiles (t mod P)."""
    n_pos = g.TILES_PER_PERIOD
    stat = _statistic(power)
    rel = reliability(power, np.log(power.sum(axis=-1) + g.EPS_POWER), step)  # (T, S)
    # every tile projected on every period position's symbols at once, as soft values: (T, P, S)
    weighted = _soft_cos(stat, key, step).astype(np.float64)
    weighted *= rel[:, None, :]
    folded = _fold(weighted)
    # lattice fit: at the right alignment every projection sits on a lattice point (|cos| ~ 1, whichever bit);
    # elsewhere |cos| averages 2/pi. Used only to choose which alignments to decode.
    j = np.arange(n_pos)[None, :]
    np.abs(weighted, out=weighted)
    lattice = _fold(weighted.sum(axis=-1))[(j - np.arange(n_pos)[:, None]) % n_pos, j].sum(axis=1)
    total = max(float(rel.sum()), 1e-9)
    fit = (lattice - 2.0 / np.pi * total) / np.sqrt(max(total, 1.0))
    return fit, folded, _fold(rel)


def _alignments(key: bytes, step: float, frames: list[tuple[int, np.ndarray]]) -> Alignments:
    """Every alignment of one speed from its grid frames: ``frames`` holds, per sub-hop offset (samples), the
    (frames, N_BANDS) band power of the STFT frames from that offset on."""
    n_pos = g.TILES_PER_PERIOD
    fits: list[np.ndarray] = []
    folded: list[np.ndarray] = []
    rels: list[np.ndarray] = []
    meta: list[tuple[int, int, int, int]] = []
    for off, frame_power in frames:
        for ph in range(g.FRAMES_PER_TILE):
            power = g.tile_power(frame_power, ph)
            n_t = power.shape[0]
            meta.extend([(off, ph, k, n_t) for k in range(n_pos)])
            if n_t == 0:
                fits.append(np.full(n_pos, -np.inf))
                folded.append(np.zeros((n_pos, n_pos, g.SYMBOLS_PER_TILE)))
                rels.append(np.zeros((n_pos, g.SYMBOLS_PER_TILE)))
                continue
            fit, fold, rel = _group(power, key, step)
            fits.append(fit)
            folded.append(fold)
            rels.append(rel)
    return Alignments(key, np.asarray(meta, dtype=np.int64), np.concatenate(fits), folded, rels)


def _offsets(offsets: int) -> list[int]:
    hop = g.frame_sizes(g.ANALYSIS_RATE)[1]
    return [o * hop // offsets for o in range(offsets)]


def _soft_all(z: np.ndarray, key: bytes, step: float, offsets: int = N_OFFSETS) -> Alignments:
    """Soft values of every alignment of a 16 kHz signal (one speed); ``offsets``: how many of the N_OFFSETS
    sub-hop offsets to search (the first ``offsets``, spread over the hop)."""
    n_fft, hop = g.frame_sizes(g.ANALYSIS_RATE)
    frames = [(off, g.stft_band_power(z[off:], n_fft, hop)) for off in _offsets(offsets)]
    return _alignments(key, step, frames)


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
    stat = _statistic(g.tile_power(g.stft_band_power(z[off:], n_fft, hop), ph))
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


def _decode(al: Alignments, factor: float, speed: float) -> Candidate | None:
    """Viterbi-decode the N_DECODED best-fitting alignments of one speed; the best bounded hypothesis (None if
    nothing is observed). The union bound (``factor``) still counts every alignment."""
    keep = np.argsort(-al.fit)[:N_DECODED]
    vbits = np.array([(AUDIO_PAYLOAD_VERSION >> (_code.VERSION_BITS - 1 - i)) & 1 for i in range(_code.VERSION_BITS)])
    soft, obs = al.coded(keep)
    meta = al.meta[keep]
    seen = obs > 1e-6
    n_bits = seen.sum(axis=1)
    info = _code.viterbi(np.where(seen, soft, 0.0))
    info[:, : _code.VERSION_BITS] = vbits  # the version field is forced to the audio payload's before re-encoding
    cw = encode_batch(info)
    agree = (((soft > 0).astype(np.int64) == cw) & seen).sum(axis=1)
    # pre-select by the normalised correlation, then bound exactly what is tested
    sign = 2.0 * cw - 1.0
    corr = (sign * soft).sum(axis=1) / np.sqrt((soft**2).sum(axis=1) + 1e-12)
    coded = g.layout(al.key)[2].reshape(-1)
    hop = g.frame_sizes(g.ANALYSIS_RATE)[1]
    best: Candidate | None = None
    for i in np.argsort(-corr)[:4]:
        if n_bits[i] == 0:
            continue
        off, ph, k, n_t = (int(v) for v in meta[i])
        lp = factor + log10_rademacher_tail(sign[i][coded] * al.units(int(keep[i]))[0])
        if best is None or lp < best.log10_p:
            version, cid = _code.bits_to_payload(info[i])
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
                (off, ph, k, cw[i].copy()),
            )
    return best


def _prescore(spectrogram: np.ndarray, fine_hop: int, n_samples: int, speed: float, key: bytes, step: float) -> float:
    """The lattice fit of one speed's best alignment on the warped spectrogram (``_warp``): ranks the speeds.

    Over PRESCORE_OFFSETS sub-hop offsets x every tile phase, computed as one batch (the groups cut to the same
    number of tiles): one offset left a halfway speed's fit at the noise's level on a generated line spectrum."""
    n_pos = g.TILES_PER_PERIOD
    hop = g.frame_sizes(g.ANALYSIS_RATE)[1]
    groups: list[np.ndarray] = []
    for off in [o * hop // PRESCORE_OFFSETS for o in range(PRESCORE_OFFSETS)]:
        frames = _warp.warped_frames(spectrogram, fine_hop, speed, off, _warp.n_frames(n_samples, speed, off))
        groups.extend(g.tile_power(frames, ph) for ph in range(g.FRAMES_PER_TILE))
    n_t = min(p.shape[0] for p in groups)
    if n_t == 0:
        return -math.inf
    power = np.stack([p[:n_t] for p in groups])  # (G, T, N_BANDS)
    stat, loud, _slope = g.stats_from_power(power)
    rel = reliability(power, loud, step)  # (G, T, S)
    lattice = np.abs(_soft_cos(stat, key, step, exact=False))  # (G, T, P, S)
    summed = np.einsum("gtps,gts->gtp", lattice, rel.astype(np.float32))  # (G, T, P) |soft| x weight
    full, rest = divmod(n_t, n_pos)
    folded = summed[:, : full * n_pos].reshape(len(groups), full, n_pos, n_pos).sum(axis=1)
    folded[:, :rest] += summed[:, full * n_pos :]
    j = np.arange(n_pos)[None, :]
    fit_raw = folded[:, (j - np.arange(n_pos)[:, None]) % n_pos, j].sum(axis=-1)  # (G, P phases)
    total = np.maximum(rel.sum(axis=(1, 2)), 1e-9)[:, None]
    return float(((fit_raw - 2.0 / np.pi * total) / np.sqrt(np.maximum(total, 1.0))).max())


def search(
    z: np.ndarray, key: bytes, step: float, speeds: tuple[float, ...], *, n_speeds: int | None = None
) -> Candidate | None:
    """The best hypothesis over alignments x speeds of a 16 kHz mono signal (None if too short to test).

    ``n_speeds``: how many speed hypotheses the caller searches in all (the union bound counts every one).
    Speed 1 (if listed) is searched first over every sub-hop offset; a mark found there ends the search. Of the
    other speeds, when there are more than N_DECODED_SPEEDS, every one is ranked by the lattice fit of its best
    alignment on the warped spectrogram (``_warp``; magnitudes only, so the bound is untouched), and only the best
    N_DECODED_SPEEDS are resampled and searched exactly."""
    factor = log10_factor(n_speeds or len(speeds))
    fine_hop = _warp.quarter_hop(N_OFFSETS)
    best: Candidate | None = None
    if 1.0 in speeds:
        best = _decode(_alignments(key, step, _warp.speed_one_frames(z, fine_hop, _offsets(N_OFFSETS))), factor, 1.0)
    others = [s for s in speeds if s != 1.0]
    spec = None
    if others and (best is None or best.log10_p > LOG10_ALPHA):
        if len(others) > N_DECODED_SPEEDS:
            spectrogram = _warp.warped_spectrogram(z, fine_hop, max(others))
            score = np.array([_prescore(spectrogram, fine_hop, z.size, s, key, step) for s in others])
            others = [others[i] for i in np.argsort(-score, kind="stable")[:N_DECODED_SPEEDS]]
        # shared by every speed's resampling; zero-padded to a multiple of 400 (so that a speed on the 0.25 % grid
        # maps it to an integer length) with a fast FFT length
        spec = np.fft.rfft(z, n=fast_length(z.size, 400))
        for speed in others:
            cand = _decode(_soft_all(_restored(z, speed, spec), key, step), factor, speed)
            if cand is not None and (best is None or cand.log10_p < best.log10_p):
                best = cand
    if best is not None:
        off, ph, k, codeword = best.segments
        zs = z if best.speed == 1.0 or spec is None else _restored(z, best.speed, spec)
        object.__setattr__(best, "segments", _segments(zs, key, step, off, ph, k, codeword, best.speed))
    return best
