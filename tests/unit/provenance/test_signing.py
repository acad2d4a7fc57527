"""Signing identities: loading from PEM / PKCS#12 / callback, load-time checks, the dev identity."""

from __future__ import annotations

import datetime as dt
import logging
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

from provenance import _pki
from provenance._c2pa_samples import write_pki
from provenance.errors import IdentityError, SigningError
from provenance.paths import config_dir, data_dir, dev_keys_dir
from provenance.signing import (
    CACertificateAsLeafError,
    CertificateExpiredError,
    CertificateNotYetValidError,
    ChainOrderError,
    EKUError,
    KeyMismatchError,
    KeyUsageError,
    SigningIdentity,
    dev_identity,
    init_dev_identity,
    key_callback,
)

NOW = dt.datetime.now(dt.timezone.utc)


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DIRFA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return write_pki(tmp_path_factory.mktemp("pki"))


def _load_key(path):
    return serialization.load_pem_private_key(path.read_bytes(), None)


def _leaf(pki, **kwargs):
    """Issue another leaf under the test intermediate; kwargs go to issue_certificate."""
    inter = x509.load_pem_x509_certificate(pki["intermediate.pem"].read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    opts = dict(not_before=NOW - dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=30))
    opts.update(kwargs)
    cert = _pki.issue_certificate(
        x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "variant")]),
        key.public_key(),
        inter,
        _load_key(pki["intermediate.key"]),
        **opts,
    )
    return _pki.pem(cert) + pki["intermediate.pem"].read_bytes(), _pki.private_key_pem(key)


def test_paths_honour_dirfa_home(home):
    assert config_dir() == home / "config"
    assert data_dir() == home / "data"
    assert dev_keys_dir().is_relative_to(config_dir())


def test_paths_follow_xdg_without_dirfa_home(monkeypatch, tmp_path):
    monkeypatch.delenv("DIRFA_HOME", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "c"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "d"))
    assert config_dir() == tmp_path / "c" / "dirfa"
    assert data_dir() == tmp_path / "d" / "dirfa"


def test_from_pem_loads_a_good_chain(pki):
    identity = SigningIdentity.from_pem(pki["chain.pem"], pki["leaf.key"])
    assert identity.alg == "es256"
    assert "dirfa test signer" in identity.subject
    assert "intermediate" in identity.issuer
    assert not identity.is_development
    assert identity.root_pem is None  # the chain given had no root
    assert identity.certificate_chain_pem.count(b"BEGIN CERTIFICATE") == 2


def test_from_pem_accepts_bytes_and_keeps_a_trailing_root_aside(pki):
    chain = pki["chain.pem"].read_bytes() + pki["root.pem"].read_bytes()
    identity = SigningIdentity.from_pem(chain, pki["leaf.key"].read_bytes())
    assert identity.root_pem == pki["root.pem"].read_bytes()
    assert identity.certificate_chain_pem.count(b"BEGIN CERTIFICATE") == 2


def test_encrypted_key_needs_the_password(pki, tmp_path):
    encrypted = _pki.private_key_pem(_load_key(pki["leaf.key"]), b"s3cret")
    assert SigningIdentity.from_pem(pki["chain.pem"], encrypted, password="s3cret").alg == "es256"
    with pytest.raises(IdentityError):
        SigningIdentity.from_pem(pki["chain.pem"], encrypted, password="wrong")


def test_pkcs12_round_trip(pki):
    leaf, *rest = x509.load_pem_x509_certificates(pki["chain.pem"].read_bytes())
    root = x509.load_pem_x509_certificate(pki["root.pem"].read_bytes())
    blob = pkcs12.serialize_key_and_certificates(
        b"signer", _load_key(pki["leaf.key"]), leaf, [root, *rest],  # deliberately unordered
        serialization.BestAvailableEncryption(b"pw"),
    )  # fmt: skip
    identity = SigningIdentity.from_pkcs12(blob, "pw")
    assert identity.subject == SigningIdentity.from_pem(pki["chain.pem"], pki["leaf.key"]).subject
    assert identity.root_pem is not None
    with pytest.raises(IdentityError):
        SigningIdentity.from_pkcs12(blob, "nope")


def test_callback_identity_accepts_der_signatures(pki):
    calls = []

    def kms(data: bytes) -> bytes:
        calls.append(len(data))
        return key_callback(_load_key(pki["leaf.key"]), "es256")(data)  # DER, like a cloud KMS

    identity = SigningIdentity.from_callback(kms, pki["chain.pem"])
    assert identity.uses_callback
    assert calls, "the callback is probed at load time"


def test_callback_with_the_wrong_key_is_refused(pki):
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(KeyMismatchError):
        SigningIdentity.from_callback(key_callback(other, "es256"), pki["chain.pem"])


