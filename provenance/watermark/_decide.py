"""From per-frame tile sums to a calibrated decision.

For every hypothesis (temporal key phase x global bit flip) the tile sums of the frames are mapped through
their layouts to 232 soft coded bits, decoded by Viterbi and re-encoded; the statistic is the number A of the
232 hard decisions that agree with the re-encoded codeword. For an unmarked video the hard bits are unrelated
to the keyed, whitened codebook, so for ONE codeword P(A >= a) = P(Binomial(232, 1/2) >= a); the decoder
picks the best of 2^48 valid codewords and the detector the best of H hypotheses over T tests (clip + sliding
windows), so

    p <= T * H * 2^48 * P(Binomial(232, 1/2) >= A)        (union bound)

and a mark is declared when log10 p <= -9.
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
LOG10_CODEWORDS = _code.ID_BITS * math.log10(2.0)


@functools.lru_cache(maxsize=8)
def _layout_matrices(key: bytes) -> np.ndarray:
    """(N_LAYOUTS, 256, 232) signed maps from tile positions to coded bits."""
    coded_index, sign = _keys.layouts(key, _code.N_CODED)
    m = np.zeros((_keys.N_LAYOUTS, _keys.N_POSITIONS, _code.N_CODED))
    for layout in range(_keys.N_LAYOUTS):
        m[layout, np.arange(_keys.N_POSITIONS), coded_index[layout]] = sign[layout]
    return m


def coded_sums(tiles: np.ndarray, key: bytes) -> np.ndarray:
    """(N, 256) complex tile sums -> (N, N_LAYOUTS, 232) complex coded-bit sums under each layout."""
    m = _layout_matrices(key)
    re = np.einsum("nq,pqc->npc", tiles.real, m)
    im = np.einsum("nq,pqc->npc", tiles.imag, m)
    return re + 1j * im


def encode_batch(info: np.ndarray) -> np.ndarray:
    return np.stack([_code.encode(row) for row in info])


@dataclass(frozen=True)
class TestResult:
    agreeing: int
    log10_p: float
    version: int
    content_id: str
    offset_s: float
    flip: int
    theta: float
    codeword: np.ndarray


def layouts_for(t_centre: np.ndarray) -> np.ndarray:
    """(N_OFFSETS, N) layout index of each frame under each temporal key phase."""
    return _keys.layout_of_time(t_centre[None, :], OFFSETS_S[:, None])


def soft_hypotheses(sums: np.ndarray, pair: np.ndarray, lay: np.ndarray) -> tuple[np.ndarray, float]:
    """Soft coded bits for every (offset, flip): (2 * N_OFFSETS, 232), and the QIM phase estimate."""
    theta = float(np.angle(-np.sum(pair)) / 2.0)
    onehot = lay[:, :, None] == np.arange(_keys.N_LAYOUTS)[None, None, :]  # (O, N, P)
    z = np.einsum("onp,npc->oc", onehot, sums)
    soft = -np.imag(z * np.exp(-1j * theta))
    return np.concatenate([soft, -soft]), theta


def agreement(soft: np.ndarray, codeword: np.ndarray) -> np.ndarray:
    return np.sum((soft > 0) == (codeword == 1), axis=-1)


def blind_test(soft: np.ndarray, theta: float, log10_hyp: float) -> TestResult:
    """Decode every hypothesis; keep the one whose codeword agrees most with its own hard bits."""
    info = _code.viterbi(soft)
    words = encode_batch(info)
    agree = agreement(soft, words)
    best = int(np.argmax(agree))
    version, cid = _code.bits_to_payload(info[best])
    a = int(agree[best])
    log10_p = min(0.0, log10_hyp + LOG10_CODEWORDS + _code.log10_binom_tail(a, _code.N_CODED))
    return TestResult(
        agreeing=a,
        log10_p=log10_p,
        version=version,
        content_id=cid,
        offset_s=float(OFFSETS_S[best % N_OFFSETS]),
        flip=1 if best < N_OFFSETS else -1,
        theta=theta,
        codeword=words[best],
    )


def known_test(soft: np.ndarray, codeword: np.ndarray, log10_hyp: float) -> tuple[int, float]:
    """Agreement of the best hypothesis with ONE given codeword (no 2^48 factor): for per-window segments."""
    a = int(np.max(agreement(soft, codeword[None, :])))
    return a, min(0.0, log10_hyp + _code.log10_binom_tail(a, _code.N_CODED))


def windows(
    t_centre: np.ndarray, length_s: float = 1.0, hop_s: float = 0.5
) -> list[tuple[float, float, np.ndarray]]:
    """Sliding windows (start, end, frame indices); none when the clip is shorter than two windows."""
    if t_centre.size == 0:
        return []
    t0, t1 = float(t_centre.min()), float(t_centre.max())
    if t1 - t0 < length_s + hop_s:
        return []
    out = []
    start = t0 - 1e-9
    while start + length_s <= t1 + hop_s:
        idx = np.nonzero((t_centre >= start) & (t_centre < start + length_s))[0]
        if idx.size:
            out.append((max(start, 0.0), start + length_s, idx))
        start += hop_s
    return out
