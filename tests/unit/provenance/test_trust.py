"""Trust anchors: explicit, never global; the dev root only on request."""

from __future__ import annotations

import pytest

from provenance._c2pa_samples import write_pki
from provenance.errors import IdentityError
from provenance.signing import dev_identity
from provenance.trust import TrustAnchors


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DIRFA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_from_pem_file_and_bytes(tmp_path):
    a = write_pki(tmp_path / "a")
    b = write_pki(tmp_path / "b", org="other org")
    anchors = TrustAnchors.from_pem(a["root.pem"])
    assert len(anchors) == 1
    assert anchors.contains(a["root.pem"].read_bytes())
    both = anchors + TrustAnchors.from_pem(b["root.pem"].read_bytes())
    assert len(both) == 2 and both.contains(b["root.pem"].read_bytes())
    assert len(both + anchors) == 2  # de-duplicated
    bundle = TrustAnchors.from_pem(a["root.pem"].read_bytes() + b["root.pem"].read_bytes())
    assert set(bundle.fingerprints_sha256) == set(both.fingerprints_sha256)


def test_a_leaf_is_not_accepted_as_anchor(tmp_path):
    pki = write_pki(tmp_path)
    with pytest.raises(IdentityError):
        TrustAnchors.from_pem(pki["leaf.pem"])


def test_unreadable_bundle(tmp_path):
    with pytest.raises(IdentityError):
        TrustAnchors.from_pem(tmp_path / "nope.pem")
    with pytest.raises(IdentityError):
        TrustAnchors.from_pem(b"garbage")


def test_empty_anchors_trust_nothing():
    assert not TrustAnchors.none()
    assert len(TrustAnchors()) == 0


def test_dev_anchors_are_the_dev_root(home):
    anchors = TrustAnchors.dev()
    assert anchors.contains(dev_identity().root_pem)
    assert "UNTRUSTED" in anchors.subjects[0]
