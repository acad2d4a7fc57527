"""Blind inset finder: where a marked video sits inside a larger picture (picture-in-picture, a 9:16 canvas).

A video placed in a larger frame leaves straight, persistent borders: rows and columns where the luma steps
in most frames at the same place, while the picture on either side moves. The finder looks for axis-aligned
rectangles whose sides are such borders (or the frame's own edges), from the kept frames' luma only: it never
sees the key or the bits, so choosing rectangles with it favours no codeword. The detector then measures the
mark inside each rectangle alone, where the grid search over the whole frame had the inset's few blocks
diluted by the rest (a 0.3 inset is ~5 % of a 16:9 frame's area).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SIDE = 0.2  # a border run spans at least this fraction of the frame's short side
MIN_AREA = 0.03  # of the frame; a 0.3 inset of a 1:1 video on a 16:9 canvas is 0.05
MAX_AREA = 0.85  # nearly the whole frame: the aligned pass and the crop search handle it
EDGE_FRAC = 0.6  # a side is a border where this fraction of its pixels step (after the time median)
GAP = 3  # pixels of a run that may miss the threshold
MAX_LINES = 14  # border lines kept per axis (the strongest), besides the frame's edges


@dataclass(frozen=True)
class Box:
    """Rows [y0, y1) and columns [x0, x1) of a frame, in the kept frames' pixels; ``score`` ranks boxes."""

    y0: int
    y1: int
    x0: int
    x1: int
    score: float = 0.0

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0


