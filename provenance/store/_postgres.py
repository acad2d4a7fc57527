"""PostgreSQL manifest store for multi-node platforms (needs the ``store-postgres`` extra: psycopg 3).

Writes are single transactions with ``INSERT ... ON CONFLICT DO NOTHING``, so concurrent writers on any number
of nodes neither lose records nor fail on duplicates. Schema creation is serialised with an advisory lock
(concurrent ``CREATE TABLE IF NOT EXISTS`` can otherwise collide in the catalog).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from provenance.errors import StoreError
from provenance.store._base import ManifestRecord, ManifestStore

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_LOCK_KEY = 0x64697266615F7331  # "dirfa_s1": advisory lock id for schema set-up
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS dirfa_manifests (
        manifest_id  TEXT PRIMARY KEY,
        content_id   TEXT NOT NULL,
        alg          TEXT NOT NULL,
        manifest     BYTEA NOT NULL,
        signer       TEXT NOT NULL,
        created_at   TIMESTAMPTZ NOT NULL,
        asset_sha256 TEXT NOT NULL,
        stored_at    TIMESTAMPTZ NOT NULL DEFAULT now()
    )""",
    """CREATE TABLE IF NOT EXISTS dirfa_bindings (
        alg         TEXT NOT NULL,
        value       TEXT NOT NULL,
        manifest_id TEXT NOT NULL REFERENCES dirfa_manifests(manifest_id),
        PRIMARY KEY (alg, value, manifest_id)
    )""",
    "CREATE TABLE IF NOT EXISTS dirfa_schema (version INTEGER NOT NULL)",
)


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise StoreError("the PostgreSQL manifest store needs psycopg 3: pip install 'dirfa[store-postgres]'") from exc
    return psycopg


class PostgresManifestStore(ManifestStore):
    def __init__(self, dsn: str, *, connect_timeout: float = 10.0) -> None:
        psycopg = _psycopg()
        self._errors = psycopg.Error
        self._lock = threading.Lock()
        self._dsn_for_repr = dsn.split("@")[-1]  # never echo a password
        try:
            self._db: Any = psycopg.connect(dsn, connect_timeout=int(max(1, connect_timeout)), autocommit=False)
            with self._db.transaction(), self._db.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                for statement in _SCHEMA:
                    cur.execute(statement)
                cur.execute("SELECT version FROM dirfa_schema")
                row = cur.fetchone()
                if row is None:
                    cur.execute("INSERT INTO dirfa_schema VALUES (%s)", (SCHEMA_VERSION,))
                elif row[0] > SCHEMA_VERSION:
                    raise StoreError(f"store schema {row[0]} is newer than this dirfa ({SCHEMA_VERSION})")
        except psycopg.Error as exc:
            raise StoreError(f"cannot open the PostgreSQL manifest store at {self._dsn_for_repr}: {exc}") from exc

    def _conn(self) -> Any:
        if self._db is None:
            raise StoreError("the manifest store is closed")
        return self._db

    def put(self, record: ManifestRecord) -> bool:
        with self._lock:
            db = self._conn()
            try:
                with db.transaction(), db.cursor() as cur:
                    cur.execute(
                        "INSERT INTO dirfa_manifests (manifest_id, content_id, alg, manifest, signer, "
                        "created_at, asset_sha256) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (manifest_id) DO NOTHING",
                        (
                            record.manifest_id,
                            record.content_id,
                            record.alg,
                            record.manifest_bytes,
                            record.signer,
                            record.created_at,
                            record.asset_sha256,
                        ),
                    )
                    inserted = cur.rowcount == 1
                    if not inserted:
                        existing = self._get_locked(cur, record.manifest_id)
                        if existing is None or not self._same(existing, record):
                            raise self._conflict(record.manifest_id)
                    cur.execute(
                        "INSERT INTO dirfa_bindings VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                        (record.alg, record.content_id, record.manifest_id),
                    )
            except self._errors as exc:
                raise StoreError(f"cannot write manifest {record.manifest_id}: {exc}") from exc
        return inserted

    @staticmethod
    def _get_locked(cur: Any, manifest_id: str) -> ManifestRecord | None:
        cur.execute(
            "SELECT manifest_id, content_id, alg, manifest, signer, created_at, asset_sha256 "
            "FROM dirfa_manifests WHERE manifest_id = %s",
            (manifest_id,),
        )
        row = cur.fetchone()
        if row is None:
            return None
        created: dt.datetime = row[5]
        return ManifestRecord(
            manifest_id=row[0],
            content_id=row[1],
            alg=row[2],
            manifest_bytes=bytes(row[3]),
            signer=row[4],
            created_at=created,
            asset_sha256=row[6],
        )

    def get(self, manifest_id: str) -> ManifestRecord | None:
        with self._lock:
            db = self._conn()
            try:
                with db.transaction(), db.cursor() as cur:
                    return self._get_locked(cur, manifest_id)
            except self._errors as exc:
                raise StoreError(f"cannot read manifest {manifest_id}: {exc}") from exc

    def find_by_binding(self, alg: str, value: str) -> list[str]:
        with self._lock:
            db = self._conn()
            try:
                with db.transaction(), db.cursor() as cur:
                    cur.execute(
                        "SELECT b.manifest_id FROM dirfa_bindings b "
                        "JOIN dirfa_manifests m USING (manifest_id) WHERE b.alg = %s AND b.value = %s "
                        "ORDER BY m.created_at, b.manifest_id",
                        (alg, value),
                    )
                    return [r[0] for r in cur.fetchall()]
            except self._errors as exc:
                raise StoreError(f"cannot query the manifest store: {exc}") from exc

    def count(self) -> int:
        with self._lock:
            db = self._conn()
            try:
                with db.transaction(), db.cursor() as cur:
                    cur.execute("SELECT count(*) FROM dirfa_manifests")
                    return int(cur.fetchone()[0])
            except self._errors as exc:
                raise StoreError(f"cannot query the manifest store: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __repr__(self) -> str:
        return f"PostgresManifestStore({self._dsn_for_repr!r})"
