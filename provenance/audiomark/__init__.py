"""Audio watermark carrying the render's 48-bit content ID in the soundtrack (numpy only, no torch).

The raw embedder returns marked samples WITHOUT signed provenance: ``sdk`` is the only caller that turns them
into files. See docs/audiomark.md for the design, the null model behind the p-value and measured robustness.
"""

from ._api import AUDIO_SOFT_BINDING_ALG, SPEED_SEARCH, AudioMarkSegment, AudioWatermarkDetection, AudioWatermarker
from ._embed import AudioEmbedParams

__all__ = [
    "AUDIO_SOFT_BINDING_ALG",
    "SPEED_SEARCH",
    "AudioEmbedParams",
    "AudioMarkSegment",
    "AudioWatermarkDetection",
    "AudioWatermarker",
]