def _luma(rgb: np.ndarray) -> np.ndarray:
    f = rgb.astype(np.float32)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def border_maps(rgbs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(dy, dx): per pixel, the median over frames of the absolute luma step to the next row (dy, (h-1, w)) and
    column (dx, (h, w-1)). A border between two pictures steps in most frames; an edge of moving content does
    not stay in place, and the median drops it."""
    return _median_steps(np.stack([_luma(r) for r in rgbs]))


def _median_steps(lum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.median(np.abs(np.diff(lum, axis=1)), axis=0), np.median(np.abs(np.diff(lum, axis=2)), axis=0)


def _runs(mask: np.ndarray, min_len: int) -> list[tuple[int, int, int]]:
    """(line, start, end) of runs of True along the last axis of a 2-D mask, closing gaps up to GAP."""
    out = []
    for i, row in enumerate(mask):
        idx = np.flatnonzero(row)
        if idx.size == 0:
            continue
        breaks = np.flatnonzero(np.diff(idx) > GAP + 1)
        starts = np.concatenate([[idx[0]], idx[breaks + 1]])
        ends = np.concatenate([idx[breaks], [idx[-1]]]) + 1
        out += [(i, int(a), int(b)) for a, b in zip(starts, ends, strict=True) if b - a >= min_len]
    return out


def _strongest(runs: list[tuple[int, int, int]]) -> set[int]:
    """The box edges (line + 1) of the MAX_LINES lines with the most border pixels in long runs: busy pictures
    (text, stripes, UI) have many, and the rectangle search is quadratic in them per axis."""
    length: dict[int, int] = {}
    for line, a, b in runs:
        length[line + 1] = length.get(line + 1, 0) + b - a
    return set(sorted(length, key=lambda e: -length[e])[:MAX_LINES])


def _threshold(d: np.ndarray) -> float:
    """Steps above the noise of this picture: 4x the median step, at least 6 levels."""
    return max(6.0, 4.0 * float(np.median(d)))


def _density(cum: np.ndarray, line: int, a: int, b: int) -> float:
    """Fraction of border pixels on ``line`` between ``a`` and ``b`` (``cum``: cumulative sums along lines)."""
    if line < 0 or line >= cum.shape[0] or b <= a:
        return 0.0
    return float(cum[line, b] - cum[line, a]) / (b - a)


@dataclass(frozen=True)
class Borders:
    """Box edges (row and column indices of the kept frames, the frame's own edges included) and the rectangles
    they outline, best first."""

    rows: tuple[int, ...]
    cols: tuple[int, ...]
    boxes: tuple[Box, ...]


def find_boxes(rgbs: list[np.ndarray], limit: int = 3) -> list[Box]:
    """Up to ``limit`` distinct rectangles, best first, each bounded by borders or the frame's edges on all four
    sides (at least two of them borders), of plausible size."""
    return list(find(rgbs, limit).boxes)


def find(rgbs: list[np.ndarray], limit: int = 3) -> Borders:
    """The border lines of the kept frames and up to ``limit`` rectangles they outline (``find_boxes``): first
    those of the luma steps, then those of the activity steps (``activity_masks``) that are neither the same as
    one of them nor inside one."""
    h, w = rgbs[0].shape[:2]
    lum = np.stack([_luma(r) for r in rgbs])
    dy, dx = _median_steps(lum)
    rows_l, cols_l, by_luma = _outline(dy > _threshold(dy), dx > _threshold(dx), h, w)
    rows_a, cols_a, by_activity = _outline(*activity_masks(lum), h, w) if len(rgbs) > 1 else ((), (), [])
    kept: list[Box] = []
    for b in by_luma:
        if len(kept) < limit and all(not _same(b, k, min(h, w)) for k in kept):
            kept.append(b)
    for b in by_activity:
        if len(kept) < limit and all(not _same(b, k, min(h, w)) and not _inside(b, k, min(h, w)) for k in kept):
            kept.append(b)
    return Borders(tuple(sorted(set(rows_l) | set(rows_a))), tuple(sorted(set(cols_l) | set(cols_a))), tuple(kept))


def activity_masks(lum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Border pixels where the frames' ACTIVITY steps: (rows (h-1, w), columns (h, w-1)) like the luma step masks.

    Activity is each pixel's mean absolute luma change between consecutive sync frames. A video placed over
    another moves differently from it, so activity steps along the inset's sides even where a busy background
    hides its luma border (VP9 on a sharp moving texture left the sides of a 0.35 inset stepping above the luma
    threshold on 20-30 % of their pixels; their activity steps from ~2 to ~19 levels on 85-95 %). The map is
    smoothed along each side (7 px) and compared two lines either side: a step is a border pixel where it is
    above 3 levels and 4x the map's median step and the quieter side has under half the busier side's activity."""
    act = np.mean(np.abs(np.diff(lum, axis=0)), axis=0)
    return _activity_steps(act, 0), _activity_steps(act, 1)


def _activity_steps(act: np.ndarray, axis: int) -> np.ndarray:
    s = _box_along(act, 3, 1 - axis)
    n = s.shape[axis]
    i = np.arange(n - 1)
    before = (np.take(s, np.maximum(i - 1, 0), axis) + np.take(s, i, axis)) / 2
    after = (np.take(s, i + 1, axis) + np.take(s, np.minimum(i + 2, n - 1), axis)) / 2
    hi, lo = np.maximum(before, after), np.minimum(before, after)
    step = hi - lo
    return (step > max(3.0, 4.0 * float(np.median(step)))) & (lo < 0.5 * hi)


def _box_along(a: np.ndarray, r: int, axis: int) -> np.ndarray:
    """Mean over 2 r + 1 pixels along ``axis`` (edges repeated)."""
    pad = [(0, 0)] * a.ndim
    pad[axis] = (r + 1, r)
    c = np.cumsum(np.pad(a, pad, mode="edge"), axis=axis, dtype=np.float64)
    n = a.shape[axis]
    return (np.take(c, np.arange(2 * r + 1, n + 2 * r + 1), axis) - np.take(c, np.arange(n), axis)) / (2 * r + 1)


def _outline(my: np.ndarray, mx: np.ndarray, h: int, w: int) -> tuple[list[int], list[int], list[Box]]:
    """Box edges (rows, columns) and the rectangles outlined by border masks ``my`` (steps between rows, (h-1,
    w)) and ``mx`` (between columns, (h, w-1)), best first (not yet deduplicated)."""
    min_len = max(8, int(MIN_SIDE * min(h, w)))
    # Border lines: a step between row r and r + 1 puts a box edge at r + 1 (the first row inside or outside).
    h_runs, v_runs = _runs(my, min_len), _runs(mx.T, min_len)
    rows_s = sorted({0, h} | _strongest(h_runs))
    cols_s = sorted({0, w} | _strongest(v_runs))
    cum_y = np.concatenate([np.zeros((my.shape[0], 1)), np.cumsum(my, axis=1)], axis=1)  # along x, per row step
    cum_x = np.concatenate([np.zeros((mx.shape[1], 1)), np.cumsum(mx.T, axis=1)], axis=1)  # along y, per col step

    def side_h(y: int, x0: int, x1: int) -> float | None:  # a horizontal side at box edge y: frame edge -> None
        if y in (0, h):
            return None
        return max(_density(cum_y, y - 1, x0, x1), _density(cum_y, y - 2, x0, x1), _density(cum_y, y, x0, x1))

    def side_v(x: int, y0: int, y1: int) -> float | None:
        if x in (0, w):
            return None
        return max(_density(cum_x, x - 1, y0, y1), _density(cum_x, x - 2, y0, y1), _density(cum_x, x, y0, y1))

    found: list[Box] = []
    for i, y0 in enumerate(rows_s):
        for y1 in rows_s[i + 1 :]:
            if y1 - y0 < min_len:
                continue
            for j, x0 in enumerate(cols_s):
                for x1 in cols_s[j + 1 :]:
                    if x1 - x0 < min_len:
                        continue
                    area = (y1 - y0) * (x1 - x0) / (h * w)
                    if not MIN_AREA <= area <= MAX_AREA:
                        continue
                    sides = [side_h(y0, x0, x1), side_h(y1, x0, x1), side_v(x0, y0, y1), side_v(x1, y0, y1)]
                    borders = [s for s in sides if s is not None]
                    if len(borders) < 2 or min(borders) < EDGE_FRAC:
                        continue
                    found.append(Box(y0, y1, x0, x1, float(np.mean(borders)) + 0.01 * len(borders)))
    # Corners: a border run along a row meeting one along a column (an inset whose other two sides do not show:
    # its picture there is much like what surrounds it) outlines the rectangle the two runs span.
    for y0, y1, x0, x1 in _corners(h_runs, v_runs, set(rows_s), set(cols_s)):
        if y1 - y0 < min_len or x1 - x0 < min_len or not MIN_AREA <= (y1 - y0) * (x1 - x0) / (h * w) <= MAX_AREA:
            continue
        sides = [side_h(y0, x0, x1), side_h(y1, x0, x1), side_v(x0, y0, y1), side_v(x1, y0, y1)]
        borders = [s for s in sides if s is not None]
        found.append(Box(y0, y1, x0, x1, float(np.mean(borders)) + 0.01 * sum(s >= EDGE_FRAC for s in borders)))
    found.sort(key=lambda b: -b.score)
    return rows_s, cols_s, found


def _corners(h_runs, v_runs, rows: set[int], cols: set[int]) -> list[tuple[int, int, int, int]]:
    """(y0, y1, x0, x1) of the rectangles spanned by a row run and a column run that meet at a corner (their
    ends within GAP + 3 pixels), of the runs on the kept border lines."""
    tol = GAP + 3
    hs = [(r + 1, a, b) for r, a, b in h_runs if r + 1 in rows]
    vs = [(c + 1, a, b) for c, a, b in v_runs if c + 1 in cols]
    out = set()
    for ey, ha, hb in hs:
        for ex, va, vb in vs:
            near_left, near_right = abs(ha - ex) <= tol, abs(hb - ex) <= tol
            near_top, near_bottom = abs(va - ey) <= tol, abs(vb - ey) <= tol
            if near_left and near_top:
                out.add((ey, vb, ex, hb))
            if near_right and near_top:
                out.add((ey, vb, ha, ex))
            if near_left and near_bottom:
                out.add((va, ey, ex, hb))
            if near_right and near_bottom:
                out.add((va, ey, ha, ex))
    return sorted(out)


def _inside(a: Box, b: Box, short: int) -> bool:
    """``a`` lies inside ``b`` (to 4 % of the short side): an activity box inside a luma box is the inset's own
    moving content (a face over a still background), not another inset."""
    tol = 0.04 * short
    return a.y0 >= b.y0 - tol and a.y1 <= b.y1 + tol and a.x0 >= b.x0 - tol and a.x1 <= b.x1 + tol


def _same(a: Box, b: Box, short: int) -> bool:
    tol = 0.04 * short
    return max(abs(a.y0 - b.y0), abs(a.y1 - b.y1), abs(a.x0 - b.x0), abs(a.x1 - b.x1)) <= tol
