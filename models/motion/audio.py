"""Audio front-end: decode any audio PyAV reads to mono float32 at 16 kHz, and per-video-frame features.

The same functions run in training and at inference, so features line up with video frames exactly: frame ``i`` of a
video at ``fps`` covers audio samples ``[i * hop, (i + 1) * hop)`` with ``hop = sample_rate / fps``.
"""

from __future__ import annotations

import io
import logging
import os
import wave
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from ..errors import AudioError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
AudioSource = str | os.PathLike | bytes | np.ndarray | tuple


def load_audio(
    source: AudioSource,
    *,
    sample_rate: int | None = None,
    target_rate: int = SAMPLE_RATE,
    max_seconds: float | None = None,
) -> np.ndarray:
    """Decode ``source`` to mono float32 in [-1, 1] at ``target_rate``.

    ``source`` is a path, encoded bytes, a ``(samples, sample_rate)`` tuple, or a 1-D/2-D float array together with
    ``sample_rate`` (2-D arrays are (samples, channels) and are averaged to mono). Raises :class:`AudioError` for an
    unreadable, empty or too long input.
    """
    if isinstance(source, tuple):
        if len(source) != 2:
            raise AudioError("audio tuple must be (samples, sample_rate)")
        source, sample_rate = source
    if isinstance(source, np.ndarray):
        if sample_rate is None:
            raise AudioError("sample_rate is required when audio is given as an array")
        sample_rate = _checked_rate(sample_rate)
        # Duration from the sample count, before any copy or resampling (a 3-hour array would otherwise cost GBs
        # of conversions before being refused).
        n = source.shape[0] if source.ndim >= 1 else 0
        if max_seconds is not None and n > max_seconds * sample_rate:
            raise AudioError(f"audio is {n / sample_rate:.0f} s long, longer than the maximum of {max_seconds:.0f} s")
        samples = _array_to_mono(source)
        if int(sample_rate) != target_rate:
            samples = _resample_array(samples, int(sample_rate), target_rate)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        samples = _decode(io.BytesIO(bytes(source)), target_rate, max_seconds, "<bytes>")
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise AudioError(f"audio file not found: {path}")
        samples = _decode(str(path), target_rate, max_seconds, str(path))
    else:
        raise AudioError(f"unsupported audio source type: {type(source).__name__}")
    if samples.size == 0:
        raise AudioError("audio is empty")
    if not np.all(np.isfinite(samples)):
        raise AudioError("audio contains NaN or infinite samples")
    if max_seconds is not None and samples.size > max_seconds * target_rate:
        raise AudioError(f"audio is longer than the maximum of {max_seconds:.0f} s")
    return samples


def _checked_rate(sample_rate: object) -> int:
    try:
        rate = int(sample_rate)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError) as exc:
        raise AudioError(f"sample_rate must be a positive integer, got {sample_rate!r}") from exc
    if rate != sample_rate or not 1000 <= rate <= 768_000:
        raise AudioError(f"sample_rate must be an integer between 1000 and 768000 Hz, got {sample_rate!r}")
    return rate


def _array_to_mono(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples)
    if np.issubdtype(samples.dtype, np.integer):
        samples = samples.astype(np.float32) / float(np.iinfo(samples.dtype).max)
    elif not np.issubdtype(samples.dtype, np.floating):
        raise AudioError(f"audio array must be integer or float, got {samples.dtype}")
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.ndim != 1:
        raise AudioError(f"audio array must be 1-D or (samples, channels), got shape {samples.shape}")
    return samples.astype(np.float32, copy=False)


def _resample_array(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Resample with PyAV's swresample (the same resampler the file path uses)."""
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1).astype(np.float32), format="flt", layout="mono")
    frame.sample_rate = rate
    return np.concatenate(list(_resampled(iter([frame]), target))) if samples.size else samples


def _resampled(frames: Iterator[av.AudioFrame], target: int) -> Iterator[np.ndarray]:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=target)
    for frame in frames:
        for out in resampler.resample(frame):
            yield out.to_ndarray().reshape(-1)
    for out in resampler.resample(None):
        yield out.to_ndarray().reshape(-1)


def _decode(file: str | io.BytesIO, target: int, max_seconds: float | None, name: str) -> np.ndarray:
    limit = None if max_seconds is None else int((max_seconds + 1.0) * target)
    chunks: list[np.ndarray] = []
    total = 0
    try:
        with av.open(file, mode="r") as container:
            if not container.streams.audio:
                raise AudioError(f"no audio stream in {name}")
            stream = container.streams.audio[0]
            for chunk in _resampled(container.decode(stream), target):
                chunks.append(chunk)
                total += chunk.size
                if limit is not None and total > limit:
                    raise AudioError(f"audio is longer than the maximum of {max_seconds:.0f} s")
    except AudioError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise AudioError(f"cannot decode audio {name}: {exc}") from exc
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def frame_count(num_samples: int, fps: float, sample_rate: int = SAMPLE_RATE) -> int:
    """Video frames needed to cover ``num_samples`` of audio (the last frame may extend past the audio)."""
    return max(1, int(np.ceil(num_samples * fps / sample_rate - 1e-9)))


def frame_loudness_db(samples: np.ndarray, fps: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """RMS level in dBFS per video frame, over a window of two frame hops centred on the frame."""
    n = frame_count(samples.size, fps, sample_rate)
    hop = sample_rate / fps
    win = round(2 * hop)
    padded = np.pad(samples.astype(np.float64), (win, win + int(np.ceil(hop)) * 2))
    power = np.concatenate([[0.0], np.cumsum(padded**2)])
    centres = (np.arange(n) + 0.5) * hop + win
    lo = np.clip((centres - win / 2).astype(np.int64), 0, padded.size)
    hi = np.clip(lo + win, 0, padded.size)
    rms = np.sqrt((power[hi] - power[lo]) / win)
    return (20.0 * np.log10(rms + 1e-7)).astype(np.float32)


def is_silent(samples: np.ndarray, *, threshold_db: float = -55.0) -> bool:
    """True when the whole signal stays below ``threshold_db`` dBFS (digital silence or near it)."""
    if samples.size == 0:
        return True
    peak_rms = float(np.max(frame_loudness_db(samples, 25.0)))
    return peak_rms < threshold_db


def encode_wav(samples: np.ndarray, rate: int) -> bytes:
    """16-bit PCM mono WAV bytes of float samples in [-1, 1]."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()
