"""Manifest recovery: a transcode stripped the file's manifest, but its watermark names a content ID; a manifest
store returns the manifest signed for that ID, whose signature and soft binding are then validated."""

from __future__ import annotations

import logging
from typing import Any

from provenance.manifest import SOFT_BINDING_ALG
from provenance.store import open_store
from provenance.trust import TrustAnchors
from provenance.validation import RecoveryStatus, validate_detached

from .report import RecoverySection

log = logging.getLogger(__name__)


def recover(
    store: Any, content_id: str, data: bytes, mime: str | None, anchors: TrustAnchors | None
) -> RecoverySection:
    owned = isinstance(store, str)
    handle = open_store(store) if owned else store
    try:
        ids = handle.find_by_binding(SOFT_BINDING_ALG, content_id)
        if not ids:
            return RecoverySection(attempted=True, found=False)
        record = handle.get(ids[0])
        if record is None:  # deleted between the two calls
            return RecoverySection(attempted=True, found=False)
        detached = validate_detached(record.manifest_bytes, data, mime=mime, trust=anchors, content_id=content_id)
    except Exception as exc:
        log.warning("manifest recovery failed: %s", exc)
        return RecoverySection(attempted=True, found=False, reasons=(f"store error: {exc}",))
    finally:
        if owned:
            handle.close()
    return RecoverySection(
        attempted=True,
        found=True,
        manifest_id=str(ids[0]),
        status=detached.status.value,
        signer_subject=detached.signer_subject,
        trusted=detached.is_trusted and detached.status is not RecoveryStatus.RECOVERED_UNTRUSTED,
        reasons=tuple(sorted(r.value for r in detached.reasons)),
    )
