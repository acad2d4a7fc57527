"""The manifest store interface, shaped after the C2PA Soft Binding Resolution API.

=========================================  ========================================================== Soft
Binding Resolution API (HTTP)         ManifestStore =========================================
========================================================== ``GET /matches/byBinding?alg=&value=``
:meth:`ManifestStore.find_by_binding` -> manifest ids ``GET /manifests/{manifestId}``
:meth:`ManifestStore.get` -> the manifest store bytes ``GET /services/supportedAlgorithms``
:meth:`ManifestStore.supported_algorithms` =========================================
==========================================================

A record is written once per signed file (:meth:`ManifestStore.put`, idempotent) and never changed.
"""

from __future__ import annotations

import abc
import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from provenance._c2pa_context import SOFT_BINDING_ALG
from provenance._c2pa_jumbf import active_manifest_label
from provenance.errors import ManifestError, StoreError

if TYPE_CHECKING:
    from provenance.signing import SigningIdentity

_CONTENT_ID = re.compile(r"[0-9a-f]{12}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _utc(when: dt.datetime) -> dt.datetime:
    if when.tzinfo is None:
        raise ValueError("datetimes in the store must be timezone-aware")
    return when.astimezone(dt.timezone.utc)


@dataclass(frozen=True)
class ManifestRecord:
    """One signed manifest: its id (the active manifest's ``urn:c2pa:`` label), the watermark content ID it is
    found by, the manifest store bytes ``sign_file`` returned, who signed, when, and the signed file's sha256.
    """

    manifest_id: str
    content_id: str
    manifest_bytes: bytes = field(repr=False)
    signer: str
    created_at: dt.datetime
    asset_sha256: str
    alg: str = SOFT_BINDING_ALG

    def __post_init__(self) -> None:
        if not _CONTENT_ID.fullmatch(self.content_id):
            raise ValueError("content_id must be 12 lowercase hex characters")
        if not _SHA256.fullmatch(self.asset_sha256):
            raise ValueError("asset_sha256 must be 64 lowercase hex characters")
        if not self.manifest_bytes:
            raise ValueError("manifest_bytes is empty")
        if not self.manifest_id or not self.alg or not self.signer:
            raise ValueError("manifest_id, alg and signer must be non-empty")
        object.__setattr__(self, "created_at", _utc(self.created_at))

    @classmethod
    def from_manifest(
        cls,
        manifest_bytes: bytes,
        *,
        content_id: str,
        signer: str,
        asset_sha256: str,
        created_at: dt.datetime | None = None,
        alg: str = SOFT_BINDING_ALG,
    ) -> ManifestRecord:
        """Build a record, taking the manifest id from the manifest store bytes themselves."""
        try:
            manifest_id = active_manifest_label(manifest_bytes)
        except ManifestError as exc:
            raise ValueError(f"manifest_bytes is not a C2PA manifest store: {exc}") from exc
        return cls(
            manifest_id=manifest_id,
            content_id=content_id,
            manifest_bytes=bytes(manifest_bytes),
            signer=signer,
            created_at=created_at or dt.datetime.now(dt.timezone.utc),
            asset_sha256=asset_sha256,
            alg=alg,
        )

    @classmethod
    def for_signed_file(
        cls,
        manifest_bytes: bytes,
        signed_path: str | os.PathLike[str],
        *,
        content_id: str,
        identity: SigningIdentity,
        created_at: dt.datetime | None = None,
    ) -> ManifestRecord:
        """The record for a file ``sign_file`` just wrote: hashes it; signer = the identity's subject."""
        digest = hashlib.sha256()
        with Path(signed_path).open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return cls.from_manifest(
            manifest_bytes,
            content_id=content_id,
            signer=identity.subject,
            asset_sha256=digest.hexdigest(),
            created_at=created_at,
        )


@dataclass(frozen=True)
class SupportedAlgorithms:
    """Body of ``GET /services/supportedAlgorithms``."""

    watermarks: tuple[str, ...] = (SOFT_BINDING_ALG,)
    fingerprints: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "watermarks": [{"alg": a} for a in self.watermarks],
            "fingerprints": [{"alg": a} for a in self.fingerprints],
        }


class ManifestStore(abc.ABC):
    """A repository of signed manifests, found by soft binding. Backends: SQLite (default), PostgreSQL.

    Backends are safe to share between threads; several processes may write to the same database at once.
    """

    @abc.abstractmethod
    def put(self, record: ManifestRecord) -> bool:
        """Store ``record``; True if it was new, False if the identical record was already there.

        Raises :class:`StoreError` if a different record already has this manifest id.
        """

    @abc.abstractmethod
    def get(self, manifest_id: str) -> ManifestRecord | None:
        """The record with this manifest id, or None."""

    @abc.abstractmethod
    def find_by_binding(self, alg: str, value: str) -> list[str]:
        """Ids of the manifests whose soft binding is (alg, value), oldest first (48-bit IDs can collide:
        validate each candidate)."""

    @abc.abstractmethod
    def count(self) -> int:
        """Number of manifests stored."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection; idempotent."""

    def supported_algorithms(self) -> SupportedAlgorithms:
        return SupportedAlgorithms()

    def find_by_content_id(self, content_id: str) -> list[ManifestRecord]:
        """Records for a watermark content ID (our algorithm), oldest first."""
        records = (self.get(i) for i in self.find_by_binding(SOFT_BINDING_ALG, content_id))
        return [r for r in records if r is not None]

    def __enter__(self) -> ManifestStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @staticmethod
    def _same(a: ManifestRecord, b: ManifestRecord) -> bool:
        return (a.manifest_bytes, a.content_id, a.alg, a.asset_sha256) == (
            b.manifest_bytes,
            b.content_id,
            b.alg,
            b.asset_sha256,
        )

    def _conflict(self, manifest_id: str) -> StoreError:
        return StoreError(f"manifest {manifest_id} is already stored with different content")
