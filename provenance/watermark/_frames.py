"""Frame validation shared by the embedder and the detector: bad input raises, never a silent skip."""

from __future__ import annotations

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
