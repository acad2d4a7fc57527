"""models.face._interp.linear_on_grid: the depth map's scattered-data interpolation, against scipy's griddata."""

import numpy as np
import pytest
from scipy.interpolate import griddata

from models.face._interp import linear_on_grid


def _reference(points: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    gy, gx = np.mgrid[0 : shape[0], 0 : shape[1]]
    q = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float64)
    return griddata(points, values, q, method="linear").reshape(shape)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_griddata_on_scattered_points(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # A face-like cloud: dense in the middle, slivers on the hull, some points on exact grid nodes.
    pts = np.concatenate([rng.normal(40, 9, (300, 2)), rng.uniform(5, 75, (60, 2)), rng.integers(10, 70, (20, 2))])
    vals = np.sin(pts[:, 0] / 7.0) * 30 + pts[:, 1]
    got = linear_on_grid(pts, vals, (80, 90))
    want = _reference(pts, vals, (80, 90))
    assert np.array_equal(np.isnan(got), np.isnan(want))
    inside = ~np.isnan(want)
    assert inside.sum() > 2000
    np.testing.assert_allclose(got[inside], want[inside], rtol=0, atol=1e-9)


def test_linear_data_is_reproduced_exactly_and_outside_is_nan() -> None:
    pts = np.array([[2.0, 2.0], [20.0, 3.0], [11.0, 18.0], [10.0, 8.0]])
    vals = 3.0 * pts[:, 0] - 2.0 * pts[:, 1] + 5.0
    got = linear_on_grid(pts, vals, (25, 25))
    gy, gx = np.mgrid[0:25, 0:25]
    inside = ~np.isnan(got)
    np.testing.assert_allclose(got[inside], (3.0 * gx - 2.0 * gy + 5.0)[inside], atol=1e-9)
    assert np.isnan(got[0, 0]) and np.isnan(got[24, 24]) and not np.isnan(got[8, 10])


def test_duplicates_and_too_few_points() -> None:
    pts = np.array([[1.0, 1.0], [9.0, 1.0], [5.0, 9.0], [9.0, 1.0]])
    got = linear_on_grid(pts, np.array([1.0, 2.0, 3.0, 99.0]), (12, 12))
    assert got[1, 9] == pytest.approx(2.0)  # the first of the duplicates
    assert np.isnan(linear_on_grid(pts[:2], np.ones(2), (5, 5))).all()
