"""The speed search's cheap side: STFTs at a quarter hop, computed once per clip (numpy only).

Undoing a playback speed exactly means band-limited resampling and a new STFT per hypothesis: most of the
speed search's cost. Here the clip's power spectrogram is computed once, at a quarter of the grid's hop (the
sub-hop offsets' frames) and with the FFT zero-padded to twice the window (spectrum sampled every half bin), and
each speed hypothesis's 16 ms frames are read off it: the time axis by linear interpolation between the nearest
quarter-hop frames, the frequency axis by sampling the spectrum at the bins scaled by the speed (linear
interpolation between half bins). It is approximate (the window is not stretched with the speed, and a harmonic
between samples is interpolated): measured against the resampled signal's statistic, 0.02-0.03 nepers rms on real
speech at 1-3 %, 0.07-0.14 on a generated line spectrum (the cumulative-power interpolation tried first: 0.05-0.07
and 0.16-0.22), a lattice step being 0.7. So it only RANKS the speed hypotheses (the lattice fit of their best
alignment); the best few are then searched exactly. At speed 1 nothing is interpolated: the sub-hop offsets'
frames are rows of the quarter-hop STFT (``speed_one_frames``).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import _grid as g

OVERSAMPLE = 2  # FFT length / window length of the warped spectrogram


def quarter_hop(offsets: int) -> int:
    """The fine STFT's hop (samples at ANALYSIS_RATE): the spacing of ``offsets`` sub-hop offsets."""
    hop = g.frame_sizes(g.ANALYSIS_RATE)[1]
    if hop % offsets:
        raise ValueError("the sub-hop offsets must divide the hop")
    return hop // offsets


def restored_length(n_samples: int, speed: float) -> int:
    """Samples of a signal of ``n_samples`` with ``speed`` undone (as ``_detect.change_speed`` resamples it)."""
    return round(n_samples * round(1_000_000 * speed) / 1_000_000) if speed != 1.0 else n_samples


def n_frames(n_samples: int, speed: float, off: int) -> int:
    """Frames of the grid's STFT of a signal of ``n_samples`` with ``speed`` undone, from sample ``off`` on."""
    n_fft, hop = g.frame_sizes(g.ANALYSIS_RATE)
    n_out = restored_length(n_samples, speed)
    return 1 + (n_out - off - n_fft) // hop if n_out - off >= n_fft else 0


def speed_one_frames(z: np.ndarray, fine_hop: int, offsets: list[int]) -> list[tuple[int, np.ndarray]]:
    """Per sub-hop offset (a multiple of ``fine_hop``), the (frames, N_BANDS) band power of the grid's frames from
    that offset on: the same numbers as one STFT per offset, from one STFT at the fine hop."""
    n_fft, hop = g.frame_sizes(g.ANALYSIS_RATE)
    power = g.stft_band_power(z, n_fft, fine_hop)
    out = []
    for off in offsets:
        if off % fine_hop:
            raise ValueError("a sub-hop offset must be a multiple of the fine hop")
        out.append((off, power[off // fine_hop :: hop // fine_hop][: n_frames(z.size, 1.0, off)]))
    return out


def warped_spectrogram(z: np.ndarray, fine_hop: int, max_speed: float) -> np.ndarray:
    """(fine frames, bins) power spectrogram at hop ``fine_hop``, sampled every 1 / OVERSAMPLE bin, up to the top
    band edge of the fastest speed hypothesis."""
    n_fft = g.frame_sizes(g.ANALYSIS_RATE)[0]
    n_bins = min(OVERSAMPLE * n_fft // 2 + 1, math.ceil(g.band_edges()[-1] * OVERSAMPLE * max(1.0, max_speed)) + 2)
    n_frames = 1 + (z.size - n_fft) // fine_hop if z.size >= n_fft else 0
    out = np.empty((n_frames, n_bins), dtype=np.float32)
    for start in range(0, n_frames, 256):  # in blocks: the whole complex spectrogram is tens of megabytes
        count = min(256, n_frames - start)
        idx = np.arange(n_fft)[None, :] + fine_hop * np.arange(start, start + count)[:, None]
        spec = np.fft.rfft(z[idx] * g._window(n_fft), n=OVERSAMPLE * n_fft, axis=1)[:, :n_bins]
        out[start : start + count] = spec.real**2 + spec.imag**2
    return out


@functools.lru_cache(maxsize=128)
def _band_map(speed: float, n_bins: int) -> np.ndarray:
    """(n_bins, N_BANDS) float32: band b's power = the sum over its bins k of the spectrum at k x speed (speed moved
    frequency f to speed x f), linearly interpolated between the oversampled bins."""
    edges = g.band_edges()
    out = np.zeros((n_bins, g.N_BANDS))
    for b in range(g.N_BANDS):
        pos = np.arange(edges[b], edges[b + 1]) * speed * OVERSAMPLE
        lo = np.minimum(np.floor(pos).astype(np.int64), n_bins - 2)
        np.add.at(out[:, b], lo, 1.0 - (pos - lo))
        np.add.at(out[:, b], lo + 1, pos - lo)
    out = out.astype(np.float32)
    out.setflags(write=False)
    return out


def warped_frames(spectrogram: np.ndarray, fine_hop: int, speed: float, off: int, count: int) -> np.ndarray:
    """(count, N_BANDS) approximate band power of the grid's frames from sample ``off`` on of the signal with
    ``speed`` undone, read off ``warped_spectrogram``'s output."""
    n_fft, hop = g.frame_sizes(g.ANALYSIS_RATE)
    n_fine = spectrogram.shape[0]
    if count <= 0 or n_fine == 0:
        return np.zeros((0, g.N_BANDS))
    # frame i's centre, off + i hop + n_fft / 2 in the restored signal, is at that / speed in the clip
    centre = (off + hop * np.arange(count) + n_fft / 2) / speed
    nearest = np.clip(np.rint((centre - n_fft / 2) / fine_hop), 0, n_fine - 1).astype(np.int64)
    return spectrogram[nearest] @ _band_map(speed, spectrogram.shape[1])
