"""Festival speech for the training corpus (real component; skipped where festival or its voices are not installed)."""

import numpy as np
import pytest

from models.motion.corpus import festival
from models.motion.corpus.build import TRAIN_VARIANTS, build_corpus, make_clip
from models.motion.corpus.visemes import base_symbols

pytestmark = pytest.mark.system("festival")


@pytest.mark.parametrize("voice", sorted(festival.VOICES))
def test_festival_gives_ordered_phone_timings_inside_the_audio(voice):
    u = festival.synthesize("Peter bought a map, then he slept.", voice=voice)
    dur = u.samples.size / u.sample_rate
    assert 1.0 < dur < 6 and u.samples.dtype == np.float32 and np.abs(u.samples).max() <= 1.0
    assert len(u.phones) >= 15 and all(p.end > p.start for p in u.phones)
    starts = [p.start for p in u.phones]
    assert starts == sorted(starts) and u.phones[-1].end <= dur + 1e-3
    assert [base_symbols(p.ipa) for p in u.phones[:2]] == [["p"], ["i"]]  # "Pe-ter": pauses are dropped
    assert len(u.word_starts) == 7 and list(u.word_starts) == sorted(u.word_starts)
    # the recorded /p/ of "Peter" and /m/ of "map": the audio is quiet where the lips are closed
    p0 = u.phones[0]
    closure = u.samples[int(p0.start * u.sample_rate) : int((p0.start + 0.03) * u.sample_rate)]
    vowel = u.samples[int(u.phones[1].start * u.sample_rate) : int(u.phones[1].end * u.sample_rate)]
    assert np.sqrt(np.mean(closure**2)) < 0.5 * np.sqrt(np.mean(vowel**2))


def test_stretch_slows_a_diphone_voice_down():
    fast = festival.synthesize("This is a test of the speaking rate.", voice="kal", stretch=0.8)
    slow = festival.synthesize("This is a test of the speaking rate.", voice="kal", stretch=1.3)
    assert slow.phones[-1].end > 1.4 * fast.phones[-1].end


def test_bad_arguments_are_typed_errors():
    with pytest.raises(ValueError):
        festival.synthesize("hello", voice="no-such-voice")
    with pytest.raises(ValueError):
        make_clip(np.random.default_rng(0), variants=TRAIN_VARIANTS, engine="no-such-engine")


def test_festival_clip_mouth_follows_the_phones_after_resampling():
    clip = make_clip(np.random.default_rng(3), variants=TRAIN_VARIANTS, augment=False, engine="festival")
    assert clip.voice.startswith("festival-")
    assert clip.motion.shape[0] == int(np.ceil(clip.audio.size / 640 - 1e-9))
    jaw = clip.motion[:, 0]
    audio = np.pad(clip.audio, (0, jaw.size * 640 - clip.audio.size))
    level = np.sqrt(np.mean(audio.reshape(-1, 640) ** 2, axis=1))
    speech = level > 0.1 * level.max()
    assert jaw[~speech].mean() < 0.5 * jaw[speech].mean()  # the mouth moves where the (resampled) speech is
    assert np.corrcoef(jaw, level)[0, 1] > 0.3
    # speech ends where the phones end: a timing scale error (the 0.88-1.14 resampling) would be 5-15 frames off
    last_open, last_loud = np.flatnonzero(jaw > 0.02)[-1], np.flatnonzero(speech)[-1]
    assert abs(int(last_open) - int(last_loud)) <= 4


@pytest.mark.system("espeak-ng")
def test_corpus_mixes_engines_by_share():
    d = build_corpus(4, seed=2, phones=False, festival_share=0.5)
    voices = [str(v) for v in d["voices"]]
    assert sum(v.startswith("festival-") for v in voices) == 2
    assert d["feats"].shape[0] == d["motion"].shape[0] == d["offsets"][-1]
