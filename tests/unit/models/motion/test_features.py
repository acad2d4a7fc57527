import numpy as np
import pytest

from models.motion import features as F
from models.motion.audio import frame_count


def tone(seconds=1.0, amp=0.3, f0=200.0):
    t = np.arange(int(seconds * 16000)) / 16000
    return (amp * np.sin(2 * np.pi * f0 * t)).astype(np.float32)


def test_one_feature_row_per_video_frame():
    for n in (1, 639, 640, 641, 16000, 16001):
        x = np.random.default_rng(0).normal(0, 0.1, n).astype(np.float32)
        assert F.log_mel(x).shape == (frame_count(n, 25), F.SUB * F.N_MELS)


def test_features_are_aligned_to_frames():
    """A burst in video frame 10 shows up in feature row 10 and not in rows far from it."""
    x = np.zeros(16000, np.float32)
    x[10 * 640 : 11 * 640] = tone(0.04)
    energy = F.log_mel(x).reshape(25, F.SUB, F.N_MELS).max(axis=2).mean(axis=1)
    assert int(np.argmax(energy)) == 10
    assert energy[10] > energy[7] + 5 and energy[10] > energy[13] + 5


def test_loudness_normalisation_removes_gain():
    x = tone() * np.linspace(0.2, 1, 16000).astype(np.float32)
    a = F.log_mel(F.normalize_loudness(x))
    b = F.log_mel(F.normalize_loudness(0.05 * x))
    np.testing.assert_allclose(a, b, atol=1e-3)
    assert F.normalize_loudness(np.zeros(1000, np.float32)).max() == 0.0


def test_mel_filterbank_covers_the_band():
    fb = F.mel_filterbank()
    assert fb.shape == (F.N_MELS, F.N_FFT // 2 + 1) and np.all(fb >= 0)
    assert np.all(fb.sum(axis=1) > 0)


@pytest.mark.system("espeak-ng")
def test_phone_features_are_fractions_and_order_independent():
    pytest.importorskip("pocketsphinx")
    from models.motion.audio import load_audio
    from models.motion.corpus.espeak import synthesize

    u = synthesize("Hello there, my friend. How are you today?", voice="en", rate=160)
    x = F.normalize_loudness(load_audio(u.samples, sample_rate=u.sample_rate))
    a = F.phone_features(x)
    assert a.shape == (frame_count(x.size, 25), F.N_PHONES)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, atol=1e-6)
    assert a[:, 1:].sum() > 10  # phones were recognised, not only silence
    F.phone_features(F.normalize_loudness(tone(2.0)))  # decode something else in between
    np.testing.assert_array_equal(F.phone_features(x), a)
    both = F.audio_features(x, phones=True)
    assert both.shape == (a.shape[0], F.SUB * F.N_MELS + F.N_PHONES)


def test_viseme_features_follow_recognised_phones():
    segs = [("SIL", 0, 29), ("M", 30, 39), ("AA", 40, 69), ("SIL", 70, 149)]  # 10 ms frames
    v = F.viseme_features(segs, 60, lead_s=0.0)
    assert v.shape == (60, F.N_VISEME)
    jaw = v[:, 0]
    assert jaw[:5].max() < 0.01 and jaw[-10:].max() < 0.01  # silence
    assert jaw[13] > 0.12  # /AA/ around 0.4-0.7 s
    assert jaw[13] > 5 * jaw[8]  # /M/ closes the lips
    led = F.viseme_features(segs, 60, lead_s=0.08)[:, 0]
    assert np.argmax(led) < np.argmax(jaw)


def test_at_least_one_feature_group_is_required():
    with pytest.raises(ValueError):
        F.audio_features(tone(), phones=False, mel=False, visemes=False)
