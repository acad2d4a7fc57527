import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models.motion.network import MOUTH, MotionNet, NetConfig, StepDecoder, alibi_slopes, biased_mask, loss_fn  # noqa: E402

torch.set_num_threads(1)


def tiny_config(**kw) -> NetConfig:
    base = dict(
        n_feats=12, phones=False, d_model=16, enc_dilations=(1, 2), dec_layers=2, n_heads=2, d_ff=32, window=6,
        period=2, z_dim=3, dropout=0.0, feat_mean=(0.0,) * 12, feat_std=(1.0,) * 12, motion_mean=(0.0,) * 18,
        motion_std=(1.0,) * 18,
    )  # fmt: skip
    base.update(kw)
    return NetConfig(**base)


def test_biased_mask_is_causal_windowed_and_periodic():
    cfg = tiny_config()
    m = biased_mask(cfg, 10)
    assert m.shape == (2, 10, 10)
    assert torch.isinf(m[:, 2, 3]).all()  # future
    assert torch.isinf(m[:, 9, 9 - cfg.window]).all()  # too far back
    assert (m[:, 5, 5] == 0).all()
    slopes = alibi_slopes(2)
    # floor((i - j) / period): distances 0,1 share a bias; 2,3 the next one.
    assert torch.allclose(m[:, 5, 4], torch.zeros(2))
    assert torch.allclose(m[:, 5, 3], -slopes)
    assert torch.allclose(m[:, 5, 1], -2 * slopes)
    assert slopes[0] > slopes[1] > 0


def test_forward_shapes_and_finite_loss():
    net = MotionNet(tiny_config())
    f, m = torch.randn(3, 20, 12), torch.randn(3, 20, 18)
    mu, ls, zm, zl = net(f, m, torch.roll(m, 1, dims=1))
    assert mu.shape == ls.shape == (3, 20, 18) and zm.shape == zl.shape == (3, 3)
    parts = loss_fn(mu, ls, m, zm, zl, beta=0.1)
    assert all(torch.isfinite(v) for v in parts.values())


def test_mouth_is_not_fed_back():
    cfg = tiny_config()
    assert not set(MOUTH) & set(cfg.ar_dims)
    net = MotionNet(cfg).eval()
    f, prev = torch.randn(1, 10, 12), torch.randn(1, 10, 18)
    z = torch.zeros(1, 3)
    a, _ = net.decode(net.encoder(f), prev, z)
    prev2 = prev.clone()
    prev2[..., list(MOUTH)] += 5.0
    b, _ = net.decode(net.encoder(f), prev2, z)
    assert torch.allclose(a, b)


def test_step_decoder_with_sliding_cache_equals_full_decoding():
    cfg = tiny_config()
    torch.manual_seed(0)
    net = MotionNet(cfg).eval()
    t = 17  # longer than the window: the cache must slide
    audio = torch.randn(1, t, cfg.d_model)
    prev = torch.randn(1, t, 18)
    z = torch.randn(1, cfg.z_dim)
    with torch.no_grad():
        full_mu, full_ls = net.decode(audio, prev, z)
        step = StepDecoder(net)
        dk = cfg.d_model // cfg.n_heads
        pk = torch.zeros(cfg.dec_layers, 1, cfg.n_heads, cfg.window - 1, dk)
        pv = torch.zeros_like(pk)
        valid = torch.zeros(cfg.window - 1)
        for i in range(t):
            mu, ls, nk, nv = step(audio[:, i], prev[:, i, list(cfg.ar_dims)], z, pk, pv, valid)
            assert torch.allclose(mu, full_mu[:, i], atol=1e-5)
            assert torch.allclose(ls, full_ls[:, i], atol=1e-5)
            pk = torch.cat([pk[:, :, :, 1:], nk], dim=3)
            pv = torch.cat([pv[:, :, :, 1:], nv], dim=3)
            valid = torch.cat([valid[1:], torch.ones(1)])


def test_config_round_trips_through_a_dict():
    cfg = tiny_config()
    assert NetConfig.from_dict(__import__("json").loads(__import__("json").dumps(cfg.to_dict()))) == cfg
    assert cfg.enc_context == 2 * (1 + 2)


def test_posterior_sees_the_motion():
    net = MotionNet(tiny_config()).eval()
    f = torch.randn(1, 20, 12)
    a = net.posterior(torch.zeros(1, 20, 18), net.encoder(f))[0]
    b = net.posterior(torch.ones(1, 20, 18) * 3, net.encoder(f))[0]
    assert not torch.allclose(a, b)
    assert np.isfinite(a.detach().numpy()).all()


def test_loss_weight_zero_means_a_dim_is_not_supervised():
    from models.motion.network import loss_fn

    mu = torch.zeros(2, 5, 18, requires_grad=True)
    ls = torch.zeros(2, 5, 18)
    target = torch.randn(2, 5, 18)
    weight = torch.ones(2, 5, 18)
    weight[0, :, 0] = 0.0  # clip 0: jaw not measured
    weight[:, :, 6:] = 0.0  # no dim past the mouth measured
    z = torch.zeros(2, 8)
    loss_fn(mu, ls, target, z, z, beta=0.0, weight=weight)["loss"].backward()
    assert mu.grad is not None
    assert torch.all(mu.grad[0, :, 0] == 0) and torch.all(mu.grad[:, :, 6:] == 0)
    assert torch.all(mu.grad[1, :, 0] != 0) and torch.all(mu.grad[:, :, 1:6] != 0)
