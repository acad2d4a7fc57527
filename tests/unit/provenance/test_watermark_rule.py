"""The dwtDctSvd rule: our numpy primitives against PyWavelets and invisible-watermark (bit-exact)."""

from __future__ import annotations

import numpy as np
import pytest
import pywt
from skimage import data

from provenance.watermark import _code, _keys, _resample, _rule


def test_haar_ll_equals_pywavelets():
    x = np.random.default_rng(0).uniform(0, 255, (64, 48))
    np.testing.assert_allclose(_rule.haar_ll(x), pywt.dwt2(x, "haar")[0], atol=1e-9)


def test_embedded_blocks_decode_to_their_bits():
    rng = np.random.default_rng(1)
    blocks = rng.uniform(0, 500, (10, 12, 4, 4))
    bits = rng.integers(0, 2, (10, 12))
    new = blocks + _rule.embed_ll_blocks(blocks, bits, 36.0)
    s0 = _rule.top_singular_values(new)
    np.testing.assert_array_equal((np.mod(s0, 36.0) > 18.0).astype(int), bits)
    # Nearest lattice point: never more than S/2 from the original s0.
    assert np.all(np.abs(s0 - _rule.top_singular_values(blocks)) <= 18.0 + 1e-6)


def test_convolutional_code_corrects_errors():
    info = _code.content_id_to_bits("a1b2c3d4e5f6")
    word = _code.encode(info)
    assert word.size == _code.N_CODED == 232
    soft = (2.0 * word - 1.0) + np.random.default_rng(2).normal(0, 0.9, word.size)
    assert np.mean((soft > 0) != (word == 1)) > 0.05
    assert np.array_equal(_code.viterbi(soft)[0], info)
    assert _code.bits_to_payload(info) == (_code.VERSION, "a1b2c3d4e5f6")


def test_binomial_tail_and_threshold():
    assert _code.log10_binom_tail(0, 10) == 0.0
    assert _code.log10_binom_tail(10, 10) == pytest.approx(-10 * np.log10(2))
    assert _code.log10_binom_tail(6, 10) == pytest.approx(np.log10(386 / 1024))
    a = _code.min_agreeing_bits(232, 48 * np.log10(2) + 2)
    assert (
        _code.log10_binom_tail(a, 232) + 48 * np.log10(2) + 2
        <= -9
        < (_code.log10_binom_tail(a - 1, 232) + 48 * np.log10(2) + 2)
    )


def test_layouts_are_keyed_balanced_and_two_dimensional():
    coded, sign = _keys.layouts(_keys.PUBLIC_KEY, 232)
    other, _ = _keys.layouts(b"other", 232)
    assert not np.array_equal(coded, other)
    assert np.all(sign.sum(axis=1) == 0)  # balanced whitening words
    assert len({tuple(row) for row in coded}) == _keys.N_LAYOUTS  # re-keyed over time
    grid = coded[0].reshape(16, 16)
    assert len(set(grid[:, 0])) > 8  # a column of the tile carries many different bits (no stripes)


def test_resample_adjoint_is_exact_for_integer_factors():
    d = np.random.default_rng(3).normal(size=(64, 80)).astype(np.float32)
    up = _resample.upsample_delta(d, (128, 160))
    np.testing.assert_allclose(_resample.resize(up, (64, 80)), d, atol=1e-5)
    up3 = _resample.upsample_delta(d, (192, 240))
    np.testing.assert_allclose(_resample.resize(up3, (64, 80)), d, atol=1e-4)


@pytest.mark.parametrize(
    ("image", "payload"),
    [(data.astronaut, b"dirfa-wm"), (data.coffee, b"\x5a\x00\xff\x13"), (data.chelsea, b"\x01")],
)
def test_our_decoder_reads_marks_made_by_invisible_watermark(image, payload):
    """Cross-check of the rule against the library's own dwtDctSvd encoder and decoder (same bits)."""
    imwatermark = pytest.importorskip("imwatermark")
    rgb = np.ascontiguousarray(image())
    enc = imwatermark.WatermarkEncoder()
    enc.set_watermark("bytes", payload)
    bgr = enc.encode(np.ascontiguousarray(rgb[..., ::-1]), "dwtDctSvd")
    expected = np.unpackbits(np.frombuffer(payload, np.uint8)).astype(int)
    dec = imwatermark.WatermarkDecoder("bits", len(expected))
    theirs = np.array(dec.decode(bgr, "dwtDctSvd")).astype(int)
    ours = _rule.decode_stock_bits(np.ascontiguousarray(bgr[..., ::-1]), len(expected))
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(ours, expected)
