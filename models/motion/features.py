"""Audio features for the motion network, aligned exactly to video frames (numpy/scipy only).

The SAME functions run when the training corpus is built and at inference, so what the network sees never differs.

Per video frame ``i`` at 25 fps (hop 640 samples at 16 kHz) the network receives:

* ``mel``: 4 log-mel frames of 80 bins (25 ms Hann windows, 10 ms hop) centred at ``i*640 + 80 + 160*j`` (j=0..3),
  i.e. the four 10 ms slices that tile the video frame, flattened to 320 values;
* ``phones`` (optional): the fraction of the frame's four 10 ms slices that a phone recogniser trained on REAL speech
  (PocketSphinx 5.1.1 phone loop, en-US acoustic model) assigns to each of 40 classes (39 CMU phones + silence).
  Real speech sounds unlike espeak-ng, so a recogniser trained on real voices is how real-speech knowledge enters a
  network trained on synthetic speech (docs: ../shared/notes/lipsync.md).

Loudness is normalised first: the clip is scaled so that its loud speech (95th percentile of 10 ms RMS over the
non-silent slices) sits at ``TARGET_DB``. Digital silence stays silent.
"""

from __future__ import annotations

import functools
import logging
import os

import numpy as np

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
FPS = 25
HOP = 160  # 10 ms
WIN = 400  # 25 ms
N_FFT = 512
N_MELS = 80
SUB = SAMPLE_RATE // FPS // HOP  # 4 mel slices per video frame
FRAME = SAMPLE_RATE // FPS  # 640 samples per video frame
TARGET_DB = -20.0
SILENCE_DB = -60.0
PHONES: tuple[str, ...] = (
    "SIL", "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY",
    "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH",
)  # fmt: skip
N_PHONES = len(PHONES)
_PHONE_INDEX = {p: i for i, p in enumerate(PHONES)}


def normalize_loudness(samples: np.ndarray) -> np.ndarray:
    """Scale ``samples`` so loud speech sits at ``TARGET_DB`` dBFS (10 ms RMS, 95th percentile of non-silent slices)."""
    x = np.asarray(samples, np.float32)
    n = x.size // HOP
    if n == 0:
        return x.copy()
    rms = np.sqrt(np.mean(x[: n * HOP].astype(np.float64).reshape(n, HOP) ** 2, axis=1) + 1e-12)
    db = 20 * np.log10(rms)
    active = db[db > SILENCE_DB]
    if active.size == 0:
        return x.copy()
    gain = 10 ** ((TARGET_DB - np.percentile(active, 95)) / 20)
    return np.clip(x * gain, -1.0, 1.0).astype(np.float32)


@functools.lru_cache(maxsize=2)
def mel_filterbank(n_mels: int = N_MELS, fmin: float = 50.0, fmax: float = 7600.0) -> np.ndarray:
    """(n_mels, N_FFT//2+1) triangular filters on the HTK mel scale, area-normalised."""

    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    freqs = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    fb = np.zeros((n_mels, freqs.size), np.float32)
    for m in range(n_mels):
        lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
        up = (freqs - lo) / (c - lo)
        down = (hi - freqs) / (hi - c)
        fb[m] = np.maximum(0, np.minimum(up, down)) * (2.0 / (hi - lo))
    return fb


def num_frames(num_samples: int) -> int:
    """Video frames at 25 fps covering ``num_samples`` (same rule as ``models.motion.audio.frame_count``)."""
    return max(1, int(np.ceil(num_samples / FRAME - 1e-9)))


