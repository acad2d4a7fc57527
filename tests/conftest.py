"""Test isolation: every test session gets its own DIRFA_HOME (dev keys, manifest store), and torch does not spin."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "sdk" / "data"
SHARED_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


@pytest.fixture(scope="session", autouse=True)
def _dirfa_home(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("dirfa-home")
    old = os.environ.get("DIRFA_HOME")
    os.environ["DIRFA_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("DIRFA_HOME", None)
    else:
        os.environ["DIRFA_HOME"] = old


@pytest.fixture(scope="session")
def portrait_path() -> Path:
    return DATA / "portrait.jpg"


@pytest.fixture(scope="session")
def speech_path() -> Path:
    return DATA / "speech.wav"
