"""Reference-video control of a render (``pose_from`` / ``blinks_from``): the head pose and blinks follow the
reference, the reference is an ingredient. The reference is the session's ``rendered`` clip (made by the Generator)."""

from __future__ import annotations

import hashlib

import av
import numpy as np
import pytest

from models.motion.video_targets import extract
from models.schema import MOTION_INDEX
from sdk import Generator, NoFaceError, VideoError
from sdk.cli import main
from verifier import verify

POSE = ("head_yaw", "head_pitch", "head_roll", "head_tx", "head_ty")


def _pose(path) -> np.ndarray:
    return extract(path).motion[:, [MOTION_INDEX[d] for d in POSE]]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, rendered):
    """The rendered clip played backwards: a head motion that the speech of the render below does not drive."""
    with av.open(str(rendered.path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)][::-1]
    path = tmp_path_factory.mktemp("ref") / "reference.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for f in frames:
            out.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(s.encode())
    return path


@pytest.fixture(scope="module")
def referenced(tmp_path_factory, portrait_path, short_speech, reference):
    out = tmp_path_factory.mktemp("ref") / "posed.mp4"
    gen = Generator()
    return gen.render(portrait_path, short_speech, output=out, seed=2, pose_from=reference, blinks_from=reference)


def test_pose_follows_the_reference_video(referenced, reference, portrait_path, short_speech, tmp_path):
    ref, got = _pose(reference), _pose(referenced.path)
    own = Generator().render(portrait_path, short_speech, output=tmp_path / "own.mp4", seed=2)
    mine = _pose(own.path)
    n = min(len(ref), len(got), len(mine))
    # The dim the reference moves most: the posed render follows it, the render with its own pose does not.
    k = int(np.argmax(ref[:n].std(axis=0)))
    r_ref = np.corrcoef(ref[:n, k], got[:n, k])[0, 1]
    r_own = np.corrcoef(ref[:n, k], mine[:n, k])[0, 1]
    assert r_ref > 0.8 and r_ref > r_own + 0.3, (POSE[k], r_ref, r_own)


def test_reference_is_an_ingredient_and_named_in_the_parameters(referenced, reference):
    report = verify(referenced.path)
    assert report.verdict.value == "signed_untrusted"
    assert f"{reference.name} (inputTo)" in report.c2pa.ingredients
    assert len(report.c2pa.ingredients) == 3  # portrait, speech, one reference (used for both roles)
    sha = hashlib.sha256(reference.read_bytes()).hexdigest()
    g = report.c2pa.generation
    assert g["pose_from_sha256"] == sha and g["blinks_from_sha256"] == sha
    assert report.ai_origin == "generated"


def test_bad_reference_videos_are_typed_errors_and_write_nothing(tmp_path, portrait_path, short_speech):
    gen = Generator()
    out = tmp_path / "out.mp4"
    with pytest.raises(VideoError):
        gen.render(portrait_path, short_speech, output=out, pose_from=short_speech)  # a WAV, not a video
    with pytest.raises(VideoError):
        gen.render(portrait_path, short_speech, output=out, blinks_from=tmp_path / "missing.mp4")
    noface = tmp_path / "noface.mp4"
    with av.open(str(noface), "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 256, 256, "yuv420p"
        for _ in range(10):
            c.mux(s.encode(av.VideoFrame.from_ndarray(np.full((256, 256, 3), 100, np.uint8), format="rgb24")))
        c.mux(s.encode())
    with pytest.raises(NoFaceError):
        gen.render(portrait_path, short_speech, output=out, pose_from=noface)
    assert not out.exists()
    assert main(["render", str(portrait_path), str(short_speech), "-o", str(out), "--pose-from", str(noface)]) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noface.mp4"]