@pytest.mark.parametrize(
    ("variant", "error"),
    [
        (dict(ekus=None), EKUError),
        (dict(ekus=["2.5.29.37.0"]), EKUError),  # anyExtendedKeyUsage
        (dict(ekus=["1.3.6.1.5.5.7.3.1"]), EKUError),  # serverAuth only
        (dict(key_usage_digital_signature=False), KeyUsageError),
        (dict(is_ca_cert=True, ca_pathlen=0), CACertificateAsLeafError),
        (
            dict(not_after=NOW - dt.timedelta(days=1), not_before=NOW - dt.timedelta(days=9)),
            CertificateExpiredError,
        ),
        (dict(not_before=NOW + dt.timedelta(days=1)), CertificateNotYetValidError),
    ],
    ids=[
        "no-eku",
        "any-eku",
        "serverauth-eku",
        "no-digitalsignature",
        "ca-as-leaf",
        "expired",
        "not-yet-valid",
    ],
)
def test_bad_leaves_are_refused_at_load_with_typed_errors(pki, variant, error):
    chain, key = _leaf(pki, **variant)
    with pytest.raises(error):
        SigningIdentity.from_pem(chain, key)
    assert issubclass(error, IdentityError) and issubclass(error, ValueError)


def test_c2pa_claim_signing_eku_is_accepted(pki):
    chain, key = _leaf(pki, ekus=[_pki.EKU_C2PA_CLAIM_SIGNING])
    assert SigningIdentity.from_pem(chain, key).alg == "es256"


def test_key_not_matching_the_certificate(pki):
    other = _pki.private_key_pem(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(KeyMismatchError):
        SigningIdentity.from_pem(pki["chain.pem"], other)


def test_chain_in_the_wrong_order(pki):
    leaf_pem, inter_pem = (_pki.pem(c) for c in x509.load_pem_x509_certificates(pki["chain.pem"].read_bytes()))
    with pytest.raises(ChainOrderError):
        SigningIdentity.from_pem(inter_pem + leaf_pem, pki["leaf.key"])
    root = pki["root.pem"].read_bytes()
    with pytest.raises(ChainOrderError):
        SigningIdentity.from_pem(leaf_pem + root + inter_pem, pki["leaf.key"])


def test_unreadable_inputs_raise_identity_error(pki, tmp_path):
    with pytest.raises(IdentityError):
        SigningIdentity.from_pem(tmp_path / "missing.pem", pki["leaf.key"])
    with pytest.raises(IdentityError):
        SigningIdentity.from_pem(b"not a pem", pki["leaf.key"])
    with pytest.raises(IdentityError):
        SigningIdentity.from_pem(pki["chain.pem"], b"not a key")


def test_tsa_url_must_be_http(pki):
    with pytest.raises(IdentityError):
        SigningIdentity.from_pem(pki["chain.pem"], pki["leaf.key"], tsa_url="ftp://tsa")
    ok = SigningIdentity.from_pem(pki["chain.pem"], pki["leaf.key"], tsa_url="http://timestamp.example/tsa")
    assert ok.tsa_url == "http://timestamp.example/tsa"


def test_key_material_never_in_repr_or_logs(pki, caplog):
    caplog.set_level(logging.DEBUG)
    identity = SigningIdentity.from_pem(pki["chain.pem"], pki["leaf.key"])
    key_body = pki["leaf.key"].read_text().splitlines()[1]
    assert key_body not in repr(identity)
    assert "PRIVATE" not in repr(identity)
    assert key_body not in caplog.text


def test_dev_identity_is_created_once_private_and_labelled(home):
    identity = dev_identity()
    assert identity.is_development
    assert "UNTRUSTED" in identity.subject
    assert identity.root_pem is not None
    key_file = dev_keys_dir() / "leaf.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(dev_keys_dir().stat().st_mode) == 0o700
    assert identity.not_after - identity.not_before > dt.timedelta(days=365 * 10)
    # cached and stable on disk
    assert dev_identity() is identity
    assert SigningIdentity.from_pem(dev_keys_dir() / "chain.pem", key_file).fingerprint_sha256 == (
        identity.fingerprint_sha256
    )
    # the root and intermediate keys are not kept
    assert sorted(p.name for p in dev_keys_dir().iterdir()) == ["chain.pem", "leaf.key", "root.pem"]


def test_dev_identity_without_create_and_force_init(home):
    with pytest.raises(IdentityError):
        dev_identity(create=False)
    first = init_dev_identity()
    again = init_dev_identity(force=True)
    assert first.fingerprint_sha256 != again.fingerprint_sha256
    assert first.root_pem != again.root_pem


def test_signer_errors_are_wrapped(pki):
    identity = SigningIdentity.from_pem(pki["chain.pem"], pki["leaf.key"])
    with identity._c2pa_signer() as signer:
        assert signer is not None
    assert issubclass(IdentityError, SigningError)


@pytest.mark.parametrize(
    ("eku", "key_kind"),
    [
        (_pki.EKU_C2PA_CLAIM_SIGNING, "p256"),
        (_pki.EKU_DOCUMENT_SIGNING, "p384"),
        (_pki.EKU_EMAIL_PROTECTION, "rsa"),
        (_pki.EKU_EMAIL_PROTECTION, "ed25519"),
    ],
)
def test_accepted_profiles_sign_and_verify_end_to_end(pki, tmp_path, eku, key_kind):
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    from provenance._c2pa_samples import make_mp4, sample_info
    from provenance.manifest import sign_file
    from provenance.trust import TrustAnchors
    from provenance.validation import ManifestStatus, read_manifest

    key = {
        "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
        "rsa": lambda: rsa.generate_private_key(65537, 2048),
        "ed25519": ed25519.Ed25519PrivateKey.generate,
    }[key_kind]()
    inter = x509.load_pem_x509_certificate(pki["intermediate.pem"].read_bytes())
    cert = _pki.issue_certificate(
        x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, f"{key_kind} signer")]),
        key.public_key(),  # type: ignore[arg-type]
        inter,
        _load_key(pki["intermediate.key"]),  # type: ignore[arg-type]
        not_before=NOW - dt.timedelta(hours=1),
        not_after=NOW + dt.timedelta(days=30),
        ekus=[eku],
    )
    identity = SigningIdentity.from_pem(
        _pki.pem(cert) + pki["intermediate.pem"].read_bytes(), _pki.private_key_pem(key)
    )
    src = make_mp4(tmp_path / "in.mp4", seconds=0.2)
    sign_file(src, tmp_path / "out.mp4", identity=identity, info=sample_info())
    finding = read_manifest(tmp_path / "out.mp4", trust=TrustAnchors.from_pem(pki["root.pem"]))
    assert finding.status is ManifestStatus.TRUSTED, finding.failures


