"""read_manifest: status mapping on real signed MP4s; detached manifests against re-encoded files."""

from __future__ import annotations

import io
import shutil

import av
import pytest

from provenance._c2pa_samples import make_mp4, sample_info, write_pki
from provenance.manifest import sign_file
from provenance.signing import dev_identity
from provenance.trust import TrustAnchors
from provenance.validation import (
    FailureReason,
    ManifestStatus,
    RecoveryStatus,
    read_manifest,
    reason_for_code,
    validate_detached,
)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    d = tmp_path_factory.mktemp("validation")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIRFA_HOME", str(d / "home"))
        identity = dev_identity()
        dev_anchors = TrustAnchors.dev()
    src = make_mp4(d / "in.mp4")
    manifest = sign_file(src, d / "signed.mp4", identity=identity, info=sample_info())
    return {"dir": d, "src": src, "signed": d / "signed.mp4", "manifest": manifest, "dev": dev_anchors}


def remux(src, dst):
    with av.open(str(src)) as i, av.open(str(dst), "w", format="mp4") as o:
        streams = {s: o.add_stream_from_template(s) for s in i.streams}
        for packet in i.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream]
            o.mux(packet)
    return dst


def test_trusted_when_dev_root_is_given(case):
    finding = read_manifest(case["signed"], trust=case["dev"])
    assert finding.status is ManifestStatus.TRUSTED
    assert finding.is_trusted and finding.is_intact and finding.signer_trusted
    assert "UNTRUSTED" in finding.signer_subject


def test_dev_root_is_never_trusted_implicitly(case):
    finding = read_manifest(case["signed"])
    assert finding.status is ManifestStatus.VALID_UNTRUSTED
    assert finding.reasons == {FailureReason.UNTRUSTED}
    assert finding.is_intact and not finding.is_trusted


def test_other_anchors_do_not_trust_the_dev_signer(case, tmp_path):
    other = TrustAnchors.from_pem(write_pki(tmp_path)["root.pem"])
    assert read_manifest(case["signed"], trust=other).status is ManifestStatus.VALID_UNTRUSTED


def test_absent_on_unsigned_file(case):
    finding = read_manifest(case["src"], trust=case["dev"])
    assert finding.status is ManifestStatus.ABSENT
    assert finding.soft_binding is None and not finding.failures


@pytest.mark.parametrize("form", ["path", "str", "bytes", "file", "noext"])
def test_sources_path_bytes_and_file_objects(case, form, tmp_path):
    path = case["signed"]
    if form == "path":
        source = path
    elif form == "str":
        source = str(path)
    elif form == "bytes":
        source = path.read_bytes()
    elif form == "file":
        source = io.BytesIO(path.read_bytes())
    else:
        source = shutil.copy(path, tmp_path / "upload.bin")
    assert read_manifest(source, trust=case["dev"]).status is ManifestStatus.TRUSTED


def test_bad_source_type():
    with pytest.raises(TypeError):
        read_manifest(12345)  # type: ignore[arg-type]


def test_garbage_is_malformed_or_absent_never_an_exception():
    finding = read_manifest(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64)
    assert finding.status in (ManifestStatus.ABSENT, ManifestStatus.MALFORMED)


def test_remux_drops_the_manifest(case, tmp_path):
    assert read_manifest(remux(case["signed"], tmp_path / "r.mp4")).status is ManifestStatus.ABSENT


def test_detached_manifest_recovers_a_remuxed_file(case, tmp_path):
    r = remux(case["signed"], tmp_path / "r.mp4")
    trusted = validate_detached(case["manifest"], r, content_id="0123456789ab", trust=case["dev"])
    assert trusted.status is RecoveryStatus.RECOVERED and trusted.is_recovered
    assert trusted.finding.reasons == {FailureReason.HARD_BINDING_MISMATCH}
    untrusted = validate_detached(case["manifest"], r, content_id="0123456789ab")
    assert untrusted.status is RecoveryStatus.RECOVERED_UNTRUSTED and not untrusted.is_recovered
    wrong = validate_detached(case["manifest"], r, content_id="ffffffffffff", trust=case["dev"])
    assert wrong.status is RecoveryStatus.SOFT_BINDING_MISMATCH


