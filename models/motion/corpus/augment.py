"""Audio augmentation for synthetic training speech: gain, band limits, reverberation, additive noise.

espeak-ng speech is clean and studio-flat; real inputs are not. Every transform is seeded through the caller's
``numpy.random.Generator`` so a corpus is reproducible from its seed.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

RATE = 16_000


def gain(x: np.ndarray, db: float) -> np.ndarray:
    return x * np.float32(10 ** (db / 20))


def band_limit(x: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    """Telephone / cheap-microphone band: Butterworth band-pass ``low_hz``..``high_hz``."""
    sos = signal.butter(4, [low_hz, min(high_hz, RATE / 2 - 100)], btype="bandpass", fs=RATE, output="sos")
    return signal.sosfilt(sos, x).astype(np.float32)


def reverb(x: np.ndarray, rt60: float, wet: float, rng: np.random.Generator) -> np.ndarray:
    """Convolve with a synthetic room response: exponentially decaying noise reaching -60 dB at ``rt60`` s."""
    n = int(rt60 * RATE)
    t = np.arange(n) / RATE
    rir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    rir[0] = 0.0
    rir /= np.sqrt(np.sum(rir**2)) + 1e-9
    wet_sig = signal.fftconvolve(x, rir)[: x.size]
    return ((1 - wet) * x + wet * wet_sig).astype(np.float32)


def colored_noise(n: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """White, pink (1/f) or brown (1/f^2) noise with unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    spec = spec * np.asarray({"white": np.ones_like(f), "pink": f**-0.5, "brown": f**-1.0}[kind])
    out = np.fft.irfft(spec, n)
    return (out / (np.sqrt(np.mean(out**2)) + 1e-12)).astype(np.float32)


def add_noise(x: np.ndarray, snr_db: float, kind: str, rng: np.random.Generator) -> np.ndarray:
    active = x[np.abs(x) > 1e-4]
    p_sig = float(np.mean(active**2)) if active.size else 1e-8
    noise = colored_noise(x.size, kind, rng) * np.sqrt(p_sig / 10 ** (snr_db / 10))
    return (x + noise).astype(np.float32)


def augment(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A random chain of the transforms above; returns the audio and what was applied."""
    applied: dict = {}
    if rng.random() < 0.4:
        lo, hi = float(rng.uniform(80, 400)), float(rng.uniform(3000, 7800))
        x = band_limit(x, lo, hi)
        applied["band"] = (round(lo), round(hi))
    if rng.random() < 0.5:
        rt60, wet = float(rng.uniform(0.15, 0.8)), float(rng.uniform(0.1, 0.6))
        x = reverb(x, rt60, wet, rng)
        applied["reverb"] = (round(rt60, 2), round(wet, 2))
    if rng.random() < 0.7:
        snr, kind = float(rng.uniform(5, 35)), str(rng.choice(["white", "pink", "brown"]))
        x = add_noise(x, snr, kind, rng)
        applied["noise"] = (round(snr, 1), kind)
    g = float(rng.uniform(-25, 3))
    x = gain(x, g)
    applied["gain_db"] = round(g, 1)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > 1.0:
        x = x / peak
    return x.astype(np.float32), applied
