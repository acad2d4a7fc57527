import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models.motion.train import Corpus, TrainArgs, evaluate, load_checkpoint, make_config, train  # noqa: E402

torch.set_num_threads(1)
TINY = dict(d_model=16, enc_dilations=(1, 2), dec_layers=1, n_heads=2, d_ff=32, window=8, period=4, z_dim=2)


@pytest.fixture(scope="module")
def corpus_path(tmp_path_factory):
    """Features whose first column drives the jaw (with a one-frame lead): a learnable toy corpus."""
    rng = np.random.default_rng(0)
    n_clips, length = 12, 60
    feats = rng.normal(size=(n_clips * length, 360)).astype(np.float32)
    motion = np.zeros((n_clips * length, 18), np.float32)
    motion[:, 0] = 0.15 + 0.1 * np.tanh(np.roll(feats[:, 0], -1))
    motion[:, 12] = np.cumsum(rng.normal(size=n_clips * length)) * 0.1  # head yaw: a random walk
    path = tmp_path_factory.mktemp("corpus") / "toy.npz"
    np.savez(path, feats=feats, motion=motion, offsets=np.arange(0, n_clips * length + 1, length))
    return path


def test_loss_decreases_and_the_jaw_is_learned(corpus_path, tmp_path):
    corpus = Corpus(corpus_path)
    cfg = make_config(corpus, **TINY)
    assert cfg.n_feats == 360 and cfg.phones and cfg.mel and not cfg.visemes
    args = TrainArgs(window_frames=32, batch=8, lr=3e-3, mel_dropout=0.0)
    net, losses = train(corpus, cfg=cfg, args=args, steps=150, out=tmp_path / "c.pt", eval_every=1000)
    assert np.mean(losses[-20:]) < np.mean(losses[:20]) - 0.3
    assert evaluate(net, corpus)["jaw_r"] > 0.6


def test_checkpoint_records_its_config_and_reloads_strictly(corpus_path, tmp_path):
    corpus = Corpus(corpus_path)
    cfg = make_config(corpus, **TINY)
    net, _ = train(corpus, cfg=cfg, args=TrainArgs(window_frames=32, batch=4), steps=3, out=tmp_path / "c.pt")
    again, ckpt = load_checkpoint(tmp_path / "c.pt")
    assert again.cfg == cfg and ckpt["step"] == 3 and ckpt["train_args"]["batch"] == 4
    for k, v in net.state_dict().items():
        assert torch.equal(v, again.state_dict()[k])


def test_training_is_deterministic_for_a_seed(corpus_path):
    corpus = Corpus(corpus_path)
    cfg = make_config(corpus, **TINY)
    args = TrainArgs(window_frames=32, batch=4, seed=3)
    _, a = train(corpus, cfg=cfg, args=args, steps=5)
    _, b = train(corpus, cfg=cfg, args=args, steps=5)
    assert a == b


def test_log_mel_only_drops_the_phone_columns(corpus_path):
    assert Corpus(corpus_path, phones=False).feats.shape[1] == 320


def test_too_short_clips_are_an_error(corpus_path):
    corpus = Corpus(corpus_path)
    with pytest.raises(ValueError):
        train(corpus, cfg=make_config(corpus, **TINY), args=TrainArgs(window_frames=500), steps=1)


def test_feature_groups_are_selected_by_column_layout(tmp_path):
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(100, 365)).astype(np.float32)
    path = tmp_path / "c.npz"
    np.savez(path, feats=feats, motion=np.zeros((100, 18), np.float32), offsets=np.array([0, 100]))
    only_visemes = Corpus(path, mel=False, phones=False)
    np.testing.assert_array_equal(only_visemes.feats, feats[:, 360:])
    no_phones = Corpus(path, phones=False)
    np.testing.assert_array_equal(no_phones.feats, np.concatenate([feats[:, :320], feats[:, 360:]], axis=1))
    assert make_config(no_phones, **TINY).visemes and not make_config(no_phones, **TINY).phones
    with pytest.raises(ValueError):
        Corpus(path, mel=False, phones=False, visemes=False)


def test_mixed_corpora_keep_weights_and_draw_windows_by_share(tmp_path):
    from models.motion.train import Normalizer, batch_windows

    rng = np.random.default_rng(1)
    for name, clips, value in (("synth", 8, 0.1), ("real", 2, 0.3)):
        n = clips * 40
        weight = np.ones((n, 18), np.float32) if name == "synth" else np.zeros((n, 18), np.float32)
        if name == "real":
            weight[:, 0] = 1.0  # only the jaw is measured
        np.savez(tmp_path / f"{name}.npz", feats=rng.normal(size=(n, 384)).astype(np.float32),
                 motion=np.full((n, 18), value, np.float32), offsets=np.arange(0, n + 1, 40), weight=weight,
                 groups=np.asarray(["whisper"]))  # fmt: skip
    mixed = Corpus([tmp_path / "synth.npz", tmp_path / "real.npz"], share=[0.2, 0.8])
    assert mixed.groups == ["whisper"] and mixed.whisper and not mixed.mel and len(mixed.clips) == 10
    assert mixed.clip_weight[:8].sum() == pytest.approx(0.2) and mixed.clip_weight[8:].sum() == pytest.approx(0.8)
    cfg = make_config(mixed, **TINY)
    _, _, _, w = next(batch_windows(mixed, Normalizer(cfg), TrainArgs(window_frames=32, batch=400), rng))
    real = w[:, 0, 1] == 0  # windows from the real file: only the jaw carries weight
    assert 0.7 < float(real.float().mean()) < 0.9
    assert torch.all(w[real][..., 0] == 1) and torch.all(w[~real] == 1)
    with pytest.raises(ValueError):
        Corpus([tmp_path / "synth.npz", tmp_path / "real.npz"], share=[1.0])
