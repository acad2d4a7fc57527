import numpy as np
import pytest

from models.motion.corpus import augment as A
from models.motion.corpus.build import HELDOUT_VARIANTS, TRAIN_VARIANTS, build_corpus, make_clip, prosody_motion
from models.motion.corpus.espeak import EspeakError, Phone, synthesize
from models.motion.corpus.visemes import ARPABET_IPA, base_symbols, mouth_track, viseme_class
from models.schema import MOTION_HIGH, MOTION_INDEX, MOTION_LOW, NUM_MOTION_DIMS


@pytest.mark.system("espeak-ng")
def test_espeak_gives_ordered_phone_timings_inside_the_audio():
    u = synthesize("Peter bought a map.", voice="en", rate=150)
    dur = u.samples.size / u.sample_rate
    assert u.sample_rate == 22050 and 0.5 < dur < 5
    assert len(u.phones) >= 8 and all(p.end > p.start for p in u.phones)
    starts = [p.start for p in u.phones]
    assert starts == sorted(starts) and u.phones[-1].end <= dur + 1e-6
    assert any(base_symbols(p.ipa) == ["p"] for p in u.phones)


@pytest.mark.system("espeak-ng")
def test_unknown_voice_is_an_error():
    with pytest.raises(EspeakError):
        synthesize("hello", voice="no-such-voice-xyz")


def test_held_out_voices_are_not_training_voices():
    assert not set(HELDOUT_VARIANTS) & set(TRAIN_VARIANTS)


def test_viseme_classes():
    assert viseme_class("p") == viseme_class("m") == "bilabial"
    assert viseme_class("a") == "open" and viseme_class("u") == "close_round"
    assert base_symbols("aːʊ") == ["a", "ʊ"]
    assert all(base_symbols(v) for v in ARPABET_IPA.values())


def test_mouth_targets_close_for_bilabials_and_silence_and_lead_the_sound():
    phones = [Phone("a", 0.3, 0.5), Phone("m", 0.5, 0.6), Phone("a", 0.6, 0.8)]
    no_lead = mouth_track(phones, 1.5, lead_s=0.0)
    jaw = no_lead[:, 0]
    assert jaw[:10].max() < 0.01 and jaw[120:].max() < 0.01  # silence before and after
    assert jaw[40] > 0.15 and jaw[70] > 0.15  # open vowels
    assert jaw[53:57].max() < 0.05  # the lips meet for /m/
    lead = mouth_track(phones, 1.5, lead_s=0.1)[:, 0]
    np.testing.assert_allclose(lead[:100], jaw[10:110], atol=1e-6)


@pytest.mark.system("espeak-ng")
def test_prosody_motion_is_random_given_the_audio():
    u = synthesize("Well, this is really quite important, you know.", voice="en")
    from models.motion.audio import load_audio

    x = load_audio(u.samples, sample_rate=u.sample_rate)
    n = int(np.ceil(x.size / 640))
    a = prosody_motion(x, u.word_starts, n, np.random.default_rng(0))
    b = prosody_motion(x, u.word_starts, n, np.random.default_rng(1))
    assert a.shape == (n, NUM_MOTION_DIMS)
    yaw = MOTION_INDEX["head_yaw"]
    assert np.abs(a[:, yaw] - b[:, yaw]).mean() > 0.3
    assert a[:, MOTION_INDEX["jaw_open"]].max() == 0.0  # the mouth comes from the phones, not from here


def test_augmentations_keep_length_and_change_the_signal():
    rng = np.random.default_rng(0)
    x = (0.3 * np.sin(np.arange(16000) * 0.1)).astype(np.float32)
    for y in (
        A.band_limit(x, 300, 3400),
        A.reverb(x, 0.4, 0.5, rng),
        A.add_noise(x, 10.0, "pink", rng),
        A.gain(x, -6.0),
    ):
        assert y.shape == x.shape and y.dtype == np.float32 and not np.allclose(x, y)
    noisy = A.add_noise(x, 10.0, "white", rng)
    snr = 10 * np.log10(np.mean(x**2) / np.mean((noisy - x) ** 2))
    assert 9.0 < snr < 11.0
    y, applied = A.augment(x, rng)
    assert "gain_db" in applied and np.max(np.abs(y)) <= 1.0


@pytest.mark.system("espeak-ng")
def test_clips_and_corpus_are_reproducible_and_in_range():
    c1 = make_clip(np.random.default_rng(5), variants=TRAIN_VARIANTS)
    c2 = make_clip(np.random.default_rng(5), variants=TRAIN_VARIANTS)
    # espeak-ng may differ by a few samples between calls; everything drawn from the seed must not.
    assert (c1.voice, c1.text, c1.augmentation) == (c2.voice, c2.text, c2.augmentation)
    assert abs(c1.motion.shape[0] - c2.motion.shape[0]) <= 1
    assert np.all(c1.motion >= MOTION_LOW) and np.all(c1.motion <= MOTION_HIGH)
    assert c1.motion.shape[0] == int(np.ceil(c1.audio.size / 640 - 1e-9))
    d = build_corpus(3, seed=1, phones=False)
    assert d["feats"].shape == (d["motion"].shape[0], 320)
    assert d["offsets"][0] == 0 and d["offsets"][-1] == d["motion"].shape[0] and len(d["offsets"]) == 4


def test_mouth_track_memory_is_linear_for_long_audio():
    """30 minutes of phones: the dominance blend must not build a (phones x samples) matrix (that was 5.9 GB)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    t, phones = 0.0, []
    while t < 1800:
        d = float(rng.uniform(0.05, 0.2))
        phones.append(Phone(str(rng.choice(["a", "m", "s", "i", "u"])), t, t + d))
        t += d + (0.5 if rng.random() < 0.05 else 0.0)
    tracemalloc.start()
    track = mouth_track(phones, 1800.0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert track.shape == (180_000, 5)
    assert peak < 200e6


@pytest.mark.system("espeak-ng")
def test_head_roll_sways_about_as_much_as_pitch():
    """Corpus head roll was once drawn with a third of yaw's amplitude, and the trained model's roll barely moved."""
    u = synthesize("Well, this is really quite important, you know.", voice="en")
    from models.motion.audio import load_audio

    x = load_audio(u.samples, sample_rate=u.sample_rate)
    n = int(np.ceil(x.size / 640))
    runs = [prosody_motion(x, u.word_starts, n, np.random.default_rng(s)) for s in range(16)]
    roll = np.mean([r[:, MOTION_INDEX["head_roll"]].std() for r in runs])
    pitch = np.mean([r[:, MOTION_INDEX["head_pitch"]].std() for r in runs])
    assert roll > 1.8 and roll > 0.8 * pitch  # degrees
