"""Errors raised by ``models``.

ModelsError
├── InputError (also ValueError)        bad caller input
│   ├── ImageError                       unreadable / unsupported image
│   │   ├── NoFaceError                  no face found (or face_index out of range)
│   │   └── FaceTooSmallError            face too small to animate
│   └── AudioError                       unreadable / unsupported / empty / silent audio
└── ModelError                           weights missing, corrupt (sha256 mismatch) or incompatible
"""

from __future__ import annotations


class ModelsError(Exception):
    """Base class of every error raised by ``models``."""


class InputError(ModelsError, ValueError):
    """The caller's input cannot be used."""


class ImageError(InputError):
    """The image cannot be read or is not a supported format."""


class NoFaceError(ImageError):
    """No (such) face was found in the portrait."""


class FaceTooSmallError(ImageError):
    """The face is too small to animate."""


class AudioError(InputError):
    """The audio cannot be read, is empty, silent, or too long."""


class ModelError(ModelsError):
    """Model weights are missing, corrupt or incompatible."""
