"""DIRFA's two stages: audio -> animation (``MotionModel``) and animation + portrait -> frames (``FaceRenderer``).

Layout: ``models.motion`` is the audio -> animation stage (audio front end, network, training, export, runtime, the
synthetic corpus), ``models.face`` the portrait -> frames stage (landmarks, framing, deformation, renderers). They
share only ``models.schema`` (the motion representation), ``models.errors`` and helpers at this root; neither
imports the other.

RAW primitives: frames made here carry NO watermark and NO manifest. Only ``sdk.Generator`` turns them into files,
and it always marks, signs and verifies what it writes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ._lazy import lazy_getattr

if TYPE_CHECKING:
    from .errors import AudioError, FaceTooSmallError, ImageError, InputError, ModelError, ModelsError, NoFaceError
    from .face.image_io import load_image
    from .face.onnx_renderer import OnnxRenderer
    from .face.renderer import FaceRenderer, Renderer
    from .motion.audio import load_audio
    from .motion.model import MotionModel
    from .schema import MOTION_DIMS, MOTION_NAMES, MotionDim, MotionSequence, neutral_motion

# Public names load on first use (PEP 562): the render worker process imports ``models.face.renderer`` alone, without
# onnxruntime and the audio stack.
_SOURCES = {
    **{n: ".errors" for n in ("AudioError", "FaceTooSmallError", "ImageError", "InputError", "ModelError",
                              "ModelsError", "NoFaceError")},
    **{n: ".schema" for n in ("MOTION_DIMS", "MOTION_NAMES", "MotionDim", "MotionSequence", "neutral_motion")},
    "load_audio": ".motion.audio",
    "load_image": ".face.image_io",
    "MotionModel": ".motion.model",
    "OnnxRenderer": ".face.onnx_renderer",
    "FaceRenderer": ".face.renderer",
    "Renderer": ".face.renderer",
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
