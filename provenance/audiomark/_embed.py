"""Embedding: spread-transform dither modulation (STDM) of tile log-powers. Writes UNMARKED-to-marked samples
only; ``sdk`` is the only caller that turns them into files.

Each symbol's projection p = sum_k w_k * stat[band_k] is moved to the nearest point of its bit's lattice
STEP * (Z + bit/2 + dither). Because the embedder knows the host projection, the host does not interfere with
detection (unlike additive spread spectrum, where speech 30 dB above the mark is the dominant noise). The
change is a per-(tile, band) gain, so the mark is the host's own spectrum scaled by a few percent: it is zero
in digital silence and 30+ dB below the speech in every band (no hiss in pauses).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import WatermarkInputError
from . import _grid as g


@dataclass(frozen=True)
class AudioEmbedParams:
    """Strength settings.

    step: the QIM lattice step in nepers of the projected log-power statistic (robustness vs audibility;
        measured on the 11 real speech clips of benchmarks/audiomark_bench.py, docs/audiomark.md: with symbols of
        adjacent bands and zero-sum weights, 0.7 keeps segmental SNR >= 31 dB; 0.8 gained nothing).
    max_gain: cap on any one tile-band amplitude change (nepers; 0.14 = +-1.2 dB), bounding the local artefact.
    iterations: Gauss-Newton passes; each corrects the interaction between the symbols of one tile.
    silence_db: tiles quieter than the clip's loudest by more than this are left untouched.
    """

    step: float = 0.7
    max_gain: float = 0.14
    iterations: int = 5
    silence_db: float = 55.0


def check_rate(rate: int) -> tuple[int, int]:
    if not isinstance(rate, (int, np.integer)) or rate < g.ANALYSIS_RATE or rate % 8000 != 0:
        raise WatermarkInputError("audio sample rate must be a multiple of 8 kHz, at least 16 kHz (48 kHz in sdk)")
    return g.frame_sizes(int(rate))


def symbol_targets(stat: np.ndarray, slope: np.ndarray, bits: np.ndarray, step: float, key: bytes) -> np.ndarray:
    """(tiles, N_BANDS) log-power change that moves every symbol onto its bit's lattice: one Gauss-Newton step,
    each band moved in proportion to how much it moves the statistic (weak bands, at the floor, not at all)."""
    members, weights, coded, dither = g.layout(key)
    pos = np.arange(stat.shape[0]) % g.TILES_PER_PERIOD
    rows = np.arange(stat.shape[0])[:, None, None]
    mem, w = members[pos], weights[pos]  # (T, S, K)
    proj = (stat[rows, mem] * w).sum(-1)
    offset = dither[pos] + 0.5 * bits[coded[pos]]  # (T, S)
    target = step * (np.round(proj / step - offset) + offset)
    ws = w * slope[rows, mem]
    norm = np.maximum((ws**2).sum(-1), 0.1)
    delta = np.zeros_like(stat)
    delta[rows, mem] = ((target - proj) / norm)[..., None] * ws
    return delta


def embed_samples(x: np.ndarray, rate: int, coded_bits: np.ndarray, key: bytes, params: AudioEmbedParams) -> np.ndarray:
    """Marked copy of mono float samples ``x`` (the mark = x's in-band STFT scaled by keyed tile gains)."""
    n_fft, hop = check_rate(rate)
    max_bin = int(g.band_edges()[-1]) + 1
    spec = g.stft(x, n_fft, hop, max_bin)
    n_tiles = spec.shape[0] // g.FRAMES_PER_TILE
    if n_tiles == 0:
        raise WatermarkInputError("audio too short to mark (needs at least 80 ms)")
    power = g.tile_power(g.band_power(spec))
    loud = np.log(power.sum(axis=1) + 1e-12)
    active = loud >= loud.max() - params.silence_db / 10.0 * np.log(10.0)
    log_gain = np.zeros_like(power)  # amplitude gain (nepers) per (tile, band)
    for _ in range(params.iterations):
        stat, _, slope = g.stats_from_power(power * np.exp(2.0 * log_gain))
        delta = symbol_targets(stat, slope, coded_bits, params.step, key)
        log_gain = np.clip(log_gain + 0.5 * delta, -params.max_gain, params.max_gain)
        log_gain[~active] = 0.0
    edges = g.band_edges()
    cell_gain = np.zeros((spec.shape[0], max_bin))
    per_frame = np.repeat(log_gain, g.FRAMES_PER_TILE, axis=0)  # (frames used, bands)
    for b in range(g.N_BANDS):
        cell_gain[: per_frame.shape[0], edges[b] : edges[b + 1]] = per_frame[:, b : b + 1]
    mark = g.istft_add(spec * np.expm1(cell_gain), n_fft, hop, x.size)
    return x + mark
