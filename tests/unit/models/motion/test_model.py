import numpy as np
import pytest

from models.errors import AudioError
from models.motion.model import MotionModel
from models.schema import MOTION_HIGH, MOTION_LOW, MOTION_NAMES, MotionSequence, neutral_motion


@pytest.fixture(scope="module")
def model():
    return MotionModel.load()


def speech_with_pause(speech_path, rate=16000):
    """2 s of the bundled speech, 1.2 s of silence, 2 s of speech."""
    from models.motion.audio import load_audio

    speech = load_audio(speech_path)
    return np.concatenate([speech[: 2 * rate], np.zeros(int(1.2 * rate), np.float32), speech[3 * rate : 5 * rate]])


def test_output_shape_names_and_ranges(model, speech_path):
    seq = model.generate(speech_path, seed=3)
    assert isinstance(seq, MotionSequence)
    assert seq.names == MOTION_NAMES and seq.fps == 25
    assert seq.values.shape == (228, len(MOTION_NAMES))  # 9.12 s at 25 fps
    assert np.all(seq.values >= MOTION_LOW) and np.all(seq.values <= MOTION_HIGH)


def test_same_seed_is_deterministic(model, speech_path):
    a = model.generate(speech_path, seed=11).values
    b = model.generate(speech_path, seed=11).values
    assert np.array_equal(a, b)


def test_seeds_differ_in_head_motion_not_in_lip_sync(model, speech_path):
    runs = [model.generate(speech_path, seed=s) for s in range(4)]
    yaw = np.stack([r.column("head_yaw") for r in runs])
    jaw = np.stack([r.column("jaw_open") for r in runs])
    assert np.mean(np.abs(yaw[0] - yaw[1])) > 0.5  # degrees: trajectories really differ
    assert yaw.std(axis=1).min() > 1.0
    roll = np.stack([r.column("head_roll") for r in runs])
    assert roll.std(axis=1).mean() > 1.8  # degrees; roll once barely moved (1.3) because the corpus drew it small
    for other in jaw[1:]:  # lip sync follows the audio, far more than the seed
        assert np.corrcoef(jaw[0], other)[0, 1] >= 0.9


def test_mouth_closes_in_silence_and_opens_in_speech(model, speech_path):
    seq = model.generate(speech_with_pause(speech_path), sample_rate=16000, seed=0)
    jaw = seq.column("jaw_open")
    assert jaw[58:75].max() < 0.03  # the middle of the pause (frames 50-80)
    assert jaw[:50].max() > 0.1 and jaw[-50:].max() > 0.1


def test_blinks_happen(model, speech_path):
    blink = model.generate(speech_path, seed=5).column("blink_left")
    assert blink.max() > 0.9 and np.mean(blink > 0.5) < 0.2


def test_brows_raise_visibly_and_smoothly(model, speech_path):
    brows = [model.generate(speech_path, seed=s).column("brow_raise") for s in range(4)]
    assert max(b.max() for b in brows) > 0.4  # real raises, not the network's faint average
    # jerk (mean |third difference|): the corpus targets have ~0.004, the raw network mean 0.012-0.016
    assert np.mean([np.mean(np.abs(np.diff(b, n=3))) for b in brows]) < 0.008


def test_silent_audio_is_refused(model):
    with pytest.raises(AudioError):
        model.generate(np.zeros(16000, np.float32), sample_rate=16000)


def test_card_hash_identifies_the_parameters(model):
    card = model.card
    assert len(card.sha256) == 64 and card.name and card.version


def test_neutral_motion_is_inside_ranges():
    n = neutral_motion()
    assert n.shape == (len(MOTION_NAMES),) and np.all(n >= MOTION_LOW) and np.all(n <= MOTION_HIGH)
