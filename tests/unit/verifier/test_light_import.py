"""Platforms run the verifier without torch, onnxruntime, mediapipe or OpenCV: importing AND running it loads none."""

import subprocess
import sys

HEAVY = ("torch", "onnxruntime", "mediapipe", "imwatermark", "cv2", "jax")


def test_import_and_verify_load_no_heavy_modules(tmp_path):
    garbage = tmp_path / "x.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 100)
    code = (
        "import sys, verifier\n"
        f"r = verifier.verify({str(garbage)!r})\n"
        "print(r.verdict.value)\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    verdict, heavy = ([*out.stdout.splitlines(), "", ""])[:2]
    assert verdict == "unreadable"
    assert heavy.strip() == "", f"verifier loaded: {heavy}"
