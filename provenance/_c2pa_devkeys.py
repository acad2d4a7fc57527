"""Writing the local development credentials to disk (used by :func:`provenance.signing.dev_identity`).

Only the leaf key, the chain and the root certificate are kept; the CA keys are discarded after minting.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import tempfile
from pathlib import Path

from provenance import _pki
from provenance.paths import ensure_private_dir

log = logging.getLogger(__name__)

DEV_FILES = ("root.pem", "chain.pem", "leaf.key")


def create_dev_files(directory: Path, *, org: str, label: str) -> None:
    """Mint a root -> intermediate -> leaf PKI into ``directory`` atomically (see ``dev_identity``)."""
    parent = ensure_private_dir(directory.parent)
    minted = _pki.mint_pki(org=org, label=label, now=dt.datetime.now(dt.timezone.utc))
    # Write into a private temp dir, then rename: concurrent first uses from several processes either win the
    # rename or find a complete directory, never half-written key files.
    tmp = Path(tempfile.mkdtemp(prefix=".dev-", dir=parent))
    try:
        (tmp / "root.pem").write_bytes(_pki.pem(minted.root))
        (tmp / "chain.pem").write_bytes(_pki.pem(minted.leaf) + _pki.pem(minted.intermediate) + _pki.pem(minted.root))
        fd = os.open(tmp / "leaf.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(_pki.private_key_pem(minted.leaf_key))
        os.chmod(tmp, 0o700)
        try:
            os.rename(tmp, directory)
        except OSError:
            if not all((directory / f).exists() for f in DEV_FILES):
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process created it first
        else:
            log.info("created development signing identity in %s (UNTRUSTED)", directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