def test_dev_identity_created_once_under_concurrent_first_use(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[3]
    code = "from provenance.signing import dev_identity; print(dev_identity().fingerprint_sha256)"
    env = {**os.environ, "DIRFA_HOME": str(tmp_path / "home"), "PYTHONPATH": str(repo)}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE) for _ in range(4)]
    prints = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(prints) == 1  # every process ended up with the same identity
    leftovers = [p.name for p in (tmp_path / "home" / "config" / "keys").iterdir()]
    assert leftovers == ["dev"]  # no temporary directories left behind


def test_identity_cannot_be_pickled(pki):
    import copy
    import pickle

    identity = SigningIdentity.from_pem(pki["chain.pem"], pki["leaf.key"])
    with pytest.raises(TypeError):
        pickle.dumps(identity)
    with pytest.raises(TypeError):
        copy.deepcopy(identity)


def test_public_api_the_sdk_and_verifier_use():
    import provenance.manifest as manifest
    import provenance.signing as signing
    import provenance.store as store
    import provenance.trust as trust
    import provenance.validation as validation

    assert {"SigningIdentity", "dev_identity", "IdentityError", "EKUError"} <= set(signing.__all__)
    assert {"TrustAnchors"} <= set(trust.__all__)
    assert {"ManifestInfo", "ModelInfo", "Ingredient", "sign_file", "SOFT_BINDING_ALG"} <= set(manifest.__all__)
    assert {"read_manifest", "validate_detached", "ManifestStatus", "ManifestFinding", "RecoveryStatus"} <= set(
        validation.__all__
    )
    assert {"open_store", "ManifestStore", "ManifestRecord"} <= set(store.__all__)
    for module in (signing, trust, manifest, validation, store):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
    assert [s.name for s in validation.ManifestStatus] == [
        "TRUSTED",
        "VALID_UNTRUSTED",
        "INVALID",
        "MALFORMED",
        "ABSENT",
    ]


def test_a_world_readable_private_key_file_is_used_with_a_warning(pki, tmp_path, caplog):
    from sdk._cli_keys import cmd_fix_permissions

    key = tmp_path / "leaf.key"
    key.write_bytes(pki["leaf.key"].read_bytes())
    key.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="provenance.signing"):
        assert "dirfa test signer" in SigningIdentity.from_pem(pki["chain.pem"], key).subject
    assert "accessible to other users" in caplog.text and "fix-permissions" in caplog.text
    assert "PRIVATE KEY" not in caplog.text

    import argparse

    assert cmd_fix_permissions(argparse.Namespace(files=[str(key)])) == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="provenance.signing"):
        SigningIdentity.from_pem(pki["chain.pem"], key)
    assert "accessible" not in caplog.text
