"""DIRFA's two stages: audio -> animation (``MotionModel``) and animation + portrait -> frames (``FaceRenderer``).

RAW primitives: frames made here carry NO watermark and NO manifest. Only ``sdk.Generator`` turns them into files,
and it always marks, signs and verifies what it writes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ._lazy import lazy_getattr

if TYPE_CHECKING:
    from .audio import load_audio
    from .errors import AudioError, FaceTooSmallError, ImageError, InputError, ModelError, ModelsError, NoFaceError
    from .image_io import load_image
    from .motion import MOTION_DIMS, MOTION_NAMES, MotionDim, MotionSequence, neutral_motion
    from .motion_model import MotionModel
    from .onnx_renderer import OnnxRenderer
    from .renderer import FaceRenderer, Renderer

# Public names load on first use (PEP 562): the render worker process imports ``models.renderer`` alone, without
# onnxruntime and the audio stack.
_SOURCES = {
    **{n: ".errors" for n in ("AudioError", "FaceTooSmallError", "ImageError", "InputError", "ModelError",
                              "ModelsError", "NoFaceError")},
    **{n: ".motion" for n in ("MOTION_DIMS", "MOTION_NAMES", "MotionDim", "MotionSequence", "neutral_motion")},
    "load_audio": ".audio",
    "load_image": ".image_io",
    "MotionModel": ".motion_model",
    "OnnxRenderer": ".onnx_renderer",
    "FaceRenderer": ".renderer",
    "Renderer": ".renderer",
}  # fmt: skip

__all__ = [
    "MOTION_DIMS",
    "MOTION_NAMES",
    "AudioError",
    "FaceRenderer",
    "FaceTooSmallError",
    "ImageError",
    "InputError",
    "ModelError",
    "ModelsError",
    "MotionDim",
    "MotionModel",
    "MotionSequence",
    "NoFaceError",
    "OnnxRenderer",
    "Renderer",
    "load_audio",
    "load_image",
    "neutral_motion",
]


__getattr__ = lazy_getattr(__name__, _SOURCES)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


logging.getLogger(__name__).addHandler(logging.NullHandler())
