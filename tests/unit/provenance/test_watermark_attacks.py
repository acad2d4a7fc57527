"""Each attack family at moderate strength on small clips (256x256, 1-3 s), plus segments of spliced clips.

Attacks use PyAV (H.264) and OpenCV (resampling, JPEG); only ``provenance`` itself must stay free of them.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from provenance.watermark import VideoWatermarker

CID = "5eedc0ffee42"
OTHER = "0a1b2c3d4e5f"


def clip(n=25, size=256, seed=0, image=data.astronaut):
    img = image()
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    y0, x0 = rng.integers(0, min(h, w) - size - n // 4, size=2)
    return [
        np.ascontiguousarray(img[y0 + k // 8 : y0 + k // 8 + size, x0 + k // 4 : x0 + k // 4 + size]) for k in range(n)
    ]


def tone(frames, fn):
    table = np.clip(np.round(fn(np.arange(256.0))), 0, 255).astype(np.uint8)
    return [table[f] for f in frames]


@pytest.fixture(scope="module")
def marked():
    return list(VideoWatermarker().embed(clip(), CID))


def _found(frames, **kw):
    det = VideoWatermarker().detect(frames, **kw)
    assert det.found and det.content_id == CID, det
    return det


def test_rescale_half_then_h264(marked, h264):
    small = [cv2.resize(f, (128, 128), interpolation=cv2.INTER_AREA) for f in marked]
    det = _found(h264(small, 18))
    assert not det.resynchronised


def test_upscale(marked):
    _found([cv2.resize(f, (384, 384), interpolation=cv2.INTER_CUBIC) for f in marked])


def test_jpeg_q75(marked):
    out = []
    for f in marked:
        _, buf = cv2.imencode(".jpg", f[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 75])
        out.append(np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]))
    _found(out)


@pytest.mark.parametrize("fn", [lambda x: x + 20, lambda x: x - 20], ids=["bright+", "bright-"])
def test_tone_changes(marked, fn):
    _found(tone(marked, fn))


@pytest.mark.slow
def test_contrast_needs_gain_resync(marked):
    det = _found(tone(marked, lambda x: (x - 128) * 0.8 + 128))
    assert det.resynchronised and det.geometry.endswith("gamma=1 gain=1.25")  # 1 / 0.8


@pytest.mark.slow
def test_centre_crop_is_found_by_resync(marked):
    cropped = [np.ascontiguousarray(f[13:243, 13:243]) for f in marked]  # 90 %, off the block grid
    assert not VideoWatermarker().detect(cropped, resync=False).found
    det = _found(cropped)
    assert det.resynchronised and det.n_bits < 232  # blocks cut away are erasures, not errors


def test_frame_rate_changes(marked):
    to15 = [marked[int(k * 25 / 15)] for k in range(15)]
    _found(to15, fps=15.0)
    to30 = [marked[min(len(marked) - 1, int(k * 25 / 30))] for k in range(30)]
    _found(to30, fps=30.0)


def test_trim_and_segments():
    frames = clip(n=100, seed=2)
    marked = list(VideoWatermarker().embed(frames, CID))
    trimmed = marked[:40] + marked[60:]
    det = _found(trimmed, resync=False)
    assert det.segments and det.segments[0].content_id == CID
    assert det.segments[0].start_s == pytest.approx(0.0) and det.segments[-1].end_s >= 3.0


def test_spliced_clip_has_two_segments():
    wm = VideoWatermarker()
    a = list(wm.embed(clip(n=50, seed=3), CID))
    b = list(wm.embed(clip(n=50, seed=4, image=data.coffee), OTHER))
    det = wm.detect(a + b, resync=False)
    ids = [s.content_id for s in det.segments]
    assert CID in ids and OTHER in ids
    first = next(s for s in det.segments if s.content_id == CID)
    second = next(s for s in det.segments if s.content_id == OTHER)
    assert first.end_s <= 2.6 and second.start_s >= 1.4


def test_unmarked_tail_is_not_a_segment():
    wm = VideoWatermarker()
    marked = list(wm.embed(clip(n=50, seed=5), CID))
    plain = clip(n=50, seed=6, image=data.coffee)
    det = wm.detect(marked + plain, resync=False)
    assert det.found and det.content_id == CID
    assert all(s.end_s <= 2.6 for s in det.segments)
