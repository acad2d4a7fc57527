"""The manifest builder: every assertion lands in a real signed MP4 and reads back as written."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from provenance._c2pa_samples import make_mp4, sample_info, write_pki
from provenance.errors import SigningError
from provenance.manifest import (
    DIGITAL_SOURCE_TYPE,
    GENERATION_LABEL,
    SOFT_BINDING_ALG,
    TRAINING_MINING_LABEL,
    Ingredient,
    ManifestInfo,
    ModelInfo,
    TrainingUse,
    sign_file,
)
from provenance.signing import SigningIdentity
from provenance.trust import TrustAnchors
from provenance.validation import ManifestStatus, read_manifest


def make_info(content_id: str = "0123456789ab", **overrides) -> ManifestInfo:
    return sample_info(content_id, **overrides)


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    d = tmp_path_factory.mktemp("manifest")
    pki = write_pki(d / "pki")
    identity = SigningIdentity.from_pem(pki["chain.pem"], pki["leaf.key"])
    src = make_mp4(d / "in.mp4")
    manifest = sign_file(src, d / "out.mp4", identity=identity, info=make_info())
    finding = read_manifest(d / "out.mp4", trust=TrustAnchors.from_pem(pki["root.pem"]))
    return manifest, finding, d


def test_signed_file_is_trusted_and_returns_manifest_bytes(signed):
    manifest, finding, _ = signed
    assert manifest[4:8] == b"jumb"  # a JUMBF manifest store
    assert finding.status is ManifestStatus.TRUSTED, finding.failures


def test_created_action_names_the_model(signed):
    _, finding, _ = signed
    created = next(a for a in finding.actions if a["action"] == "c2pa.created")
    assert created["digitalSourceType"] == DIGITAL_SOURCE_TYPE == finding.digital_source_type
    assert created["softwareAgent"]["name"] == "dirfa-motion"
    assert created["softwareAgent"]["version"] == "1.2.0"
    assert created["softwareAgent"]["io.github.dirfa.weights_sha256"] == "ab" * 32
    assert created["when"] == "2026-11-26T09:30:00Z"
    assert len(created["parameters"]["ingredients"]) == 2
    assert any(a["action"] == "c2pa.watermarked" for a in finding.actions)


def test_ingredients_are_input_to(signed):
    _, finding, _ = signed
    assert [(i.title, i.format, i.relationship) for i in finding.ingredients] == [
        ("portrait.jpg", "image/jpeg", "inputTo"),
        ("speech.wav", "audio/wav", "inputTo"),
    ]


def test_soft_binding_holds_the_content_id_over_the_whole_timespan(signed):
    _, finding, _ = signed
    sb = finding.soft_binding
    assert (sb.alg, sb.value, sb.start_ms, sb.end_ms) == (SOFT_BINDING_ALG, "0123456789ab", 0, 1000)


def test_generation_parameters_and_training_policy(signed):
    _, finding, _ = signed
    gen = finding.generation
    assert (gen["seed"], gen["fps"], gen["renderer"], gen["duration_s"]) == (1234, 25, "dirfa-warp 0.1", 1.0)
    assert gen["model_version"] == "1.2.0" and gen["content_id"] == "0123456789ab"
    entries = finding.training_mining["entries"]
    assert entries["cawg.ai_training"]["use"] == "notAllowed"
    assert entries["cawg.ai_generative_training"]["use"] == "notAllowed"
    assert entries["cawg.data_mining"]["use"] == "notAllowed"
    assert entries["cawg.ai_inference"]["use"] == "allowed"
    labels = [a["label"] for a in json.loads(finding.manifest_json)["manifests"][finding.manifest_label]["assertions"]]
    assert GENERATION_LABEL in labels and TRAINING_MINING_LABEL in labels


def test_claim_generator_names_the_product(signed):
    _, finding, _ = signed
    assert finding.claim_generator.startswith("dirfa ")


def test_training_policy_is_configurable(signed, tmp_path):
    _, _, d = signed
    pki = write_pki(tmp_path / "pki")
    identity = SigningIdentity.from_pem(pki["chain.pem"], pki["leaf.key"])
    info = make_info(training_mining={"cawg.ai_training": TrainingUse.ALLOWED})
    sign_file(d / "in.mp4", tmp_path / "o.mp4", identity=identity, info=info)
    entries = read_manifest(tmp_path / "o.mp4").training_mining["entries"]
    assert entries == {"cawg.ai_training": {"use": "allowed"}}


@pytest.mark.parametrize(
    "bad",
    [
        dict(content_id="0123456789AB"),
        dict(content_id="0123"),
        dict(fps=0),
        dict(created_at=dt.datetime(2026, 1, 1)),
    ],
)
def test_manifest_info_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        make_info(**bad)


def test_model_and_ingredient_validation():
    with pytest.raises(ValueError):
        ModelInfo("m", "1", "xyz")
    with pytest.raises(ValueError):
        Ingredient(b"", "image/jpeg", "x.jpg")
    with pytest.raises(ValueError):
        Ingredient(b"x", "text/plain", "x.txt")


def test_signing_a_non_mp4_fails_typed_and_leaves_nothing(signed, tmp_path):
    _, _, d = signed
    pki = write_pki(tmp_path / "pki")
    identity = SigningIdentity.from_pem(pki["chain.pem"], pki["leaf.key"])
    src = tmp_path / "bad.mp4"
    src.write_bytes(b"\x00" * 100)
    with pytest.raises(SigningError):
        sign_file(src, tmp_path / "o.mp4", identity=identity, info=make_info())
    assert not (tmp_path / "o.mp4").exists()
    with pytest.raises(ValueError):
        sign_file(d / "in.mp4", d / "in.mp4", identity=identity, info=make_info())


def test_ingredient_thumbnails_are_opt_in(signed, tmp_path):
    manifest, finding, d = signed
    assert "thumbnail" not in finding.manifest_json  # no copy of the portrait by default
    pki = write_pki(tmp_path / "pki")
    identity = SigningIdentity.from_pem(pki["chain.pem"], pki["leaf.key"])
    with_thumb = sign_file(
        d / "in.mp4", tmp_path / "t.mp4", identity=identity, info=make_info(), ingredient_thumbnails=True
    )
    assert len(with_thumb) > len(manifest)
    assert "c2pa.thumbnail.ingredient" in read_manifest(tmp_path / "t.mp4").manifest_json
