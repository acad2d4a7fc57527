"""FaceRenderer: neutral reproduces the framed portrait, each motion changes the right region, typed errors."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from models.errors import FaceTooSmallError, ImageError, NoFaceError
from models.face.renderer import FaceRenderer, Renderer
from models.schema import MOTION_INDEX, NUM_MOTION_DIMS


@pytest.fixture(scope="module")
def renderer(portrait_path) -> FaceRenderer:
    return FaceRenderer(portrait_path)


def motion(r: FaceRenderer, **values: float) -> np.ndarray:
    m = r.neutral_motion()
    for name, v in values.items():
        m[MOTION_INDEX[name]] = v
    return m


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    return float(structural_similarity(a, b, channel_axis=2, data_range=255))


def box_mask(shape, pts: np.ndarray, margin: float) -> np.ndarray:
    x0, y0 = np.floor(pts.min(axis=0) - margin).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0) + margin).astype(int)
    m = np.zeros(shape[:2], bool)
    m[max(y0, 0) : y1, max(x0, 0) : x1] = True
    return m


def changed(a: np.ndarray, b: np.ndarray, thresh: int = 24) -> np.ndarray:
    return np.abs(a.astype(int) - b.astype(int)).max(axis=2) > thresh


def test_satisfies_renderer_protocol_and_frame_size(renderer):
    assert isinstance(renderer, Renderer)
    assert renderer.frame_size == (512, 512)
    m = renderer.neutral_motion()
    assert m.dtype == np.float32 and m.shape == (NUM_MOTION_DIMS,)
    frame = renderer.render(m)
    assert frame.dtype == np.uint8 and frame.shape == (512, 512, 3)


def test_neutral_reproduces_framed_source(renderer):
    frame = renderer.render(renderer.neutral_motion())
    assert ssim(frame, renderer.source) >= 0.99
    # The portrait's own mouth opening is the neutral jaw_open.
    assert renderer.neutral_motion()[MOTION_INDEX["jaw_open"]] == pytest.approx(renderer.measured_jaw_open())


def test_tiny_motion_stays_close_to_source(renderer):
    frame = renderer.render(motion(renderer, head_yaw=0.2, smile=0.02))
    assert ssim(frame, renderer.source) >= 0.99


def test_jaw_open_changes_mainly_the_mouth_and_darkens_it(renderer):
    lm = renderer.landmarks[:, :2]
    neutral = renderer.render(renderer.neutral_motion())
    frame = renderer.render(motion(renderer, jaw_open=0.35))
    diff = changed(frame, neutral)
    lower_face = box_mask(frame.shape, lm[[61, 291, 13, 14, 152, 17, 0]], 0.3 * renderer.iod)
    assert diff.sum() > 400
    assert diff[lower_face].sum() / diff.sum() > 0.9
    # The opened mouth is dark inside: just below the upper inner lip, on the target landmarks' gap.
    target = renderer.target_landmarks(motion(renderer, jaw_open=0.35))
    cx, cy = np.round((target[13] + target[14]) / 2).astype(int)
    luma = frame[..., :3].astype(float) @ [0.299, 0.587, 0.114]
    assert luma[cy - 2 : cy + 3, cx - 2 : cx + 3].mean() < 0.5 * luma[lower_face].mean()
    # Outside the mouth and chin, the identity stays.
    assert ssim(np.where(lower_face[..., None], 0, frame), np.where(lower_face[..., None], 0, neutral)) > 0.98


def test_blink_changes_mainly_the_eyes(renderer):
    lm = renderer.landmarks[:, :2]
    neutral = renderer.render(renderer.neutral_motion())
    frame = renderer.render(motion(renderer, blink_left=1.0, blink_right=1.0))
    diff = changed(frame, neutral)
    eyes = box_mask(frame.shape, lm[[33, 133, 159, 145]], 0.15 * renderer.iod) | box_mask(
        frame.shape, lm[[263, 362, 386, 374]], 0.15 * renderer.iod
    )
    assert diff.sum() > 100
    assert diff[eyes].sum() / diff.sum() > 0.95
    # Closed: the eye opening no longer shows the (bright) sclera.
    for upper, lower in ((159, 145), (386, 374)):
        a, b = lm[upper], lm[lower]
        x = round((a[0] + b[0]) / 2)
        col_n = neutral[int(a[1]) : int(b[1]) + 1, x - 6 : x + 7].astype(float).mean()
        col_b = frame[int(a[1]) : int(b[1]) + 1, x - 6 : x + 7].astype(float).mean()
        assert abs(col_b - col_n) > 5


def test_head_yaw_moves_the_face_and_keeps_the_background(renderer):
    neutral = renderer.render(renderer.neutral_motion())
    frame = renderer.render(motion(renderer, head_yaw=20.0))
    target = renderer.target_landmarks(motion(renderer, head_yaw=20.0))
    nose = renderer.landmarks[1, :2]
    assert target[1, 0] - nose[0] > 0.1 * renderer.iod  # + yaw turns towards image right
    for corner in (np.s_[:64, :64], np.s_[:64, -64:], np.s_[-64:, :64], np.s_[-64:, -64:]):
        assert ssim(frame[corner], neutral[corner]) > 0.99  # background and shoulders stay


def test_render_is_deterministic(renderer):
    m = motion(renderer, jaw_open=0.2, blink_left=0.6, head_pitch=5.0, smile=0.4)
    assert np.array_equal(renderer.render(m), renderer.render(m))


def test_bad_motion_raises_value_error(renderer):
    with pytest.raises(ValueError):
        renderer.render(np.zeros(NUM_MOTION_DIMS + 1, np.float32))
    bad = renderer.neutral_motion()
    bad[0] = np.nan
    with pytest.raises(ValueError):
        renderer.render(bad)


def test_out_of_range_motion_is_clipped(renderer):
    m = motion(renderer, jaw_open=5.0, head_yaw=400.0)
    assert np.array_equal(renderer.render(m), renderer.render(motion(renderer, jaw_open=0.6, head_yaw=30.0)))


def test_full_framing_caps_the_longest_side_and_keeps_dims_even(portrait_path):
    from models.face.image_io import load_image

    img = load_image(portrait_path)
    wide = np.concatenate([img, np.full((512, 171, 3), 220, np.uint8)], axis=1)  # 683 x 512
    r = FaceRenderer(wide, size=300, framing="full")
    w, h = r.frame_size
    assert w == 300 and h % 2 == 0 and abs(h - 512 * 300 / 683) <= 2
    assert r.render(r.neutral_motion()).shape == (h, w, 3)


def test_crop_size_is_even(portrait_path):
    r = FaceRenderer(portrait_path, size=257)
    assert r.frame_size == (256, 256)


def test_face_too_small_in_full_framing_raises(portrait_path):
    from models.face.image_io import load_image

    img = load_image(portrait_path)
    wide = np.full((512, 4096, 3), 200, np.uint8)
    wide[:, 1792:2304] = img  # a 512 px portrait in a 4096 px panorama, framed whole at 512: IOD ~8 px
    with pytest.raises(FaceTooSmallError):
        FaceRenderer(wide, size=512, framing="full")
    assert FaceRenderer(wide, size=256).frame_size == (256, 256)  # the crop framing still works


def test_no_face_and_bad_input(tmp_path):
    with pytest.raises(NoFaceError):
        FaceRenderer(np.full((300, 300, 3), 90, np.uint8))
    with pytest.raises(ImageError):
        FaceRenderer(b"definitely not an image")
    with pytest.raises(ValueError):
        FaceRenderer(np.full((300, 300, 3), 90, np.uint8), framing="zoom")


@pytest.mark.parametrize(
    ("name", "a", "b"),
    [("jaw_open", 0.20, 0.21), ("blink_left", 0.89, 0.91), ("blink_right", 0.49, 0.51), ("head_yaw", 14.9, 15.1),
     ("upper_lip_raise", 0.5, 0.52), ("gaze_x", 0.3, 0.32)],
)  # fmt: skip
def test_small_motion_steps_give_small_frame_changes(renderer, name, a, b):
    """No pops: a 1-2% step of one dim changes the frame a little (flicker would show as a jump)."""
    fa = renderer.render(motion(renderer, **{name: a})).astype(int)
    fb = renderer.render(motion(renderer, **{name: b})).astype(int)
    diff = np.abs(fa - fb)
    assert diff.mean() < 0.5
    assert np.percentile(diff, 99.9) < 60


def test_motion_sequence_is_smooth_frame_to_frame(renderer):
    """A smooth 1 s talking motion: frame-to-frame change stays bounded and never spikes."""
    t = np.arange(25) / 25.0
    seq = np.repeat(renderer.neutral_motion()[None], 25, axis=0)
    seq[:, MOTION_INDEX["jaw_open"]] = 0.15 + 0.12 * np.sin(2 * np.pi * 2.0 * t)
    seq[:, MOTION_INDEX["head_yaw"]] = 6.0 * np.sin(2 * np.pi * 0.5 * t)
    seq[:, MOTION_INDEX["smile"]] = 0.3 * np.sin(2 * np.pi * 0.7 * t)
    frames = np.array([renderer.render(m) for m in seq]).astype(np.float32)
    steps = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
    assert steps.max() < 3.0
    assert steps.max() < 3.0 * np.median(steps)


def test_gaze_moves_the_irises_not_the_eye_corners(renderer):
    from models.face.landmarks import detect_faces

    neutral = renderer.render(renderer.neutral_motion())
    frame = renderer.render(motion(renderer, gaze_x=0.5))
    base = detect_faces(neutral)[0].points
    looked = detect_faces(frame)[0].points
    half_w = np.linalg.norm(base[133, :2] - base[33, :2]) / 2.0
    for iris in (468, 473):
        shift = looked[iris, 0] - base[iris, 0]
        assert 0.2 * half_w < shift < 0.8 * half_w  # + gaze_x looks towards image right
    # Only the eye openings are redrawn: every pixel outside them is untouched.
    lm = renderer.landmarks[:, :2]
    eyes = box_mask(frame.shape, lm[[33, 133, 159, 145]], 3) | box_mask(frame.shape, lm[[263, 362, 386, 374]], 3)
    assert np.array_equal(frame[~eyes], neutral[~eyes])


def test_warp_grid_follows_the_face_size(portrait_path):
    """4 px warp cells for a 512 px crop (IOD ~145 px), 2 px cells for a small face, and the small render still opens
    the mouth where asked."""
    from models.face._warp import grid_factor

    assert [grid_factor(iod) for iod in (20, 71, 72, 108, 143, 144, 400)] == [2, 2, 2, 3, 3, 4, 4]
    small = FaceRenderer(portrait_path, size=256)
    assert small._warp.f == grid_factor(small.iod) == 2
    frame = small.render(motion(small, jaw_open=0.35))
    mouth = box_mask(frame.shape, small.target_landmarks(motion(small, jaw_open=0.35))[[13, 14]], 3)
    assert changed(frame, small.source)[mouth].mean() > 0.2
