"""The system packages of ``system-packages.txt``: what each is, and a probe that says whether it is usable here."""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
from collections.abc import Callable
from pathlib import Path

LISTING = Path(__file__).resolve().parents[1] / "system-packages.txt"
CHROMIUM = "/usr/bin/chromium"  # Debian's chromium and chromium-driver (the browser tests use exactly these)
CHROMEDRIVER = "/usr/bin/chromedriver"


def declared() -> dict[str, tuple[str, ...]]:
    """NAME -> its Debian packages, as listed in ``system-packages.txt``."""
    out: dict[str, tuple[str, ...]] = {}
    for line in LISTING.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, packages = line.partition(":")
            out[name.strip()] = tuple(packages.split())
    return out


def _espeak() -> bool:
    try:
        ctypes.CDLL("libespeak-ng.so.1")
    except OSError:
        return False
    return True


def _festival() -> bool:
    from models.motion.corpus import festival

    return all(festival.available(v) for v in festival.VOICES)


def _postgresql() -> bool:
    if shutil.which("initdb") and shutil.which("pg_ctl"):
        return True
    return any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))


def _chromium() -> bool:
    return all(Path(p).is_file() and os.access(p, os.X_OK) for p in (CHROMIUM, CHROMEDRIVER))


PROBES: dict[str, Callable[[], bool]] = {
    "espeak-ng": _espeak,
    "festival": _festival,
    "postgresql": _postgresql,
    "chromium": _chromium,
}


@functools.cache
def available(name: str) -> bool:
    return PROBES[name]()
