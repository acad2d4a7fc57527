"""Issue 16 through the verifier: full mode decodes frames to the 128-px working grid, and the frames kept for the
blind search again at ``Limits.fine_short_side``, so a marked video shown as a small inset of a larger one is found
in the uploaded file (at 128 px alone its mark is not resolved)."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from skimage import data

from provenance.watermark import VideoWatermarker
from verifier import Limits, verify

CID = "c0ffee5eed19"


def _blur(plane: np.ndarray, r: int) -> np.ndarray:
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (r, r)
        c = np.cumsum(np.pad(plane, pad, mode="edge"), axis=axis)
        plane = (np.take(c, range(2 * r, c.shape[axis]), axis) - np.take(c, range(c.shape[axis] - 2 * r), axis)) / (
            2 * r
        )
    return plane


@pytest.fixture(scope="module")
def inset_mp4() -> bytes:
    """20 marked 256-px frames as a 0.4 inset of a 640x1136 picture of smooth noise panning under it, H.264."""
    img = data.astronaut()
    clip = [np.ascontiguousarray(img[20 + k // 2 : 276 + k // 2, 120 + k : 376 + k]) for k in range(20)]
    marked = list(VideoWatermarker().embed(clip, CID))
    rng = np.random.default_rng(5)
    base = np.stack([_blur(rng.random((640, 1136 + 20)) * 255.0, 12) for _ in range(3)], axis=-1)
    base = (base - base.min()) / (base.max() - base.min()) * 255.0
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 1136, 640, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for i, f in enumerate(marked):
            canvas = np.clip(np.rint(base[:, i : i + 1136]), 0, 255).astype(np.uint8)
            canvas[300:556, 700:956] = f
            out.mux(stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")))
        out.mux(stream.encode())
    return buf.getvalue()


def test_full_mode_finds_a_small_inset(inset_mp4):
    wm = verify(inset_mp4, mode="full").watermark
    assert wm.analysed and wm.found and wm.content_id == CID


def test_without_fine_frames_the_inset_is_not_resolved(inset_mp4):
    wm = verify(inset_mp4, mode="full", limits=Limits(fine_short_side=128)).watermark
    assert wm.analysed and not wm.found
