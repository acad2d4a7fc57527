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
    tri = subdiv.getTriangleList().reshape(-1, 3, 2)  # only triangles between inserted points
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
    for labels in (first[ys, xs] - 1, None):
        outside = np.flatnonzero(weights.min(axis=1) < -_EPS)
        if not len(outside):
            break
        if labels is not None:
            w_other = _barycentric(corners[labels[outside]], q[outside])
            better = w_other.min(axis=1) >= -_EPS
            t[outside[better]] = labels[outside[better]]
            weights[outside[better]] = w_other[better]
            continue
        # The rest: pixels outside the convex hull (NaN), and pixels where many triangles meet (every triangle is
        # tried).
        hull = cv2.convexHull(pts.astype(np.float32))
        beyond = np.array([cv2.pointPolygonTest(hull, (float(x), float(y)), True) < -1e-4 for x, y in q[outside]])
        t[outside[beyond]] = -1
        outside = outside[~beyond]
        if not len(outside):
            break
        lo_t, hi_t = corners.min(axis=1) - 1e-6, corners.max(axis=1) + 1e-6
        qo = q[outside]
        pix, cand = np.nonzero(((qo[:, None] >= lo_t[None]) & (qo[:, None] <= hi_t[None])).all(axis=2))
        w_cand = _barycentric(corners[cand], qo[pix])
        hit = w_cand.min(axis=1) >= -_EPS
        t[outside] = -1
        # The last containing candidate per pixel wins (any containing triangle gives the same value).
        t[outside[pix[hit]]] = cand[hit]
        weights[outside[pix[hit]]] = w_cand[hit]
    ok = t >= 0
    z = (weights * vals[index[np.maximum(t, 0)]]).sum(axis=1)
    out[ys[ok], xs[ok]] = z[ok]
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
    tri = subdiv.getTriangleList().reshape(-1, 3, 2)  # only triangles between inserted points
    index = np.array([[where.get((float(x), float(y)), -1) for x, y in t] for t in tri], np.int64).reshape(-1, 3)
    keep = (index >= 0).all(axis=1)
    tri, index = tri[keep], index[keep]
    if not len(tri):
        return out
    label = np.zeros((h, w), np.int32)
    for k, corners in enumerate(tri):
        poly = np.rint(corners * (1 << _SHIFT)).astype(np.int32)
        cv2.fillConvexPoly(label, poly, k + 1, lineType=cv2.LINE_8, shift=_SHIFT)
    ys, xs = np.nonzero(label)
    t = label[ys, xs] - 1
    a, b, c = (pts[index[t, i]] for i in range(3))
    # Barycentric weights of (x, y) in triangle (a, b, c).
    v0, v1 = b - a, c - a
    q = np.stack([xs, ys], axis=1) - a
    det = v0[:, 0] * v1[:, 1] - v0[:, 1] * v1[:, 0]
    ok = np.abs(det) > 1e-12
    det = np.where(ok, det, 1.0)
    wb = (q[:, 0] * v1[:, 1] - q[:, 1] * v1[:, 0]) / det
    wc = (v0[:, 0] * q[:, 1] - v0[:, 1] * q[:, 0]) / det
    wa = 1.0 - wb - wc
    z = wa * vals[index[t, 0]] + wb * vals[index[t, 1]] + wc * vals[index[t, 2]]
    out[ys[ok], xs[ok]] = z[ok]
    return out


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
