"""The private folder a render writes its unsigned and signed files in, next to the output, and the clean-up of
the ones an interrupted render left behind.

``.{output name}.dirfa-partial/`` (hidden; nothing in it is named .mp4): created with ``mkdir``, so it also claims
the output name (a second render to the same output while the first runs fails with :class:`OutputError` instead of
both reporting success); it holds ``lock`` (``flock``-ed for the render's lifetime), ``unsigned.partial`` and
``signed.partial``, and is removed when the render ends, however it ends. Only a process killed outright (SIGKILL,
power loss) leaves one behind: the next render into that folder removes every such folder whose lock is free and
says so in a warning (``dirfa render`` prints it).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import time
from pathlib import Path
from types import TracebackType

from .errors import OutputError

log = logging.getLogger(__name__)

SUFFIX = ".dirfa-partial"
CREATION_S = 5.0  # a folder this young may be one whose owner has not locked it yet
LEGACY = re.compile(r"^\.dirfa-[a-z0-9_]{8}$")  # tempfile.mkdtemp(prefix=".dirfa-") of SDK versions up to 0.1.0
LEGACY_FILES = {"unsigned.mp4", "signed.mp4"}
LEGACY_AGE_S = 3600.0


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _abandoned(folder: Path) -> bool:
    """True when no live render holds ``folder``'s lock (and it is not one being created right now)."""
    try:
        fd = os.open(folder / "lock", os.O_RDWR)
    except FileNotFoundError:
        return _age(folder) > CREATION_S
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # held: a render is running
    finally:
        os.close(fd)  # releases the probe's lock
    return _age(folder) > CREATION_S


def sweep(directory: Path) -> list[Path]:
    """Remove what interrupted renders left in ``directory``; returns the folders removed."""
    removed: list[Path] = []
    try:
        entries = list(directory.iterdir())
    except OSError:
        return removed
    for p in entries:
        if not p.is_dir() or p.is_symlink():
            continue
        if p.name.endswith(SUFFIX) and p.name.startswith("."):
            stale = _abandoned(p)
        elif LEGACY.match(p.name):
            try:
                names = {c.name for c in p.iterdir()}
            except OSError:
                continue
            stale = names <= LEGACY_FILES and _age(p) > LEGACY_AGE_S
        else:
            continue
        if stale:
            shutil.rmtree(p, ignore_errors=True)
            if not p.exists():
                removed.append(p)
                log.warning("removed the unsigned leftovers of an interrupted render: %s", p)
    return removed


class WorkDir:
    """``with WorkDir(out) as wd:`` -> ``wd.unsigned``, ``wd.signed``; see the module docstring."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.path = out.parent / f".{out.name}{SUFFIX}"
        self.unsigned = self.path / "unsigned.partial"
        self.signed = self.path / "signed.partial"
        self._fd: int | None = None

    def __enter__(self) -> WorkDir:
        sweep(self.out.parent)
        for attempt in range(2):
            try:
                os.mkdir(self.path, 0o700)
                break
            except FileExistsError:
                if attempt or not _abandoned(self.path):
                    raise OutputError(f"another render is writing {self.out}") from None
                shutil.rmtree(self.path, ignore_errors=True)
            except OSError as exc:
                raise OutputError(f"cannot write in the output directory {self.out.parent}: {exc}") from exc
        try:
            self._fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self.__exit__(None, None, None)
            raise OutputError(f"cannot lock the render's work folder {self.path}: {exc}") from exc
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def check_output(out: Path) -> None:
    """A usable output path: an .mp4 that is not a directory, in an existing, writable directory."""
    if out.suffix.lower() != ".mp4":
        raise OutputError(f"output must be an .mp4 file, got {out.name!r}")
    if out.exists() and out.is_dir():
        raise OutputError(f"output is a directory: {out}")
    parent = out.parent
    if not parent.is_dir():
        raise OutputError(f"output directory does not exist: {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"output directory is not writable: {parent}")


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (best effort)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
