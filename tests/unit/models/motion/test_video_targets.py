"""Known motion in, motion out: render frames with our own renderer, measure them back with FaceMesh."""

import numpy as np
import pytest

pytest.importorskip("mediapipe")

from models.motion.video_targets import landmark_frames, motion_from_landmarks
from models.schema import MOTION_INDEX, neutral_motion

N = 36


@pytest.fixture(scope="module")
def rendered(portrait_path):
    from models.face.renderer import FaceRenderer

    renderer = FaceRenderer(str(portrait_path), size=256)
    t = np.arange(N)
    motion = np.tile(renderer.neutral_motion(), (N, 1))
    motion[:, MOTION_INDEX["jaw_open"]] = 0.02 + 0.12 * (0.5 + 0.5 * np.sin(2 * np.pi * t / 12))
    motion[:, MOTION_INDEX["head_yaw"]] = 10 * np.sin(2 * np.pi * t / N)
    motion[:, MOTION_INDEX["head_pitch"]] = 6 * np.cos(2 * np.pi * t / 18)
    motion[N // 2 - 1 : N // 2 + 2, MOTION_INDEX["blink_left"]] = 1.0
    motion[N // 2 - 1 : N // 2 + 2, MOTION_INDEX["blink_right"]] = 1.0
    frames = [renderer.render(m) for m in motion]
    return motion, motion_from_landmarks(landmark_frames(frames))


def test_jaw_opening_is_measured_back(rendered):
    motion, got = rendered
    assert got.found.all()
    jaw_in, jaw_out = motion[:, 0], got.motion[:, 0]
    assert np.corrcoef(jaw_in, jaw_out)[0, 1] > 0.85  # measured 0.90 at 256 px
    assert abs(np.mean(jaw_out) - np.mean(jaw_in)) < 0.05  # same units (inner-lip gap / IOD)


def test_head_pose_is_measured_back_with_the_right_signs(rendered):
    motion, got = rendered
    for dim in ("head_yaw", "head_pitch"):
        i = MOTION_INDEX[dim]
        assert np.corrcoef(motion[:, i], got.motion[:, i])[0, 1] > 0.8, dim


def test_blinks_are_measured_back(rendered):
    _, got = rendered
    blink = got.motion[:, MOTION_INDEX["blink_left"]]
    assert blink[N // 2] > 0.5 and np.median(blink) < 0.2


def test_frames_without_a_face_are_interpolated_and_flagged():
    pts = np.random.default_rng(0).normal(200, 30, size=(5, 478, 3)).astype(np.float32)
    pts[2] = np.nan
    out = motion_from_landmarks(pts)
    assert out.found.tolist() == [True, True, False, True, True]
    assert np.isfinite(out.motion).all()
    with pytest.raises(ValueError):
        motion_from_landmarks(np.full((3, 478, 3), np.nan, np.float32))


def test_neutral_reference_is_inside_ranges():
    assert neutral_motion().shape == (18,)


def test_build_corpus_from_videos_has_the_training_layout_and_skips_unusable_clips(monkeypatch):
    import models.motion.video_targets as vt
    from models.motion.train import GROUPS

    def fake_extract(path, cache=None):
        n = 50
        found = np.ones(n, bool)
        if "noface" in str(path):
            found[:40] = False
        if "gap" in str(path):
            found[10:12] = False
        motion = np.zeros((n, 18), np.float32)
        motion[:, 0] = np.arange(n) / 100  # jaw_open ramps: a shift is visible
        return vt.VideoTargets(motion, found, 25.0)

    t = np.arange(32000) / 16000
    monkeypatch.setattr(vt, "extract", fake_extract)
    monkeypatch.setattr(vt, "load_audio", lambda path: (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32))
    d = vt.build_corpus(["a.mp4", "noface.mp4", "gap.mp4"], mel=True, whisper=False, offsets=3)
    assert d["feats"].shape == (100, GROUPS["mel"]) and d["motion"].shape == (100, 18)
    assert d["offsets"].tolist() == [0, 50, 100] and d["voices"].tolist() == ["a.mp4", "gap.mp4"]
    assert d["groups"].tolist() == ["mel"] and d["lags"].tolist() == [3, 3]
    # targets are the mouth 3 frames later; only the measured mouth dims carry weight, and not past the end
    assert np.allclose(d["motion"][:47, 0], (np.arange(47) + 3) / 100)
    w = d["weight"]
    measured = [vt.MOTION_INDEX[k] for k in vt.MEASURED]
    assert w[:, [k for k in range(18) if k not in measured]].max() == 0
    assert w[:47, measured].min() == 1 and w[47:50, measured].max() == 0
    assert w[50 + 7 : 50 + 9, measured].max() == 0  # the frames whose (shifted) mouth had no face
    with pytest.raises(ValueError):
        vt.build_corpus(["noface.mp4"], mel=True, whisper=False)
    with pytest.raises(ValueError):
        vt.build_corpus(["a.mp4"], mel=True, whisper=False, offsets="clip")  # estimating needs a reference


def test_lag_curve_finds_a_known_offset():
    import models.motion.video_targets as vt

    rng = np.random.default_rng(0)
    pred = np.convolve(rng.standard_normal(300), np.ones(5) / 5, mode="same").astype(np.float32)
    measured = vt.shift(pred, -3)  # the mouth comes 3 frames late: measured[t + 3] = pred[t]
    assert int(np.argmax(vt.lag_curve(pred, measured))) - 8 == 3
