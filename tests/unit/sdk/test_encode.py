import av
import numpy as np
import pytest

from sdk._encode import Mp4Writer


def test_writes_h264_aac_with_equal_durations(tmp_path):
    path = tmp_path / "out.mp4"
    audio = (0.3 * np.sin(np.arange(48000 * 2) * 2 * np.pi * 300 / 48000)).astype(np.float32)
    with Mp4Writer(path, width=64, height=48, fps=25, audio=audio) as w:
        for i in range(50):
            w.write(np.full((48, 64, 3), i * 4, np.uint8))
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert v.codec_context.name == "h264" and v.codec_context.pix_fmt == "yuv420p"
        assert a.codec_context.name == "aac"
        assert v.frames == 50
        vdur = float(v.duration * v.time_base)
        adur = float(a.duration * a.time_base)
        assert abs(vdur - 2.0) < 1e-6 and abs(adur - vdur) <= 1 / 25


def test_faststart_puts_moov_before_mdat(tmp_path):
    path = tmp_path / "out.mp4"
    with Mp4Writer(path, width=64, height=64, fps=25, audio=np.zeros(48000, np.float32)) as w:
        for _ in range(25):
            w.write(np.zeros((64, 64, 3), np.uint8))
    data = path.read_bytes()
    assert 0 < data.index(b"moov") < data.index(b"mdat")


def test_audio_shorter_than_video_is_padded(tmp_path):
    path = tmp_path / "out.mp4"
    with Mp4Writer(path, width=64, height=64, fps=25, audio=np.zeros(4800, np.float32)) as w:
        for _ in range(25):
            w.write(np.zeros((64, 64, 3), np.uint8))
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        assert abs(float(a.duration * a.time_base) - 1.0) <= 1 / 25


def test_bad_frames_and_sizes_raise(tmp_path):
    with pytest.raises(ValueError):
        Mp4Writer(tmp_path / "odd.mp4", width=63, height=64, fps=25, audio=None)
    with Mp4Writer(tmp_path / "x.mp4", width=64, height=64, fps=25, audio=None) as w, pytest.raises(ValueError):
        w.write(np.zeros((64, 64, 3), np.float32))


def test_colour_conversion_is_bt601_limited_with_averaged_chroma_and_round_trips(tmp_path):
    """The writer's own RGB -> yuv420p: BT.601 limited range, chroma from 2x2 averages (the definition, within
    rounding), and what a player decodes is the colour that was written."""
    from sdk._encode import rgb_to_yuv420p

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (96, 128, 3)).astype(np.uint8)  # sharp colour edges everywhere
    ours = rgb_to_yuv420p(frame).astype(float)
    r, g, b = (frame[..., i].astype(float) for i in range(3))
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    avg = [c.reshape(48, 2, 64, 2).mean(axis=(1, 3)) for c in (u, v)]
    assert np.abs(ours[:96] - y).max() <= 1.0
    planes = ours[96:].reshape(-1)
    for got, want in zip((planes[: 48 * 64], planes[48 * 64 :]), avg, strict=True):
        assert np.abs(got.reshape(48, 64) - want).max() <= 1.6

    path = tmp_path / "colour.mp4"
    smooth = np.stack([np.full((96, 128), c, np.uint8) for c in (200, 60, 30)], -1)  # a flat orange
    with Mp4Writer(path, width=128, height=96, fps=25, audio=None, crf=10) as w:
        for _ in range(5):
            w.write(smooth)
    with av.open(str(path)) as c:
        decoded = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    assert np.abs(decoded - smooth).max() <= 3


def test_prepared_yuv420p_planes_encode_like_rgb_frames_and_bad_planes_raise(tmp_path):
    from sdk._encode import rgb_to_yuv420p

    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (48, 64, 3)).astype(np.uint8) for _ in range(10)]
    decoded = []
    for name, planes in (("rgb", False), ("yuv", True)):
        with Mp4Writer(tmp_path / f"{name}.mp4", width=64, height=48, fps=25, audio=None) as w:
            for f in frames:
                w.write_yuv420p(rgb_to_yuv420p(f)) if planes else w.write(f)
        with av.open(str(tmp_path / f"{name}.mp4")) as c:
            decoded.append([f.to_ndarray(format="yuv420p") for f in c.decode(video=0)])
    assert len(decoded[0]) == len(decoded[1]) == 10
    assert all(np.array_equal(a, b) for a, b in zip(*decoded, strict=True))
    with Mp4Writer(tmp_path / "bad.mp4", width=64, height=48, fps=25, audio=None) as w:
        with pytest.raises(ValueError, match="yuv420p"):
            w.write_yuv420p(np.zeros((48, 64), np.uint8))  # the luma plane alone
        with pytest.raises(ValueError, match="yuv420p"):
            w.write_yuv420p(np.zeros((72, 64), np.float32))
