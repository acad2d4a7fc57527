"""Audio -> motion. RAW primitive: its output is an animation, not media; only ``sdk`` turns it into files.

This is the walking-skeleton motion model: jaw opening from the loudness envelope (leading the sound slightly, as real
mouths do), seeded stochastic blinks, brow emphasis and smooth head sway, so different seeds give different plausible
animations of the same audio. The DIRFA network (autoregressive transformer) replaces it behind the same API.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np

from . import audio as _audio
from .errors import AudioError
from .motion import DEFAULT_FPS, MOTION_INDEX, MotionSequence, clip_motion, neutral_motion


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


class MotionModel:
    """Generates a :class:`MotionSequence` from speech audio."""

    name = "dirfa-loudness-baseline"
    version = "0.1.0"

    def __init__(self, config: LoudnessConfig | None = None) -> None:
        self.config = config or LoudnessConfig()

    @classmethod
    def load(cls) -> MotionModel:
        """The shipped model."""
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
        jaw = _shift_earlier(jaw, int(round(cfg.lead_s * fps)))
        values[:, MOTION_INDEX["jaw_open"]] = cfg.jaw_max * jaw * expressiveness
        values[:, MOTION_INDEX["lip_stretch"]] = 0.05 * jaw * expressiveness

        # Brows lift a little on stressed (loud-onset) syllables.
        onset = np.clip(np.diff(jaw, prepend=jaw[:1]) * 4, 0, 1)
        values[:, MOTION_INDEX["brow_raise"]] = _smooth(onset, 0.2 * fps) * 0.6 * expressiveness

        blinks = _blinks(n, fps, rng, cfg)
        values[:, MOTION_INDEX["blink_left"]] = blinks
        values[:, MOTION_INDEX["blink_right"]] = blinks

        scale = temperature * head_motion
        for dim, std in (("head_yaw", cfg.head_yaw_deg), ("head_pitch", cfg.head_pitch_deg), ("head_roll", cfg.head_roll_deg)):
            values[:, MOTION_INDEX[dim]] = std * scale * _smooth_noise(n, cfg.head_sway_s * fps, rng)
        # Nod slightly with speech energy.
        values[:, MOTION_INDEX["head_pitch"]] += 1.5 * head_motion * (jaw - jaw.mean())
        return MotionSequence(values=clip_motion(values), fps=fps, seed=seed)


def _smooth(x: np.ndarray, width_frames: float) -> np.ndarray:
    if width_frames < 1:
        return x.astype(np.float32)
    radius = max(1, int(round(width_frames * 1.5)))
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
