"""From per-frame tile sums to a calibrated decision.

For every hypothesis (temporal key phase x sign of each carrier) the tile sums of the frames are mapped
through their layouts to 232 soft coded bits, decoded by Viterbi and re-encoded; the statistic is the number
A of the 232 hard decisions that agree with the re-encoded codeword. For an unmarked video the hard bits are
unrelated to the keyed, whitened codebook, so for ONE codeword P(A >= a) = P(Binomial(232, 1/2) >= a); the
decoder picks the best of 2^48 valid codewords and the detector the best of H hypotheses over T tests (clip +
sliding windows), so

    p <= T * H * 2^48 * P(Binomial(232, 1/2) >= A)        (union bound)

and a mark is declared when log10 p <= -9. A hypothesis is a temporal key phase x a QIM phase (the blind
estimate plus N_PHASES - 1 offsets: codecs that flatten chroma pull the blind estimate off) x a sign per
carrier.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from . import _code, _keys

LOG10_ALPHA = -9.0
# Temporal key phases searched (after trimming): steps of EPOCH_S / 5 over one schedule period.
N_OFFSETS = _keys.N_LAYOUTS * 5 if _keys.N_LAYOUTS > 1 else 1
OFFSETS_S = np.arange(N_OFFSETS) * (_keys.EPOCH_S / 5)
LOG10_CODEWORDS = _code.ID_BITS * math.log10(2.0)  # per hypothesis: each carrier group accepts one version
# QIM phase hypotheses: the blind estimate theta plus j * pi / N_PHASES (the phase is known mod pi; the carrier
# sign covers the other half). Measured: CRF 40 on a colourless clip dragged the blind estimate 58 degrees off
# (flattened chroma collapses many blocks onto one level); the nearest of 6 phases is within 15 degrees.
N_PHASES = 6
PHASES = np.arange(N_PHASES) * (np.pi / N_PHASES)


@functools.lru_cache(maxsize=8)
def _layout_matrices(key: bytes) -> np.ndarray:
    """(N_LAYOUTS, 256, 232) signed maps from tile positions to coded bits."""
    coded_index, sign = _keys.layouts(key, _code.N_CODED)
    m = np.zeros((_keys.N_LAYOUTS, _keys.N_POSITIONS, _code.N_CODED))
    for layout in range(_keys.N_LAYOUTS):
        m[layout, np.arange(_keys.N_POSITIONS), coded_index[layout]] = sign[layout]
    m.setflags(write=False)
    return m


@functools.lru_cache(maxsize=8)
def _layout_gather(key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The layout maps as gathers: per layout and coded bit, the (at most 2, ascending) tile positions that carry
    it and their signs; a missing second position points at an appended zero tile with sign 0.
    Returns (positions (N_LAYOUTS, 2, 232) in 0..256, signs (N_LAYOUTS, 2, 232))."""
    m = _layout_matrices(key)
    pos = np.full((_keys.N_LAYOUTS, 2, _code.N_CODED), _keys.N_POSITIONS)
    sgn = np.zeros((_keys.N_LAYOUTS, 2, _code.N_CODED))
    for layout in range(_keys.N_LAYOUTS):
        for c in range(_code.N_CODED):
            (q,) = np.nonzero(m[layout, :, c])
            if q.size > 2:  # 256 positions for 232 bits: never more than 2 (kept general for the check)
                raise AssertionError("a coded bit on more than two tile positions")
            pos[layout, : q.size, c] = q
            sgn[layout, : q.size, c] = m[layout, q, c]
    return pos, sgn


def coded_sums(tiles: np.ndarray, key: bytes) -> np.ndarray:
    """(N, K, 256) complex tile sums per carrier -> (N, K, N_LAYOUTS, 232) coded-bit sums under each layout.

    The layout matrix has one +-1 per tile position, so each coded-bit sum is +-1 or 2 tiles: a gather and one
    add, exactly the product with ``_layout_matrices`` (whose other terms are zeros), 50x faster."""
    pos, sgn = _layout_gather(key)
    padded = np.concatenate([tiles, np.zeros((*tiles.shape[:-1], 1), tiles.dtype)], axis=-1)  # (N, K, 257)
    first = padded[..., pos[:, 0]] * sgn[:, 0]  # (N, K, L, 232)
    return first + padded[..., pos[:, 1]] * sgn[:, 1]


