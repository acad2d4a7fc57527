"""Pin each package's public API: a change here is a deliberate API change."""

import importlib

import pytest

EXPECTED = {
    "sdk": {
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
    },
    "verifier": {"SCHEMA_VERSION", "Limits", "VerificationReport", "Verdict", "__version__", "verify"},
    "provenance": {
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
    },
    "provenance.audiomark": {
        "AUDIO_SOFT_BINDING_ALG",
        "SPEED_SEARCH",
        "AudioEmbedParams",
        "AudioMarkSegment",
        "AudioWatermarkDetection",
        "AudioWatermarker",
    },
    "models": {
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
    },
}


@pytest.mark.parametrize("package", sorted(EXPECTED))
def test_public_api_is_pinned(package):
    module = importlib.import_module(package)
    assert set(module.__all__) == EXPECTED[package]
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.{name} is exported but missing"
