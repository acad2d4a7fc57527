"""Piecewise-linear interpolation of scattered values on a regular grid (the portrait's depth map), with OpenCV.

``scipy.interpolate.griddata(..., method="linear")`` computes the same thing (Delaunay triangulation, barycentric
weights, NaN outside the convex hull), but importing scipy.interpolate costs ~0.2 s of a cold render; here the
triangulation is ``cv2.Subdiv2D`` and each triangle is rasterised once onto the grid.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["linear_on_grid"]

_SHIFT = 8  # sub-pixel bits for cv2.fillConvexPoly
_EPS = 1e-9


def linear_on_grid(points: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Values at the integer grid points (row y, column x) of ``shape`` (h, w), linearly interpolated from
    ``points`` (N, 2) in grid units (x, y) over their Delaunay triangles; NaN outside the convex hull.
    Duplicate points keep the first value."""
    h, w = shape
    pts = np.asarray(points, np.float64)
    vals = np.asarray(values, np.float64)
    out = np.full((h, w), np.nan, np.float64)
    if len(pts) < 3:
        return out
    # Subdiv2D starts from a triangle of virtual vertices around this rectangle; too close, they take the place
    # of flat stretches of the convex hull (missing triangles there). A rectangle far larger than the points keeps
    # the hull Delaunay.
    span = float(np.ptp(pts, axis=0).max()) + 1.0
    lo, hi = pts.min(axis=0) - 20.0 * span, pts.max(axis=0) + 20.0 * span
    subdiv = cv2.Subdiv2D((int(np.floor(lo[0])), int(np.floor(lo[1])), int(np.ceil(hi[0] - lo[0])) + 1,
                           int(np.ceil(hi[1] - lo[1])) + 1))  # fmt: skip
    for x, y in pts:
        subdiv.insert((float(x), float(y)))
    # Subdiv2D keeps float32 coordinates: map them back to point indices (the first of duplicates).
    where: dict[tuple[float, float], int] = {}
    for i, (x, y) in enumerate(pts.astype(np.float32)):
        where.setdefault((float(x), float(y)), i)
    tri = np.asarray(subdiv.getTriangleList()).reshape(-1, 3, 2)  # only triangles between inserted points
    index = np.array([[where.get((float(x), float(y)), -1) for x, y in t] for t in tri], np.int64).reshape(-1, 3)
    keep = (index >= 0).all(axis=1)
    tri, index = tri[keep], index[keep]
    if not len(tri):
        return out
    # Two labelings, triangles painted first to last and last to first: fillConvexPoly also paints the pixels its
    # edges touch, so a pixel may carry a neighbour's label in one of them (and, near a sliver, lie far outside that
    # triangle's barycentric range), but rarely in both.
    first, last = np.zeros((h, w), np.int32), np.zeros((h, w), np.int32)
    polys = np.rint(tri * (1 << _SHIFT)).astype(np.int32)
    for k, poly in enumerate(polys):
        cv2.fillConvexPoly(last, poly, k + 1, lineType=cv2.LINE_8, shift=_SHIFT)
    for k in range(len(polys) - 1, -1, -1):
        cv2.fillConvexPoly(first, polys[k], k + 1, lineType=cv2.LINE_8, shift=_SHIFT)
    ys, xs = np.nonzero(last)
    q = np.stack([xs, ys], axis=1).astype(np.float64)
    corners = pts[index]  # (T, 3, 2)
    t = last[ys, xs] - 1
    weights = _barycentric(corners[t], q)
    outside = np.flatnonzero(weights.min(axis=1) < -_EPS)
    if len(outside):  # the other labeling
        alt = first[ys[outside], xs[outside]] - 1
        w_alt = _barycentric(corners[alt], q[outside])
        better = w_alt.min(axis=1) >= -_EPS
        t[outside[better]], weights[outside[better]] = alt[better], w_alt[better]
        outside = outside[~better]
    if len(outside):  # the rest: outside the convex hull, or where many triangles meet
        t[outside], weights[outside] = _containing(q[outside], corners, pts)
    ok = t >= 0
    z = (weights * vals[index[np.maximum(t, 0)]]).sum(axis=1)
    out[ys[ok], xs[ok]] = z[ok]
    return out


def _containing(q: np.ndarray, corners: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each point q (P, 2): the index of a triangle that contains it (-1 if none: outside the convex hull of
    ``pts``) and its barycentric weights there; candidates are the triangles whose bounding box holds the point."""
    t = np.full(len(q), -1, np.int64)
    weights = np.zeros((len(q), 3))
    hull = cv2.convexHull(pts.astype(np.float32))
    inside = np.array([cv2.pointPolygonTest(hull, (float(x), float(y)), True) >= -1e-4 for x, y in q], bool)
    lo, hi = corners.min(axis=1) - 1e-6, corners.max(axis=1) + 1e-6
    pix, cand = np.nonzero(((q[:, None] >= lo[None]) & (q[:, None] <= hi[None])).all(axis=2) & inside[:, None])
    w = _barycentric(corners[cand], q[pix])
    hit = w.min(axis=1) >= -_EPS
    t[pix[hit]], weights[pix[hit]] = cand[hit], w[hit]  # any containing triangle gives the same value
    return t, weights


def _barycentric(corners: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Barycentric weights (..., 3) of points q (..., 2) in triangles corners (..., 3, 2) (broadcasting);
    a degenerate triangle gives -inf weights (it contains nothing)."""
    a, b, c = corners[..., 0, :], corners[..., 1, :], corners[..., 2, :]
    v0, v1, r = b - a, c - a, q - a
    det = v0[..., 0] * v1[..., 1] - v0[..., 1] * v1[..., 0]
    degenerate = np.abs(det) < 1e-12
    det = np.where(degenerate, 1.0, det)
    wb = (r[..., 0] * v1[..., 1] - r[..., 1] * v1[..., 0]) / det
    wc = (v0[..., 0] * r[..., 1] - v0[..., 1] * r[..., 0]) / det
    w = np.stack([1.0 - wb - wc, wb, wc], axis=-1)
    return np.where(degenerate[..., None], -np.inf, w)
