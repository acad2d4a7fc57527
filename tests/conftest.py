"""Test isolation: every test session gets its own DIRFA_HOME (dev keys, manifest store), and torch does not spin.

System packages: a test that needs one (``system-packages.txt``) is marked ``@pytest.mark.system("NAME")``. Where
NAME is not installed it is skipped with the install command as the reason, except under ``CI=true``, where it FAILS:
in CI a skipped test is a test that did not run. A marker naming a package the set-up does not install is an error.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pathlib import Path

import pytest

from tests import _system

DATA = Path(__file__).resolve().parents[1] / "sdk" / "data"
SHARED_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "system(name): needs the system package NAME of system-packages.txt")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    declared = _system.declared()
    for item in items:
        for mark in item.iter_markers("system"):
            (name,) = mark.args
            if name not in declared or name not in _system.PROBES:
                raise pytest.UsageError(
                    f"{item.nodeid} needs system package {name!r}, which system-packages.txt / tests/_system.py do not "
                    "install and probe"
                )


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("system"):
        (name,) = mark.args
        if not _system.available(name):
            reason = f"{name} not installed (apt-get install {' '.join(_system.declared()[name])})"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"CI: {reason}: the set-up must install it (scripts/install-system-packages.sh)")
            pytest.skip(reason)


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


@pytest.fixture(scope="session")
def short_speech(tmp_path_factory: pytest.TempPathFactory, speech_path: Path) -> Path:
    """The first 2 s of the bundled speech, as WAV: keeps end-to-end tests fast."""
    from models.motion.audio import encode_wav, load_audio

    samples = load_audio(speech_path)[: 2 * 16000]
    path = tmp_path_factory.mktemp("audio") / "speech-2s.wav"
    path.write_bytes(encode_wav(samples, 16000))
    return path


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory, portrait_path: Path, short_speech: Path):
    """One real render through the public API (watermarked, signed with the dev identity, self-verified)."""
    from sdk import Generator

    out = tmp_path_factory.mktemp("render") / "talking.mp4"
    return Generator(size=512).render(portrait_path, short_speech, output=out, seed=1)


@pytest.fixture(scope="session")
def signed_video(rendered) -> Path:
    return rendered.path


def _h264_roundtrip(frames, crf, fps=25, preset="veryfast"):
    """Encode RGB frames with libx264 (``preset``) at ``crf`` and decode them again, in memory."""
    import io

    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset}
        for f in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(stream.encode())
    buf.seek(0)
    with av.open(buf) as inp:
        return [fr.to_ndarray(format="rgb24") for fr in inp.decode(video=0)]


@pytest.fixture(scope="session")
def h264():
    """The H.264 round trip as a function: ``h264(frames, crf, fps=25, preset="veryfast") -> frames``."""
    return _h264_roundtrip
