"""Render -> sign -> verify end to end through the public APIs, with real c2pa-python, PyAV and SQLite."""

from __future__ import annotations

import re

import av
import numpy as np
import pytest

from provenance.trust import TrustAnchors
from verifier import Verdict, verify


def transcode(src, dst, *, crf: int = 23, scale: float = 1.0, keep_audio: bool = True) -> None:
    """What a platform does to an upload: decode and re-encode (metadata, and so the manifest, is lost)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        w = int(vin.codec_context.width * scale) // 2 * 2
        h = int(vin.codec_context.height * scale) // 2 * 2
        vout = out.add_stream("libx264", rate=25)
        vout.width, vout.height, vout.pix_fmt = w, h, "yuv420p"
        vout.options = {"crf": str(crf), "preset": "veryfast"}
        for frame in inp.decode(vin):
            img = frame.to_ndarray(width=w, height=h, format="rgb24")
            for p in vout.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in vout.encode(None):
            out.mux(p)


def remux(src, dst) -> None:
    """Copy the streams into a new MP4 without re-encoding: pixels identical, manifest gone."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        for packet in inp.demux():
            if packet.stream.index in streams and packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)


def test_render_result_describes_the_file(rendered):
    assert rendered.path.is_file() and rendered.path.stat().st_size > 10_000
    assert re.fullmatch(r"[0-9a-f]{12}", rendered.content_id)
    assert rendered.seed == 1 and rendered.fps == 25
    assert rendered.frame_count == 50 and abs(rendered.duration - 2.0) < 1e-9
    assert (rendered.width, rendered.height) == (512, 512)
    assert rendered.manifest.development_identity
    assert rendered.verdict == "verified"  # self-verification trusts the identity's own root
    assert not list(rendered.path.parent.glob(".*dirfa*")), "temporary files left behind"


def test_video_and_audio_durations_match(rendered):
    with av.open(str(rendered.path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        vdur, adur = float(v.duration * v.time_base), float(a.duration * a.time_base)
    assert v.frames == rendered.frame_count
    assert abs(vdur - rendered.duration) < 1e-6 and abs(adur - vdur) <= 1 / 25


def test_verified_when_the_dev_root_is_trusted(rendered):
    report = verify(rendered.path, trust=TrustAnchors.dev())
    assert report.verdict is Verdict.VERIFIED
    assert report.ai_generated is True
    assert report.c2pa.trusted and "c2pa.created" in report.c2pa.actions
    assert report.c2pa.digital_source_type.endswith("trainedAlgorithmicMedia")
    assert len(report.c2pa.ingredients) == 2
    assert report.watermark.found and report.watermark.content_id == rendered.content_id
    assert report.binding.checked and report.binding.matches
    assert report.watermark.log10_p < -9


def test_signed_untrusted_when_nobody_is_trusted(rendered):
    report = verify(rendered.path)
    assert report.verdict is Verdict.SIGNED_UNTRUSTED
    assert report.c2pa.present and not report.c2pa.trusted
    assert "UNTRUSTED" in (report.c2pa.signer_subject or "") + (report.c2pa.signer_issuer or "")


def test_other_anchors_do_not_make_the_dev_identity_trusted(rendered, tmp_path):
    import datetime as dt

    from provenance._pki import mint_pki, pem

    other_root = mint_pki(org="someone else", label="other", now=dt.datetime.now(dt.timezone.utc)).root
    report = verify(rendered.path, trust=pem(other_root))
    assert report.verdict is Verdict.SIGNED_UNTRUSTED


def test_remux_strips_the_manifest_but_not_the_mark(rendered, tmp_path):
    stripped = tmp_path / "remuxed.mp4"
    remux(rendered.path, stripped)
    report = verify(stripped)
    assert not report.c2pa.present
    assert report.verdict is Verdict.WATERMARK_ONLY
    assert report.watermark.content_id == rendered.content_id


def test_transcoded_upload_recovers_its_manifest_from_the_store(rendered, tmp_path):
    from provenance.store import open_store

    uploaded = tmp_path / "platform.mp4"
    transcode(rendered.path, uploaded, crf=28)
    with open_store(None) as store:
        report = verify(uploaded, trust=TrustAnchors.dev(), store=store)
    assert report.verdict is Verdict.RECOVERED
    assert report.recovery.found and report.recovery.trusted
    assert report.watermark.content_id == rendered.content_id


def test_transcoded_upload_without_store_is_watermark_only(rendered, tmp_path):
    uploaded = tmp_path / "platform.mp4"
    transcode(rendered.path, uploaded, crf=23, scale=0.75)
    assert verify(uploaded).verdict is Verdict.WATERMARK_ONLY


def test_flipped_bytes_are_tampered(rendered, tmp_path):
    data = bytearray(rendered.path.read_bytes())
    mdat = data.index(b"mdat")
    for off in range(mdat + 2000, mdat + 2100):
        data[off] ^= 0xFF
    report = verify(bytes(data), trust=TrustAnchors.dev())
    assert report.verdict is Verdict.TAMPERED
    assert "hard_binding_mismatch" in report.c2pa.reasons


def test_unmarked_video_has_no_provenance(tmp_path, portrait_path):
    from PIL import Image

    img = np.asarray(Image.open(portrait_path).convert("RGB").resize((256, 256)))
    path = tmp_path / "plain.mp4"
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width = s.height = 256
        s.pix_fmt = "yuv420p"
        for i in range(30):
            frame = np.roll(img, i, axis=1)
            for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    report = verify(path)
    assert report.verdict is Verdict.NO_PROVENANCE and report.ai_generated is None


def test_json_report_round_trips(rendered):
    import json

    d = json.loads(verify(rendered.path, mode="fast").to_json())
    assert d["schema_version"] and d["verdict"] == "signed_untrusted" and d["mode"] == "fast"
    assert d["watermark"]["content_id"] == rendered.content_id


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_modes_agree_on_an_untouched_file(rendered, mode):
    report = verify(rendered.path, trust=TrustAnchors.dev(), mode=mode)
    assert report.verdict is Verdict.VERIFIED


def test_splice_with_unmarked_video_is_a_mismatch(rendered, tmp_path, portrait_path):
    """Our 2 s clip followed by 3 s of unmarked video: the mark covers only part of it."""
    from PIL import Image

    base = np.asarray(Image.open(portrait_path).convert("RGB").resize((560, 560)))
    with av.open(str(rendered.path)) as c:
        ours = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    path = tmp_path / "spliced.mp4"
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width = s.height = 512
        s.pix_fmt = "yuv420p"
        s.options = {"crf": "20"}
        other = [np.ascontiguousarray(base[i % 40 : i % 40 + 512, 20:532]) for i in range(75)]
        for frame in ours + other:
            for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    report = verify(path)
    assert report.verdict is Verdict.MISMATCH
    assert report.watermark.content_id == rendered.content_id
    assert report.binding.whole_video_marked is False
    gaps = [s for s in report.watermark.segments if not s.found]
    assert gaps and gaps[-1].end_s - gaps[-1].start_s >= 2.0 and gaps[-1].start_s < 3.0
