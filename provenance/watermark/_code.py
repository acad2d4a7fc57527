"""Payload format, error-correcting code and the binomial decision statistic.

Payload (52 bits, MSB first): 4-bit version (2 since mark v2, which adds the luma carrier; 1 is still detected) ||
48-bit content ID.
Code: terminated convolutional code, constraint length 7, rate 1/4, generators 133, 171, 165, 117 (octal):
(52 + 6 tail bits) x 4 = 232 coded bits, decoded with a soft-decision Viterbi decoder vectorised over the
64 states and over a batch of hypotheses.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..errors import WatermarkInputError

VERSION = 2  # written by the embedder
VERSIONS = (1, 2)  # accepted by the detector (each valid version doubles the codewords of the union bound)
VERSION_BITS = 4
ID_BITS = 48
K = 7
GENERATORS = (0o133, 0o171, 0o165, 0o117)
N_INFO = VERSION_BITS + ID_BITS  # 52
N_STEPS = N_INFO + K - 1  # 58 with the zero tail
N_CODED = N_STEPS * len(GENERATORS)  # 232
_N_STATES = 1 << (K - 1)


def _parity(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    out = np.zeros_like(x)
    while np.any(x):
        out ^= x & 1
        x >>= 1
    return out


# Register r = (input << 6) | state, newest bit at the top; next state = r >> 1.
_REG = (np.arange(2)[None, :] << (K - 1)) | np.arange(_N_STATES)[:, None]  # (state, input)
_OUT = np.stack([_parity(_REG & g) for g in GENERATORS], axis=-1)  # (64, 2, 4) in {0, 1}
_NEXT = _REG >> 1


def content_id_to_bits(content_id: str, version: int = VERSION) -> np.ndarray:
    if not isinstance(content_id, str) or len(content_id) != 12:
        raise WatermarkInputError("content_id must be 12 lowercase hex characters (48 bits)")
    try:
        value = int(content_id, 16)
    except ValueError as exc:
        raise WatermarkInputError("content_id must be 12 lowercase hex characters (48 bits)") from exc
    if content_id != content_id.lower() or not all(c in "0123456789abcdef" for c in content_id):
        raise WatermarkInputError("content_id must be 12 lowercase hex characters (48 bits)")
    word = (version << ID_BITS) | value
    return np.array([(word >> (N_INFO - 1 - i)) & 1 for i in range(N_INFO)], dtype=np.int64)


def bits_to_payload(bits: np.ndarray) -> tuple[int, str]:
    word = 0
    for b in bits[:N_INFO]:
        word = (word << 1) | int(b)
    return word >> ID_BITS, f"{word & ((1 << ID_BITS) - 1):012x}"


def encode(info_bits: np.ndarray) -> np.ndarray:
    """Info bits (52) -> coded bits (232) in {0, 1}."""
    state = 0
    out = np.empty((N_STEPS, len(GENERATORS)), dtype=np.int64)
    for t, u in enumerate(np.concatenate([info_bits, np.zeros(K - 1, dtype=np.int64)])):
        out[t] = _OUT[state, int(u)]
        state = int(_NEXT[state, int(u)])
    return out.reshape(-1)


# Viterbi trellis, fixed by the code. Predecessors of next state ns: states ((ns & 31) << 1) | b for b in {0, 1},
# with input ns >> 5.
_NS = np.arange(_N_STATES)
_PRED = ((_NS & (_N_STATES // 2 - 1)) << 1)[:, None] | np.arange(2)[None, :]  # (64 next, 2)
_INP = _NS >> (K - 2)  # (64,)
_BRANCH_OUT = _OUT[_PRED, _INP[:, None]]  # (64 next, 2 pred, 4) coded bits of each branch
# The 16 possible 4-bit branch outputs as +-1 signs, and each branch's pattern: a branch metric is one of 16
# sums per step, computed once for the whole batch and all steps.
_PATTERN_SIGNS = 2.0 * ((np.arange(16)[:, None] >> np.arange(len(GENERATORS) - 1, -1, -1)[None, :]) & 1) - 1.0
_BRANCH_PATTERN = (_BRANCH_OUT << np.arange(len(GENERATORS) - 1, -1, -1)).sum(axis=-1)  # (64 next, 2 pred)


def viterbi(soft: np.ndarray) -> np.ndarray:
    """Soft-decision decoding of a batch: soft (B, 232), positive = bit 1. Returns info bits (B, 52).

    Rows are independent: decoding many tests' hypotheses in one call gives each row the bits it gets alone."""
    soft = np.atleast_2d(np.asarray(soft, dtype=np.float64)).reshape(-1, N_STEPS, len(GENERATORS))
    n_batch = soft.shape[0]
    pattern_metric = np.einsum("btg,qg->btq", soft, _PATTERN_SIGNS)  # (B, steps, 16)
    metric = np.full((n_batch, _N_STATES), -np.inf)
    metric[:, 0] = 0.0
    choices = np.empty((N_STEPS, n_batch, _N_STATES), dtype=np.int8)
    pred0, pred1 = _PRED[:, 0], _PRED[:, 1]
    for t in range(N_STEPS):
        bm = pattern_metric[:, t, _BRANCH_PATTERN]  # (B, 64, 2)
        c0 = metric[:, pred0] + bm[..., 0]
        c1 = metric[:, pred1] + bm[..., 1]
        take = c1 > c0  # ties keep predecessor 0 (argmax's first index)
        choices[t] = take
        metric = np.where(take, c1, c0)
    state = np.zeros(n_batch, dtype=np.int64)  # terminated code ends in state 0
    bits = np.empty((n_batch, N_STEPS), dtype=np.int64)
    rows = np.arange(n_batch)
    for t in range(N_STEPS - 1, -1, -1):
        bits[:, t] = _INP[state]
        state = _PRED[state, choices[t, rows, state]]
    return bits[:, :N_INFO]


@functools.lru_cache(maxsize=4096)
def log10_binom_tail(agree: int, n: int) -> float:
    """log10 P(X >= agree) for X ~ Binomial(n, 1/2)."""
    if agree <= 0:
        return 0.0
    if agree > n:
        return -math.inf
    logs = [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) for k in range(agree, n + 1)]
    top = max(logs)
    total = top + math.log(sum(math.exp(v - top) for v in logs))
    return (total - n * math.log(2.0)) / math.log(10.0)


def min_agreeing_bits(n: int, log10_factor: float, log10_alpha: float = -9.0) -> int:
    """Smallest agreement count whose corrected p-value (factor x tail) is <= 10**log10_alpha."""
    for a in range(n // 2, n + 1):
        if log10_factor + log10_binom_tail(a, n) <= log10_alpha:
            return a
    return n + 1
