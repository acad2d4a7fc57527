"""Write the fuzzing seed corpus: small valid files of every container the verifier meets, generated here
(MP4, MOV, fragmented MP4, WebM, MKV, AVI, JPEG, PNG, GIF, SVG, WAV), plus a signed, watermarked MP4 when the
generation extra is installed (``--signed``).

    python -m fuzz.seeds OUT_DIR [--signed]
"""

from __future__ import annotations

import argparse
import io
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def _video(fmt: str, codec: str, *, frames: int = 6, size: int = 64, options: dict | None = None) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt, options=options or {}) as c:
        s = c.add_stream(codec, rate=25)
        s.width = s.height = size
        s.pix_fmt = "yuv420p"
        s.codec_context.time_base = Fraction(1, 25)
        rng = np.random.default_rng(0)
        for i in range(frames):
            img = np.full((size, size, 3), 40 * i, np.uint8)
            img[::8, ::8] = rng.integers(0, 255, 3, dtype=np.uint8)
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return buf.getvalue()


def _image(fmt: str, codec: str, pix_fmt: str) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as c:
        s = c.add_stream(codec, rate=1)
        s.width = s.height = 64
        s.pix_fmt = pix_fmt
        img = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
        for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=pix_fmt)):
            c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return buf.getvalue()


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes(range(64)) * 3 for _ in range(64))
    ihdr = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _wav() -> bytes:
    pcm = (np.sin(np.arange(8000) / 5) * 8000).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm
    return b"RIFF" + struct.pack("<I", len(body)) + body


def seeds() -> dict[str, bytes]:
    return {
        "h264.mp4": _video("mp4", "libx264"),
        "h264.mov": _video("mov", "libx264"),
        "fragmented.mp4": _video("mp4", "libx264", options={"movflags": "frag_keyframe+empty_moov"}),
        "vp9.webm": _video("webm", "libvpx-vp9", frames=4),
        "mpeg4.mkv": _video("matroska", "mpeg4"),
        "mpeg4.avi": _video("avi", "mpeg4"),
        "still.jpg": _image("mjpeg", "mjpeg", "yuvj420p"),
        "still.png": _png(),
        "still.gif": _image("gif", "gif", "rgb8"),
        "drawing.svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="9"/></svg>',
        "speech.wav": _wav(),
    }


def signed_seed(tmp: Path) -> bytes:
    """A real render (signed, watermarked): the manifest parser's richest input. Needs the generation extra."""
    from sdk import Generator

    root = Path(__file__).resolve().parents[1]
    out = tmp / "signed.mp4"
    Generator(size=256).render(root / "sdk/data/portrait.jpg", root / "sdk/data/speech.wav", output=out, seed=0)
    return out.read_bytes()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--signed", action="store_true", help="also render a signed, watermarked MP4 (slow)")
    ns = p.parse_args()
    ns.out.mkdir(parents=True, exist_ok=True)
    files = seeds()
    if ns.signed:
        files["signed.mp4"] = signed_seed(ns.out)
        (ns.out / "signed.mp4").unlink(missing_ok=True)
    for name, data in files.items():
        (ns.out / name).write_bytes(data)
    print(f"{len(files)} seeds in {ns.out}")


if __name__ == "__main__":
    main()
