"""Loudness baseline motion model. RAW primitive: its output is an animation, not media.

The walking-skeleton motion model, kept so benchmarks can compare the DIRFA network against it: jaw opening from the
loudness envelope (leading the sound by 80 ms), seeded stochastic blinks, brow emphasis and smooth head sway.
Same API as ``models.motion.model.MotionModel``. On real speakers its jaw correlates with the measured mouth
opening at about r = 0 (docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import AudioError
from ..schema import DEFAULT_FPS, MOTION_INDEX, MotionSequence, clip_motion, neutral_motion
from . import audio as _audio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoudnessConfig:
    """Parameters of the loudness baseline (recorded, hashed, and written into every manifest)."""

    floor_db: float = -50.0  # absolute level (dBFS) below which the mouth stays closed
    range_db: float = 30.0  # span below the clip's loud speech (95th percentile) mapped onto the jaw range
    jaw_max: float = 0.28  # jaw_open at full loudness (inner-lip gap / inter-ocular distance)
    lead_s: float = 0.08  # mouths open ~80 ms before the sound (measured on real speakers)
    smooth_s: float = 0.06  # jaw smoothing
    blink_interval_s: tuple[float, float] = (2.0, 6.0)
    blink_duration_s: float = 0.2
    head_yaw_deg: float = 3.0  # standard deviation of head sway
    head_pitch_deg: float = 2.0
    head_roll_deg: float = 1.5
    head_sway_s: float = 1.5  # time scale of the sway


@dataclass(frozen=True)
class ModelCard:
    name: str
    version: str
    sha256: str


class LoudnessBaseline:
    """Generates a :class:`MotionSequence` from speech audio."""

    name = "dirfa-loudness-baseline"
    version = "0.1.0"

    def __init__(self, config: LoudnessConfig | None = None) -> None:
        self.config = config or LoudnessConfig()

    @classmethod
    def load(cls) -> LoudnessBaseline:
        """The baseline with its default parameters (no weights)."""
        return cls()

    @property
    def card(self) -> ModelCard:
        blob = json.dumps(asdict(self.config), sort_keys=True).encode()
        return ModelCard(self.name, self.version, hashlib.sha256(blob).hexdigest())

    def generate(
        self,
        audio: _audio.AudioSource,
        *,
        sample_rate: int | None = None,
        seed: int | None = None,
        temperature: float = 1.0,
        fps: int = DEFAULT_FPS,
        expressiveness: float = 1.0,
        head_motion: float = 1.0,
    ) -> MotionSequence:
        """Animate ``audio`` (a path, bytes, or a mono float array with ``sample_rate``)."""
        if temperature < 0:
            raise ValueError("temperature must be >= 0")
        samples = _audio.load_audio(audio, sample_rate=sample_rate)
        if _audio.is_silent(samples):
            raise AudioError("audio is silent")
        rng = np.random.default_rng(seed)
        cfg = self.config
        db = _audio.frame_loudness_db(samples, fps)
        n = db.size
        values = np.tile(neutral_motion(), (n, 1))

        ref = np.percentile(db, 95)
        level = np.clip((db - (ref - cfg.range_db)) / cfg.range_db, 0, 1)
        level[db < cfg.floor_db] = 0.0
        jaw = _smooth(level**1.5, cfg.smooth_s * fps)
        jaw = _shift_earlier(jaw, round(cfg.lead_s * fps))
        values[:, MOTION_INDEX["jaw_open"]] = cfg.jaw_max * jaw * expressiveness
        values[:, MOTION_INDEX["lip_stretch"]] = 0.05 * jaw * expressiveness

        # Brows lift a little on stressed (loud-onset) syllables.
        onset = np.clip(np.diff(jaw, prepend=jaw[:1]) * 4, 0, 1)
        values[:, MOTION_INDEX["brow_raise"]] = _smooth(onset, 0.2 * fps) * 0.6 * expressiveness

        blinks = _blinks(n, fps, rng, cfg)
        values[:, MOTION_INDEX["blink_left"]] = blinks
        values[:, MOTION_INDEX["blink_right"]] = blinks

        scale = temperature * head_motion
        for dim, std in (
            ("head_yaw", cfg.head_yaw_deg),
            ("head_pitch", cfg.head_pitch_deg),
            ("head_roll", cfg.head_roll_deg),
        ):
            values[:, MOTION_INDEX[dim]] = std * scale * _smooth_noise(n, cfg.head_sway_s * fps, rng)
        # Nod slightly with speech energy.
        values[:, MOTION_INDEX["head_pitch"]] += 1.5 * head_motion * (jaw - jaw.mean())
        return MotionSequence(values=clip_motion(values), fps=fps, seed=seed)


def _smooth(x: np.ndarray, width_frames: float) -> np.ndarray:
    if width_frames < 1:
        return x.astype(np.float32)
    radius = max(1, round(width_frames * 1.5))
    t = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (t / max(width_frames / 2, 1e-3)) ** 2)
    kernel /= kernel.sum()
    return np.convolve(np.pad(x, radius, mode="edge"), kernel, mode="valid").astype(np.float32)


def _shift_earlier(x: np.ndarray, frames: int) -> np.ndarray:
    if frames <= 0:
        return x
    return np.concatenate([x[frames:], np.repeat(x[-1:], frames)])


def _smooth_noise(n: int, width_frames: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-std noise correlated over ``width_frames``."""
    raw = rng.standard_normal(n + 8 * int(width_frames) + 8)
    smooth = _smooth(raw, width_frames)[4 * int(width_frames) + 4 :][:n]
    std = smooth.std() if n > 1 else 1.0
    return (smooth - smooth.mean()) / (std if std > 1e-6 else 1.0)


