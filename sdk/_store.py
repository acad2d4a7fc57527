"""Record a render's signed manifest in the manifest store, so a verifier can recover it by watermark content ID."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from provenance.signing import SigningIdentity
from provenance.store import ManifestRecord, ManifestStore, open_store


def record(store: Any, manifest_bytes: bytes, content_id: str, signed: Path, identity: SigningIdentity) -> str:
    """Store the manifest (``store``: a ManifestStore, a URL, or None for the default local store); return its id."""
    rec = ManifestRecord.for_signed_file(manifest_bytes, signed, content_id=content_id, identity=identity)
    if isinstance(store, ManifestStore):
        store.put(rec)
    else:
        with open_store(store) as handle:
            handle.put(rec)
    return rec.manifest_id
