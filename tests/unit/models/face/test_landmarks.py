"""FaceMesh landmarks: face choice, ordering, rotation fallback and typed errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from models.errors import FaceTooSmallError, ImageError, NoFaceError
from models.face.image_io import load_image
from models.face.landmarks import NUM_LANDMARKS, _unrotate, detect_faces, select_face


@pytest.fixture(scope="module")
def portrait(portrait_path) -> np.ndarray:
    return load_image(portrait_path)


@pytest.fixture(scope="module")
def group(portrait) -> np.ndarray:
    """The sample mirrored on the left at full size, and at half size on the right."""
    canvas = np.full((512, 1024, 3), 200, np.uint8)
    canvas[:, :512] = portrait[:, ::-1]
    canvas[128:384, 640:896] = cv2.resize(portrait, (256, 256), interpolation=cv2.INTER_AREA)
    return canvas


def test_sample_portrait_has_one_plausible_face(portrait):
    faces = detect_faces(portrait)
    assert len(faces) == 1
    f = faces[0]
    assert f.points.shape == (NUM_LANDMARKS, 3) and f.points.dtype == np.float32
    assert f.image_size == (512, 512)
    # Subject's right eye (33) is on the image left; the mouth is below the eyes; the chin below the mouth.
    p = f.points
    assert p[33, 0] < p[263, 0]
    assert p[33, 1] < p[13, 1] < p[152, 1]
    assert 40 < f.iod < 90


def test_group_photo_lists_faces_left_to_right_and_picks_largest(group):
    faces = detect_faces(group)
    assert len(faces) == 2
    assert faces[0].points[:, 0].mean() < faces[1].points[:, 0].mean()
    assert faces[0].iod > 1.6 * faces[1].iod
    assert select_face(group).iod == pytest.approx(faces[0].iod)
    second = select_face(group, face_index=1)
    assert second.points[:, 0].mean() > 512
    with pytest.raises(NoFaceError):
        select_face(group, face_index=2)
    with pytest.raises(TypeError):
        select_face(group, face_index=1.0)  # type: ignore[arg-type]


def test_sideways_photo_is_found_and_mapped_back(portrait):
    rotated = np.ascontiguousarray(np.rot90(portrait, 1))  # subject lying on the side
    face = select_face(rotated)
    upright = select_face(portrait)
    # Map the upright landmarks into the rotated image: (x, y) -> (y, W - 1 - x).
    expected = np.stack([upright.points[:, 1], 511 - upright.points[:, 0]], axis=1)
    assert np.median(np.linalg.norm(face.points[:, :2] - expected, axis=1)) < 0.1 * upright.iod


@pytest.mark.parametrize("k", [1, 2, 3])
def test_unrotate_inverts_rot90(k):
    h, w = 30, 50
    img = np.zeros((h, w), np.uint8)
    img[7, 11] = 1
    rot = np.rot90(img, k)
    ry, rx = np.argwhere(rot)[0]
    back = _unrotate(np.array([[rx, ry, 0.0]]), k, w, h)
    assert back[0, 0] == pytest.approx(11) and back[0, 1] == pytest.approx(7)


@pytest.mark.parametrize("kind", ["grey", "noise"])
def test_no_face_raises_no_face_error(kind):
    rng = np.random.default_rng(0)
    img = np.full((256, 256, 3), 128, np.uint8) if kind == "grey" else rng.integers(0, 256, (256, 256, 3), np.uint8)
    with pytest.raises(NoFaceError):
        select_face(img)
    assert detect_faces(img) == []


def test_tiny_face_raises_face_too_small(portrait):
    tiny = cv2.resize(portrait, (180, 180), interpolation=cv2.INTER_AREA)  # IOD ~21 px
    with pytest.raises(FaceTooSmallError):
        select_face(tiny)


def test_bad_array_raises_image_error():
    with pytest.raises(ImageError):
        detect_faces(np.zeros((64, 64), np.uint8))


def test_largest_face_search_stops_early_only_on_a_prominent_face(portrait, monkeypatch):
    from models.face import landmarks

    calls = []
    real = landmarks._mesh_on_detections
    monkeypatch.setattr(landmarks, "_mesh_on_detections", lambda *a: calls.append(1) or real(*a))
    quick = detect_faces(portrait, exhaustive=False)  # FaceMesh finds the face, 0.12 of the side: no full-range pass
    assert calls == [] and len(quick) == 1
    assert quick[0].points == pytest.approx(detect_faces(portrait)[0].points)
    assert calls  # the exhaustive search did run the full-range pass
    # A face under 1/10 of the short side across the eyes is not prominent: the full-range pass still runs.
    canvas = np.full((1024, 1024, 3), 200, np.uint8)
    canvas[600:856, 100:356] = cv2.resize(portrait, (256, 256), interpolation=cv2.INTER_AREA)
    calls.clear()
    assert len(detect_faces(canvas, exhaustive=False)) == 1 and calls
