"""Errors raised by ``sdk``. Input errors are ``ValueError`` subclasses, so callers can catch either.

GeneratorError
├── InputError (ValueError)               from models: bad portrait or audio
│   ├── ImageError ── NoFaceError, FaceTooSmallError
│   ├── AudioError                        unreadable, empty, silent, too long
│   └── VideoError                        a dub's source video: unreadable, no video stream, too small, no face
├── OutputError (ValueError)              unwritable directory, output equal to an input, unsupported extension
├── ProvenanceFailure                     a watermark or signature could not be applied or did not verify
│                                         (the output is NOT written: provenance never degrades silently)
└── RenderError                           the render stage failed: its worker process died or the renderer
                                          raised there (nothing is written)
"""

from __future__ import annotations

from models.errors import AudioError, FaceTooSmallError, ImageError, InputError, ModelsError, NoFaceError
from provenance.errors import ProvenanceError


class GeneratorError(Exception):
    """Base class of errors raised by the Generator itself."""


class OutputError(GeneratorError, ValueError):
    """The output path cannot be used."""


class VideoError(InputError):
    """The source video of a dub cannot be used (unreadable, no video stream, too small, no face in any frame)."""


class ProvenanceFailure(GeneratorError):
    """Provenance could not be applied or the self-verification of the output failed."""


class RenderError(GeneratorError):
    """The render stage failed: the render worker process died, or the renderer raised in it."""


__all__ = [
    "AudioError",
    "FaceTooSmallError",
    "GeneratorError",
    "ImageError",
    "InputError",
    "ModelsError",
    "NoFaceError",
    "OutputError",
    "ProvenanceError",
    "ProvenanceFailure",
    "RenderError",
    "VideoError",
]
