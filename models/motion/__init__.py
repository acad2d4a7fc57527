"""Stage 1, audio -> animation: the audio front end, the DIRFA motion network and its ONNX runtime (``MotionModel``),
its training (``models.motion.train``), export (``models.motion.export``), real-video targets
(``models.motion.video_targets``) and the synthetic training corpus (``models.motion.corpus``).

RAW primitive: imports nothing from ``models.face``; what it shares with it is ``models.schema``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr

if TYPE_CHECKING:
    from .audio import load_audio
    from .model import MotionModel

__all__ = ["MotionModel", "load_audio"]

__getattr__ = lazy_getattr(__name__, {"MotionModel": ".model", "load_audio": ".audio"})
