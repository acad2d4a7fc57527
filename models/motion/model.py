"""Audio -> motion with the DIRFA network. RAW primitive: its output is an animation, not media; only ``sdk``
turns it into files.

``MotionModel.load()`` opens the shipped ONNX package (``models/motion/data/dirfa_motion.zip``, found with
importlib.resources, its sha256 checked against the card ``dirfa_motion.json``) and runs it with onnxruntime; torch
is never imported. ``generate`` decodes the audio (anything PyAV reads), computes the network's features
(``models.motion.features``: loudness-normalised log-mel + PocketSphinx phone fractions) and samples one animation.
Different seeds give different head motion, blinks, gaze and brows for the same audio; the mouth follows the audio
(its per-frame noise is off, only the clip-level style latent varies it). Blinks and brow raises are drawn from the
seed on top of the network's output, and gaze is smoothed (``models.motion._events``): a per-frame Gaussian cannot
produce rare, sharp events.

The loudness baseline this replaces lives on in ``models.motion.baseline.LoudnessBaseline`` for comparison.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import numbers
import secrets
from dataclasses import dataclass
from importlib import resources

import numpy as np

from ..errors import AudioError, ModelError
from ..schema import DEFAULT_FPS, MOTION_INDEX, MotionSequence, clip_motion, neutral_motion
from . import audio as _audio
from . import features as _features
from ._events import add_events
from .runtime import MotionRuntime

log = logging.getLogger(__name__)

CARD_FILE = "dirfa_motion.json"
MAX_SCALE = 3.0  # expressiveness / head_motion above this only drive the motion into its clipping limits


def check_scales(expressiveness: object, head_motion: object) -> None:
    """ValueError unless both are finite real numbers in [0, MAX_SCALE]."""
    for name, value in (("expressiveness", expressiveness), ("head_motion", head_motion)):
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
        if not (ok and 0.0 <= float(value) <= MAX_SCALE):  # type: ignore[arg-type]
            raise ValueError(f"{name} must be a number in [0, {MAX_SCALE:g}], got {value!r}")


_MOUTH_AND_FACE = [MOTION_INDEX[n] for n in ("jaw_open", "lip_stretch", "lip_pucker", "upper_lip_raise",
                                              "lower_lip_depress", "smile", "brow_raise", "brow_furrow")]  # fmt: skip
_HEAD = [MOTION_INDEX[n] for n in ("head_yaw", "head_pitch", "head_roll", "head_tx", "head_ty", "head_scale")]


@dataclass(frozen=True)
class ModelCard:
    name: str
    version: str
    sha256: str  # of the weights file (the ONNX package)


class MotionModel:
    """Generates a :class:`MotionSequence` from speech audio with the DIRFA stage-1 network (onnxruntime)."""

    def __init__(self, package: bytes, card: dict) -> None:
        self._card = card
        self.runtime = MotionRuntime(package, expected_sha256=card.get("sha256"))
        self.name = str(card["name"])
        self.version = str(card["version"])

    @classmethod
    def load(cls, directory: str | None = None) -> MotionModel:
        """The shipped model (or the package exported into ``directory``). Raises :class:`ModelError`."""
        try:
            if directory is None:
                data = resources.files("models.motion").joinpath("data")
            else:
                from pathlib import Path

                data = Path(directory)
            card = json.loads(data.joinpath(CARD_FILE).read_text())
            package = data.joinpath(card["file"]).read_bytes()
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"motion model weights missing or unreadable: {exc}") from exc
        if hashlib.sha256(package).hexdigest() != card.get("sha256"):
            raise ModelError("motion model weights do not match the sha256 in their card (corrupt or replaced)")
        wanted = card.get("audio_encoder")
        if wanted is not None:  # 2.x: the network was trained on this exact encoder's features
            from .whisper import shared_encoder

            if shared_encoder().sha256 != wanted.get("sha256"):
                raise ModelError("the audio encoder is not the one this motion model was trained with")
        return cls(package, card)

    @property
    def card(self) -> ModelCard:
        return ModelCard(self.name, self.version, self.runtime.sha256)

    @property
    def info(self) -> dict:
        """The full card: metrics, training summary, config."""
        return dict(self._card)

    def close(self) -> None:
        self.runtime.close()

    def __enter__(self) -> MotionModel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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
        """Animate ``audio`` (a path, bytes, or a mono float array with ``sample_rate``).

        ``seed`` makes the result reproducible (one is drawn and recorded in the result when omitted);
        ``temperature`` scales the sampling noise (0 = the most likely animation for the style latent's mean);
        ``expressiveness`` scales mouth, smile and brow movement, ``head_motion`` the head pose.
        """
        if temperature < 0:
            raise ValueError("temperature must be >= 0")
        if fps <= 0:
            raise ValueError("fps must be > 0")
        check_scales(expressiveness, head_motion)
        samples = _audio.load_audio(audio, sample_rate=sample_rate)
        if _audio.is_silent(samples):
            raise AudioError("audio is silent")
        if seed is None:
            seed = secrets.randbits(63)
        try:
            cfg = self.runtime.cfg.raw
            feats = _features.audio_features(
                samples,
                phones=bool(cfg["phones"]),
                mel=bool(cfg.get("mel", True)),
                visemes=bool(cfg.get("visemes", False)),
                whisper=bool(cfg.get("whisper", False)),
            )
        except _features.PhoneRecognizerUnavailable as exc:
            raise ModelError("this motion model (1.x) needs pocketsphinx: pip install pocketsphinx==5.1.1") from exc
        values = self.runtime.generate(feats, rng=np.random.default_rng(seed), temperature=float(temperature))
        values = add_events(values, seed)
        if fps != _features.FPS:
            values = _resample(values, _audio.frame_count(samples.size, fps), fps / _features.FPS)
        neutral = neutral_motion()
        values[:, _MOUTH_AND_FACE] = neutral[_MOUTH_AND_FACE] + expressiveness * (
            values[:, _MOUTH_AND_FACE] - neutral[_MOUTH_AND_FACE]
        )
        values[:, _HEAD] = neutral[_HEAD] + head_motion * (values[:, _HEAD] - neutral[_HEAD])
        return MotionSequence(values=clip_motion(values), fps=fps, seed=seed)


def _resample(values: np.ndarray, n: int, ratio: float) -> np.ndarray:
    """Linear interpolation of a 25 fps sequence onto ``n`` frames at ``25 * ratio`` fps (frame centres)."""
    src = (np.arange(values.shape[0]) + 0.5) / _features.FPS
    dst = (np.arange(n) + 0.5) / (_features.FPS * ratio)
    return np.stack([np.interp(dst, src, values[:, d]) for d in range(values.shape[1])], axis=1).astype(np.float32)
