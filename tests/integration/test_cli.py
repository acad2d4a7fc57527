"""The dirfa and dirfa-verify command lines: output, JSON, and documented exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from models.motion.audio import encode_wav


def run(*args: str, module: str = "sdk.cli") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=300, env=os.environ.copy()
    )


def test_versions():
    for module in ("sdk.cli", "verifier.cli"):
        out = run("--version", module=module)
        assert out.returncode == 0 and "0.1.0" in out.stdout


def test_help_lists_commands():
    out = run("--help")
    assert out.returncode == 0
    for cmd in ("render", "verify", "demo", "keys"):
        assert cmd in out.stdout


def test_render_then_verify_exit_codes(tmp_path, portrait_path, short_speech):
    out_path = tmp_path / "cli.mp4"
    r = run(
        "render", str(portrait_path), str(short_speech), "-o", str(out_path), "--seed", "5", "--size", "256", "--json"
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # no third-party (mediapipe / TFLite) log noise by default
    result = json.loads(r.stdout)
    assert result["seed"] == 5 and result["path"] == str(out_path) and out_path.is_file()

    untrusted = run(str(out_path), "--json", module="verifier.cli")
    assert untrusted.returncode == 10, untrusted.stderr  # SIGNED_UNTRUSTED
    assert json.loads(untrusted.stdout)["watermark"]["content_id"] == result["content_id"]

    root = tmp_path / "root.pem"
    exported = run("keys", "export-root", "-o", str(root))
    assert exported.returncode == 0, exported.stderr
    trusted = run("verify", str(out_path), "--trust", str(root))
    assert trusted.returncode == 0, trusted.stderr
    assert "VERIFIED" in trusted.stdout and result["content_id"] in trusted.stdout


def test_verbose_render_shows_the_native_log(tmp_path, portrait_path, short_speech):
    r = run("-v", "render", str(portrait_path), str(short_speech), "-o", str(tmp_path / "v.mp4"), "--size", "256")
    assert r.returncode == 0, r.stderr
    assert "models.native" in r.stderr


def test_verify_exit_codes_for_unreadable_and_missing(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"junk" * 100)
    assert run(str(junk), module="verifier.cli").returncode == 40
    assert run(str(tmp_path / "missing.mp4"), module="verifier.cli").returncode == 2
    assert run(str(junk), "--trust", str(tmp_path / "missing.pem"), module="verifier.cli").returncode == 2


def test_batch_json_and_highest_exit_code(tmp_path, signed_video):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 64)
    out = run(str(signed_video), str(junk), "--json", "--fast", "--jobs", "2", module="verifier.cli")
    assert out.returncode == 40
    body = json.loads(out.stdout)
    assert [r["verdict"] for r in body["reports"]] == ["signed_untrusted", "unreadable"]


def test_render_bad_input_exit_code_and_no_file(tmp_path, short_speech):
    from PIL import Image

    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(grey)
    out_path = tmp_path / "x.mp4"
    r = run("render", str(grey), str(short_speech), "-o", str(out_path))
    assert r.returncode == 3 and "NoFaceError" in r.stderr
    assert not out_path.exists()


def test_render_batch_keeps_going_past_a_bad_job(tmp_path, portrait_path, short_speech):
    import shutil

    shutil.copy(portrait_path, tmp_path / "face.jpg")
    shutil.copy(short_speech, tmp_path / "speech.wav")
    (tmp_path / "silence.wav").write_bytes(encode_wav(np.zeros(16000), 16000))
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        '{"portrait": "face.jpg", "audio": "speech.wav", "output": "a.mp4", "seed": 1}\n'
        "# comment lines and blank lines are skipped\n\n"
        '{"portrait": "face.jpg", "audio": "silence.wav", "output": "b.mp4"}\n'
        '{"portrait": "face.jpg", "audio": "speech.wav", "output": "c.mp4", "seed": 2}\n'
    )
    r = run("render-batch", str(jobs), "--size", "256", "--json")
    assert r.returncode == 3, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["ok"] for x in lines] == [True, False, True]
    assert "AudioError" in lines[1]["error"]
    assert (tmp_path / "a.mp4").is_file() and (tmp_path / "c.mp4").is_file() and not (tmp_path / "b.mp4").exists()
    assert lines[0]["content_id"] != lines[2]["content_id"]
