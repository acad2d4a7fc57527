"""``dirfa keys`` subcommands, driven through argparse exactly as the dirfa CLI wires them."""

from __future__ import annotations

import argparse
import json
import stat

import pytest
from cryptography import x509

from provenance.paths import dev_keys_dir
from provenance.signing import dev_identity
from provenance.trust import TrustAnchors
from sdk._cli_keys import EXIT_INVALID, EXIT_NO_IDENTITY, EXIT_OK, register


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DIRFA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="dirfa")
    register(parser.add_subparsers(dest="command", required=True))
    ns = parser.parse_args(list(argv))
    return int(ns.handler(ns))


def test_show_and_export_before_init_exit_1(capsys):
    assert run("keys", "show") == EXIT_NO_IDENTITY
    assert run("keys", "export-root") == EXIT_NO_IDENTITY
    assert not dev_keys_dir().exists()  # show never creates credentials
    assert "keys init" in capsys.readouterr().err


def test_init_show_json_and_key_mode(capsys):
    assert run("keys", "init") == EXIT_OK
    out = capsys.readouterr().out
    assert "UNTRUSTED" in out and "PRIVATE" not in out
    assert run("keys", "show", "--json") == EXIT_OK
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 1
    assert doc["identity"]["development"] is True
    assert doc["identity"]["key_file_mode"] == "0600"
    assert stat.S_IMODE((dev_keys_dir() / "leaf.key").stat().st_mode) == 0o600
    assert doc["identity"]["leaf_sha256"] == dev_identity().fingerprint_sha256


def test_init_is_idempotent_unless_forced(capsys):
    run("keys", "init")
    first = dev_identity().fingerprint_sha256
    assert run("keys", "init") == EXIT_OK
    assert dev_identity().fingerprint_sha256 == first
    assert run("keys", "init", "--force") == EXIT_OK
    assert dev_identity().fingerprint_sha256 != first


def test_export_root_to_file_and_stdout(tmp_path, capsys):
    run("keys", "init")
    capsys.readouterr()
    out = tmp_path / "dev-root.pem"
    assert run("keys", "export-root", "-o", str(out)) == EXIT_OK
    anchors = TrustAnchors.from_pem(out)
    assert anchors.contains(dev_identity().root_pem)
    assert x509.load_pem_x509_certificate(out.read_bytes()).extensions  # a real certificate
    assert run("keys", "export-root") == EXIT_OK
    assert capsys.readouterr().out.encode() == out.read_bytes()
    assert run("keys", "export-root", "-o", str(tmp_path / "missing-dir" / "x.pem")) == EXIT_INVALID


def test_damaged_identity_exits_3(capsys):
    run("keys", "init")
    (dev_keys_dir() / "leaf.key").write_bytes(b"garbage")
    from provenance import signing

    signing._dev_cache.clear()
    assert run("keys", "show") == EXIT_INVALID
    assert "--force" in capsys.readouterr().err
