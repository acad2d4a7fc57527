"""``dirfa keys``: the local development signing identity (init, show, export-root).

Exit codes:
  0  done
  1  no development identity yet (run ``dirfa keys init``)
  3  the identity on disk is invalid (expired, damaged), or the output file cannot be written

The development identity signs locally; verifiers treat it as UNTRUSTED unless given its root on purpose:
``dirfa keys export-root -o dev-root.pem`` then ``dirfa-verify --trust dev-root.pem video.mp4``.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

from provenance.errors import IdentityError
from provenance.paths import dev_keys_dir
from provenance.signing import SigningIdentity, dev_identity, init_dev_identity

EXIT_OK, EXIT_NO_IDENTITY, EXIT_INVALID = 0, 1, 3
SCHEMA_VERSION = 1


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``keys init|show|export-root`` to the ``dirfa`` CLI; each sets ``handler(ns) -> exit code``."""
    keys = subparsers.add_parser(
        "keys",
        help="manage the local development signing identity",
        description="Manage the local development signing identity (labelled UNTRUSTED).",
    )
    sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")

    init = sub.add_parser("init", help="create the development identity (root -> intermediate -> leaf)")
    init.add_argument("--force", action="store_true", help="replace an existing identity (old files stop verifying)")
    init.add_argument("--json", action="store_true", help="print the result as JSON")
    init.set_defaults(handler=cmd_init)

    show = sub.add_parser("show", help="show the development identity: subject, validity, fingerprints")
    show.add_argument("--json", action="store_true", help="print the result as JSON")
    show.set_defaults(handler=cmd_show)

    export = sub.add_parser("export-root", help="write the development root certificate (PEM) for a verifier")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    export.set_defaults(handler=cmd_export_root)

    fix = sub.add_parser(
        "fix-permissions", help="make key files readable by their owner only (0600; their folder 0700)"
    )
    fix.add_argument("files", nargs="*", metavar="FILE", help="key files (default: the development identity's)")
    fix.set_defaults(handler=cmd_fix_permissions)
    return keys


def cmd_fix_permissions(ns: argparse.Namespace) -> int:
    """chmod 600 each key file (and 700 the development key folder); prints what changed."""
    files = [Path(f) for f in ns.files]
    if not files:
        folder = dev_keys_dir()
        if not folder.is_dir():
            print("dirfa keys: no development identity yet (run `dirfa keys init`)", file=sys.stderr)
            return EXIT_NO_IDENTITY
        if stat.S_IMODE(folder.stat().st_mode) != 0o700:
            folder.chmod(0o700)
            print(f"{folder}: folder now 0700")
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".key", ".p12", ".pfx"))
    code = EXIT_OK
    for path in files:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                path.chmod(mode & 0o700 | 0o600)
                print(f"{path}: {mode:03o} -> 600")
        except OSError as exc:
            print(f"dirfa keys: cannot fix {path}: {exc.strerror}", file=sys.stderr)
            code = EXIT_INVALID
    return code


def describe(identity: SigningIdentity) -> dict[str, Any]:
    """Public facts only: never key material."""
    key_file = dev_keys_dir() / "leaf.key"
    mode = stat.S_IMODE(key_file.stat().st_mode) if key_file.exists() else None
    return {
        "subject": identity.subject,
        "issuer": identity.issuer,
        "development": identity.is_development,
        "algorithm": identity.alg,
        "not_before": identity.not_before.isoformat(),
        "not_after": identity.not_after.isoformat(),
        "leaf_sha256": identity.fingerprint_sha256,
        "root_sha256": _root_fingerprint(identity),
        "directory": str(dev_keys_dir()),
        "key_file_mode": f"{mode:04o}" if mode is not None else None,
    }


def _root_fingerprint(identity: SigningIdentity) -> str | None:
    from provenance.trust import TrustAnchors

    root = identity.root_pem
    return TrustAnchors.from_pem(root).fingerprints_sha256[0] if root else None


def _print(info: dict[str, Any], as_json: bool, headline: str) -> None:
    if as_json:
        print(json.dumps({"schema_version": SCHEMA_VERSION, "identity": info}, indent=2))
        return
    print(headline)
    for key in ("subject", "issuer", "algorithm", "not_before", "not_after", "leaf_sha256", "root_sha256"):
        print(f"  {key.replace('_', ' ')}: {info[key]}")
    print(f"  files: {info['directory']} (key mode {info['key_file_mode']})")
    if info["development"]:
        print("  UNTRUSTED development identity: verifiers trust it only if given its root on purpose")
        print("  (dirfa keys export-root -o dev-root.pem).")


def cmd_init(ns: argparse.Namespace) -> int:
    existed = (dev_keys_dir() / "leaf.key").exists()
    try:
        identity = init_dev_identity(force=ns.force)
    except IdentityError as exc:
        print(f"dirfa keys: {exc}", file=sys.stderr)
        return EXIT_INVALID
    headline = "development identity already exists" if existed and not ns.force else "created development identity"
    _print(describe(identity), ns.json, headline)
    return EXIT_OK


def _load() -> SigningIdentity | int:
    try:
        return dev_identity(create=False)
    except IdentityError as exc:
        missing = not (dev_keys_dir() / "leaf.key").exists()
        print(f"dirfa keys: {exc}", file=sys.stderr)
        if missing:
            return EXIT_NO_IDENTITY
        print("dirfa keys: replace it with `dirfa keys init --force`", file=sys.stderr)
        return EXIT_INVALID


def cmd_show(ns: argparse.Namespace) -> int:
    identity = _load()
    if isinstance(identity, int):
        return identity
    _print(describe(identity), ns.json, "development identity")
    return EXIT_OK


def cmd_export_root(ns: argparse.Namespace) -> int:
    identity = _load()
    if isinstance(identity, int):
        return identity
    root = identity.root_pem
    if root is None:
        print("dirfa keys: the development chain has no root certificate", file=sys.stderr)
        return EXIT_INVALID
    if ns.output is None:
        sys.stdout.write(root.decode())
        return EXIT_OK
    try:
        path = Path(ns.output)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(root)
        os.replace(tmp, path)
    except OSError as exc:
        print(f"dirfa keys: cannot write {ns.output}: {exc.strerror}", file=sys.stderr)
        return EXIT_INVALID
    print(f"wrote the development root to {ns.output}", file=sys.stderr)
    print("trusting it accepts everything signed with this machine's development key", file=sys.stderr)
    return EXIT_OK
