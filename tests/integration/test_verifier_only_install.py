"""Platforms install only the verifier: `pip install .` into a fresh venv brings no torch, onnxruntime, mediapipe or
OpenCV, and `dirfa-verify` works there. Needs PyPI access (as `make test` itself does)."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_verifier_only_install(tmp_path, signed_video):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", str(ROOT)], capture_output=True, text=True, timeout=600
    )
    assert install.returncode == 0, install.stderr[-2000:]
    listed = subprocess.run([str(py), "-m", "pip", "list", "--format=json"], capture_output=True, text=True)
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert not names & {"torch", "onnxruntime", "mediapipe", "opencv-python", "opencv-contrib-python", "jax"}
    cmd = [str(env_dir / "bin" / "dirfa-verify"), str(signed_video), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 10, out.stderr  # signed_untrusted: nobody trusted
    assert json.loads(out.stdout)["watermark"]["found"] is True
    server = subprocess.run([str(env_dir / "bin" / "dirfa-verify-server"), "--version"], capture_output=True, text=True)
    assert server.returncode == 2 and "dirfa[service]" in server.stderr  # the service is an extra: says which
    install = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", f"{ROOT}[service]"], capture_output=True, text=True, timeout=600
    )
    assert install.returncode == 0, install.stderr[-2000:]
    listed = subprocess.run([str(py), "-m", "pip", "list", "--format=json"], capture_output=True, text=True)
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert not names & {"torch", "onnxruntime", "mediapipe", "opencv-python", "opencv-contrib-python", "jax"}
    server = subprocess.run([str(env_dir / "bin" / "dirfa-verify-server"), "--version"], capture_output=True, text=True)
    assert server.returncode == 0, server.stderr
    assert sys.prefix != str(env_dir)
