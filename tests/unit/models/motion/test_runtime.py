import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models.errors import AudioError, ModelError  # noqa: E402
from models.motion.export import write_package  # noqa: E402
from models.motion.network import MotionNet, NetConfig  # noqa: E402
from models.motion.runtime import MotionRuntime  # noqa: E402
from models.schema import MOTION_HIGH, MOTION_LOW, MOTION_NAMES, neutral_motion  # noqa: E402

torch.set_num_threads(1)
N_FEATS = 320  # log-mel only: these tests must not need pocketsphinx


def tiny_net() -> MotionNet:
    torch.manual_seed(0)
    cfg = NetConfig(
        n_feats=N_FEATS, phones=False, d_model=16, enc_dilations=(1, 2), dec_layers=2, n_heads=2, d_ff=32, window=8,
        period=4, z_dim=3, dropout=0.0, feat_mean=(-5.0,) * N_FEATS, feat_std=(3.0,) * N_FEATS,
        motion_mean=tuple(0.5 * (MOTION_LOW + MOTION_HIGH)), motion_std=tuple(0.1 * (MOTION_HIGH - MOTION_LOW)),
    )  # fmt: skip
    return MotionNet(cfg).eval()


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("pkg")
    write_package(tiny_net(), d, version="0.0.1")
    return d


@pytest.fixture(scope="module")
def runtime(package_dir):
    with MotionRuntime((package_dir / "dirfa_motion.zip").read_bytes(), chunk_frames=11) as rt:
        yield rt


def feats(t=40, seed=0):
    return np.random.default_rng(seed).normal(-5, 3, size=(t, N_FEATS)).astype(np.float32)


def test_chunked_encoding_equals_one_pass(runtime, package_dir):
    f = feats(50)
    whole = MotionRuntime((package_dir / "dirfa_motion.zip").read_bytes(), chunk_frames=1000).encode(f)
    np.testing.assert_allclose(runtime.encode(f), whole, atol=1e-5)


def test_generation_is_seeded_and_within_ranges(runtime):
    f = feats()
    a = runtime.generate(f, rng=np.random.default_rng(1))
    b = runtime.generate(f, rng=np.random.default_rng(1))
    c = runtime.generate(f, rng=np.random.default_rng(2))
    assert a.shape == (40, len(MOTION_NAMES))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.all(a >= MOTION_LOW - 1e-5) and np.all(a <= MOTION_HIGH + 1e-5)


def test_temperature_zero_ignores_the_seed(runtime):
    f = feats()
    a = runtime.generate(f, rng=np.random.default_rng(1), temperature=0.0)
    b = runtime.generate(f, rng=np.random.default_rng(7), temperature=0.0)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_onnx_autoregression_matches_torch_teacher_forced_on_its_own_samples(runtime):
    """Past the attention window: the sliding cache must reproduce the banded-mask training computation."""
    net = tiny_net()
    f = feats(30)
    out = runtime.generate(f, rng=np.random.default_rng(0), temperature=0.0)
    cfg = net.cfg
    mm, ms = np.asarray(cfg.motion_mean, np.float32), np.asarray(cfg.motion_std, np.float32)
    norm_out = (out - mm) / ms
    prev = np.concatenate([((neutral_motion() - mm) / ms)[None], norm_out[:-1]]).astype(np.float32)
    with torch.no_grad():
        x = (torch.from_numpy(f) - torch.tensor(cfg.feat_mean)) / torch.tensor(cfg.feat_std)
        mu, _ = net.decode(net.encoder(x[None].float()), torch.from_numpy(prev)[None], torch.zeros(1, cfg.z_dim))
    want = np.clip(mu[0].numpy() * ms + mm, MOTION_LOW, MOTION_HIGH)
    np.testing.assert_allclose(out, want, atol=1e-4)