def _blinks(n: int, fps: float, rng: np.random.Generator, cfg: LoudnessConfig) -> np.ndarray:
    out = np.zeros(n, np.float32)
    t = rng.uniform(0.5, cfg.blink_interval_s[1])
    half = cfg.blink_duration_s * fps / 2
    frames = np.arange(n)
    while t * fps < n:
        centre = t * fps
        out = np.maximum(out, np.clip(1 - np.abs(frames - centre) / half, 0, 1) ** 0.7)
        t += rng.uniform(*cfg.blink_interval_s)
    return out


class PhoneVisemeBaseline:
    """Jaw opening from PocketSphinx phones mapped to visemes, with no training (the Rhubarb Lip Sync approach).

    ``align=False``: the phone loop (~25x real time). ``align=True``: word recognition, then a forced phone
    alignment of the recognised words (~4-5x real time). Phones go through the same viseme targets and coarticulation
    as the synthetic corpus (``models.motion.corpus.visemes``), with the same ``lead_s``. Only the mouth dims are
    produced; every other dim stays neutral. Needs ``pocketsphinx``. For benchmarks: this is the reference the
    network must beat.
    """

    def __init__(self, *, align: bool = True, lead_s: float = 0.10) -> None:
        self.align = align
        self.lead_s = lead_s

    def jaw(self, audio: _audio.AudioSource, *, sample_rate: int | None = None, fps: int = DEFAULT_FPS) -> np.ndarray:
        from . import features as F
        from .corpus.espeak import Phone
        from .corpus.visemes import ARPABET_IPA, mouth_track, to_video_frames

        samples = F.normalize_loudness(_audio.load_audio(audio, sample_rate=sample_rate))
        segs = _aligned_phones(samples) if self.align else None
        if not segs:  # no words recognised, or the alignment pass failed: fall back to the phone loop
            segs = F.phone_segments(samples)
        phones = [Phone(ARPABET_IPA[w], a / 100, (b + 1) / 100) for w, a, b in segs if w in ARPABET_IPA]
        n = _audio.frame_count(samples.size, fps)
        track = mouth_track(phones, samples.size / _audio.SAMPLE_RATE, lead_s=self.lead_s)
        return to_video_frames(track, n, fps=fps)[:, 0]


def _aligned_phones(samples: np.ndarray) -> list[tuple[str, int, int]]:
    """Words recognised with the en-US LM, then force-aligned to phones: (phone, first 10 ms frame, last frame)."""
    from pocketsphinx import Decoder

    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    dec = Decoder(loglevel="FATAL", samprate=_audio.SAMPLE_RATE)
    dec.start_utt()
    dec.process_raw(pcm, full_utt=True)
    dec.end_utt()
    hyp = dec.hyp()
    if hyp is None or not hyp.hypstr.strip():
        return []
    try:
        dec.set_align_text(hyp.hypstr)
        for _ in range(2):  # pass 1: word alignment; pass 2 (after set_alignment): phone alignment
            dec.start_utt()
            dec.process_raw(pcm, full_utt=True)
            dec.end_utt()
            if dec.get_alignment() is None:
                dec.set_alignment()
    except RuntimeError:  # PocketSphinx cannot align some hypotheses
        log.warning("PocketSphinx phone alignment failed; using the phone loop")
        return []
    out = []
    for word in dec.get_alignment():
        for phone in word:
            out.append((phone.name, phone.start, phone.start + phone.duration - 1))
    return out
