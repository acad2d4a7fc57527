"""Portrait loading for the face renderer: any common image input -> RGB uint8 (H, W, 3).

This module only reads images; it never writes media. Accepted inputs:

- a path (``str`` / ``os.PathLike``) or encoded ``bytes`` of any format Pillow reads (JPEG, PNG, WebP, TIFF, BMP, ...);
- a ``PIL.Image.Image``;
- a numpy array, assumed to be **RGB(A)** (not OpenCV's BGR): ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or
  ``(H, W, 4)``; dtype uint8, uint16 (full 16-bit range), bool, or float in ``[0, 1]``.

Normalisation, in this order: EXIF orientation is applied (phone photos come out upright); greyscale is expanded to
three channels; 16-bit and float data are scaled to 8 bits; an alpha channel is composited onto white (transparent
portraits usually have a cut-out subject on a transparent background); images whose longest side exceeds
``max_side`` (default 4096) are downscaled with area averaging, since face landmarks need far less resolution and the
renderer's output is capped anyway. Every failure raises :class:`models.errors.ImageError`.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from typing import Any

import numpy as np

from models.errors import ImageError

logger = logging.getLogger(__name__)

DEFAULT_MAX_SIDE = 4096
# Pillow refuses images above 2 * MAX_IMAGE_PIXELS (~179 MP) as decompression bombs; we keep that refusal (an image
# that large is almost certainly hostile or a mistake) but silence the warning for the 89-179 MP band, which we accept
# and downscale.
_MIN_SIDE = 16


def load_image(source: Any, *, max_side: int = DEFAULT_MAX_SIDE) -> np.ndarray:
    """Load ``source`` as a C-contiguous RGB uint8 array ``(H, W, 3)`` (see the module docstring for inputs)."""
    if max_side < _MIN_SIDE:
        raise ValueError(f"max_side must be >= {_MIN_SIDE}, got {max_side}")
    rgb = _from_array(source) if isinstance(source, np.ndarray) else _from_pil(_open_pil(source, max_side), max_side)
    if min(rgb.shape[:2]) < _MIN_SIDE:
        raise ImageError(f"image is too small ({rgb.shape[1]}x{rgb.shape[0]} px)")
    return _cap_size(rgb, max_side)


def _open_pil(source: Any, max_side: int = DEFAULT_MAX_SIDE) -> Any:
    from PIL import Image

    if isinstance(source, Image.Image):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageError("image bytes are empty")
        fp: Any = io.BytesIO(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        fp = os.fspath(source)
        if not os.path.isfile(fp):
            raise ImageError(f"no image file at {fp!r}")
    else:
        raise TypeError(f"unsupported image input type {type(source).__name__}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(fp)
            if img.format == "JPEG" and max(img.size) > 2 * max_side:
                # Decode huge JPEGs at a reduced DCT scale (1/2 .. 1/8): a 36 MP photo loads several times faster.
                img.draft("RGB", (2 * max_side, 2 * max_side))
            img.load()
    except Image.DecompressionBombError as exc:
        raise ImageError("image has too many pixels to be a portrait") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # UnidentifiedImageError is an OSError
        raise ImageError(f"cannot decode image: {exc}") from exc
    return img


def _from_pil(img: Any, max_side: int) -> np.ndarray:
    from PIL import Image, ImageOps

    try:
        img = ImageOps.exif_transpose(img)
    except Exception as exc:
        logger.warning("ignoring unreadable EXIF orientation: %s", exc)
    # Reduce huge images before any float conversion: area-average in Pillow is cheap and memory-bounded.
    if max(img.size) > 2 * max_side and img.mode in ("RGB", "RGBA", "L", "LA"):
        scale = max_side / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.BOX)
    mode = img.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _from_array(_wide_grey(img))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        return _from_array(np.asarray(img.convert("RGBA")))
    if mode == "L":
        return _from_array(np.asarray(img))
    if mode == "1":
        return _from_array(np.asarray(img.convert("L")))
    try:
        return _from_array(np.asarray(img.convert("RGB")))
    except (OSError, ValueError) as exc:
        raise ImageError(f"cannot convert image mode {mode!r} to RGB") from exc


def _wide_grey(img: Any) -> np.ndarray:
    """Single-channel 16/32-bit integer or float image -> float32 in [0, 1]."""
    arr = np.asarray(img).astype(np.float32)
    if img.mode == "F":
        top = 1.0 if float(np.nanmax(arr)) <= 1.0 else 255.0
    elif img.mode.startswith("I;16") or float(arr.max()) > 255.0:
        top = 65535.0
    else:
        top = 255.0
    return np.clip(np.nan_to_num(arr / top), 0.0, 1.0)


def _from_array(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageError(f"unsupported image array shape {arr.shape}")
    if arr.size == 0:
        raise ImageError("image array is empty")
    if arr.dtype == np.uint8:
        u8 = arr
    elif arr.dtype == np.bool_:
        u8 = arr.astype(np.uint8) * 255
    elif arr.dtype == np.uint16:
        u8 = ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ImageError("image array contains NaN or infinite values")
        u8 = np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
    else:
        raise ImageError(f"unsupported image dtype {arr.dtype} (use uint8, uint16, bool or float in [0, 1])")
    if u8.ndim == 2:
        u8 = np.repeat(u8[:, :, None], 3, axis=2)
    elif u8.shape[2] == 4:
        alpha = u8[:, :, 3:4].astype(np.float32) / 255.0
        u8 = np.rint(u8[:, :, :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(u8)


def _cap_size(rgb: np.ndarray, max_side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if max(h, w) <= max_side:
        return rgb
    import cv2

    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