def test_sha256_mismatch_and_corrupt_packages_raise_model_error(package_dir):
    blob = (package_dir / "dirfa_motion.zip").read_bytes()
    with pytest.raises(ModelError):
        MotionRuntime(blob, expected_sha256="0" * 64)
    with pytest.raises(ModelError):
        MotionRuntime(b"not a zip")


def test_motion_model_loads_a_package_directory_and_checks_it(package_dir, tmp_path):
    from models.motion.model import MotionModel

    if not hasattr(MotionModel, "runtime") and "directory" not in MotionModel.load.__code__.co_varnames:
        pytest.skip("models.motion.model is still the loudness baseline")
    model = MotionModel.load(str(package_dir))
    assert len(model.card.sha256) == 64 and model.card.version == "0.0.1"
    t = np.arange(16000 * 2) / 16000
    speech = (0.3 * np.sin(2 * np.pi * 150 * t) * (np.sin(2 * np.pi * 3 * t) > 0)).astype(np.float32)
    seq = model.generate(speech, sample_rate=16000, seed=3)
    assert seq.values.shape == (50, len(MOTION_NAMES)) and seq.seed == 3
    assert np.array_equal(seq.values, model.generate(speech, sample_rate=16000, seed=3).values)
    assert len(model.generate(speech, sample_rate=16000, seed=3, fps=30)) == 60
    with pytest.raises(AudioError):
        model.generate(np.zeros(16000, np.float32), sample_rate=16000)
    with pytest.raises(ValueError):
        model.generate(speech, sample_rate=16000, temperature=-1)
    bad = tmp_path / "bad"
    shutil.copytree(package_dir, bad)
    zip_path = bad / "dirfa_motion.zip"
    data = bytearray(zip_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    zip_path.write_bytes(bytes(data))
    with pytest.raises(ModelError):
        MotionModel.load(str(bad))
    (bad / "dirfa_motion.json").write_text(json.dumps({"name": "x"}))
    with pytest.raises(ModelError):
        MotionModel.load(str(bad))


def test_correlated_noise_keeps_unit_variance_and_has_the_asked_correlation():
    from models.motion.runtime import correlated_noise

    white = np.random.default_rng(0).standard_normal((20000, 3))
    np.testing.assert_array_equal(correlated_noise(white, np.zeros(3)), white.astype(np.float32))
    eps = correlated_noise(white, np.array([0.0, 0.5, 0.9]))
    assert np.allclose(eps.std(axis=0), 1.0, atol=0.05)
    lag1 = [np.corrcoef(eps[1:, d], eps[:-1, d])[0, 1] for d in range(3)]
    assert np.allclose(lag1, [0.0, 0.5, 0.9], atol=0.03)


def test_noise_corr_smooths_sampled_dims_deterministically(tmp_path):
    import dataclasses

    net = tiny_net()
    write_package(net, tmp_path / "white", version="0.0.1")
    net.cfg = dataclasses.replace(net.cfg, noise_corr=(0.0,) * 6 + (0.9,) * 12)
    write_package(net, tmp_path / "ar", version="0.0.1")
    f = feats(200)
    white = MotionRuntime((tmp_path / "white" / "dirfa_motion.zip").read_bytes())
    ar = MotionRuntime((tmp_path / "ar" / "dirfa_motion.zip").read_bytes())
    a = ar.generate(f, rng=np.random.default_rng(4))
    assert np.array_equal(a, ar.generate(f, rng=np.random.default_rng(4)))
    w = white.generate(f, rng=np.random.default_rng(4))
    jerk = lambda x: np.abs(np.diff(x[:, 6:], n=3, axis=0)).mean()  # noqa: E731
    assert jerk(a) < 0.6 * jerk(w)
    net.cfg = dataclasses.replace(net.cfg, noise_corr=(1.0,) * 18)
    write_package(net, tmp_path / "bad", version="0.0.1")
    with pytest.raises(ModelError):
        MotionRuntime((tmp_path / "bad" / "dirfa_motion.zip").read_bytes())
