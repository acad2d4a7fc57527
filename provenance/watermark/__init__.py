"""Invisible video watermark carrying a 48-bit content ID (numpy + PyWavelets only; no OpenCV, torch or
invisible-watermark import).

The raw embedder emits frames WITHOUT signed provenance: ``sdk`` is the only caller that turns them into
files. See docs/watermark.md for the specification and the threat model.
"""

from ._api import VideoWatermarker, WatermarkDetection, WatermarkSegment, WindowResult, new_content_id
from ._embed import EmbedParams
from ._frames import FramePair

__all__ = [
    "EmbedParams",
    "FramePair",
    "VideoWatermarker",
    "WatermarkDetection",
    "WatermarkSegment",
    "WindowResult",
    "new_content_id",
]