def log_mel(samples: np.ndarray, n_frames: int | None = None) -> np.ndarray:
    """(frames, SUB*N_MELS) float32 log-mel features; ``samples`` must already be loudness-normalised."""
    x = np.asarray(samples, np.float32)
    n = num_frames(x.size) if n_frames is None else n_frames
    centres = (np.arange(n * SUB) * HOP + HOP // 2).astype(np.int64)
    padded = np.pad(x, (WIN, WIN + n * FRAME))
    starts = centres - WIN // 2 + WIN
    window = np.hanning(WIN + 2)[1:-1].astype(np.float32)
    out = np.empty((n * SUB, N_MELS), np.float32)
    fb = mel_filterbank()
    step = 4096  # slices per block: bounded memory for long audio
    for b in range(0, starts.size, step):
        idx = starts[b : b + step, None] + np.arange(WIN)[None, :]
        spec = np.abs(np.fft.rfft(padded[idx] * window, n=N_FFT, axis=1)) ** 2
        out[b : b + step] = np.log(spec.astype(np.float32) @ fb.T + 1e-6)
    return out.reshape(n, SUB * N_MELS)


# ----------------------------------------------------------------------------------------------------------------------
# Phone features (PocketSphinx)


class PhoneRecognizerUnavailable(RuntimeError):
    """PocketSphinx (the ``pocketsphinx`` package) is not installed."""


# Phone-loop search settings. The shipped model up to 1.1.1 used beams of 1e-20 and PocketSphinx's default of the
# 4 best Gaussians per codebook (1.8 ms of CPU per video frame, 80% of generation). Narrower beams (1e-10) and the 2
# best Gaussians cut that to about 1.1 ms; on held-out synthetic speech the phone -> viseme jaw r went from 0.65 to
# 0.63, and 89% of 10 ms slices keep their label on real speech that is not a benchmark video (docs/benchmarks.md).
# Features computed with other settings are not interchangeable: a model must be trained with the ones it runs with.
DECODER_SETTINGS = {"lw": 2.0, "beam": 1e-10, "pbeam": 1e-10, "topn": 2}


@functools.lru_cache(maxsize=1)
def _decoder():
    try:
        from pocketsphinx import Decoder, get_model_path
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise PhoneRecognizerUnavailable("pip install pocketsphinx==5.1.1") from exc
    base = get_model_path()
    return Decoder(
        hmm=os.path.join(base, "en-us", "en-us"),
        allphone=os.path.join(base, "en-us", "en-us-phone.lm.bin"),
        **DECODER_SETTINGS,
        samprate=SAMPLE_RATE,
        loglevel="FATAL",
    )


# PocketSphinx adapts its cepstral mean (CMN) across utterances, so a shared decoder's output would depend on what it
# decoded before. Every chunk starts from this fixed mean instead (measured once on loudness-normalised real speech,
# ../shared/media/hallo__1.wav, which is not one of the benchmark videos): same audio, same phones, in any order.
CMN_INIT = (
    "50.337,4.44785,-2.13205,5.81615,-2.03594,-10.173,-6.99685,-5.86179,-2.62192,-2.30888,2.10179,0.285197,5.25923"
)


def phone_segments(samples: np.ndarray, chunk_s: float = 60.0) -> list[tuple[str, int, int]]:
    """PocketSphinx phone-loop segments ``(phone, first_10ms_frame, last_10ms_frame)``, in ``chunk_s`` pieces."""
    dec = _decoder()
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    step = int(chunk_s * SAMPLE_RATE)
    segs: list[tuple[str, int, int]] = []
    for off in range(0, pcm.size, step):
        dec.reinit_feat()
        dec.set_cmn(CMN_INIT)
        dec.start_utt()
        dec.process_raw(pcm[off : off + step].tobytes(), full_utt=True)
        dec.end_utt()
        base = off // HOP
        segs.extend((s.word, base + s.start_frame, base + s.end_frame) for s in dec.seg())
    return segs


def phone_features(
    samples: np.ndarray, n_frames: int | None = None, *, segments: list[tuple[str, int, int]] | None = None
) -> np.ndarray:
    """(frames, N_PHONES) fraction of each video frame's 10 ms slices recognised as each phone class."""
    n = num_frames(samples.size) if n_frames is None else n_frames
    labels = np.zeros(n * SUB, np.int64)  # default: silence
    for word, first, last in phone_segments(samples) if segments is None else segments:
        labels[max(first, 0) : min(last + 1, labels.size)] = _PHONE_INDEX.get(word, 0)
    onehot = np.zeros((n * SUB, N_PHONES), np.float32)
    onehot[np.arange(labels.size), labels] = 1.0
    return onehot.reshape(n, SUB, N_PHONES).mean(axis=1)


N_VISEME = 5


def viseme_features(segments: list[tuple[str, int, int]], n_frames: int, lead_s: float = 0.10) -> np.ndarray:
    """(frames, 5) mouth targets from recognised phones: the hand-made phone -> viseme mapping with coarticulation
    and lead used for the synthetic targets (``models.motion.corpus.visemes``), applied to PocketSphinx's phones.

    Measured here, this untrained mapping transfers to real speakers better than a mapping learned on espeak-ng
    speech, so the network gets it as an input (a real-speech-robust prior for the mouth) besides log-mel.
    """
    from .corpus.espeak import Phone
    from .corpus.visemes import ARPABET_IPA, mouth_track, to_video_frames

    phones = [Phone(ARPABET_IPA[w], a / 100, (b + 1) / 100) for w, a, b in segments if w in ARPABET_IPA]
    track = mouth_track(phones, n_frames / FPS, lead_s=lead_s)
    return to_video_frames(track, n_frames).astype(np.float32)


def audio_features(
    samples: np.ndarray,
    *,
    phones: bool,
    mel: bool = True,
    visemes: bool = False,
    whisper: bool = False,
    n_frames: int | None = None,
) -> np.ndarray:
    """Network input for 16 kHz mono ``samples``, in this column order: the real-speech encoder's features
    (``whisper``, 384: Whisper tiny.en after block 2, ``models.motion.whisper``), loudness-normalised log-mel
    (``mel``, 320), PocketSphinx phone fractions (``phones``, 40), phone-derived viseme targets (``visemes``, 5)."""
    if not (phones or mel or visemes or whisper):
        raise ValueError("at least one feature group is needed")
    x = normalize_loudness(samples)
    n = num_frames(x.size) if n_frames is None else n_frames
    feats = []
    if whisper:
        from .whisper import shared_encoder  # loaded once per process

        w = shared_encoder().frame_features(x)
        feats.append(w[:n] if w.shape[0] >= n else np.concatenate([w, np.repeat(w[-1:], n - w.shape[0], 0)]))
    if mel:
        feats.append(log_mel(x, n))
    segments = phone_segments(x) if (phones or visemes) else []
    if phones:
        feats.append(phone_features(x, n, segments=segments))
    if visemes:
        feats.append(viseme_features(segments, n))
    return np.concatenate(feats, axis=1).astype(np.float32)


def feature_groups(*, phones: bool, mel: bool = True, visemes: bool = False, whisper: bool = False) -> list[str]:
    """The column groups ``audio_features`` returns for these flags, in order (see ``GROUP_WIDTHS``)."""
    flags = {"whisper": whisper, "mel": mel, "phones": phones, "visemes": visemes}
    return [g for g in GROUP_WIDTHS if flags[g]]


GROUP_WIDTHS = {"whisper": 384, "mel": SUB * N_MELS, "phones": N_PHONES, "visemes": N_VISEME}
