"""Issue 17, SDK side: a killed render leaves nothing that outlives it unseen, concurrent renders to one output do
not both "succeed", oversized or invalid arguments are refused before any work, a full disk is an OutputError."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from sdk import AudioError, Generator, OutputError
from sdk._workdir import SUFFIX, WorkDir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gen():
    return Generator(size=256)


def _child_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), OMP_WAIT_POLICY="PASSIVE")


def test_a_killed_render_leaves_no_mp4_and_the_next_render_removes_its_folder(
    gen, tmp_path, portrait_path, short_speech, caplog
):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    script = textwrap.dedent(
        f"""
        from sdk import Generator
        Generator(size=256).render({str(portrait_path)!r}, {str(short_speech)!r}, output={str(out_dir / "a.mp4")!r})
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], env=_child_env(), cwd=ROOT)
    partial = out_dir / f".a.mp4{SUFFIX}" / "unsigned.partial"
    try:
        deadline = time.monotonic() + 120
        while not (partial.exists() and partial.stat().st_size > 0):  # killed while it encodes
            assert child.poll() is None, "the render ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    left = [p for p in out_dir.rglob("*")]
    assert left and not [p for p in left if p.suffix == ".mp4"], left  # only the hidden folder, nothing named .mp4
    os.utime(partial.parent, (time.time() - 60, time.time() - 60))  # older than a folder being created

    with caplog.at_level(logging.WARNING, logger="sdk._workdir"):
        result = gen.render(portrait_path, short_speech, output=out_dir / "b.mp4", seed=1)
    assert sorted(p.name for p in out_dir.iterdir()) == ["b.mp4"]
    assert "interrupted render" in caplog.text and ".a.mp4" in caplog.text
    assert result.verdict in ("verified", "signed_untrusted")


def test_a_second_render_to_the_same_output_fails_while_the_first_runs(gen, tmp_path, portrait_path, short_speech):
    out = tmp_path / "same.mp4"
    with WorkDir(out), pytest.raises(OutputError, match="another render"):  # the first render holds the output
        gen.render(portrait_path, short_speech, output=out)
    assert not out.exists()
    gen.render(portrait_path, short_speech, output=out, seed=2)  # free again once it ended
    assert out.exists()


def test_three_hours_of_audio_are_refused_from_the_sample_count(gen, tmp_path, portrait_path):
    samples = np.full(8000 * 3 * 3600 + 1, 0.01, np.float32)
    t = time.perf_counter()
    with pytest.raises(AudioError, match="longer than the maximum"):
        gen.render(portrait_path, (samples, 8000), output=tmp_path / "x.mp4")
    assert time.perf_counter() - t < 2.0  # no conversion or resampling happened first
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("rate", [0, -8000, 44100.5, "fast"])
def test_bad_sample_rates_are_audio_errors(gen, tmp_path, portrait_path, rate):
    with pytest.raises(AudioError, match="sample_rate"):
        gen.render(portrait_path, (np.zeros(16000, np.float32), rate), output=tmp_path / "x.mp4")


@pytest.mark.parametrize(
    "kwargs", [{"expressiveness": float("nan")}, {"head_motion": float("inf")}, {"expressiveness": 1e9},
               {"head_motion": -1.0}, {"expressiveness": True}],
)  # fmt: skip
def test_bad_scales_are_refused_up_front(gen, tmp_path, portrait_path, short_speech, kwargs):
    t = time.perf_counter()
    with pytest.raises(ValueError, match="must be a number in"):
        gen.render(portrait_path, short_speech, output=tmp_path / "x.mp4", **kwargs)
    assert time.perf_counter() - t < 0.5
    assert not list(tmp_path.iterdir())


def test_a_full_disk_is_an_output_error_and_leaves_nothing(tmp_path, portrait_path, short_speech):
    """The render runs in a child whose file-size limit (RLIMIT_FSIZE) makes writes fail as a full disk does."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
        from sdk import Generator, OutputError
        gen = Generator(size=256)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))
        try:
            gen.render({str(portrait_path)!r}, {str(short_speech)!r}, output={str(out_dir / "x.mp4")!r})
        except OutputError as exc:
            print("OutputError:", exc)
            sys.exit(0)
        sys.exit(3)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], env=_child_env(), cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OutputError: cannot write" in done.stdout
    assert not list(out_dir.iterdir())
