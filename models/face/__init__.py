"""Stage 2, animation + portrait -> frames: face landmarks, image loading, framing, the expression deformation and
the renderers (``FaceRenderer``, ``OnnxRenderer``).

RAW primitive: frames made here carry NO watermark. Imports nothing from ``models.motion``; what it shares with it
is ``models.schema``. Names load on first use: the render worker imports ``models.face.renderer`` alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr

if TYPE_CHECKING:
    from .image_io import load_image
    from .onnx_renderer import OnnxRenderer
    from .renderer import FaceRenderer, Renderer

__all__ = ["FaceRenderer", "OnnxRenderer", "Renderer", "load_image"]

__getattr__ = lazy_getattr(
    __name__,
    {"FaceRenderer": ".renderer", "Renderer": ".renderer", "OnnxRenderer": ".onnx_renderer", "load_image": ".image_io"},
)
