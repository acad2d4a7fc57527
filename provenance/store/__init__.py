"""Manifest store: signed manifests kept by watermark content ID, for recovery after a transcode stripped
them.

``open_store(None)`` opens the default SQLite store in :func:`provenance.paths.data_dir`; ``open_store(url)``
takes ``sqlite:///path/to/file.db`` (or a plain path) or ``postgresql://user@host/db``. The interface mirrors
the C2PA Soft Binding Resolution API (see ``provenance.store._base``).
"""

from __future__ import annotations

import os
from pathlib import Path

from provenance.errors import StoreError
from provenance.paths import data_dir
from provenance.store._base import ManifestRecord, ManifestStore, SupportedAlgorithms

__all__ = [
    "DEFAULT_FILENAME",
    "ManifestRecord",
    "ManifestStore",
    "StoreError",
    "SupportedAlgorithms",
    "default_store_path",
    "open_store",
]

DEFAULT_FILENAME = "manifests.sqlite3"


def default_store_path() -> Path:
    return data_dir() / DEFAULT_FILENAME


def open_store(location: str | os.PathLike[str] | None = None) -> ManifestStore:
    """Open (creating if needed) a manifest store. Close it, or use it as a context manager."""
    if location is None:
        from provenance.store._sqlite import SQLiteManifestStore

        return SQLiteManifestStore(default_store_path())
    text = os.fspath(location)
    if text.startswith(("postgresql://", "postgres://")):
        from provenance.store._postgres import PostgresManifestStore

        return PostgresManifestStore(text)
    if text.startswith("sqlite://"):
        # sqlite:///relative.db is relative, sqlite:////abs/path.db absolute (SQLAlchemy's convention)
        text = text.removeprefix("sqlite://")
        text = text[1:] if text.startswith("/") else text
        if not text:
            raise StoreError("sqlite URL without a path")
    elif "://" in text:
        raise StoreError(f"unsupported manifest store URL scheme in {text.split('://')[0]!r}")
    from provenance.store._sqlite import SQLiteManifestStore

    return SQLiteManifestStore(Path(text).expanduser())
