"""Keyed pseudo-random material for the watermark: layouts, whitening and key ids.

Everything is derived from SHAKE-256 of (key, label), so the layout is fully specified by this file and does
not depend on numpy's random generators (whose streams may change between releases).
"""

from __future__ import annotations

import functools
import hashlib
import secrets

import numpy as np

from ..errors import WatermarkInputError

# The PUBLIC default key: anyone running the verifier can detect marks made with it (that is the point).
PUBLIC_KEY = b"dirfa-public-watermark-v1"

TILE = 16  # a tile is TILE x TILE blocks; each block carries one channel bit per frame
N_POSITIONS = TILE * TILE  # 256 tile positions
# Temporal re-keying: layouts cycle every EPOCH_S seconds. Measured (docs/benchmarks.md): re-keying every 0.2
# s cut per-frame bit accuracy after H.264 CRF 23 from 0.89 to 0.59, because inter frames do not re-code a
# changed mark (the residual is below the quantiser's dead zone) and carry the previous layout forward.
# Version 1 of the mark therefore uses ONE layout; the schedule machinery stays so that a later version can
# re-key per GOP.
N_LAYOUTS = 1
EPOCH_S = 0.2


def normalise_key(key: bytes | str | None) -> bytes:
    if key is None:
        return PUBLIC_KEY
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray)) or len(key) == 0:
        raise WatermarkInputError("key must be None, or non-empty bytes or str")
    return bytes(key)


def key_id(key: bytes) -> str:
    """A short public fingerprint of a key (never the key itself)."""
    return hashlib.blake2b(key, digest_size=4, person=b"dirfa-wm-keyid").hexdigest()


def _stream(key: bytes, label: str, n: int) -> np.ndarray:
    """n pseudo-random uint64 values from SHAKE-256(len(key) || key || label)."""
    data = len(key).to_bytes(4, "big") + key + label.encode("ascii")
    return np.frombuffer(hashlib.shake_256(data).digest(8 * n), dtype=">u8").astype(np.uint64)


def _permutation(key: bytes, label: str, n: int) -> np.ndarray:
    return np.argsort(_stream(key, label, n), kind="stable")


@functools.lru_cache(maxsize=16)
def layouts(key: bytes, n_coded: int) -> tuple[np.ndarray, np.ndarray]:
    """Per layout: the coded-bit index and the whitening sign of every tile position.

    Returns (coded_index, sign) with shapes (N_LAYOUTS, N_POSITIONS); sign is +1/-1 (whitening bit 0/1).
    Each layout is an independent keyed permutation of the 2-D tile (no row or column structure), so a crop or
    a codec failure on some region hits different coded bits in different layouts. Positions beyond n_coded
    repeat coded bits. The whitening word of each layout is balanced (exactly half the positions flipped), so
    an unmarked frame that decodes to a constant word (flat or grey frames do) agrees with no codeword.
    """
    coded = np.empty((N_LAYOUTS, N_POSITIONS), dtype=np.int64)
    sign = np.empty((N_LAYOUTS, N_POSITIONS), dtype=np.float64)
    for layout in range(N_LAYOUTS):
        coded[layout] = _permutation(key, f"layout/{layout}", N_POSITIONS) % n_coded
        balanced = np.zeros(N_POSITIONS)
        balanced[: N_POSITIONS // 2] = 1.0
        sign[layout] = 1.0 - 2.0 * balanced[_permutation(key, f"whiten/{layout}", N_POSITIONS)]
    coded.setflags(write=False)
    sign.setflags(write=False)
    return coded, sign


def layout_of_time(t_centre: np.ndarray | float, offset_s: np.ndarray | float = 0.0) -> np.ndarray:
    """The layout used for a frame whose display interval is centred at ``t_centre`` seconds."""
    epoch = np.floor((np.asarray(t_centre, dtype=np.float64) + offset_s) / EPOCH_S + 1e-9)
    return (epoch.astype(np.int64)) % N_LAYOUTS


def new_content_id() -> str:
    """A random 48-bit content ID as 12 lowercase hex characters (from ``secrets``)."""
    return secrets.token_hex(6)
