"""The safe, user-facing layer: every file it writes carries an invisible watermark and a signed C2PA manifest,
and is verified before it is handed back.

    from sdk import Generator
    result = Generator().render("portrait.jpg", "speech.wav", output="talking.mp4", seed=7)
    result.path, result.content_id

The public names are loaded on first use (PEP 562), so that the render worker process (``python -m
sdk._render_worker``) starts without importing the models, provenance and verifier stacks it does not need.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from models._lazy import lazy_getattr

if TYPE_CHECKING:
    from provenance._version import __version__

    from .batch import RenderJob, RenderOutcome, read_jobs
    from .errors import (
        AudioError,
        FaceTooSmallError,
        GeneratorError,
        ImageError,
        InputError,
        NoFaceError,
        OutputError,
        ProvenanceFailure,
        RenderError,
        VideoError,
    )
    from .generator import Generator
    from .results import DubResult, ManifestSummary, RenderResult

_ERRORS = ("AudioError", "FaceTooSmallError", "GeneratorError", "ImageError", "InputError", "NoFaceError",
           "OutputError", "ProvenanceFailure", "RenderError", "VideoError")  # fmt: skip
_SOURCES = {
    **{name: ".errors" for name in _ERRORS},
    **{name: ".batch" for name in ("RenderJob", "RenderOutcome", "read_jobs")},
    "Generator": ".generator",
    **{name: ".results" for name in ("DubResult", "ManifestSummary", "RenderResult")},
    "__version__": "provenance._version",
}

__all__ = [
    "AudioError",
    "DubResult",
    "FaceTooSmallError",
    "Generator",
    "GeneratorError",
    "ImageError",
    "InputError",
    "ManifestSummary",
    "NoFaceError",
    "OutputError",
    "ProvenanceFailure",
    "RenderError",
    "RenderJob",
    "RenderOutcome",
    "RenderResult",
    "VideoError",
    "__version__",
    "read_jobs",
]


__getattr__ = lazy_getattr(__name__, _SOURCES)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


logging.getLogger(__name__).addHandler(logging.NullHandler())
