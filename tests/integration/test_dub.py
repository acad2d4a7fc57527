"""Visual dubbing end to end: a clip rendered by the Generator is dubbed with other speech (espeak-ng), then verified.

Inputs are made here: the source clip is the session's ``rendered`` fixture (bundled portrait + the first 2 s of the
bundled speech); the new speech is espeak-ng; the lost-face and no-face videos are written with PyAV.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import c2pa
import jsonschema
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from models.motion.video_targets import landmark_frames
from provenance.trust import TrustAnchors
from sdk import AudioError, DubResult, Generator, NoFaceError, VideoError
from sdk.cli import main
from verifier import Verdict, verify

pytestmark = pytest.mark.system("espeak-ng")

NEW_TEXT = "Seven white boats sailed far away over the open sea, and nobody saw them again."


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def _write_video(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        s.options = {"crf": "16", "preset": "veryfast"}
        for f in frames:
            out.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(s.encode())
    return path


def _jaw(frames: list[np.ndarray]) -> np.ndarray:
    p = landmark_frames(frames)
    iod = np.linalg.norm(p[:, 263, :2] - p[:, 33, :2], axis=1)
    return np.linalg.norm(p[:, 13, :2] - p[:, 14, :2], axis=1) / iod  # NaN where no face


def _r(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


@pytest.fixture(scope="module")
def new_speech(tmp_path_factory) -> Path:
    from models.motion.audio import encode_wav, load_audio
    from models.motion.corpus.espeak import synthesize

    u = synthesize(NEW_TEXT, voice="en+m3", rate=150)
    path = tmp_path_factory.mktemp("dub-audio") / "new-speech.wav"
    path.write_bytes(encode_wav(load_audio(u.samples, sample_rate=u.sample_rate), 16000))
    return path


@pytest.fixture(scope="module")
def gen() -> Generator:
    return Generator()


@pytest.fixture(scope="module")
def dubbed(tmp_path_factory, gen, rendered, new_speech) -> DubResult:
    out = tmp_path_factory.mktemp("dub") / "dubbed.mp4"
    return gen.dub(rendered.path, new_speech, output=out, seed=5)


def test_dub_is_watermarked_whole_length_and_reported_as_ai_modified(dubbed, rendered):
    assert dubbed.path.is_file() and dubbed.verdict == "verified"
    assert dubbed.frame_count == pytest.approx(dubbed.duration * 25)
    assert dubbed.frame_count > rendered.frame_count  # 2 s source, ~4 s speech: the source looped
    assert dubbed.source_frames == rendered.frame_count and dubbed.extend == "loop"
    assert dubbed.dubbed_frames == dubbed.frame_count and dubbed.face_lost == ()
    report = verify(dubbed.path, trust=TrustAnchors.dev())
    assert report.verdict is Verdict.VERIFIED
    assert report.watermark.content_id == dubbed.content_id
    assert report.binding.whole_video_marked is True
    assert report.watermark.segments and all(s.found for s in report.watermark.segments)
    assert report.watermark.segments[-1].end_s == pytest.approx(dubbed.duration, abs=0.2)
    assert report.ai_generated is True and report.ai_origin == "modified"
    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "report.schema.json").read_text())
    jsonschema.validate(json.loads(report.to_json()), schema)
    assert verify(rendered.path).ai_origin == "generated"  # the portrait render: generated from scratch


def test_dub_manifest_records_parent_speech_edit_and_regions(dubbed, rendered, new_speech):
    report = verify(dubbed.path)
    c = report.c2pa
    assert c.actions == ("c2pa.opened", "c2pa.edited", "c2pa.watermarked")
    assert c.digital_source_type.endswith("/compositeWithTrainedAlgorithmicMedia")
    assert c.ingredients == (f"{rendered.path.name} (parentOf)", f"{new_speech.name} (inputTo)")
    g = c.generation
    assert g["operation"] == "dub" and g["content_id"] == dubbed.content_id and g["seed"] == 5
    assert g["synthesised"] == [{"start_s": 0.0, "end_s": dubbed.duration}] and g["face_lost"] == []
    box = g["region_box"]
    assert 0 < box["width"] < dubbed.width / 2 and 0 < box["height"] < dubbed.height / 2
    # The parent's own manifest travels with it, validated by c2pa when it was added.
    with c2pa.Reader(str(dubbed.path)) as reader:
        store = json.loads(reader.json())
    ingredients = store["manifests"][store["active_manifest"]]["ingredients"]
    parent = next(i for i in ingredients if i["relationship"] == "parentOf")
    assert parent["active_manifest"] in store["manifests"]
    assert parent["validation_results"]["activeManifest"]["success"]
    assert not parent["validation_results"]["activeManifest"].get("failure")  # validated against the dev root
    assert dubbed.source_verdict == "verified" and g["source_verdict"] == "verified"
    assert g["source_content_id"] == rendered.content_id
    parent_generation = store["manifests"][parent["active_manifest"]]
    assert any(a["label"] == "io.github.dirfa.generation" for a in parent_generation["assertions"])


def test_dub_mouth_follows_the_new_speech_not_the_source(dubbed, gen, rendered, new_speech):
    from models.motion.audio import load_audio
    from models.schema import MOTION_INDEX

    out = _frames(dubbed.path)
    src = _frames(rendered.path)
    src = [src[i % len(src)] for i in range(len(out))]  # the looped source the dub started from
    predicted = gen.model.generate(load_audio(new_speech), sample_rate=16000, seed=5, fps=25)
    predicted = predicted.values[: len(out), MOTION_INDEX["jaw_open"]]
    jaw_out, jaw_src = _jaw(out), _jaw(src)
    r_new, r_src = _r(jaw_out, predicted), _r(jaw_out, jaw_src)
    assert r_new >= 0.6, (r_new, r_src)
    assert r_src < r_new - 0.3, (r_new, r_src)
    assert np.nanmean(np.abs(jaw_out - predicted)) < 0.05  # the opening itself, not just its shape


def test_dub_keeps_everything_outside_the_mouth(dubbed, rendered):
    box = verify(dubbed.path).c2pa.generation["region_box"]
    out, src = _frames(dubbed.path), _frames(rendered.path)
    scores = []
    for i in range(0, len(out), 7):
        a, b = out[i].copy(), src[i % len(src)].copy()
        y0, x0 = box["y"], box["x"]
        a[y0 : y0 + box["height"], x0 : x0 + box["width"]] = 0
        b[y0 : y0 + box["height"], x0 : x0 + box["width"]] = 0
        scores.append(structural_similarity(a, b, channel_axis=2, data_range=255))
    assert min(scores) >= 0.95, scores


def test_lost_face_frames_pass_through_and_are_reported(tmp_path, gen, rendered, new_speech):
    frames = _frames(rendered.path)
    blank = np.full_like(frames[0], 128)
    blank[::16] = 30  # a striped grey card: no face
    frames[20:30] = [blank] * 10
    source = _write_video(tmp_path / "cut.mp4", frames)
    result = gen.dub(source, new_speech, output=tmp_path / "out.mp4", seed=1, extend="hold", verify_source=True)
    lost = {i for a, b in result.face_lost for i in range(a, b)}
    assert set(range(20, 30)) <= lost and len(lost) <= 14  # FaceMesh may need a frame or two to pick it up again
    assert result.dubbed_frames == result.frame_count - len(lost)
    out = _frames(result.path)
    src = _frames(source)
    for i in range(20, 30):  # unchanged apart from the watermark and the re-encode
        assert np.abs(out[i].astype(int) - src[i].astype(int)).mean() < 3.0
    for i in range(len(src), len(out)):  # held: the source's last frame, re-dubbed
        assert np.abs(out[i][:200].astype(int) - src[-1][:200].astype(int)).mean() < 3.0
    g = verify(result.path).c2pa.generation
    assert {"start_s": 0.8, "end_s": 1.2} in g["face_lost"] or any(
        r["start_s"] <= 0.8 and r["end_s"] >= 1.2 for r in g["face_lost"]
    )
    assert g["extend"] == "hold"
    assert result.source_verdict == "watermark_only"  # re-encoded with PyAV: the manifest is gone, the mark stays


def test_unsigned_source_is_not_searched_for_a_watermark_unless_asked(tmp_path, gen, rendered, new_speech):
    from models.motion.audio import encode_wav, load_audio

    source = _write_video(tmp_path / "unsigned.mp4", _frames(rendered.path)[:25])  # manifest gone, mark kept
    speech = tmp_path / "1s.wav"
    speech.write_bytes(encode_wav(load_audio(new_speech)[:16000], 16000))
    result = gen.dub(source, speech, output=tmp_path / "out.mp4", seed=1)
    assert result.source_verdict == "not_checked"
    assert verify(result.path).c2pa.generation["source_verdict"] == "not_checked"


def test_no_video_stream_is_a_video_error_and_writes_nothing(tmp_path, gen, new_speech):
    audio_only = tmp_path / "audio-only.mp4"
    with av.open(str(audio_only), "w", format="mp4") as out:
        s = out.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for _ in range(20):
            out.mux(s.encode(frame))
        out.mux(s.encode())
    target = tmp_path / "out.mp4"
    with pytest.raises(VideoError):
        gen.dub(audio_only, new_speech, output=target)
    with pytest.raises(VideoError):
        gen.dub(tmp_path / "missing.mp4", new_speech, output=target)
    (tmp_path / "not-a-video.mp4").write_bytes(b"\x00" * 4096)
    with pytest.raises(VideoError):
        gen.dub(tmp_path / "not-a-video.mp4", new_speech, output=target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audio-only.mp4", "not-a-video.mp4"]


def test_no_face_at_all_is_a_no_face_error_and_writes_nothing(tmp_path, gen, new_speech):
    rng = np.random.default_rng(0)
    frames = [np.clip(rng.normal(120, 30, (256, 320, 3)), 0, 255).astype(np.uint8) for _ in range(25)]
    source = _write_video(tmp_path / "noface.mp4", frames)
    with pytest.raises(NoFaceError):
        gen.dub(source, new_speech, output=tmp_path / "out.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noface.mp4"]


def test_empty_audio_is_an_audio_error_and_writes_nothing(tmp_path, gen, rendered):
    from models.motion.audio import encode_wav

    empty = tmp_path / "empty.wav"
    empty.write_bytes(encode_wav(np.zeros(0, np.float32), 16000))
    with pytest.raises(AudioError):
        gen.dub(rendered.path, empty, output=tmp_path / "out.mp4")
    with pytest.raises(ValueError):
        gen.dub(rendered.path, empty, output=tmp_path / "out.mp4", extend="bounce")
    with pytest.raises(TypeError):
        gen.dub(b"not a path", empty, output=tmp_path / "out.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.wav"]


def test_cli_dub_json_and_bad_input_exit_code(tmp_path, rendered, new_speech, capsys):
    out = tmp_path / "cli.mp4"
    assert main(["dub", str(rendered.path), str(new_speech), "-o", str(out), "--seed", "3", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["path"] == str(out) and body["verdict"] == "verified" and out.is_file()
    assert main(["dub", str(new_speech), str(new_speech), "-o", str(tmp_path / "bad.mp4")]) == 3
    assert not (tmp_path / "bad.mp4").exists()


def test_cli_render_scales_are_passed_and_checked(tmp_path, portrait_path, short_speech):
    from sdk.cli import build_parser

    ns = build_parser().parse_args(["render", "p.jpg", "a.wav", "-o", "x.mp4", "--expressiveness", "0.5",
                                    "--head-motion", "0"])  # fmt: skip
    assert (ns.expressiveness, ns.head_motion) == (0.5, 0.0)
    out = tmp_path / "x.mp4"
    assert main(["render", str(portrait_path), str(short_speech), "-o", str(out), "--head-motion", "-1"]) == 3
    assert not out.exists()
