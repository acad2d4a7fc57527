"""AudioWatermarker: embed / detect the 48-bit content ID in a soundtrack. RAW primitive: ``embed`` returns
marked samples WITHOUT signed provenance; ``sdk`` is the only caller that turns them into files."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import WatermarkError, WatermarkInputError
from ..watermark import _code
from ..watermark._keys import normalise_key
from . import _detect, _grid
from ._embed import AudioEmbedParams, check_rate, embed_samples

logger = logging.getLogger(__name__)

# +-5 %: hypotheses 0.25 % apart, so no speed in range is further than 0.125 % from one. Measured on real speech
# (docs/audiomark.md): a mark decodes up to ~0.13 % off its speed, not 0.25 % off (the 0.5 % grid's worst case:
# 15 of 30 exactly halfway). The speeds are ranked on a warped spectrogram and only the best few searched
# exactly (_detect.search), so the finer grid costs little.
SPEED_SEARCH = tuple(round(1.0 + 0.0025 * i, 4) for i in range(-20, 21))
MIN_DURATION_S = 1.0
AUDIO_SOFT_BINDING_ALG = "io.github.dirfa.audiomark.v2"  # the manifest's second c2pa.soft-binding


@dataclass(frozen=True)
class AudioMarkSegment:
    """One payload period of the best hypothesis: its span in the input and how well it agrees alone."""

    start_s: float
    end_s: float
    agreement: float  # fraction of this period's hard symbol decisions that match the decoded codeword


@dataclass(frozen=True)
class AudioWatermarkDetection:
    found: bool
    content_id: str | None  # only when found
    log10_p_value: float  # union-bounded over every ID, alignment and speed searched
    agreement: float
    n_bits: int
    speed: float  # playback-speed factor of the best hypothesis (1.0 = unchanged)
    offset_s: float
    segments: tuple[AudioMarkSegment, ...]
    key_id: str
    duration_s: float

    @property
    def p_value(self) -> float:
        return 10.0**self.log10_p_value


def _mono(samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples)
    if x.dtype.kind not in "fiu":
        raise WatermarkInputError("audio samples must be a numeric array")
    if x.dtype.kind in "iu":
        x = x.astype(np.float64) / float(np.iinfo(x.dtype).max)
    x = x.astype(np.float64)
    if x.ndim == 2:  # (samples, channels)
        x = x.mean(axis=1)
    if x.ndim != 1 or x.size == 0:
        raise WatermarkInputError("audio samples must be 1-D (mono) or (samples, channels), and not empty")
    if not np.all(np.isfinite(x)):
        raise WatermarkInputError("audio samples contain NaN or infinity")
    return x


class AudioWatermarker:
    """Keyed audio watermark carrying the same 48-bit content ID as the video mark (docs/audiomark.md)."""

    def __init__(self, key: bytes | str | None = None, *, params: AudioEmbedParams | None = None) -> None:
        self._key = normalise_key(key)
        if key is None:
            self._key = _grid.PUBLIC_KEY
        self.params = params or AudioEmbedParams()
        self.key_id = _grid.key_id(self._key)

    def embed(self, samples: np.ndarray, rate: int, content_id: str) -> np.ndarray:
        """Marked float32 mono copy of ``samples`` at ``rate``. Raises WatermarkError if nothing can carry it."""
        x = _mono(samples)
        check_rate(rate)
        if x.size < MIN_DURATION_S * rate:
            raise WatermarkInputError(f"audio shorter than {MIN_DURATION_S} s cannot carry the mark")
        coded = _code.encode(_code.content_id_to_bits(content_id, version=_detect.AUDIO_PAYLOAD_VERSION))
        if not np.any(np.abs(x) > 1e-4):
            raise WatermarkError("audio is silent: there is no signal to carry the mark")
        y = embed_samples(x, int(rate), coded, self._key, self.params)
        return np.clip(y, -1.0, 1.0).astype(np.float32)

    def detect(
        self, samples: np.ndarray, rate: int, *, speeds: tuple[float, ...] | None = None
    ) -> AudioWatermarkDetection:
        """Search ``samples`` for the mark. ``speeds``: playback-speed hypotheses (default SPEED_SEARCH; every
        one is counted in the p-value). Absence is a result (found=False), not an exception."""
        x = _mono(samples)
        if not isinstance(rate, (int, np.integer)) or rate < 8000:
            raise WatermarkInputError("audio sample rate must be an integer >= 8000")
        speeds = SPEED_SEARCH if speeds is None else tuple(float(s) for s in speeds)
        if not speeds or any(not (0.5 < s < 2.0) for s in speeds):
            raise WatermarkInputError("speeds must be a non-empty tuple of factors in (0.5, 2)")
        z = _detect.resample(x, int(rate), _grid.ANALYSIS_RATE)
        # the bound counts the full default speed search even when fewer speeds are searched (fast mode), so one
        # file's p-value does not depend on how it was searched
        n_counted = max(len(speeds), len(SPEED_SEARCH))
        duration = x.size / rate
        # speed 1 first: a clean hit there skips the rest of the search (still counted in the bound)
        best = _detect.search(z, self._key, self.params.step, speeds, n_speeds=n_counted)
        if best is None:
            return AudioWatermarkDetection(False, None, 0.0, 0.0, 0, 1.0, 0.0, (), self.key_id, duration)
        found = best.log10_p <= _detect.LOG10_ALPHA and best.version == _detect.AUDIO_PAYLOAD_VERSION
        return AudioWatermarkDetection(
            found=found,
            content_id=best.content_id if found else None,
            log10_p_value=best.log10_p,
            agreement=best.agree / max(best.n_bits, 1),
            n_bits=best.n_bits,
            speed=best.speed,
            offset_s=best.tile_start_s,
            segments=tuple(AudioMarkSegment(*seg) for seg in best.segments) if found else (),
            key_id=self.key_id,
            duration_s=duration,
        )
