import numpy as np
import pytest

from models.errors import AudioError
from models.motion.audio import SAMPLE_RATE, encode_wav, frame_count, frame_loudness_db, is_silent, load_audio


def tone(seconds: float, rate: int, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_wav_file_decodes_to_16k_mono(speech_path):
    samples = load_audio(speech_path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(samples.size / SAMPLE_RATE - 9.12) < 0.05  # the bundled clip is 9.12 s at 22.05 kHz
    assert np.abs(samples).max() <= 1.0


def test_bytes_and_path_decode_identically(speech_path):
    assert np.array_equal(load_audio(speech_path), load_audio(speech_path.read_bytes()))


def test_array_is_resampled_and_keeps_duration():
    x = tone(2.0, 44_100)
    y = load_audio(x, sample_rate=44_100)
    assert abs(y.size - 2 * SAMPLE_RATE) <= 32
    # The tone's frequency survives resampling: the spectral peak stays at 220 Hz.
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / y.size - 220) < 2


def test_tuple_and_stereo_int16_arrays():
    stereo = (np.stack([tone(1, 8000), tone(1, 8000)], axis=1) * 32767).astype(np.int16)
    y = load_audio((stereo, 8000))
    assert abs(y.size - SAMPLE_RATE) <= 32 and 0.4 < np.abs(y).max() < 0.6


def test_compressed_formats_decode(tmp_path):
    import av

    path = tmp_path / "a.m4a"
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=16000)
        s.layout = "mono"
        frame = av.AudioFrame.from_ndarray(tone(1.0, 16000).reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = 16000
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    assert abs(load_audio(path).size - SAMPLE_RATE) < 2100  # AAC priming/padding adds < 2048 samples


@pytest.mark.parametrize(
    "source,kwargs",
    [
        (b"not audio at all" * 10, {}),
        (b"", {}),
        ("/nonexistent/file.wav", {}),
        (np.zeros(0, np.float32), {"sample_rate": 16000}),
        (np.zeros(100, np.float32), {}),  # no sample rate
        (np.array([0.0, np.nan], np.float32), {"sample_rate": 16000}),
        (np.zeros((2, 2, 2), np.float32), {"sample_rate": 16000}),
    ],
)
def test_bad_audio_raises_audio_error(source, kwargs):
    with pytest.raises(AudioError):
        load_audio(source, **kwargs)


def test_too_long_audio_is_refused():
    with pytest.raises(AudioError):
        load_audio(encode_wav(tone(3.0, 16000), 16000), max_seconds=2.0)
    with pytest.raises(AudioError):
        load_audio(tone(3.0, 16000), sample_rate=16000, max_seconds=2.0)


def test_video_file_without_audio_is_refused(tmp_path):
    import av

    path = tmp_path / "v.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width = s.height = 64
        s.pix_fmt = "yuv420p"
        for _ in range(5):
            for p in s.encode(av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    with pytest.raises(AudioError):
        load_audio(path)


def test_frame_features_align_with_video_frames():
    # 1 s of silence then 1 s of tone: at 25 fps the level jumps exactly at frame 25.
    x = np.concatenate([np.zeros(SAMPLE_RATE, np.float32), tone(1.0, SAMPLE_RATE)])
    db = frame_loudness_db(x, 25)
    assert db.size == frame_count(x.size, 25) == 50
    assert db[:23].max() < -100 and db[27:-1].min() > -10


def test_silence_detection():
    assert is_silent(np.zeros(16000, np.float32))
    assert is_silent(np.full(16000, 1e-5, np.float32))
    assert not is_silent(tone(1.0, 16000))