def sign_combos(n_carriers: int) -> np.ndarray:
    """(2^K, K): each carrier's QIM phase is known only mod pi, so every sign combination is a hypothesis."""
    grid = np.array(np.meshgrid(*[[1.0, -1.0]] * n_carriers, indexing="ij")).reshape(n_carriers, -1).T
    return grid


@functools.lru_cache(maxsize=1)
def _generator_matrix() -> np.ndarray:
    """(52, 232) GF(2) generator matrix of the (linear) terminated convolutional code."""
    eye = np.eye(_code.N_INFO, dtype=np.int64)
    return np.stack([_code.encode(row) for row in eye])


@functools.lru_cache(maxsize=1)
def _generator_matrix_f64() -> np.ndarray:
    return _generator_matrix().astype(np.float64)


def encode_batch(info: np.ndarray) -> np.ndarray:
    """(B, 52) info bits -> (B, 232) codewords (one matrix product mod 2; in float64, exact for these small
    integer counts and far faster than numpy's integer matmul)."""
    counts = np.asarray(info, dtype=np.float64) @ _generator_matrix_f64()
    return counts.astype(np.int64) % 2


@dataclass(frozen=True)
class TestResult:
    agreeing: int
    n_bits: int  # coded bits observed (bits whose every block was cropped away are erasures, not errors)
    log10_p: float
    version: int
    content_id: str
    offset_s: float
    signs: np.ndarray  # (K,) carrier signs of the best hypothesis
    theta: np.ndarray  # (K,) QIM phase per carrier (blind estimate + the hypothesis' offset)
    codeword: np.ndarray


def layouts_for(t_centre: np.ndarray) -> np.ndarray:
    """(N_OFFSETS, N) layout index of each frame under each temporal key phase."""
    return _keys.layout_of_time(t_centre[None, :], OFFSETS_S[:, None])


