"""Attack harness for the audio-mark benchmark, written as data: name -> function(samples_48k) -> (samples, rate).

Codecs go through PyAV (FFmpeg's aac, libmp3lame, libopus); speed change is band-limited resampling played at the
original rate (speed and pitch change together, as a sped-up voice note does). Noises are generated here; babble
is real speech from clips that are not under test.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import av
import numpy as np

from provenance.audiomark._detect import resample

RATE = 48_000


def codec_roundtrip(
    x: np.ndarray, rate: int, codec: str, bit_rate: int, fmt: str, out_rate: int | None = None
) -> tuple[np.ndarray, int]:
    out_rate = out_rate or rate
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=out_rate)
        stream.layout = "mono"
        stream.bit_rate = bit_rate
        fmt_name = stream.codec_context.codec.audio_formats[0].name
        resampler = av.AudioResampler(format=fmt_name, layout="mono", rate=out_rate)
        frame_size = stream.codec_context.frame_size or 1024
        src = av.AudioFrame.from_ndarray(x.astype(np.float32)[None, :], format="flt", layout="mono")
        src.sample_rate = rate
        fifo = av.AudioFifo()
        for f in resampler.resample(src) + resampler.resample(None):
            fifo.write(f)
        while True:
            f = fifo.read(frame_size) or (fifo.read() if fifo.samples else None)
            if f is None:
                break
            for p in stream.encode(f):
                out.mux(p)
        for p in stream.encode(None):
            out.mux(p)
    return decode(buf.getvalue())


def decode(data: bytes, rate: int | None = None) -> tuple[np.ndarray, int]:
    with av.open(io.BytesIO(data)) as c:
        s = c.streams.audio[0]
        r = rate or s.codec_context.sample_rate
        res = av.AudioResampler(format="flt", layout="mono", rate=r)
        chunks = [g.to_ndarray().reshape(-1) for f in c.decode(s) for g in res.resample(f)]
        chunks += [g.to_ndarray().reshape(-1) for g in res.resample(None)]
    return np.concatenate(chunks).astype(np.float64), r


def pink_noise(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(spec / np.sqrt(f), n=n)


def music(n: int, seed: int, rate: int = RATE) -> np.ndarray:
    """Music-like: plucked harmonic notes of a chord progression, a bass line and a noise hi-hat."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    out = np.zeros(n)
    beat = 0.25
    chords = [[261.6, 329.6, 392.0], [220.0, 261.6, 329.6], [174.6, 220.0, 261.6], [196.0, 246.9, 293.7]]
    for i, start in enumerate(np.arange(0, n / rate, beat)):
        s = int(start * rate)
        seg = t[s:] - start
        env = np.exp(-seg * 4.0)
        chord = chords[(i // 8) % 4]
        f0 = chord[rng.integers(3)] * (2 if rng.random() < 0.3 else 1)
        note = sum(np.sin(2 * np.pi * f0 * k * seg) / k**1.2 for k in range(1, 9))
        out[s:] += env * note
        if i % 2 == 0:
            out[s:] += 1.5 * np.exp(-seg * 6.0) * np.sin(2 * np.pi * chord[0] / 2 * seg)
        hat = min(n - s, int(0.03 * rate))
        out[s : s + hat] += 0.3 * rng.standard_normal(hat) * np.exp(-np.arange(hat) / (0.008 * rate))
    return out


def mix(x: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    noise = np.resize(noise, x.size)
    gain = np.sqrt(np.mean(x**2) / (np.mean(noise**2) * 10 ** (snr_db / 10)))
    return x + gain * noise


def speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Played ``factor`` times faster (and higher)."""
    return resample(x, RATE, round(RATE / factor))


def make_attacks(babble: np.ndarray) -> dict[str, Callable[[np.ndarray], tuple[np.ndarray, int]]]:
    def stereo_downmix(x):
        # the soundtrack as a panned stereo pair (left 0 dB, right -6 dB), through a stereo AAC 128k file, folded
        # back to mono by the decoder
        pair = np.stack([x, 0.5 * x]).astype(np.float32)
        buf = io.BytesIO()
        with av.open(buf, "w", format="adts") as out:
            st = out.add_stream("aac", rate=RATE)
            st.layout, st.bit_rate = "stereo", 128_000
            fr = av.AudioFrame.from_ndarray(pair, format="fltp", layout="stereo")
            fr.sample_rate = RATE
            fifo = av.AudioFifo()
            fifo.write(fr)
            while fifo.samples:
                f = fifo.read(1024) or fifo.read()
                for p in st.encode(f):
                    out.mux(p)
            for p in st.encode(None):
                out.mux(p)
        return decode(buf.getvalue())

    def excerpt(x, start_s, dur_s):
        s = int(start_s * RATE)
        return x[s : s + int(dur_s * RATE)] if x.size >= s + int(dur_s * RATE) else x[-int(dur_s * RATE) :]

    def twice(x):
        y, r = codec_roundtrip(excerpt(x, 1.1, 10.0), RATE, "aac", 96_000, "adts")
        return codec_roundtrip(y, r, "libmp3lame", 128_000, "mp3")

    return {
        "none": lambda x: (x, RATE),
        "aac_64k": lambda x: codec_roundtrip(x, RATE, "aac", 64_000, "adts"),
        "aac_96k": lambda x: codec_roundtrip(x, RATE, "aac", 96_000, "adts"),
        "mp3_64k": lambda x: codec_roundtrip(x, RATE, "libmp3lame", 64_000, "mp3"),
        "mp3_128k": lambda x: codec_roundtrip(x, RATE, "libmp3lame", 128_000, "mp3"),
        "opus_32k": lambda x: codec_roundtrip(x, RATE, "libopus", 32_000, "ogg"),
        "resample_16k": lambda x: (resample(x, RATE, 16_000), 16_000),
        "resample_22k": lambda x: (resample(x, RATE, 22_050), 22_050),
        "resample_44k_48k": lambda x: (resample(resample(x, RATE, 44_100), 44_100, RATE), RATE),
        "mono_downmix": stereo_downmix,
        "gain_+10dB": lambda x: (np.clip(x * 10**0.5, -1, 1), RATE),
        "gain_-10dB": lambda x: (x * 10**-0.5, RATE),
        "pink_20dB": lambda x: (mix(x, pink_noise(x.size, 1), 20.0), RATE),
        "pink_10dB": lambda x: (mix(x, pink_noise(x.size, 2), 10.0), RATE),
        "music_-10dB": lambda x: (mix(x, music(x.size, 3), 10.0), RATE),
        "babble_-10dB": lambda x: (mix(x, babble, 10.0), RATE),
        "trim_5s": lambda x: (excerpt(x, 0.7, 5.0), RATE),
        "excerpt10s_reencoded_twice": twice,
        "speed_+5%": lambda x: (speed(x, 1.05), RATE),
        "speed_-5%": lambda x: (speed(x, 0.95), RATE),
    }
