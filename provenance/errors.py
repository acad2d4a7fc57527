"""Errors raised by ``provenance``.

ProvenanceError
├── WatermarkError                       a mark cannot be embedded (never skipped silently)
│   └── WatermarkInputError (ValueError) bad frames: dtype, shape, too small, empty
├── SigningError                         a manifest cannot be built or signed
│   └── IdentityError (ValueError)       a signing identity fails validation at load time
├── ManifestError                        a manifest cannot be read (wraps c2pa errors)
└── StoreError                           the manifest store failed
"""

from __future__ import annotations


class ProvenanceError(Exception):
    """Base class of every error raised by ``provenance``."""


class WatermarkError(ProvenanceError):
    """A watermark could not be embedded."""


class WatermarkInputError(WatermarkError, ValueError):
    """Frames given to the watermarker are unusable."""


class SigningError(ProvenanceError):
    """A manifest could not be built or signed."""


class IdentityError(SigningError, ValueError):
    """A signing identity is invalid (EKU, CA as leaf, validity, key mismatch, chain order)."""


class ManifestError(ProvenanceError):
    """A manifest could not be read."""


class StoreError(ProvenanceError):
    """The manifest store failed."""
