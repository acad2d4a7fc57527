"""Verdict accuracy on generated cases: what a platform sees after ordinary processing and after tampering.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/verify_cases.py [--seconds 6] [--mode full]

Renders one clip with the SDK (dev identity, its own store), derives every case from it, verifies each, and prints
a table of expected and actual verdicts. Exit status 1 if any verdict is wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def reencode(
    src: Path, dst: Path, *, crf: int = 23, scale: float = 1.0, crop: float = 1.0, skip_s: float = 0.0
) -> None:
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        w0, h0 = vin.codec_context.width, vin.codec_context.height
        cw, ch = int(w0 * crop) // 2 * 2, int(h0 * crop) // 2 * 2
        x0, y0 = (w0 - cw) // 2, (h0 - ch) // 2
        w, h = int(cw * scale) // 2 * 2, int(ch * scale) // 2 * 2
        vout = out.add_stream("libx264", rate=25)
        vout.width, vout.height, vout.pix_fmt = w, h, "yuv420p"
        vout.options = {"crf": str(crf), "preset": "medium"}
        for frame in inp.decode(vin):
            if frame.time is not None and frame.time < skip_s:
                continue
            img = frame.to_ndarray(format="rgb24")[y0 : y0 + ch, x0 : x0 + cw]
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24").reformat(width=w, height=h)
            for p in vout.encode(vf):
                out.mux(p)
        for p in vout.encode(None):
            out.mux(p)


def splice(marked: Path, dst: Path, portrait: Path) -> None:
    """First half: the marked clip; second half: an unmarked pan over the portrait."""
    from PIL import Image

    base = np.asarray(Image.open(portrait).convert("RGB").resize((560, 560)))
    with av.open(str(marked)) as inp, av.open(str(dst), "w") as out:
        frames = [f.to_ndarray(format="rgb24") for f in inp.decode(video=0)]
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 512, 512, "yuv420p"
        s.options = {"crf": "20"}
        half = len(frames) // 2
        for i in range(len(frames)):
            img = frames[i] if i < half else np.ascontiguousarray(base[i % 40 : i % 40 + 512, 20:532])
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)


def remux(src: Path, dst: Path) -> None:
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        for packet in inp.demux():
            if packet.stream.index in streams and packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--mode", choices=("full", "fast"), default="full")
    ns = p.parse_args()
    os.environ.setdefault("DIRFA_HOME", tempfile.mkdtemp(prefix="dirfa-cases-"))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from render_speed import make_audio

    from provenance._c2pa_samples import sample_jpeg, write_pki
    from provenance.store import open_store
    from provenance.trust import TrustAnchors
    from sdk import Generator
    from verifier import verify

    tmp = Path(tempfile.mkdtemp(prefix="verify-cases-"))
    portrait = ROOT / "sdk" / "data" / "portrait.jpg"
    make_audio(ns.seconds, tmp / "speech.wav")
    clip = Generator().render(portrait, tmp / "speech.wav", output=tmp / "ours.mp4", seed=1).path
    store = open_store(None)
    dev = TrustAnchors.dev()

    made = {}
    for name, kwargs in {
        "crf23": {"crf": 23},
        "crf28": {"crf": 28},
        "crf35": {"crf": 35},
        "resized 0.5x crf23": {"scale": 0.5},
        "cropped 90% crf23": {"crop": 0.9},
        "trimmed first 2 s crf23": {"skip_s": 2.0},
    }.items():
        made[name] = tmp / f"{name.replace(' ', '_')}.mp4"
        reencode(clip, made[name], **kwargs)
    splice(clip, tmp / "spliced.mp4", portrait)
    remux(clip, tmp / "stripped.mp4")
    tampered = bytearray(clip.read_bytes())
    mdat = tampered.index(b"mdat")
    tampered[mdat + 5000 : mdat + 5064] = bytes(64)
    (tmp / "tampered.mp4").write_bytes(bytes(tampered))
    splice_src = tmp / "unmarked.mp4"
    _unmarked(portrait, splice_src)
    pki = write_pki(tmp / "other-pki", org="Other Tool Inc", label="other signer")
    other = _other_tool_jpeg(pki, sample_jpeg(size=256))

    cases = [
        ("untouched, dev root trusted", clip, {"trust": dev}, "verified"),
        ("untouched, nobody trusted", clip, {}, "signed_untrusted"),
        ("manifest stripped (remux), no store", tmp / "stripped.mp4", {}, "watermark_only"),
        ("manifest stripped (remux), store", tmp / "stripped.mp4", {"trust": dev, "store": store}, "recovered"),
        ("bytes changed in mdat", tmp / "tampered.mp4", {"trust": dev}, "tampered"),
        ("spliced with unmarked video", tmp / "spliced.mp4", {}, "mismatch"),
        ("unmarked video", splice_src, {}, "no_provenance"),
        ("other tool's JPEG, its root trusted", other, {"trust": pki["root.pem"].read_bytes()}, "verified"),
        ("other tool's JPEG, untrusted", other, {}, "signed_untrusted"),
    ]
    for name, path in made.items():
        cases.append((f"{name}, no store", path, {}, "watermark_only"))
        cases.append((f"{name}, store", path, {"trust": dev, "store": store}, "recovered"))

    wrong = 0
    print(f"| case | expected | {ns.mode} mode verdict | log10 p | time |")
    print("|---|---|---|---|---|")
    for name, source, kwargs, expected in cases:
        t = time.perf_counter()
        report = verify(source, mode=ns.mode, **kwargs)
        elapsed = time.perf_counter() - t
        ok = report.verdict.value == expected
        wrong += not ok
        p = report.watermark.log10_p
        print(
            f"| {name} | {expected} | {'' if ok else '**'}{report.verdict.value}{'' if ok else '**'} | "
            f"{'' if p is None else f'{p:.1f}'} | {elapsed:.2f} s |"
        )
    print(json.dumps({"cases": len(cases), "wrong": wrong, "date": time.strftime("%Y-%m-%d")}))
    store.close()
    return 1 if wrong else 0


def _unmarked(portrait: Path, dst: Path) -> None:
    from PIL import Image

    base = np.asarray(Image.open(portrait).convert("RGB").resize((560, 560)))
    with av.open(str(dst), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 512, 512, "yuv420p"
        for i in range(150):
            img = np.ascontiguousarray(base[i % 40 : i % 40 + 512, 20:532])
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)


def _other_tool_jpeg(pki: dict, jpeg: bytes) -> bytes:
    import io

    import c2pa

    info = c2pa.C2paSignerInfo(
        alg=c2pa.C2paSigningAlg.ES256,
        sign_cert=pki["chain.pem"].read_bytes(),
        private_key=pki["leaf.key"].read_bytes(),
        ta_url=None,
    )
    manifest = {
        "claim_generator_info": [{"name": "other-tool", "version": "9.9"}],
        "title": "photo.jpg",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
                        }
                    ]
                },
            }
        ],
    }
    dst = io.BytesIO()
    with c2pa.Signer.from_info(info) as signer, c2pa.Builder(json.dumps(manifest)) as builder:
        builder.sign(signer, "image/jpeg", io.BytesIO(jpeg), dst)
    return dst.getvalue()


if __name__ == "__main__":
    sys.exit(main())
