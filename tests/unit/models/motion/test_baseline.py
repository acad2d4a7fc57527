import numpy as np
import pytest

from models.errors import AudioError
from models.motion.baseline import LoudnessBaseline, PhoneVisemeBaseline


def test_loudness_baseline_keeps_the_motion_model_api(speech_path):
    model = LoudnessBaseline.load()
    seq = model.generate(speech_path, seed=1)
    assert seq.values.shape[1] == 18 and seq.fps == 25
    assert np.array_equal(seq.values, model.generate(speech_path, seed=1).values)
    assert len(model.card.sha256) == 64
    with pytest.raises(AudioError):
        model.generate(np.zeros(8000, np.float32), sample_rate=16000)


@pytest.mark.system("espeak-ng")
@pytest.mark.parametrize("align", [False, True])
def test_phone_viseme_baseline_opens_in_speech_and_closes_in_silence(align):
    pytest.importorskip("pocketsphinx")
    from models.motion.audio import load_audio
    from models.motion.corpus.espeak import synthesize

    u = synthesize("Hello, how are you doing today, my good friend?", voice="en-us", rate=150)
    x = load_audio(u.samples, sample_rate=u.sample_rate)
    x = np.concatenate([np.zeros(16000, np.float32), x, np.zeros(16000, np.float32)])
    jaw = PhoneVisemeBaseline(align=align).jaw(x, sample_rate=16000)
    assert jaw.shape == (int(np.ceil(x.size / 640)),)
    assert jaw[:15].max() < 0.02 and jaw[-15:].max() < 0.02
    assert jaw[30:-30].max() > 0.1
