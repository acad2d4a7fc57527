"""Integral-image area resampling (watermark re-synchronisation at scales above 1) against its definition."""

from __future__ import annotations

import numpy as np
import pytest

from provenance.watermark import _integral, _resample, _sync
from provenance.watermark._measure import SUPER, Geometry, _box_mean_super, work_from_fine


def _super_path(plane: np.ndarray, g: Geometry) -> np.ndarray:
    """The working plane through an explicit 4x super-resolution plane (the definition)."""
    wh, ww = _resample.working_shape(*plane.shape, g.scale)
    return _box_mean_super(_resample.resize(plane, (SUPER * wh, SUPER * ww))[g.py :, g.px :])


@pytest.mark.parametrize("shape", [(512, 512), (512, 910), (300, 421)])
@pytest.mark.parametrize("geom", [(1.0, 0, 0), (0.83, 5, 17), (2.2, 31, 3), (3.3, 7, 30)])
def test_integral_image_resampling_equals_the_super_resolution_definition(shape, geom):
    plane = (np.random.default_rng(0).random(shape) * 255).astype(np.float32)
    g = Geometry(*geom)
    got, want = work_from_fine(plane, g), _super_path(plane, g)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-3)
    table = _integral.table(plane)
    np.testing.assert_allclose(work_from_fine(plane, g, table), want, atol=1e-3)


def test_box_means_are_exact_at_fractional_corners():
    plane = np.arange(12.0).reshape(3, 4)
    t = _integral.table(plane)
    # the box [0.5, 2.5) x [1, 3): half of row 0, row 1, half of row 2, columns 1 and 2
    m = _integral.box_means(t, np.array([0.5, 2.5]), np.array([1.0, 3.0]))
    want = (0.5 * (1 + 2) + (5 + 6) + 0.5 * (9 + 10)) / 4.0
    assert m.shape == (1, 1) and m[0, 0] == pytest.approx(want)


def test_phase_means_match_the_working_plane_blocks():
    """The grid search's block means (from the table, every phase at once) are the working plane's block means."""
    plane = (np.random.default_rng(1).random((384, 704)) * 255).astype(np.float32)
    scale, factor = 1.5, 1
    ay = ax = np.arange(8 * factor)
    means = _sync._phase_means(_integral.table(plane), scale, factor, ay, ax)
    for py, px in ((0, 0), (3, 5), (7, 2)):
        work = work_from_fine(plane, Geometry(scale, py * SUPER // factor, px * SUPER // factor))
        nby, nbx = means.shape[1], means.shape[3]
        blocks = work[: nby * 8, : nbx * 8].reshape(nby, 8, nbx, 8).mean(axis=(1, 3))
        np.testing.assert_allclose(means[py, :, px, :], blocks, atol=1e-2)
