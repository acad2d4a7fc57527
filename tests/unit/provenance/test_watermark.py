"""provenance.watermark: API, round trips (incl. a real H.264 encode), false positives, bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from skimage import data

from provenance.errors import WatermarkInputError
from provenance.watermark import VideoWatermarker, WatermarkDetection, new_content_id

CID = "0123456789ab"


def clip(n=25, size=256, seed=0):
    """A slowly panning crop of a natural photo (public-domain NASA portrait shipped with scikit-image)."""
    img = data.astronaut()
    rng = np.random.default_rng(seed)
    y0, x0 = rng.integers(0, 512 - size - n // 4, size=2)
    return [
        np.ascontiguousarray(img[y0 + k // 8 : y0 + k // 8 + size, x0 + k // 4 : x0 + k // 4 + size]) for k in range(n)
    ]


@pytest.fixture(scope="module")
def marked():
    frames = clip()
    return frames, list(VideoWatermarker().embed(frames, CID))


def test_new_content_id_is_48_bit_lowercase_hex():
    ids = {new_content_id() for _ in range(50)}
    assert len(ids) == 50
    for cid in ids:
        assert len(cid) == 12 and cid == cid.lower()
        int(cid, 16)


def test_embed_is_a_streaming_generator_with_same_shapes(marked):
    frames, out = marked
    gen = VideoWatermarker().embed(iter(frames), CID)
    assert iter(gen) is gen
    first = next(gen)
    assert first.shape == frames[0].shape and first.dtype == np.uint8
    assert len(out) == len(frames)
    assert any(np.any(a != b) for a, b in zip(frames, out, strict=True))


def test_invisibility_psnr(marked):
    frames, out = marked
    mse = np.mean([(a.astype(float) - b) ** 2 for a, b in zip(frames, out, strict=True)])
    assert 10 * np.log10(255**2 / mse) >= 42.0


def test_round_trip_exact_id(marked):
    _, out = marked
    det = VideoWatermarker().detect(out, fps=25.0)
    assert isinstance(det, WatermarkDetection)
    assert det.found and det.content_id == CID and det.version == 2
    assert det.log10_p <= -9 and det.frames_used == len(out)
    assert det.agreeing_bits >= det.threshold_bits
    assert det.segments and det.segments[0].content_id == CID


def test_round_trip_through_h264_crf20(marked, h264):
    _, out = marked
    det = VideoWatermarker().detect(h264(out, 20))
    assert det.found and det.content_id == CID


def test_subsampled_stream_with_timestamps():
    frames = clip(n=50)
    out = list(VideoWatermarker().embed(frames, CID))
    picked = list(range(0, 50, 3))
    det = VideoWatermarker().detect([out[i] for i in picked], fps=25.0, timestamps=[i / 25 for i in picked])
    assert det.found and det.content_id == CID and det.frames_used == len(picked)


def test_unmarked_and_wrong_key_are_not_detected(marked):
    frames, out = marked
    assert not VideoWatermarker().detect(frames, resync=False).found
    other = VideoWatermarker(key=b"organisation-private-key").detect(out, resync=False)
    assert not other.found and other.content_id is None


def test_private_key_round_trip():
    frames = clip(n=15, seed=3)
    wm = VideoWatermarker(key="org-key")
    out = list(wm.embed(frames, CID))
    assert wm.detect(out).content_id == CID
    assert not VideoWatermarker().detect(out, resync=False).found


def test_flat_grey_and_noise_frames_are_not_detected():
    grey = [np.full((256, 256, 3), 128, np.uint8)] * 10
    rng = np.random.default_rng(1)
    noise = [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(10)]
    for frames in (grey, noise):
        det = VideoWatermarker().detect(frames)
        assert not det.found and det.log10_p > -9


@pytest.mark.parametrize(
    "bad",
    [
        [np.zeros((256, 256, 3), np.float32)],
        [np.zeros((256, 256), np.uint8)],
        [np.zeros((256, 256, 4), np.uint8)],
        [np.zeros((128, 300, 3), np.uint8)],
        ["not an array"],
        [],
    ],
)
def test_bad_embed_input_raises(bad):
    with pytest.raises(WatermarkInputError):
        list(VideoWatermarker().embed(bad, CID))


@pytest.mark.parametrize("cid", ["0123456789AB", "0123456789a", "0123456789abc", "g123456789ab", 12345])
def test_bad_content_id_raises_before_reading_frames(cid):
    with pytest.raises(WatermarkInputError):
        VideoWatermarker().embed(iter(()), cid)


def test_changing_frame_shape_raises():
    frames = [np.zeros((256, 256, 3), np.uint8), np.zeros((256, 320, 3), np.uint8)]
    with pytest.raises(WatermarkInputError):
        list(VideoWatermarker().embed(frames, CID))


@pytest.mark.parametrize(
    "bad", [[], [np.zeros((32, 32, 3), np.uint8)], [np.zeros((64, 64, 3), np.int16)], [np.zeros((64, 64))]]
)
def test_bad_detect_input_raises(bad):
    with pytest.raises(WatermarkInputError):
        VideoWatermarker().detect(bad)


def test_timestamp_count_must_match():
    frames = [np.zeros((64, 64, 3), np.uint8)] * 3
    with pytest.raises(WatermarkInputError):
        VideoWatermarker().detect(frames, timestamps=[0.0, 0.04])
    with pytest.raises(ValueError):  # WatermarkInputError is a ValueError
        VideoWatermarker().detect(frames, fps=0)


@pytest.mark.parametrize("opts", [{"sync_frames": 0}, {"keep_frames": 4, "sync_frames": 8}, {"keep_frames": 2.5}])
def test_bad_detect_options_raise(opts):
    with pytest.raises(WatermarkInputError):
        VideoWatermarker().detect([np.zeros((64, 64, 3), np.uint8)], **opts)


def test_bad_key_raises():
    with pytest.raises(WatermarkInputError):
        VideoWatermarker(key=b"")


def test_no_heavy_imports():
    """embed and detect run without OpenCV, torch, SciPy or invisible-watermark (fresh process)."""
    code = (
        "import sys, provenance.watermark as w, numpy as np; "
        "list(w.VideoWatermarker().embed([np.zeros((256,256,3),np.uint8)], '0123456789ab')); "
        "w.VideoWatermarker().detect([np.zeros((256,256,3),np.uint8)]); "
        "bad = [m for m in ('cv2','torch','scipy','imwatermark','skimage') if m in sys.modules]; "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_round_trip_non_integer_working_factor():
    img = data.coffee()  # 400x600: the 128-px working grid is a 3.125x area reduction
    frames = [np.ascontiguousarray(np.roll(img, k, axis=1)) for k in range(8)]
    out = list(VideoWatermarker().embed(frames, CID))
    mse = np.mean([(a.astype(float) - b) ** 2 for a, b in zip(frames, out, strict=True)])
    assert 10 * np.log10(255**2 / mse) >= 42.0
    det = VideoWatermarker().detect(out, resync=False)
    assert det.found and det.content_id == CID
