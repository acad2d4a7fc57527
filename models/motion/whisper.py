"""Whisper tiny.en audio features at 25 fps (numpy + onnxruntime, no torch). RAW primitive: outputs features, not media.

The shipped ``data/whisper_tiny_en_l2.onnx`` is Whisper tiny.en's encoder cut after block 2 of 4 (conv front end,
positional embedding, blocks 1-2; no final LayerNorm), written by ``models.motion.encoder_export``. A study found
that this residual stream predicts real mouth opening better than the final layer, and the cut halves the cost.

:meth:`WhisperEncoder.frame_features` turns 16 kHz audio into one 384-dim row per video frame. The scheme is the one
the study trained on and must not change, since Whisper features depend on the window they were computed in:

* windows of at most 10 s start every 8 s (one window of the clip's own length when it is <= 10 s);
* each window's log-mel is computed on that window alone (Whisper's ``max - 8`` floor is per window), cut to an even
  number of 10 ms frames, encoded, and the 50 Hz rows are averaged in pairs to 25 fps;
* a frame takes its value from the window it lies deepest in: window k > 0 drops its first 1 s, every window but the
  last drops its last 1 s;
* frames past the last encoder row (the clip's ragged end) repeat that row.

Windows are processed one at a time, so memory beyond the output array does not grow with the audio.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from importlib import resources
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..errors import AudioError, ModelError
from .features import FRAME, num_frames

log = logging.getLogger(__name__)

__all__ = [
    "D_MODEL",
    "MODEL_CARD",
    "MODEL_FILE",
    "N_MELS",
    "WhisperEncoder",
    "frame_features",
    "log_mel_spectrogram",
    "mel_filters",
    "shared_encoder",
]

SAMPLE_RATE = 16_000
N_FFT = 400
HOP_LENGTH = 160
N_MELS = 80
D_MODEL = 384
MAX_MEL_FRAMES = 3000  # 30 s: the encoder's position table has 1500 rows
WINDOW = 10 * SAMPLE_RATE  # samples per encoder window
WINDOW_HOP = 8 * SAMPLE_RATE
MARGIN = (WINDOW - WINDOW_HOP) // 2 // FRAME  # 25 frames (1 s) dropped at each inner window edge
MODEL_FILE = "whisper_tiny_en_l2.onnx"
MODEL_CARD = "whisper_tiny_en_l2.json"


def mel_filters(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """(n_mels, n_fft//2+1) float32: librosa.filters.mel defaults (Slaney scale and area norm), which is what Whisper's
    ``assets/mel_filters.npz`` holds (equal to 1.9e-9); computed so no librosa or asset file is needed."""
    f_sp, min_log_hz = 200.0 / 3.0, 1000.0  # linear below 1 kHz, 3 mels per 200 Hz
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0

    def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
        f = np.asarray(f, dtype=np.float64)
        return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)

    fftfreqs = np.fft.rfftfreq(n_fft, d=1.0 / sr)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    weights = np.maximum(0.0, np.minimum(-ramps[:-2] / fdiff[:-1, None], ramps[2:] / fdiff[1:, None]))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


_FILTERS = mel_filters()
_HANN = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic, as torch


def log_mel_spectrogram(audio: np.ndarray) -> np.ndarray:
    """16 kHz mono -> (80, len(audio)//160) float32, as ``whisper.audio.log_mel_spectrogram`` (max abs 1.8e-5 from
    its float32 torch.stft: this FFT runs in float64). Needs more than 200 samples (the reflect padding)."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    if x.shape[0] <= N_FFT // 2:
        raise ValueError(f"need more than {N_FFT // 2} samples, got {x.shape[0]}")
    x = np.pad(x, (N_FFT // 2, N_FFT // 2), mode="reflect")  # torch.stft(center=True)
    n = (x.shape[0] - N_FFT) // HOP_LENGTH  # STFT frames minus the last one, which Whisper drops
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP_LENGTH][:n]  # (n, 400) view, no copy
    spec = np.fft.rfft(frames * _HANN, axis=-1)
    mel = _FILTERS @ (spec.real**2 + spec.imag**2).astype(np.float32).T  # (80, n)
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


def _window_starts(n_samples: int) -> list[int]:
    """Start sample of each encoder window; the last one reaches the end of the clip and is longer than 2 s."""
    if n_samples <= WINDOW:
        return [0]
    return list(range(0, n_samples - WINDOW + WINDOW_HOP, WINDOW_HOP))


def _session(data: bytes) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # shared cores: spinning threads cost more than they give
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])


