"""Frame validation shared by the embedder and the detector: bad input raises, never a silent skip."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import WatermarkInputError

MIN_EMBED_SHORT = 256  # below this the working grid (short side 256 px) would be upsampled: too small to carry
MIN_DETECT_SHORT = 64
MAX_ASPECT = 4.0


def check_frame(frame: object, index: int, *, min_short: int) -> np.ndarray:
    if not isinstance(frame, np.ndarray):
        raise WatermarkInputError(f"frame {index}: expected a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise WatermarkInputError(f"frame {index}: expected dtype uint8, got {frame.dtype}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise WatermarkInputError(f"frame {index}: expected an RGB array of shape (H, W, 3), got {frame.shape}")
    h, w = frame.shape[:2]
    if min(h, w) < min_short:
        raise WatermarkInputError(
            f"frame {index}: {w}x{h} is too small to carry the watermark (short side must be >= {min_short})"
        )
    if max(h, w) > MAX_ASPECT * min(h, w):
        raise WatermarkInputError(f"frame {index}: aspect ratio {w}x{h} is beyond {MAX_ASPECT}:1")
    return frame


@dataclass(frozen=True)
class FramePair:
    """One frame at two resolutions, for a caller that decodes to the working grid (a verifier scaling frames
    down while decoding): ``work`` is measured by the aligned pass; ``fine()`` returns the same picture at a
    higher resolution (short side up to 512 px is used) and is called only for the frames the detector keeps
    for its blind search. Insets and 9:16 canvases hold the mark at a fraction of the frame, which a 128-px
    working frame no longer resolves."""

    work: np.ndarray
    fine: Callable[[], np.ndarray]


def check_fine(fine: object, work: np.ndarray, index: int) -> np.ndarray:
    """A :class:`FramePair`'s fine frame: an RGB uint8 array of the work frame's aspect, no smaller than it."""
    frame = check_frame(fine, index, min_short=min(work.shape[:2]))
    (h, w), (wh, ww) = frame.shape[:2], work.shape[:2]
    if abs(h * ww - w * wh) > max(h, w) * max(wh, ww) * 0.02:
        raise WatermarkInputError(f"frame {index}: fine frame {w}x{h} does not have the aspect of {ww}x{wh}")
    return frame
