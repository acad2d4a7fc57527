"""Manifest store contract, run against every backend: SQLite always, PostgreSQL on a throwaway server.

The ``pg_server`` fixture starts PostgreSQL (``tests/_postgres.py``: initdb into a temp dir, a free TCP port on
127.0.0.1, stopped afterwards; as root the server runs as ``postgres`` or ``nobody``). Tests using it SKIP only when
no server binary is installed (``apt-get install postgresql``).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from provenance._c2pa_samples import make_mp4, sample_info
from provenance.errors import StoreError
from provenance.manifest import SOFT_BINDING_ALG, sign_file
from provenance.signing import dev_identity
from provenance.store import ManifestRecord, open_store
from provenance.trust import TrustAnchors
from provenance.validation import RecoveryStatus, validate_detached
from tests._postgres import free_port, fresh_database, postgres_server

REPO = Path(__file__).resolve().parents[3]
T0 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.timezone.utc)


def record(i: int = 0, *, content_id: str | None = None, manifest_id: str | None = None) -> ManifestRecord:
    return ManifestRecord(
        manifest_id=manifest_id or f"urn:c2pa:{uuid.UUID(int=i)}",
        content_id=content_id or f"{i:012x}",
        manifest_bytes=b"manifest-%d" % i,
        signer="CN=test",
        created_at=T0 + dt.timedelta(seconds=i),
        asset_sha256=f"{i:064x}",
    )


# -- PostgreSQL throwaway server (tests/_postgres.py) -------------------------------------------------------


@pytest.fixture(scope="module")
def pg_server():
    with postgres_server() as url:
        yield url


@pytest.fixture()
def pg_url(pg_server):
    """A fresh database per test."""
    return fresh_database(pg_server)


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.system("postgresql")])]
)
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return request.getfixturevalue("pg_url")


# -- contract -----------------------------------------------------------------------------------------------


def test_put_get_and_find(url):
    with open_store(url) as store:
        assert store.put(record(1)) is True
        got = store.get(record(1).manifest_id)
        assert got == record(1)
        assert got.created_at.tzinfo is not None
        assert store.find_by_binding(SOFT_BINDING_ALG, "000000000001") == [record(1).manifest_id]
        assert store.find_by_binding(SOFT_BINDING_ALG, "ffffffffffff") == []
        assert store.find_by_binding("com.example.other", "000000000001") == []
        assert store.get("urn:c2pa:missing") is None
        assert store.count() == 1


def test_put_is_idempotent_and_conflicts_are_refused(url):
    with open_store(url) as store:
        assert store.put(record(2))
        assert store.put(record(2)) is False
        changed = ManifestRecord(**{**record(2).__dict__, "manifest_bytes": b"other"})
        with pytest.raises(StoreError):
            store.put(changed)
        assert store.count() == 1
        assert store.get(record(2).manifest_id).manifest_bytes == record(2).manifest_bytes


def test_colliding_content_ids_return_every_manifest_oldest_first(url):
    with open_store(url) as store:
        a = record(5, content_id="abcdefabcdef")
        b = record(3, content_id="abcdefabcdef")
        store.put(a)
        store.put(b)
        assert store.find_by_binding(SOFT_BINDING_ALG, "abcdefabcdef") == [b.manifest_id, a.manifest_id]
        assert [r.manifest_id for r in store.find_by_content_id("abcdefabcdef")] == [
            b.manifest_id,
            a.manifest_id,
        ]


def test_persists_across_reopen(url):
    with open_store(url) as store:
        store.put(record(7))
    with open_store(url) as store:
        assert store.get(record(7).manifest_id) == record(7)


def test_supported_algorithms(url):
    with open_store(url) as store:
        algs = store.supported_algorithms()
        assert algs.watermarks == (SOFT_BINDING_ALG,)
        assert algs.to_json() == {"watermarks": [{"alg": SOFT_BINDING_ALG}], "fingerprints": []}


def test_closed_store_raises(url):
    store = open_store(url)
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError):
        store.get("x")


_WRITER = textwrap.dedent(
    """
    import datetime as dt, sys, uuid
    from provenance.store import ManifestRecord, open_store
    url, worker, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    def rec(i):
        return ManifestRecord(manifest_id=f"urn:c2pa:{uuid.UUID(int=i)}", content_id=f"{i % 97:012x}",
            manifest_bytes=b"m%d" % i, signer="CN=w", created_at=t0 + dt.timedelta(seconds=i),
            asset_sha256=f"{i:064x}")
    with open_store(url) as store:
        for k in range(n):
            store.put(rec(worker * 100000 + k))   # unique to this worker
            store.put(rec(k))                     # written by every worker at once
    """
)


def test_concurrent_writers_lose_nothing(url):
    workers, n = 4, 40
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, url, str(w + 1), str(n)], env=env, stderr=subprocess.PIPE)
        for w in range(workers)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()[-2000:]
    with open_store(url) as store:
        assert store.count() == workers * n + n
        for k in range(n):
            assert store.get(f"urn:c2pa:{uuid.UUID(int=k)}") is not None
            for w in range(workers):
                assert store.get(f"urn:c2pa:{uuid.UUID(int=(w + 1) * 100000 + k)}") is not None
        # every record's binding is there exactly once
        ids = store.find_by_binding(SOFT_BINDING_ALG, f"{5:012x}")
        assert len(ids) == len(set(ids)) == 1 + workers * len([k for k in range(n) if k % 97 == 5])


def test_threads_share_one_store(url):
    import threading

    with open_store(url) as store:
        errors: list[BaseException] = []

        def work(base: int) -> None:
            try:
                for i in range(base, base + 25):
                    store.put(record(i))
                    store.put(record(i))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(b,)) for b in (1000, 2000, 3000)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert store.count() == 75


def test_real_manifest_round_trip_and_recovery(url, tmp_path, monkeypatch):
    monkeypatch.setenv("DIRFA_HOME", str(tmp_path / "home"))
    identity = dev_identity()
    src = make_mp4(tmp_path / "in.mp4")
    manifest = sign_file(src, tmp_path / "out.mp4", identity=identity, info=sample_info("a1b2c3d4e5f6"))
    rec = ManifestRecord.for_signed_file(manifest, tmp_path / "out.mp4", content_id="a1b2c3d4e5f6", identity=identity)
    assert rec.manifest_id.startswith("urn:c2pa:")
    with open_store(url) as store:
        store.put(rec)
        (found,) = store.find_by_binding(SOFT_BINDING_ALG, "a1b2c3d4e5f6")
        stored = store.get(found)
    result = validate_detached(
        stored.manifest_bytes, tmp_path / "out.mp4", content_id="a1b2c3d4e5f6", trust=TrustAnchors.dev()
    )
    assert result.status is RecoveryStatus.MATCHES_ASSET


# -- backend specifics ------------------------------------------------------------------------------------


def test_default_store_lives_in_the_data_dir_in_wal_mode(tmp_path, monkeypatch):
    import sqlite3

    monkeypatch.setenv("DIRFA_HOME", str(tmp_path))
    with open_store(None) as store:
        store.put(record(1))
    path = tmp_path / "data" / "manifests.sqlite3"
    assert path.exists()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_url_forms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///rel.db"):
        pass
    assert (tmp_path / "rel.db").exists()
    with open_store(tmp_path / "plain.db"):
        pass
    assert (tmp_path / "plain.db").exists()
    with pytest.raises(StoreError):
        open_store("mysql://nope")


def test_record_validation():
    with pytest.raises(ValueError):
        record(1, content_id="XYZ")
    with pytest.raises(ValueError):
        ManifestRecord.from_manifest(b"not jumbf", content_id="0" * 12, signer="x", asset_sha256="0" * 64)
    with pytest.raises(ValueError):
        ManifestRecord(**{**record(1).__dict__, "created_at": dt.datetime(2026, 1, 1)})


def test_unreachable_postgres_raises_store_error():
    pytest.importorskip("psycopg")
    with pytest.raises(StoreError):
        open_store(f"postgresql://nobody@127.0.0.1:{free_port()}/x")
