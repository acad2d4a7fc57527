"""Small media and credentials for tests, tamper vectors and benchmarks (not used by the SDK at run time).

Produces unsigned media: a test-only helper, like everything under ``provenance._c2pa_*``.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import wave
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from provenance import _pki
from provenance.manifest import Ingredient, ManifestInfo, ModelInfo

__all__ = ["make_mp4", "sample_info", "sample_jpeg", "sample_wav", "write_pki"]


def make_mp4(
    path: str | os.PathLike[str],
    *,
    seconds: float = 1.0,
    size: int = 64,
    fps: int = 25,
    audio: bool = True,
    preset: str = "ultrafast",
    seed: int = 0,
) -> Path:
    """Write an H.264 (+ AAC mono 16 kHz) MP4 with moving noise, so every frame differs."""
    out = Path(path)
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    with av.open(str(out), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        video.options = {"preset": preset}
        astream = container.add_stream("aac", rate=16000) if audio else None
        if astream is not None:
            astream.layout = "mono"
        for i in range(round(seconds * fps)):
            frame = np.roll(base, i * 3, axis=1)
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if astream is not None:
            total = round(seconds * 16000)
            t = np.arange(total, dtype=np.float32) / 16000
            samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for k in range(0, total, 1024):
                chunk = samples[k : k + 1024]
                aframe = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
                aframe.sample_rate = 16000
                aframe.pts = k
                for packet in astream.encode(aframe):
                    container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)
    return out


def write_pki(
    directory: str | os.PathLike[str],
    *,
    org: str = "dirfa test org",
    label: str = "dirfa test signer",
    now: dt.datetime | None = None,
    leaf_validity: dt.timedelta | None = None,
) -> dict[str, Path]:
    """Mint root -> intermediate -> leaf into ``directory``: root.pem, chain.pem (leaf+intermediate),
    leaf.key, plus root.key / intermediate.pem / intermediate.key so tests can issue more leaves."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    when = now or dt.datetime.now(dt.timezone.utc)
    minted = _pki.mint_pki(org=org, label=label, now=when)
    leaf = minted.leaf
    if leaf_validity is not None:
        leaf = _pki.issue_certificate(
            minted.leaf.subject,
            minted.leaf_key.public_key(),
            minted.intermediate,
            minted.intermediate_key,
            not_before=when - dt.timedelta(minutes=5),
            not_after=when + leaf_validity,
        )
    files = {
        "root.pem": _pki.pem(minted.root),
        "intermediate.pem": _pki.pem(minted.intermediate),
        "chain.pem": _pki.pem(leaf) + _pki.pem(minted.intermediate),
        "leaf.pem": _pki.pem(leaf),
        "leaf.key": _pki.private_key_pem(minted.leaf_key),
        "root.key": _pki.private_key_pem(minted.root_key),
        "intermediate.key": _pki.private_key_pem(minted.intermediate_key),
    }
    paths = {}
    for name, data in files.items():
        p = d / name
        p.write_bytes(data)
        if name.endswith(".key"):
            p.chmod(0o600)
        paths[name] = p
    return paths


def sample_jpeg(size: int = 32, seed: int = 0) -> bytes:
    """A small JPEG made with PyAV's MJPEG encoder (no Pillow needed)."""
    rng = np.random.default_rng(seed)
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width = codec.height = size
    codec.pix_fmt = "yuvj420p"
    codec.time_base = Fraction(1, 25)
    frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), format="rgb24")
    packets = [*codec.encode(frame.reformat(format="yuvj420p")), *codec.encode(None)]
    return b"".join(bytes(p) for p in packets)


def sample_wav(seconds: float = 0.25, rate: int = 16000) -> bytes:
    """A short mono 16-bit sine WAV."""
    t = np.arange(round(seconds * rate)) / rate
    pcm = (np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def sample_info(content_id: str = "0123456789ab", **overrides: Any) -> ManifestInfo:
    """A complete ManifestInfo for tests; keyword arguments override fields."""
    fields: dict[str, Any] = dict(
        title="render.mp4",
        content_id=content_id,
        model=ModelInfo("dirfa-motion", "1.2.0", "ab" * 32),
        renderer="dirfa-warp 0.1",
        seed=1234,
        fps=25,
        duration=1.0,
        image=Ingredient(sample_jpeg(), "image/jpeg", "portrait.jpg"),
        audio=Ingredient(sample_wav(), "audio/wav", "speech.wav"),
        created_at=dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.timezone.utc),
    )
    fields.update(overrides)
    return ManifestInfo(**fields)
