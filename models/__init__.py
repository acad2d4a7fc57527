"""DIRFA's two stages: audio -> animation (``MotionModel``) and animation + portrait -> frames (``FaceRenderer``).

RAW primitives: frames made here carry NO watermark and NO manifest. Only ``sdk.Generator`` turns them into files,
and it always marks, signs and verifies what it writes.
"""

import logging

from .audio import load_audio
from .errors import AudioError, FaceTooSmallError, ImageError, InputError, ModelError, ModelsError, NoFaceError
from .image_io import load_image
from .motion import MOTION_DIMS, MOTION_NAMES, MotionDim, MotionSequence, neutral_motion
from .motion_model import MotionModel
from .onnx_renderer import OnnxRenderer
from .renderer import FaceRenderer, Renderer

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

logging.getLogger(__name__).addHandler(logging.NullHandler())
