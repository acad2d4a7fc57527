"""Signing overhead: time to embed a signed C2PA manifest vs time to encode the video it signs.

python benchmarks/sign_overhead.py [--seconds 10] [--size 512] [--repeats 5] [--json]

Stand-in for the render: PyAV encodes a 10 s 512x512 25 fps H.264 (libx264 veryfast CRF 18, the SDK writer's
settings) + AAC 128 kb/s MP4 from distinct synthetic frames made before timing (moving gradient + noise). The
file is then signed with ``provenance.manifest.sign_file`` (ES256 PEM key, the bundled portrait and speech as
ingredients) and read back with ``read_manifest``. Reported: medians of ``--repeats`` runs and the ratio sign
/ encode from the same runs. The real render adds motion inference and warping to the encoding, so the ratio
to the full render time is lower than the one printed here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from provenance._c2pa_samples import write_pki  # noqa: E402
from provenance.manifest import Ingredient, ManifestInfo, ModelInfo, sign_file  # noqa: E402
from provenance.signing import SigningIdentity  # noqa: E402
from provenance.trust import TrustAnchors  # noqa: E402
from provenance.validation import ManifestStatus, read_manifest  # noqa: E402


def synth_frames(size: int, count: int, noise: float) -> list[np.ndarray]:
    """Distinct frames (moving gradient + mild noise), made before timing so only encoding is measured."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    frames = []
    for i in range(count):
        base = 127 + 100 * np.sin((xx + 3 * i) / 37.0) * np.cos((yy - 2 * i) / 53.0)
        noisy = base[..., None] + rng.normal(0, noise, (size, size, 3))
        frames.append(np.clip(noisy, 0, 255).astype(np.uint8))
    return frames


def encode(path: Path, frames: list[np.ndarray], seconds: float, fps: int = 25, rate: int = 16000) -> None:
    size = frames[0].shape[0]
    t = np.arange(round(seconds * rate)) / rate
    pcm = (0.3 * np.sin(2 * np.pi * 180 * t) * np.sin(2 * np.pi * 3 * t)).astype(np.float32)
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        video.options = {"crf": "18", "preset": "veryfast"}
        audio = out.add_stream("aac", rate=rate)
        audio.layout = "mono"
        audio.bit_rate = 128_000
        for i in range(round(seconds * fps)):
            for p in video.encode(av.VideoFrame.from_ndarray(frames[i % len(frames)], format="rgb24")):
                out.mux(p)
        for p in video.encode():
            out.mux(p)
        for k in range(0, len(pcm), 1024):
            frame = av.AudioFrame.from_ndarray(pcm[None, k : k + 1024], format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, k, Fraction(1, rate)
            for p in audio.encode(frame):
                out.mux(p)
        for p in audio.encode():
            out.mux(p)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--noise", type=float, default=3.0, help="noise sigma: higher = bigger, harder-to-hash file")
    ap.add_argument(
        "--ingredient-thumbnails", action="store_true", help="embed the portrait thumbnail (off in the SDK)"
    )
    args = ap.parse_args()

    data = REPO / "sdk" / "data"
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        pki = write_pki(d / "pki")
        identity = SigningIdentity.from_pem(pki["chain.pem"], pki["leaf.key"])
        anchors = TrustAnchors.from_pem(pki["root.pem"])
        info = ManifestInfo(
            title="bench.mp4",
            content_id="0123456789ab",
            model=ModelInfo("dirfa-motion", "bench", "00" * 32),
            renderer="benchmark",
            seed=0,
            fps=25,
            duration=args.seconds,
            image=Ingredient((data / "portrait.jpg").read_bytes(), "image/jpeg", "portrait.jpg"),
            audio=Ingredient((data / "speech.wav").read_bytes(), "audio/wav", "speech.wav"),
        )
        frames = synth_frames(args.size, min(250, round(args.seconds * 25)), args.noise)  # every frame distinct
        enc, sign, read = [], [], []
        for r in range(args.repeats):
            src, dst = d / f"in{r}.mp4", d / f"out{r}.mp4"
            t0 = time.perf_counter()
            encode(src, frames, args.seconds)
            t1 = time.perf_counter()
            manifest = sign_file(
                src, dst, identity=identity, info=info, ingredient_thumbnails=args.ingredient_thumbnails
            )
            t2 = time.perf_counter()
            finding = read_manifest(dst, trust=anchors)
            t3 = time.perf_counter()
            if finding.status is not ManifestStatus.TRUSTED:
                raise SystemExit(f"signed file did not verify: {finding.status} {finding.failures}")
            enc.append(t1 - t0)
            sign.append(t2 - t1)
            read.append(t3 - t2)
        result = {
            "schema_version": 1,
            "video": f"{args.seconds:g} s {args.size}x{args.size} 25 fps H.264 veryfast CRF 18 + AAC",
            "file_bytes": src.stat().st_size,
            "manifest_bytes": len(manifest),
            "encode_s": statistics.median(enc),
            "sign_s": statistics.median(sign),
            "verify_s": statistics.median(read),
            "sign_over_encode": statistics.median(s / e for s, e in zip(sign, enc, strict=True)),
            "ingredient_thumbnails": args.ingredient_thumbnails,
            "noise": args.noise,
            "repeats": args.repeats,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['video']}: {result['file_bytes'] / 1e6:.2f} MB, manifest {result['manifest_bytes']} B")
        print(f"encode {result['encode_s']:.3f} s | sign {result['sign_s']:.4f} s", end=" | ")
        print(f"verify {result['verify_s']:.4f} s")
        ratio = 100 * result["sign_over_encode"]
        print(f"sign / encode = {ratio:.2f} % (median of {args.repeats}; target <= 5 %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
