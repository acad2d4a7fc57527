import io
import json
import zipfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from models.motion.export import export_onnx, step_inputs, weights_sha256, write_package  # noqa: E402
from models.motion.network import MotionNet, NetConfig, StepDecoder  # noqa: E402

torch.set_num_threads(1)


def tiny_net(seed=0) -> MotionNet:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    cfg = NetConfig(
        n_feats=12, phones=False, d_model=16, enc_dilations=(1, 2), dec_layers=2, n_heads=2, d_ff=32, window=6,
        period=2, z_dim=3, dropout=0.1, feat_mean=tuple(rng.normal(size=12)), feat_std=tuple(rng.uniform(0.5, 2, 12)),
        motion_mean=(0.0,) * 18, motion_std=(1.0,) * 18,
    )  # fmt: skip
    return MotionNet(cfg).eval()


@pytest.fixture(scope="module")
def exported():
    net = tiny_net()
    enc, dec = export_onnx(net)
    return net, enc, dec


def test_encoder_parity_torch_vs_onnxruntime(exported):
    net, enc, _ = exported
    sess = ort.InferenceSession(enc, providers=["CPUExecutionProvider"])
    feats = np.random.default_rng(1).normal(size=(1, 57, 12)).astype(np.float32)  # not the traced length
    cfg = net.cfg
    with torch.no_grad():
        norm = (torch.from_numpy(feats) - torch.tensor(cfg.feat_mean)) / torch.tensor(cfg.feat_std)
        want = net.encoder(norm.float()).numpy()
    got = sess.run(None, {"feats": feats})[0]
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_step_decoder_parity_torch_vs_onnxruntime(exported):
    net, _, dec = exported
    sess = ort.InferenceSession(dec, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(2)
    inputs = [rng.normal(size=t.shape).astype(np.float32) for t in step_inputs(net)]
    inputs[-1] = (rng.random(inputs[-1].shape) > 0.3).astype(np.float32)
    names = ["audio_t", "prev", "z", "past_k", "past_v", "past_valid"]
    got = sess.run(None, dict(zip(names, inputs, strict=True)))
    with torch.no_grad():
        want = StepDecoder(net).eval()(*[torch.from_numpy(x) for x in inputs])
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w.numpy(), atol=1e-4)


def test_export_leaves_the_network_in_eval_mode(exported):
    net, _, _ = exported
    assert not any(m.training for m in net.modules())


def test_metadata_records_config_and_weights_sha256(exported):
    net, enc, dec = exported
    for blob, graph in ((enc, "encoder"), (dec, "step_decoder")):
        meta = {p.key: p.value for p in onnx.load_from_string(blob).metadata_props}
        assert meta["graph"] == graph
        assert json.loads(meta["config"]) == json.loads(json.dumps(net.cfg.to_dict()))
        assert meta["weights_sha256"] == weights_sha256(net) and len(meta["weights_sha256"]) == 64


def test_package_is_reproducible_and_its_card_has_the_sha256(tmp_path):
    import hashlib

    net = tiny_net()
    a = write_package(net, tmp_path / "a", version="9.9.9").read_bytes()
    b = write_package(net, tmp_path / "b", version="9.9.9").read_bytes()
    assert a == b
    card = json.loads((tmp_path / "a" / "dirfa_motion.json").read_text())
    assert card["sha256"] == hashlib.sha256(a).hexdigest() and card["version"] == "9.9.9"
    assert set(zipfile.ZipFile(io.BytesIO(a)).namelist()) == {"encoder.onnx", "decoder.onnx", "config.json"}
    other = write_package(tiny_net(seed=1), tmp_path / "c", version="9.9.9").read_bytes()
    assert other != a


def test_sample_scale_override_changes_only_the_named_dims():
    from models.motion.export import with_sample_scale
    from models.schema import MOTION_INDEX

    cfg = tiny_net().cfg
    new = with_sample_scale(cfg, {"brow_raise": "0.25"})
    i = MOTION_INDEX["brow_raise"]
    assert new.sample_scale[i] == 0.25
    assert [v for k, v in enumerate(new.sample_scale) if k != i] == [
        v for k, v in enumerate(cfg.sample_scale) if k != i
    ]
    with pytest.raises(ValueError):
        with_sample_scale(cfg, {"no_such_dim": 1.0})


def test_noise_corr_estimate_is_zero_for_the_mouth_and_bounded(tmp_path):
    from models.motion.export import estimate_noise_corr
    from models.motion.train import Corpus

    net = tiny_net()
    rng = np.random.default_rng(0)
    t = 120
    smooth = np.cumsum(rng.normal(size=(t, 18)), axis=0) * 0.1  # slowly varying targets
    np.savez(tmp_path / "c.npz", feats=rng.normal(size=(t, 320)).astype(np.float32),
             motion=smooth.astype(np.float32), offsets=np.array([0, 60, t]))  # fmt: skip
    net.cfg = NetConfig.from_dict(net.cfg.to_dict() | {"n_feats": 320, "feat_mean": (0.0,) * 320,
                                                       "feat_std": (1.0,) * 320})  # fmt: skip
    net = MotionNet(net.cfg).eval()
    rho = estimate_noise_corr(net, Corpus(tmp_path / "c.npz", phones=False))
    assert len(rho) == 18 and all(r == 0.0 for r in rho[:6])
    assert all(0.0 <= r <= 0.98 for r in rho) and max(rho[6:]) > 0.5  # an untrained net lags smooth targets
