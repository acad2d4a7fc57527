"""Detector internals that the attack tests only reach indirectly: QIM phase hypotheses, the batched tile-shift
search, the union-bound count and the tone-curve hypotheses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage import data

from provenance.watermark import EmbedParams, VideoWatermarker, _code, _decide, _detector, _keys, _placement, _tone

CID = "c0ffee123456"
KEY = _keys.PUBLIC_KEY


def _ideal_tiles(cid: str, theta: float, n: int = 6, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """(N, 1, 256) tile sums of a perfectly marked frame whose QIM phase is ``theta``, plus complex noise."""
    word = _code.encode(_code.content_id_to_bits(cid))
    coded_index, sign = _keys.layouts(KEY, _code.N_CODED)
    channel_bit = word[coded_index[0]] ^ (sign[0] < 0).astype(np.int64)
    z = np.where(channel_bit == 1, -1j, 1j) * np.exp(1j * theta)
    rng = np.random.default_rng(seed)
    tiles = z[None, None, :] + noise * (rng.normal(size=(n, 1, 256)) + 1j * rng.normal(size=(n, 1, 256)))
    return tiles


def test_encode_batch_matches_the_encoder():
    info = np.random.default_rng(0).integers(0, 2, (20, _code.N_INFO))
    assert np.array_equal(_decide.encode_batch(info), np.stack([_code.encode(r) for r in info]))


def test_qim_phase_far_from_the_blind_estimate_still_decodes():
    """Chroma flattened by a codec pulls the blind phase estimate off; the phase hypotheses recover it."""
    theta = 0.3
    tiles = _ideal_tiles(CID, theta, noise=1.2)
    wrong = theta + math.radians(80)  # what a biased blind estimate would say
    pairs = np.full((tiles.shape[0], 1), -np.exp(2j * wrong))
    lay = _decide.layouts_for((np.arange(tiles.shape[0]) + 0.5) / 25)
    sums = _decide.coded_sums(tiles, KEY)
    hyp = _decide.soft_hypotheses(sums, pairs, lay)
    assert hyp.soft.shape[0] == _decide.hypotheses_per_test(1) == 2 * _decide.N_PHASES
    res = _decide.blind_test(hyp, 0.0)
    assert res.content_id == CID and res.agreeing >= 200
    err = (res.theta[0] - theta + math.pi / 2) % math.pi - math.pi / 2
    assert abs(err) <= math.pi / (2 * _decide.N_PHASES) + 1e-9
    only_blind = _decide.blind_test(_decide.soft_hypotheses(sums, pairs, lay, _decide.PHASES[:1]), 0.0)
    assert only_blind.agreeing < res.agreeing


def test_tile_shift_search_undoes_a_cyclic_shift():
    tiles = _ideal_tiles(CID, 0.0, noise=0.3)
    rolled = np.roll(tiles.reshape(-1, 1, 16, 16), (3, 5), axis=(2, 3)).reshape(tiles.shape)
    pairs = np.full((tiles.shape[0], 1), -1.0 + 0j)
    t = (np.arange(tiles.shape[0]) + 0.5) / 25
    lay = _decide.layouts_for(t)
    assert _detector._best_shift(rolled, pairs, lay, KEY, _detector.ALL_SHIFTS) == (13, 11)
    clip, _, agree, shift = _detector._evaluate(rolled, pairs, t, KEY, 0.0, 0.04, _detector.ALL_SHIFTS)
    assert shift == (13, 11) and clip.content_id == CID and agree > 0.9


def _clip(n=25, size=256):
    img = data.astronaut()[100 : 100 + size + n, 150 : 150 + size + n]
    return [np.ascontiguousarray(img[k : k + size, k : k + size]) for k in range(n)]


@pytest.fixture(scope="module")
def marked():
    return list(VideoWatermarker().embed(_clip(), CID))


def test_union_bound_counts_every_hypothesis(marked):
    det = VideoWatermarker().detect(marked)  # 1 s: no sliding windows
    # aligned; on the kept frames: mirrored back, tones but the identity, aspect ratios, rotations with and without
    # the zoom that fills the frame, inset rectangles x their candidate corners, tile shifts
    insets = _detector.BOX_LIMIT * _placement.CORNERS**2 * 2
    turns = 2 * len(_detector.ANGLES)
    tests = 1 + 1 + (len(_tone.TONES) - 1) + len(_detector.ASPECTS) + turns + insets + len(_detector.ALL_SHIFTS)
    # two carrier groups, decoded separately: V and Y of mark v2; V alone at v1's step
    assert len(EmbedParams().detect_carriers) == 3
    per_test = _decide.hypotheses_per_test(2) + _decide.hypotheses_per_test(1)
    assert det.hypotheses == per_test * tests
    assert det.threshold_bits == _code.min_agreeing_bits(232, math.log10(det.hypotheses) + _decide.LOG10_CODEWORDS)
    assert pytest.approx(math.log10(2**48)) == _decide.LOG10_CODEWORDS  # each carrier group accepts one version
    no_resync = VideoWatermarker().detect(marked, resync=False)
    assert no_resync.hypotheses == per_test


def _tone_map(frames, fn):
    table = np.clip(np.round(fn(np.arange(256.0))), 0, 255).astype(np.uint8)
    return [table[f] for f in frames]


@pytest.mark.parametrize("gamma", [0.8, 1.25])
def test_gamma_curve_is_undone(marked, gamma):
    out = _tone_map(marked, lambda x: 255 * (x / 255) ** gamma)
    det = VideoWatermarker().detect(out)
    assert det.found and det.content_id == CID


def _colour_ramp(n=25, size=256):
    """Red-to-green ramps (V spans ~150 levels) in 60..200, drifting, with mild texture: nothing clips at x1.2."""
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:size, 0:size] / size
    out = []
    for k in range(n):
        r = 60 + 140 * ((x + 0.5 * y + k / 50) % 1.0)
        rgb = np.stack([r, 260 - r, np.full_like(r, 128)], axis=-1) + rng.normal(0, 2, (size, size, 3))
        out.append(np.clip(np.round(rgb), 0, 255).astype(np.uint8))
    return out


def test_contrast_gain_on_v_is_undone():
    """Contrast x1.2 (any pivot) is a gain of 1.2 on V. On colourful content that does not clip, the single QIM
    step fails and the gain hypothesis recovers the mark on the aligned grid."""
    marked = list(VideoWatermarker().embed(_colour_ramp(), CID))
    out = _tone_map(marked, lambda x: (x - 128) * 1.2 + 128)
    assert not VideoWatermarker().detect(out, resync=False).found
    det = VideoWatermarker().detect(out)
    assert det.found and det.content_id == CID and det.resynchronised
    assert det.geometry.startswith("scale=1.0000 phase=(0,0) shift=(0,0)")  # a tone candidate, not the grid
    assert not det.geometry.endswith(" gamma=1 gain=1")


def test_inverse_gamma_lut_undoes_the_curve():
    x = np.arange(256.0)
    for gamma in _tone.GAMMAS:
        forward = 255 * (x / 255) ** gamma
        assert np.allclose(_tone.inverse_lut(gamma)[np.arange(256)], 255 * (x / 255) ** (1 / gamma), atol=1e-3)
        back = 255 * (forward / 255) ** (1 / gamma)
        assert np.allclose(back, x, atol=1e-6)