def carrier_complex(sums: np.ndarray, pair: np.ndarray, lay: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(O, K, 232) complex coded-bit sums per temporal key phase and carrier, rotated by the blind QIM phase
    estimate, and the (K,) estimates. ``-Im`` of it is the soft bit at the estimated phase."""
    # Maximal-ratio combining: weight each frame and carrier by its coherence |mean z^2|, which measures how
    # much of the mark survived (an I-frame keeps more than a P-frame) and is blind to the bits.
    weight = np.abs(pair)  # (N, K)
    theta = blind_phase(pair)
    onehot = (lay[:, :, None] == np.arange(_keys.N_LAYOUTS)[None, None, :]).astype(np.float64)  # (O, N, P)
    z = np.einsum("onp,nkpc->okc", onehot, sums * weight[:, :, None, None])
    return z * np.exp(-1j * theta)[None, :, None], theta


def blind_phase(pair: np.ndarray) -> np.ndarray:
    """(K,) QIM phase per carrier from the frames' mean z^2, weighted by its modulus (blind to key and bits)."""
    weight = np.abs(pair)
    return np.angle(-np.sum(pair * weight, axis=0)) / 2.0


@dataclass(frozen=True)
class Hypotheses:
    """Soft coded bits of every hypothesis of one test, and what each row assumed."""

    soft: np.ndarray  # (rows, 232)
    offsets_s: np.ndarray  # (rows,) temporal key phase
    thetas: np.ndarray  # (rows, K) QIM phase per carrier
    signs: np.ndarray  # (rows, K) carrier sign


def expand(zr: np.ndarray, theta: np.ndarray, phases: np.ndarray = PHASES) -> Hypotheses:
    """Rotated complex sums (O, K, 232) -> every (temporal key phase, QIM phase offset, carrier signs) row.
    The same offset applies to every carrier (each carrier's own phase is estimated blindly)."""
    n_off, k, c = zr.shape
    rot = np.exp(-1j * np.asarray(phases))
    per = -np.imag(zr[:, None, :, :] * rot[None, :, None, None])  # (O, P, K, C)
    combos = sign_combos(k)  # (S, K)
    soft = np.einsum("sk,opkc->opsc", combos, per).reshape(-1, c)
    o, p, sg = (
        a.reshape(-1) for a in np.meshgrid(np.arange(n_off), np.arange(len(rot)), np.arange(len(combos)), indexing="ij")
    )
    return Hypotheses(
        soft=soft,
        offsets_s=OFFSETS_S[o],
        thetas=theta[None, :] + np.asarray(phases)[p][:, None],
        signs=combos[sg],
    )


def soft_hypotheses(sums: np.ndarray, pair: np.ndarray, lay: np.ndarray, phases: np.ndarray = PHASES) -> Hypotheses:
    """Soft coded bits for every (temporal key phase, QIM phase, carrier signs): (N_OFFSETS * P * 2^K, 232)."""
    zr, theta = carrier_complex(sums, pair, lay)
    return expand(zr, theta, phases)


def hypotheses_per_test(n_carriers: int) -> int:
    return N_OFFSETS * N_PHASES * 2**n_carriers


def agreement(soft: np.ndarray, codeword: np.ndarray) -> np.ndarray:
    return np.sum(((soft > 0) == (codeword == 1)) & (soft != 0), axis=-1)


def observed(soft: np.ndarray) -> int:
    """Coded bits carried by at least one block (identical for every hypothesis of a test)."""
    return int(np.count_nonzero(np.any(soft != 0, axis=0)))


def blind_test(hyp: Hypotheses, log10_hyp: float) -> TestResult:
    """Decode every hypothesis; keep the one whose codeword agrees most with its own hard bits."""
    return blind_tests([hyp], log10_hyp)[0]


def blind_tests(hyps: list[Hypotheses], log10_hyp: float) -> list[TestResult]:
    """:func:`blind_test` of several tests (the clip and its windows, every carrier group) with ONE batched
    Viterbi call: rows decode independently, so each test gets exactly what it gets alone."""
    if not hyps:
        return []
    soft_all = np.concatenate([h.soft for h in hyps])
    info_all = _code.viterbi(soft_all)
    words_all = encode_batch(info_all)
    agree_all = agreement(soft_all, words_all)
    out, start = [], 0
    for hyp in hyps:
        rows = slice(start, start + hyp.soft.shape[0])
        start = rows.stop
        soft, info, words, agree = hyp.soft, info_all[rows], words_all[rows], agree_all[rows]
        best = int(np.argmax(agree))
        version, cid = _code.bits_to_payload(info[best])
        a = int(agree[best])
        n = observed(soft)
        log10_p = min(0.0, log10_hyp + LOG10_CODEWORDS + _code.log10_binom_tail(a, n))
        out.append(
            TestResult(
                agreeing=a,
                n_bits=n,
                log10_p=log10_p,
                version=version,
                content_id=cid,
                offset_s=float(hyp.offsets_s[best]),
                signs=hyp.signs[best],
                theta=hyp.thetas[best],
                codeword=words[best],
            )
        )
    return out


def known_test(hyp: Hypotheses, codeword: np.ndarray, log10_hyp: float) -> tuple[int, float]:
    """Agreement of the best hypothesis with ONE given codeword (no 2^48 factor): for per-window segments."""
    soft = hyp.soft
    a = int(np.max(agreement(soft, codeword[None, :])))
    return a, min(0.0, log10_hyp + _code.log10_binom_tail(a, observed(soft)))


def windows(
    t_centre: np.ndarray, frame_s: float, length_s: float = 1.0, hop_s: float = 0.5
) -> list[tuple[float, float, np.ndarray]]:
    """Sliding windows (start, end, frame indices) in display time (a frame spans ``frame_s`` around its
    centre); none when the clip is shorter than two windows."""
    if t_centre.size == 0:
        return []
    t0, t1 = float(t_centre.min()) - frame_s / 2, float(t_centre.max()) + frame_s / 2
    if t1 - t0 < length_s + hop_s - 1e-9:
        return []
    out = []
    start = t0
    while start + length_s <= t1 + hop_s / 2:
        idx = np.nonzero((t_centre >= start) & (t_centre < start + length_s))[0]
        if idx.size:
            out.append((max(start, 0.0), min(start + length_s, t1), idx))
        start += hop_s
    return out
