"""The detector's vectorised fast paths give the SAME values (to the bit) as the straightforward per-frame
computations they replace: decisions and p-values must not depend on how frames were batched."""

from __future__ import annotations

import numpy as np
import pytest

from provenance.watermark import EmbedParams, _code, _decide, _detector, _keys, _measure, _rule, _tone

CARRIERS = EmbedParams().detect_carriers
CHANNELS = tuple(c for c, _ in CARRIERS)
STEPS = tuple(float(s) for _, s in CARRIERS)


def _frames(n: int, h: int, w: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (h, w, 3)).astype(np.int16)
    return [np.clip(base + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8) for _ in range(n)]


def _old_haar_ll(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
    return x[:h, :w].reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3)) * 0.5


def _old_box_mean(sup: np.ndarray) -> np.ndarray:
    hh, ww = sup.shape[0] // 4 * 4, sup.shape[1] // 4 * 4
    return sup[:hh, :ww].reshape(hh // 4, 4, ww // 4, 4).mean(axis=(1, 3))


def _old_viterbi(soft: np.ndarray) -> np.ndarray:
    """The per-branch einsum / argmax decoder the batched one replaced."""
    soft = np.atleast_2d(soft).reshape(-1, _code.N_STEPS, 4)
    ns = np.arange(64)
    pred = ((ns & 31) << 1)[:, None] | np.arange(2)[None, :]
    inp = ns >> 5
    branch_sign = (2.0 * _code._OUT - 1.0)[pred, inp[:, None]]
    metric = np.full((soft.shape[0], 64), -np.inf)
    metric[:, 0] = 0.0
    choices = np.empty((_code.N_STEPS, soft.shape[0], 64), dtype=np.int8)
    for t in range(_code.N_STEPS):
        cand = metric[:, pred] + np.einsum("bg,npg->bnp", soft[:, t], branch_sign)
        best = np.argmax(cand, axis=2)
        choices[t] = best
        metric = np.take_along_axis(cand, best[..., None], axis=2)[..., 0]
    state = np.zeros(soft.shape[0], dtype=np.int64)
    bits = np.empty((soft.shape[0], _code.N_STEPS), dtype=np.int64)
    rows = np.arange(soft.shape[0])
    for t in range(_code.N_STEPS - 1, -1, -1):
        bits[:, t] = inp[state]
        state = pred[state, choices[t, rows, state]]
    return bits[:, : _code.N_INFO]


def test_primitives_match_the_reductions_they_replace():
    rng = np.random.default_rng(1)
    for shape in [(128, 128), (131, 97), (512, 460)]:
        x = (rng.uniform(0, 255, shape) * rng.uniform(0.5, 2.0)).astype(np.float32)
        for view in (x, x[1:, 3:], x[:, ::-1]):
            assert np.array_equal(_rule.haar_ll(view), _old_haar_ll(view))
            assert np.array_equal(_measure._box_mean_super(view), _old_box_mean(view))
    ll = _rule.haar_ll(_rule.carrier(_frames(3, 128, 128)[0], "v"))
    blocks = _rule.ll_blocks(ll)
    assert np.array_equal(_rule.top_s0(blocks), _rule.top_singular(blocks)[0])


@pytest.mark.parametrize("shape", [(128, 128), (256, 256), (300, 420)])
def test_batched_aligned_measurement_equals_frame_by_frame(shape, monkeypatch):
    frames = _frames(7, *shape)
    frames[3] = np.full_like(frames[3], 90)  # a flat frame: no evidence for any carrier
    monkeypatch.setattr(_detector, "BATCH_PIXELS", 3 * shape[0] * shape[1])  # several flushes
    batch = _detector._Batch(CHANNELS, STEPS)
    buf = np.empty_like(frames[0])
    for f in frames:  # a producer that reuses its buffer
        buf[...] = f
        batch.add(buf)
    tiles, pairs = batch.result()
    for f, t, p in zip(frames, tiles, pairs, strict=True):
        ft, fp = _measure.measure_planes(_measure.planes(f, CHANNELS, (128, 128 * shape[1] // shape[0])), STEPS)
        assert np.array_equal(t, ft) and np.array_equal(p, fp)
    assert not tiles[3].any() and not pairs[3].any()


def test_batch_follows_a_change_of_frame_shape():
    frames = _frames(3, 128, 128) + _frames(2, 160, 128, seed=1) + _frames(2, 128, 128, seed=2)
    batch = _detector._Batch(CHANNELS, STEPS)
    for f in frames:
        batch.add(f)
    tiles, _ = batch.result()
    for f, t in zip(frames, tiles, strict=True):
        shape = (160, 128) if f.shape[0] == 160 else (128, 128)
        assert np.array_equal(t, _measure.measure_planes(_measure.planes(f, CHANNELS, shape), STEPS)[0])


def test_carrier_planes_share_a_repeated_channel():
    planes = _tone.carrier_planes(_frames(1, 64, 64)[0], CHANNELS, 0.8)
    assert CHANNELS == ("v", "y", "v") and planes[0] is planes[2]
    assert np.array_equal(planes[1], _rule.carrier(_tone.inverse_lut(0.8)[_frames(1, 64, 64)[0]], "y"))


def test_viterbi_matches_the_reference_decoder_row_by_row():
    rng = np.random.default_rng(2)
    word = _code.encode(rng.integers(0, 2, _code.N_INFO))
    soft = np.concatenate(
        [
            rng.normal(size=(40, 232)),
            rng.integers(-2, 3, (40, 232)).astype(float),  # many exact ties
            np.zeros((2, 232)),
            (2.0 * word - 1.0)[None, :] + rng.normal(0, 1.0, (20, 232)),
        ]
    )
    got = _code.viterbi(soft)
    assert np.array_equal(got, _old_viterbi(soft))
    assert np.array_equal(got[50:62], _code.viterbi(soft[50:62]))


def test_coded_sums_equal_the_layout_matrix_product():
    tiles = np.random.default_rng(3).normal(size=(9, 3, 256)) + 1j * np.random.default_rng(4).normal(size=(9, 3, 256))
    for key in (_keys.PUBLIC_KEY, b"another key"):
        m = _decide._layout_matrices(key)
        ref = np.einsum("nkq,lqc->nklc", tiles.real, m) + 1j * np.einsum("nkq,lqc->nklc", tiles.imag, m)
        assert np.array_equal(_decide.coded_sums(tiles, key), ref)


def test_blind_tests_batch_equals_single_tests():
    rng = np.random.default_rng(5)
    hyps = [
        _decide.Hypotheses(
            soft=rng.normal(size=(rows, 232)),
            offsets_s=np.zeros(rows),
            thetas=np.zeros((rows, 1)),
            signs=np.ones((rows, 1)),
        )
        for rows in (24, 12, 24)
    ]
    batched = _decide.blind_tests(hyps, 2.0)
    for hyp, res in zip(hyps, batched, strict=True):
        one = _decide.blind_test(hyp, 2.0)
        assert (res.agreeing, res.log10_p, res.content_id) == (one.agreeing, one.log10_p, one.content_id)
        assert np.array_equal(res.codeword, one.codeword)
