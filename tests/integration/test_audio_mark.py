"""The soundtrack's mark end to end: render -> sign -> verify, and the soundtrack alone as WAV, FLAC, MP3 and M4A."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from models.motion.audio import encode_wav, load_audio
from provenance.audiomark import AudioWatermarker
from verifier import Verdict, verify

SECONDS = 6.0  # above sdk.generator.AUDIO_CHECK_MIN_S: the self-check requires the audio mark


@pytest.fixture(scope="module")
def render6(tmp_path_factory, portrait_path, speech_path):
    from sdk import Generator

    tmp = tmp_path_factory.mktemp("audiomark")
    speech = load_audio(speech_path)[: int(SECONDS * 16000)]
    wav = tmp / "speech-6s.wav"
    wav.write_bytes(encode_wav(speech, 16000))
    return Generator(size=256).render(portrait_path, wav, output=tmp / "talking.mp4", seed=3)


def soundtrack(path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as c:
        res = av.AudioResampler(format="flt", layout="mono", rate=48000)
        chunks = [g.to_ndarray().reshape(-1) for f in c.decode(audio=0) for g in res.resample(f)]
    return np.concatenate(chunks), 48000


def write_audio(samples: np.ndarray, rate: int, fmt: str, codec: str, bit_rate: int | None = None) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        st = out.add_stream(codec, rate=rate)
        st.layout = "mono"
        if bit_rate:
            st.bit_rate = bit_rate
        sample_fmt = st.codec_context.codec.audio_formats[0].name
        res = av.AudioResampler(format=sample_fmt, layout="mono", rate=rate)
        fr = av.AudioFrame.from_ndarray(samples.astype(np.float32)[None, :], format="flt", layout="mono")
        fr.sample_rate = rate
        fifo = av.AudioFifo()
        for f in res.resample(fr) + res.resample(None):
            fifo.write(f)
        size = st.codec_context.frame_size or 1024
        while fifo.samples:
            for p in st.encode(fifo.read(size) or fifo.read()):
                out.mux(p)
        for p in st.encode(None):
            out.mux(p)
    return buf.getvalue()


def test_render_soundtrack_carries_the_content_id(render6):
    report = verify(render6.path)
    audio = report.audio_watermark
    assert audio.analysed and audio.found and audio.content_id == render6.content_id
    assert audio.log10_p <= -9 and audio.speed == 1.0 and audio.segments
    assert report.verdict is Verdict.SIGNED_UNTRUSTED and report.ai_generated is True


@pytest.mark.parametrize(
    "fmt, codec, bit_rate",
    [("wav", "pcm_s16le", None), ("flac", "flac", None), ("mp3", "libmp3lame", 128_000), ("ipod", "aac", 128_000)],
)
def test_audio_only_files_get_a_verdict(render6, fmt, codec, bit_rate):
    samples, rate = soundtrack(render6.path)
    data = write_audio(samples, rate, fmt, codec, bit_rate)
    report = verify(data)
    assert report.verdict is Verdict.WATERMARK_ONLY, report.summary
    assert report.audio_watermark.content_id == render6.content_id and not report.watermark.found


def test_unmarked_speech_has_no_provenance(speech_path):
    speech = load_audio(speech_path, target_rate=48000)[: int(SECONDS * 48000)]
    report = verify(encode_wav(speech, 48000))
    assert report.verdict is Verdict.NO_PROVENANCE
    assert report.audio_watermark.analysed and not report.audio_watermark.found


def test_picture_and_soundtrack_naming_different_renders_is_a_mismatch(render6, tmp_path, speech_path):
    """The picture's packets copied as they are, the soundtrack replaced by another render's (another ID)."""
    speech = load_audio(speech_path, target_rate=48000)[: int(SECONDS * 48000)]
    other = AudioWatermarker().embed(speech, 48000, "fedcba987654")
    dst = tmp_path / "swapped.mp4"
    with av.open(str(render6.path)) as inp, av.open(str(dst), "w") as out:
        vout = out.add_stream_from_template(inp.streams.video[0])
        aout = out.add_stream("aac", rate=48000)
        aout.layout, aout.bit_rate = "mono", 128_000
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = vout
                out.mux(packet)
        fr = av.AudioFrame.from_ndarray(other[None, :], format="fltp", layout="mono")
        fr.sample_rate = 48000
        fifo = av.AudioFifo()
        fifo.write(fr)
        while fifo.samples:
            for p in aout.encode(fifo.read(1024) or fifo.read()):
                out.mux(p)
        for p in aout.encode(None):
            out.mux(p)
    report = verify(dst)
    assert report.watermark.content_id == render6.content_id
    assert report.audio_watermark.content_id == "fedcba987654"
    assert report.verdict is Verdict.MISMATCH


def test_the_manifest_lists_the_audio_mark(render6):
    import c2pa

    with c2pa.Reader(str(render6.path)) as reader:
        store = __import__("json").loads(reader.json())
    manifest = store["manifests"][store["active_manifest"]]
    algs = {a["data"].get("alg"): a["data"]["blocks"][0]["value"] for a in manifest["assertions"]
            if a["label"].startswith("c2pa.soft-binding")}  # fmt: skip
    assert algs == {
        "io.github.dirfa.watermark.v1": render6.content_id,
        "io.github.dirfa.audiomark.v2": render6.content_id,
    }


def test_the_human_report_names_the_audio_mark(render6, speech_path):
    from verifier.cli import format_human

    text = format_human(verify(render6.path, mode="fast").to_dict())
    assert f"audio mark: found, content id {render6.content_id}" in text
    unmarked = format_human(verify(speech_path, mode="fast").to_dict())
    assert "audio mark: not found" in unmarked
