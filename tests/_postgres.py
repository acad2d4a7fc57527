"""A throwaway PostgreSQL server for tests: initdb into a temp dir, a free TCP port on 127.0.0.1, stopped afterwards.

As root it runs the server as the ``postgres`` user (or ``nobody``): initdb refuses root. It SKIPS the calling test
only when no server binary is installed (``apt-get install postgresql``); a missing psycopg is a failure (the
``store-postgres`` extra is part of the dev install). Used by ``tests/unit/provenance/test_store.py`` and
``tests/integration/test_softbinding_api.py``, each through a module-scoped fixture::

    @pytest.fixture(scope="module")
    def pg_server():
        with postgres_server() as url:   # postgresql://dirfa@127.0.0.1:PORT/postgres
            yield url
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def pg_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return versions[-1].parent if versions else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server; yield its URL (database ``postgres``, user ``dirfa``, trust auth); stop and delete it."""
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail("psycopg is missing: install the store-postgres extra (pip install -e '.[store-postgres]')")
    prefix: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="dirfa-pg-"))
    if os.geteuid() == 0:  # initdb refuses to run as root: drop to an unprivileged user
        user = next((u for u in ("postgres", "nobody") if _has_user(u)), None)
        if user is None:
            pytest.fail("running as root without a 'postgres' or 'nobody' user to run PostgreSQL")
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
        prefix = ["runuser", "-u", user, "--"]
    data, port = base / "data", free_port()
    env = {**os.environ, "LC_ALL": "C"}
    run = dict(check=True, capture_output=True, env=env, timeout=120)
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "dirfa", "--auth=trust", "-E", "UTF8"], **run
    )
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={base} -c fsync=off"
    subprocess.run(
        [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-w", "-l", str(base / "log"), "start"], **run
    )
    try:
        yield f"postgresql://dirfa@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, env=env, timeout=60)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """Create an empty database on the server; return its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + "/" + name
