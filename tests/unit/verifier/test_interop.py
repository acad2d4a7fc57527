"""Interop with plain c2pa-python: our files read as Trusted there; files signed by another tool are reported with
the same validation state c2pa-python gives them."""

from __future__ import annotations

import io
import json

import c2pa
import pytest

from provenance._c2pa_samples import sample_jpeg, write_pki
from provenance.trust import TrustAnchors
from verifier import Verdict, verify


def plain_state(data: bytes, mime: str, anchors_pem: bytes | None) -> str:
    settings: dict = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if anchors_pem:
        settings["trust"] = {"trust_anchors": anchors_pem.decode()}
    ctx = c2pa.Context.from_dict(settings)
    reader = c2pa.Reader.try_create(mime, io.BytesIO(data), None, ctx)
    assert reader is not None
    with reader:
        return reader.get_validation_state()


@pytest.fixture(scope="module")
def other_tool(tmp_path_factory):
    """A JPEG signed by 'another tool': raw c2pa-python, its own PKI, no soft binding, an edit action."""
    pki = write_pki(tmp_path_factory.mktemp("other-pki"), org="Other Tool Inc", label="other tool signer")
    info = c2pa.C2paSignerInfo(
        alg=c2pa.C2paSigningAlg.ES256,
        sign_cert=pki["chain.pem"].read_bytes(),
        private_key=pki["leaf.key"].read_bytes(),
        ta_url=None,
    )
    manifest = {
        "claim_generator_info": [{"name": "other-tool", "version": "9.9"}],
        "title": "photo.jpg",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
                        }
                    ]
                },
            }
        ],
    }
    src, dst = io.BytesIO(sample_jpeg(size=128)), io.BytesIO()
    with c2pa.Signer.from_info(info) as signer, c2pa.Builder(json.dumps(manifest)) as builder:
        builder.sign(signer, "image/jpeg", src, dst)
    return dst.getvalue(), pki["root.pem"].read_bytes()


def test_our_file_is_trusted_by_plain_c2pa(signed_video):
    assert plain_state(signed_video.read_bytes(), "video/mp4", TrustAnchors.dev().pem) == "Trusted"


def test_other_tool_trusted_file_is_verified(other_tool):
    data, root = other_tool
    report = verify(data, trust=root)
    assert report.verdict is Verdict.VERIFIED  # trusted and intact, no soft binding of ours to check
    assert report.c2pa.validation_state == plain_state(data, "image/jpeg", root) == "Trusted"
    assert report.c2pa.claim_generator and "other-tool" in report.c2pa.claim_generator
    assert not report.watermark.found and not report.binding.checked
    assert report.ai_generated is False  # a trusted manifest declaring a camera capture


def test_other_tool_untrusted_file_matches_plain_state(other_tool):
    data, _ = other_tool
    report = verify(data)
    assert report.verdict is Verdict.SIGNED_UNTRUSTED
    assert report.c2pa.validation_state == plain_state(data, "image/jpeg", None) == "Valid"


def test_other_tool_tampered_file_matches_plain_state(other_tool):
    data, root = other_tool
    broken = bytearray(data)
    broken[-200] ^= 0xFF  # inside the JPEG entropy-coded data, after the manifest
    report = verify(bytes(broken), trust=root)
    assert report.verdict is Verdict.TAMPERED
    assert report.c2pa.validation_state == plain_state(bytes(broken), "image/jpeg", root) == "Invalid"


def test_unsigned_still_image_has_no_provenance():
    report = verify(sample_jpeg(size=128))
    assert report.verdict is Verdict.NO_PROVENANCE and report.media.mime == "image/jpeg"