def test_detached_manifest_against_the_signed_bytes_matches(case):
    result = validate_detached(case["manifest"], case["signed"], content_id="0123456789ab", trust=case["dev"])
    assert result.status is RecoveryStatus.MATCHES_ASSET


def test_detached_garbage_manifest_is_malformed(case):
    result = validate_detached(b"not a manifest" * 4, case["src"], content_id="0123456789ab")
    assert result.status is RecoveryStatus.MALFORMED


def test_detached_tampered_manifest_is_invalid(case):
    manifest = bytearray(case["manifest"])
    # flip a byte of the COSE signature (the last bytes of the store are padding; the signature sits before
    # them)
    idx = bytes(manifest).rfind(b"c2pa.signature")
    assert idx > 0
    sig_region = idx + 200
    manifest[sig_region] ^= 0xFF
    result = validate_detached(bytes(manifest), case["src"], content_id="0123456789ab", trust=case["dev"])
    assert result.status in (RecoveryStatus.INVALID, RecoveryStatus.MALFORMED)
    assert not result.is_recovered


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("assertion.bmffHash.mismatch", FailureReason.HARD_BINDING_MISMATCH),
        ("assertion.dataHash.mismatch", FailureReason.HARD_BINDING_MISMATCH),
        ("claimSignature.mismatch", FailureReason.SIGNATURE_MISMATCH),
        ("assertion.hashedURI.mismatch", FailureReason.ASSERTION_MISMATCH),
        ("signingCredential.expired", FailureReason.EXPIRED),
        ("signingCredential.untrusted", FailureReason.UNTRUSTED),
        ("claim.malformed", FailureReason.MALFORMED),
        ("something.new", FailureReason.OTHER),
    ],
)
def test_reason_mapping(code, reason):
    assert reason_for_code(code) is reason


def test_readers_run_offline_and_trust_only_what_is_given():
    from provenance import _c2pa_context

    settings = _c2pa_context.settings(None)
    assert settings["verify"]["remote_manifest_fetch"] is False
    assert settings["verify"]["ocsp_fetch"] is False
    assert "trust_anchors" not in settings["trust"]  # nothing trusted unless anchors are passed
    assert settings["soft_binding"]["soft_binding_algorithms"] == ["io.github.dirfa.watermark.v1"]


def _webm(path):
    import numpy as np

    with av.open(str(path), "w", format="webm") as o:
        s = o.add_stream("libvpx-vp9", rate=25)
        s.width = s.height = 64
        s.pix_fmt = "yuv420p"
        for i in range(5):
            for p in s.encode(av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 40, np.uint8), format="rgb24")):
                o.mux(p)
        for p in s.encode():
            o.mux(p)
    return path


def test_unsupported_formats_are_absent_not_malformed(case, tmp_path):
    finding = read_manifest(_webm(tmp_path / "t.webm"))
    assert finding.status is ManifestStatus.ABSENT
    assert finding.format_supported is False
    assert read_manifest(b"plain text, not media").status is ManifestStatus.ABSENT


def test_detached_recovery_of_a_webm_transcode_and_of_unparsable_bytes(case, tmp_path):
    webm = validate_detached(case["manifest"], _webm(tmp_path / "t.webm"), content_id="0123456789ab", trust=case["dev"])
    assert webm.status is RecoveryStatus.RECOVERED and webm.is_recovered
    zeros = validate_detached(case["manifest"], b"\x00" * 64, content_id="0123456789ab", trust=case["dev"])
    assert zeros.status is RecoveryStatus.RECOVERED
    data = case["signed"].read_bytes()
    cut = validate_detached(case["manifest"], data[: len(data) * 6 // 10], content_id="0123456789ab", trust=case["dev"])
    assert cut.status is RecoveryStatus.RECOVERED, cut.finding.failures  # any bytes: only the hard binding fails


def test_matching_but_untrusted_is_not_recovered(case):
    result = validate_detached(case["manifest"], case["signed"], content_id="0123456789ab")
    assert result.status is RecoveryStatus.MATCHES_ASSET
    assert not result.is_recovered and not result.is_trusted
