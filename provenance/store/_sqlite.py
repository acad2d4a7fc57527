"""Embedded SQLite manifest store: the default, one file in the per-user data directory.

WAL journal, ``BEGIN IMMEDIATE`` write transactions and a busy timeout make it safe with concurrent writers
from several processes (one writer at a time, readers never blocked); ``synchronous=FULL`` so a committed
record survives a power cut.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from provenance.errors import StoreError
from provenance.store._base import ManifestRecord, ManifestStore

log = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS manifests (
    manifest_id  TEXT PRIMARY KEY,
    content_id   TEXT NOT NULL,
    alg          TEXT NOT NULL,
    manifest     BLOB NOT NULL,
    signer       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    asset_sha256 TEXT NOT NULL,
    stored_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bindings (
    alg         TEXT NOT NULL,
    value       TEXT NOT NULL,
    manifest_id TEXT NOT NULL REFERENCES manifests(manifest_id),
    PRIMARY KEY (alg, value, manifest_id)
);
"""
_BUSY_MS = 30_000


class SQLiteManifestStore(ManifestStore):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        try:
            self._db: sqlite3.Connection | None = sqlite3.connect(
                self.path, timeout=_BUSY_MS / 1000, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
            self._retry(self._setup)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the SQLite manifest store {self.path}: {exc}") from exc

    def _setup(self) -> None:
        db = self._conn()
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"SQLite refused WAL mode (got {mode!r}); is {self.path} on a network filesystem?")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"store schema {version} is newer than this dirfa ({SCHEMA_VERSION})")
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("the manifest store is closed")
        return self._db

    def _retry(self, fn: Callable[[], T]) -> T:
        # busy_timeout covers most contention; WAL set-up and checkpoints may still return SQLITE_BUSY.
        delay = 0.01
        for attempt in range(20):
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == 19:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        raise AssertionError("unreachable")

    def put(self, record: ManifestRecord) -> bool:
        def write() -> bool:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                cur = db.execute(
                    "INSERT OR IGNORE INTO manifests VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.manifest_id,
                        record.content_id,
                        record.alg,
                        record.manifest_bytes,
                        record.signer,
                        record.created_at.isoformat(timespec="microseconds"),
                        record.asset_sha256,
                        dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"),
                    ),
                )
                inserted = cur.rowcount == 1
                if not inserted:
                    existing = self._get_locked(record.manifest_id)
                    if existing is None or not self._same(existing, record):
                        raise self._conflict(record.manifest_id)
                db.execute(
                    "INSERT OR IGNORE INTO bindings VALUES (?, ?, ?)",
                    (record.alg, record.content_id, record.manifest_id),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return inserted

        with self._lock:
            try:
                return self._retry(write)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write manifest {record.manifest_id}: {exc}") from exc

    def _get_locked(self, manifest_id: str) -> ManifestRecord | None:
        row = (
            self._conn()
            .execute(
                "SELECT manifest_id, content_id, alg, manifest, signer, created_at, asset_sha256 "
                "FROM manifests WHERE manifest_id = ?",
                (manifest_id,),
            )
            .fetchone()
        )
        if row is None:
            return None
        return ManifestRecord(
            manifest_id=row[0],
            content_id=row[1],
            alg=row[2],
            manifest_bytes=bytes(row[3]),
            signer=row[4],
            created_at=dt.datetime.fromisoformat(row[5]),
            asset_sha256=row[6],
        )

    def get(self, manifest_id: str) -> ManifestRecord | None:
        with self._lock:
            try:
                return self._get_locked(manifest_id)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read manifest {manifest_id}: {exc}") from exc

    def find_by_binding(self, alg: str, value: str) -> list[str]:
        with self._lock:
            try:
                rows = (
                    self._conn()
                    .execute(
                        "SELECT b.manifest_id FROM bindings b JOIN manifests m USING (manifest_id) "
                        "WHERE b.alg = ? AND b.value = ? ORDER BY m.created_at, b.manifest_id",
                        (alg, value),
                    )
                    .fetchall()
                )
            except sqlite3.Error as exc:
                raise StoreError(f"cannot query the manifest store: {exc}") from exc
        return [r[0] for r in rows]

    def count(self) -> int:
        with self._lock:
            try:
                return int(self._conn().execute("SELECT count(*) FROM manifests").fetchone()[0])
            except sqlite3.Error as exc:
                raise StoreError(f"cannot query the manifest store: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __repr__(self) -> str:
        return f"SQLiteManifestStore({str(self.path)!r})"
