"""The mouth warp of visual dubbing on the bundled portrait (framed by FaceRenderer: its frame and landmarks)."""

from __future__ import annotations

import numpy as np
import pytest

from models.face.dubbing import FaceTracker, MouthColours, MouthDubber, mouth_opening
from models.face.renderer import FaceRenderer


@pytest.fixture(scope="module")
def face(portrait_path):
    r = FaceRenderer(portrait_path, size=512)
    return np.ascontiguousarray(r.source), np.asarray(r.landmarks[:, :2])


@pytest.fixture(scope="module")
def dubber(face):
    rgb, pts = face
    return MouthDubber(MouthColours.measure(rgb, pts))


def _measure(rgb: np.ndarray) -> float:
    with FaceTracker(smooth=1.0) as tracker:
        pts = tracker.track(rgb)
    assert pts is not None
    return mouth_opening(pts)


def test_target_equal_to_the_measured_opening_changes_nothing(face, dubber):
    rgb, pts = face
    out, info = dubber.apply(rgb, pts, mouth_opening(pts))
    assert out is rgb and info.box == (0, 0, 0, 0)


@pytest.mark.parametrize("target", [0.02, 0.3])
def test_mouth_reaches_the_target_and_only_the_mouth_box_changes(face, dubber, target):
    rgb, pts = face
    out, info = dubber.apply(rgb, pts, target)
    assert info.measured == pytest.approx(mouth_opening(pts), abs=0.01) and 0.08 < info.measured < 0.16
    assert _measure(rgb) == pytest.approx(info.measured, abs=0.02)
    assert _measure(out) == pytest.approx(target, abs=0.04)
    x0, y0, x1, y1 = info.box
    outside = np.ones(rgb.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert outside.mean() > 0.8 and np.array_equal(out[outside], rgb[outside])  # bit-identical outside the box
    # Inside the box, above the upper lip's inner edge nothing moves either (nose, upper lip, cheeks above it).
    upper = int(np.floor(pts[[0, 37, 267], 1].min())) - 2
    assert np.array_equal(out[:upper], rgb[:upper])


def test_the_opened_gap_is_drawn_as_a_dark_interior(face, dubber):
    rgb, pts = face
    out, _ = dubber.apply(rgb, pts, 0.3)
    iod = float(np.linalg.norm(pts[263] - pts[33]))
    x, top = int(pts[13, 0]), int(pts[13, 1])
    low = top + int(0.28 * iod)  # inside the new gap, below the teeth band, where the source shows lower lip/chin
    assert out[low - 3 : low, x].mean() < 0.6 * rgb[low - 3 : low, x].mean()


def test_closing_is_bounded_and_does_not_flip(dubber, face):
    rgb, pts = face
    opened, _ = dubber.apply(rgb, pts, 0.3)
    with FaceTracker(smooth=1.0) as tracker:
        p2 = tracker.track(opened)
    closed, info = dubber.apply(opened, p2, 0.0)
    assert info.measured > 0.2
    assert _measure(closed) < 0.06


def test_tracker_rejects_bad_smoothing_and_reports_lost_faces():
    with pytest.raises(ValueError):
        FaceTracker(smooth=0.0)
    with FaceTracker() as tracker:
        assert tracker.track(np.full((256, 256, 3), 90, np.uint8)) is None