class WhisperEncoder:
    """onnxruntime session on a truncated Whisper encoder. Use as a context manager or call :meth:`close`.

    ``WhisperEncoder.load()`` opens the shipped file; the constructor takes the ONNX bytes and the sha256 they must
    have, so that what is hashed is exactly what is run.
    """

    def __init__(self, model: bytes, *, expected_sha256: str) -> None:
        digest = hashlib.sha256(model).hexdigest()
        if digest != expected_sha256:
            raise ModelError(f"Whisper encoder sha256 mismatch: expected {expected_sha256}, got {digest}")
        self.sha256 = digest
        try:
            self._session: ort.InferenceSession | None = _session(model)
        except ort.capi.onnxruntime_pybind11_state.Fail as exc:
            raise ModelError(f"cannot load Whisper encoder: {exc}") from exc
        meta = self._session.get_modelmeta().custom_metadata_map
        self.metadata = {k.removeprefix("whisper."): v for k, v in meta.items() if k.startswith("whisper.")}
        if self.metadata.get("n_mels") != str(N_MELS) or self.metadata.get("d_model") != str(D_MODEL):
            raise ModelError(f"not a Whisper encoder with {N_MELS} mels and d_model {D_MODEL}: {self.metadata}")

    @classmethod
    def load(cls, directory: str | os.PathLike[str] | None = None) -> WhisperEncoder:
        """The shipped encoder (or the one exported into ``directory``), checked against its card. Raises
        :class:`ModelError` when the file or card is missing, unreadable or does not match."""
        data = resources.files("models.motion").joinpath("data") if directory is None else Path(directory)
        try:
            card = json.loads(data.joinpath(MODEL_CARD).read_text())
            model = data.joinpath(card["file"]).read_bytes()
            expected = str(card["sha256"])
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"Whisper encoder weights or card missing or unreadable: {exc}") from exc
        encoder = cls(model, expected_sha256=expected)
        if encoder.metadata.get("blocks") != str(card.get("blocks")):
            raise ModelError(f"card says {card.get('blocks')} blocks, the ONNX file {encoder.metadata.get('blocks')}")
        return encoder

    def close(self) -> None:
        self._session = None

    def __enter__(self) -> WhisperEncoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def encode(self, mel: np.ndarray) -> np.ndarray:
        """(80, N) log-mel, N even in 2..3000 -> (N/2, 384) float32, one row per 20 ms."""
        if self._session is None:
            raise ValueError("WhisperEncoder is closed")
        mel = np.asarray(mel, dtype=np.float32)
        if mel.ndim != 2 or mel.shape[0] != N_MELS:
            raise ValueError(f"mel must be ({N_MELS}, N), got {mel.shape}")
        n = mel.shape[1]
        if n % 2 or not 0 < n <= MAX_MEL_FRAMES:
            raise ValueError(f"mel frames must be even and in 2..{MAX_MEL_FRAMES}, got {n}")
        (hidden,) = self._session.run(None, {"mel": np.ascontiguousarray(mel[None])})
        return np.asarray(hidden[0], dtype=np.float32)

    def _window_rows(self, segment: np.ndarray) -> np.ndarray:
        """One window -> (len // 640, 384) at 25 fps."""
        n_mel = segment.shape[0] // HOP_LENGTH
        n_mel -= n_mel % 2
        hidden = self.encode(log_mel_spectrogram(segment)[:, :n_mel])  # (n_mel/2, 384) at 50 Hz
        t = hidden.shape[0] // 2
        return hidden[: 2 * t].reshape(t, 2, D_MODEL).mean(axis=1)

    def frame_features(self, samples16k: np.ndarray) -> np.ndarray:
        """16 kHz mono audio (any length >= 1 sample) -> (``num_frames(len)``, 384) float32, one row per 25 fps
        video frame, by the windowing scheme in the module docstring. Pass audio normalised the way the consumer was
        trained (the study used ``models.motion.features.normalize_loudness``). Raises :class:`AudioError` on empty,
        multi-channel or non-finite audio."""
        x = np.asarray(samples16k)
        if x.ndim != 1 or x.size == 0:
            raise AudioError(f"need non-empty mono samples, got shape {x.shape}")
        n_out = num_frames(x.size)
        out = np.empty((n_out, D_MODEL), np.float32)
        starts = _window_starts(x.size)
        filled = 0
        for k, start in enumerate(starts):
            segment = np.asarray(x[start : start + WINDOW], dtype=np.float32)
            if not np.isfinite(segment).all():
                raise AudioError("audio contains NaN or infinite samples")
            if segment.size < FRAME:  # shorter than one video frame: zero-pad so the encoder yields one 25 fps row
                segment = np.pad(segment, (0, FRAME - segment.size))
            rows = self._window_rows(segment)
            lo = 0 if k == 0 else MARGIN
            hi = rows.shape[0] if k == len(starts) - 1 else rows.shape[0] - MARGIN
            a = start // FRAME + lo  # == filled: windows are full 10 s except the last, so the spans tile
            b = min(start // FRAME + hi, n_out)
            out[a:b] = rows[lo : lo + b - a]
            filled = b
        out[filled:] = out[filled - 1]  # a ragged last frame (< 640 samples) has no encoder row of its own
        return out


@functools.lru_cache(maxsize=1)
def shared_encoder() -> WhisperEncoder:
    """The shipped encoder, loaded once per process: corpus builds and render workers featurise many clips, and each
    load re-hashes 9 MB and rebuilds the session (~0.1 s). It lives until the process exits; do not close it."""
    return WhisperEncoder.load()


def frame_features(samples16k: np.ndarray) -> np.ndarray:
    """:meth:`WhisperEncoder.frame_features` with :func:`shared_encoder`."""
    return shared_encoder().frame_features(samples16k)
