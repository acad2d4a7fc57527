"""The safe, user-facing layer: every file it writes carries an invisible watermark and a signed C2PA manifest,
and is verified before it is handed back.

    from sdk import Generator
    result = Generator().render("portrait.jpg", "speech.wav", output="talking.mp4", seed=7)
    result.path, result.content_id
"""

import logging

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
)
from .generator import Generator, ManifestSummary, RenderResult

__all__ = [
    "AudioError",
    "FaceTooSmallError",
    "Generator",
    "GeneratorError",
    "ImageError",
    "InputError",
    "ManifestSummary",
    "NoFaceError",
    "OutputError",
    "ProvenanceFailure",
    "RenderJob",
    "RenderOutcome",
    "RenderResult",
    "__version__",
    "read_jobs",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
