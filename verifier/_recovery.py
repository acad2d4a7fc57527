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
        # Several manifests may name one content ID (48-bit IDs collide in large stores, and anyone who can write
        # to the store can add entries): use the first whose signature and soft binding check out.
        chosen = None
        for manifest_id in ids:
            record = handle.get(manifest_id)
            if record is None:  # deleted meanwhile
                continue
            detached = validate_detached(record.manifest_bytes, data, mime=mime, trust=anchors, content_id=content_id)
            if chosen is None or _rank(detached.status) < _rank(chosen[1].status):
                chosen = (manifest_id, detached)
            if detached.is_recovered:
                break
        if chosen is None:
            return RecoverySection(attempted=True, found=False)
        manifest_id, detached = chosen
    except Exception as exc:  # a store failure must not crash verification; it is reported
        log.warning("manifest recovery failed: %s", exc)
        return RecoverySection(attempted=True, found=False, reasons=(f"store error: {exc}",))
    finally:
        if owned:
            handle.close()
    return RecoverySection(
        attempted=True,
        found=True,
        manifest_id=str(manifest_id),
        status=detached.status.value,
        signer_subject=detached.signer_subject,
        trusted=detached.is_trusted and detached.status is not RecoveryStatus.RECOVERED_UNTRUSTED,
        reasons=tuple(sorted(r.value for r in detached.reasons)),
    )


def _rank(status: RecoveryStatus) -> int:
    if status in (RecoveryStatus.MATCHES_ASSET, RecoveryStatus.RECOVERED):
        return 0
    return 1 if status is RecoveryStatus.RECOVERED_UNTRUSTED else 2
