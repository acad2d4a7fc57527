"""Provenance primitives: the invisible video watermark, C2PA manifests, signing identities, trust anchors and the
manifest store.

These are RAW primitives: ``VideoWatermarker.embed`` yields marked frames and ``manifest.sign_file`` signs a file,
but neither writes a finished, verified product on its own. ``sdk.Generator`` is the only caller that combines them
into files; ``verifier.verify`` is the one call that checks them. Light: no torch, onnxruntime, mediapipe or OpenCV.
"""

import logging

from ._version import PRODUCT_NAME, __version__
from .audiomark import AudioWatermarkDetection, AudioWatermarker
from .errors import (
    IdentityError,
    ManifestError,
    ProvenanceError,
    SigningError,
    StoreError,
    WatermarkError,
    WatermarkInputError,
)
from .manifest import SOFT_BINDING_ALG, Ingredient, ManifestInfo, ModelInfo
from .signing import SigningIdentity, dev_identity
from .store import ManifestRecord, ManifestStore, open_store
from .trust import TrustAnchors
from .validation import ManifestFinding, ManifestStatus, read_manifest, validate_detached
from .watermark import VideoWatermarker, WatermarkDetection, new_content_id

__all__ = [
    "PRODUCT_NAME",
    "SOFT_BINDING_ALG",
    "AudioWatermarkDetection",
    "AudioWatermarker",
    "IdentityError",
    "Ingredient",
    "ManifestError",
    "ManifestFinding",
    "ManifestInfo",
    "ManifestRecord",
    "ManifestStatus",
    "ManifestStore",
    "ModelInfo",
    "ProvenanceError",
    "SigningError",
    "SigningIdentity",
    "StoreError",
    "TrustAnchors",
    "VideoWatermarker",
    "WatermarkDetection",
    "WatermarkError",
    "WatermarkInputError",
    "__version__",
    "dev_identity",
    "new_content_id",
    "open_store",
    "read_manifest",
    "validate_detached",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
