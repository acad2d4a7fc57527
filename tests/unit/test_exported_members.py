"""Pin each package's public API: a change here is a deliberate API change."""

import importlib

import pytest

EXPECTED = {
    "sdk": {
        "AudioError", "FaceTooSmallError", "Generator", "GeneratorError", "ImageError", "InputError",
        "ManifestSummary", "NoFaceError", "OutputError", "ProvenanceFailure", "RenderJob", "RenderOutcome",
        "RenderResult", "__version__", "read_jobs",
    },
    "verifier": {"SCHEMA_VERSION", "Limits", "VerificationReport", "Verdict", "__version__", "verify"},
}


@pytest.mark.parametrize("package", sorted(EXPECTED))
def test_public_api_is_pinned(package):
    module = importlib.import_module(package)
    assert set(module.__all__) == EXPECTED[package]
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.{name} is exported but missing"
