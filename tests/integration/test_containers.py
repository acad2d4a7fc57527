"""The verifier reads any container and codec FFmpeg decodes: our marked video re-encoded into each."""

from __future__ import annotations

import av
import pytest

from verifier import Verdict, verify

CASES = {
    "webm": ("webm", "libvpx-vp9", "yuv420p", {"crf": "30", "b": "0", "deadline": "realtime", "cpu-used": "8"}),
    "mkv": ("matroska", "libx264", "yuv420p", {"crf": "23", "preset": "veryfast"}),
    "mov": ("mov", "libx264", "yuv420p", {"crf": "23", "preset": "veryfast"}),
    "avi": ("avi", "mpeg4", "yuv420p", {"qscale": "3"}),
}
MIMES = {"webm": "video/webm", "mkv": "video/x-matroska", "mov": "video/quicktime", "avi": "video/avi"}


@pytest.mark.parametrize("ext", sorted(CASES))
def test_marked_video_in_other_containers(rendered, tmp_path, ext):
    fmt, codec, pix, options = CASES[ext]
    path = tmp_path / f"upload.{ext}"
    with av.open(str(rendered.path)) as inp, av.open(str(path), "w", format=fmt) as out:
        s = out.add_stream(codec, rate=25)
        s.width = s.height = 512
        s.pix_fmt = pix
        s.options = options
        for frame in inp.decode(video=0):
            for p in s.encode(av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    report = verify(path)
    assert report.media.mime == MIMES[ext]
    assert report.verdict is Verdict.WATERMARK_ONLY, report.summary
    assert report.watermark.content_id == rendered.content_id
