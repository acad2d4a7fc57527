"""The grid of an inset: from a rectangle the borders outline (``_inset``) to the geometry the mark is decoded at.

1. The planes are cropped to the rectangle (plus a margin: a border is placed to a pixel or two) and the grid's
   scale and phase are refined about those the rectangle implies (the blind coherence, ``_sync``).
2. The rectangle may not be the inset: it can stop at an edge of the inset's own content (a sub-rectangle), or
   reach past the inset to the frame's edge. Either way its first block is not the mark's first and the tile
   shift would be wrong. The mark's grid starts at the inset's top-left corner, so the inset's left edge is a
   border (or the frame's edge) a whole number of blocks left of the refined grid's origin, and every block
   between the two is marked. Of such edges the farthest whose strip of blocks is coherent (a z-score of the
   mark's z^2 over those blocks, projected on the QIM phase the rectangle shows) is taken; likewise the top,
   and the right and bottom edges (without the whole-block condition: an inset need not end on one).

All of it sees the frames' content and the blind z^2 statistic only, never the key or the bits.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from . import _integral, _resample, _sync
from ._inset import Borders
from ._keys import TILE
from ._measure import SUPER, Geometry, per_plane

MARGIN = 3  # stored pixels added around a rectangle before its grid is refined
WHOLE = 0.15  # of a block: how far from a whole number of blocks an edge may be and still start the grid
STRIP_Z = 3.0  # a strip of blocks between two edges is marked above this z-score
SPAN_Z = 2.0  # the same for the blocks an end adds to the rectangle or a start cuts from it
BLOCK = 8  # working pixels
CORNERS = 4  # start lines tried per axis: CORNERS^2 tile shifts per rectangle, all counted


def inset_grid(fines, steps, box, borders: Borders, tables=None):
    """(blind score, geometry, tile shifts) of the mark inside the inset outlined by ``box`` (y0, y1, x0, x1): the
    geometry's ``box`` the crop it is decoded from, its grid starting at the earliest candidate corner, and one
    cyclic tile shift per candidate corner (at most CORNERS^2, decided by the decoder). ``tables``: the whole
    planes' integral images (``_sync.tables_of``), if at hand."""
    h, w = fines[0][0].shape[-2:]
    y0, y1, x0, x1 = box
    crop = (max(0, y0 - MARGIN), min(h, y1 + MARGIN), max(0, x0 - MARGIN), min(w, x1 + MARGIN))
    cropped = [per_plane(list(f), lambda p: p[..., crop[0] : crop[1], crop[2] : crop[3]]) for f in fines]
    tables = [per_plane(c, _integral.table) for c in cropped]
    inner = min(y1 - y0, x1 - x0)  # the inset's short side: 128 working pixels
    per_px = SUPER * _resample.WORK_SHORT / inner  # quarter working pixels per stored pixel
    scale = min(crop[1] - crop[0], crop[3] - crop[2]) / inner
    half = _sync.HALF
    start = Geometry(scale, round((y0 - crop[0]) * per_px) % (2 * half), round((x0 - crop[2]) * per_px) % (2 * half))
    best = sorted(_sync._refined(tables, steps, start, 0.004, 4), key=lambda r: -r[0])[:2]
    score, g = max(((_sync._exact_score(cropped, steps, g, tables), g) for _, g in best), key=lambda r: r[0])
    f = _resample.working_shape(crop[1] - crop[0], crop[3] - crop[2], g.scale)[0] / (crop[1] - crop[0])
    origin = (crop[0] + g.py / (SUPER * f), crop[2] + g.px / (SUPER * f))  # the refined grid's first block
    return (score, *_extent(fines, steps, f, origin, box, borders, tables))


def _full_grid(h: int, w: int, f: float, origin: tuple[float, float]) -> tuple[Geometry, tuple[int, int]]:
    """The grid through ``origin`` (stored pixels) with ``f`` working pixels per stored pixel over the whole
    frame, and the block index of ``origin`` on it."""
    blk = BLOCK / f
    ky, kx = math.floor(origin[0] / blk + 1e-6), math.floor(origin[1] / blk + 1e-6)
    first = (origin[0] - ky * blk, origin[1] - kx * blk)
    g = Geometry(
        min(h, w) * f / _resample.WORK_SHORT, round(first[0] * f * SUPER) % 32, round(first[1] * f * SUPER) % 32
    )
    return g, (ky, kx)


def _projection(fines, steps, g: Geometry, core: tuple[int, int, int, int], tables=None) -> np.ndarray:
    """(bh, bw) per-block z-scores of the mark's z^2 on grid ``g``, summed over frames and carriers, less the
    half-block-moved grids' (smooth content cancels), each carrier projected on the QIM phase its blocks in
    ``core`` (block rows and columns) show. Unit variance for unmarked blocks. ``tables``: the planes' integral
    images, if at hand (an inset's grid resolves finer than the stored planes: without them each plane's table is
    made again for every grid)."""
    per_frame = [
        per_plane(list(fl), lambda p, tb=tb: _sync.grid_s0s(p, g, tb.get(id(p))))
        for fl, tb in zip(fines, _sync.table_maps(fines, tables), strict=True)
    ]  # frame, plane, grid (g and its three moved ones)
    maps = [[sum(np.exp(4j * np.pi * s[k][j] / st) for s in per_frame) for k, st in enumerate(steps)] for j in range(4)]
    bh = min(m[0].shape[0] for m in maps)
    bw = min(m[0].shape[1] for m in maps)
    out = np.zeros((bh, bw))
    r0, r1, c0, c1 = core
    for k in range(len(steps)):
        d = maps[0][k][:bh, :bw] - sum(m[k][:bh, :bw] for m in maps[1:]) / 3.0
        phase = np.angle(d[r0:r1, c0:c1].sum())
        out += np.real(d * np.exp(-1j * phase))
    return out / math.sqrt(len(steps) * len(fines) * 2.0 / 3.0)


def _extent(fines, steps, f: float, origin, box, borders: Borders, tables=None):
    h, w = fines[0][0].shape[-2:]
    blk = BLOCK / f
    g, (ky, kx) = _full_grid(h, w, f, origin)
    first = (origin[0] - ky * blk, origin[1] - kx * blk)  # the full grid's first block, stored pixels
    y0, y1, x0, x1 = box

    def index(e: float, axis: int) -> float:  # an edge as a block index of the full grid
        return (e - first[axis]) / blk

    rows = (max(0, math.ceil(index(y0, 0) - WHOLE)), math.floor(index(y1, 0) + WHOLE))
    cols = (max(0, math.ceil(index(x0, 1) - WHOLE)), math.floor(index(x1, 1) + WHOLE))
    z = _projection(fines, steps, g, (*rows, *cols), tables)
    rows, cols = (rows[0], min(rows[1], z.shape[0])), (cols[0], min(cols[1], z.shape[1]))
    across_rows = z[rows[0] : rows[1]].sum(axis=0) / math.sqrt(max(1, rows[1] - rows[0]))
    lefts = _starts(across_rows, [index(e, 1) for e in borders.cols], cols[0])
    right = _end(across_rows, borders.cols, lambda e: index(e, 1), cols[0] + 2, float(x1))
    cb = (cols[0], max(cols[0] + 1, min(z.shape[1], math.floor(index(right, 1) + WHOLE))))
    across_cols = z[:, cb[0] : cb[1]].sum(axis=1) / math.sqrt(cb[1] - cb[0])
    tops = _starts(across_cols, [index(e, 0) for e in borders.rows], rows[0])
    bottom = _end(across_cols, borders.rows, lambda e: index(e, 0), rows[0] + 2, float(y1))
    top, left = first[0] + rows[0] * blk, first[1] + cols[0] * blk
    crop = (
        max(0, math.floor(top) - MARGIN),
        min(h, math.ceil(bottom) + MARGIN),
        max(0, math.floor(left) - MARGIN),
        min(w, math.ceil(right) + MARGIN),
    )
    ch, cw = crop[1] - crop[0], crop[3] - crop[2]
    py = max(0, round((top - crop[0]) * f * SUPER))
    px = max(0, round((left - crop[2]) * f * SUPER))
    # the crop starts at the rectangle's first whole block; the mark's first block, at corner (t, c), is block
    # (t - rows[0], c - cols[0]) of the measured grid: a cyclic tile shift of minus that. (Blocks between an
    # earlier corner and the rectangle are not measured: they are the ones whose mark is weakest, flat parts of
    # the inset where the rectangle's border was not found.)
    shifts = tuple(((rows[0] - t) % TILE, (cols[0] - c) % TILE) for t in tops for c in lefts)
    return Geometry(min(ch, cw) * f / _resample.WORK_SHORT, py, px, box=crop), shifts


def _starts(profile: np.ndarray, edges: list[float], own: int) -> list[int]:
    """Up to CORNERS block lines where the inset may start along one axis, best first: the rectangle's own first
    line and the edges a whole number of blocks from the grid's origin, ranked by how much more marked the two
    lines after them are than the two before (a later start only where the lines it cuts are not marked).
    ``profile``: per block line of the full grid, the z of the
    blocks across (unit variance unmarked)."""
    n = len(profile)

    def z(a: int, b: int) -> float:
        a, b = max(0, a), min(n, b)
        return float(profile[a:b].sum()) / math.sqrt(b - a) if b > a else 0.0

    def plausible(j: int) -> bool:  # the blocks a later start cuts from the rectangle are not marked
        return j <= own or z(own, j) < SPAN_Z

    # line -1: the inset's first block begins a fraction of a pixel before the frame's edge (a video resampled
    # to fit a canvas' width), and the first whole block measured is its second
    lines = {own} | {round(k) for k in edges if abs(k - round(k)) <= WHOLE and -1 <= round(k) < n}
    ranked = sorted((j for j in lines if plausible(j)), key=lambda j: -(z(j, j + 2) - z(j - 2, j)))
    return ranked[:CORNERS]


def _end(profile: np.ndarray, edges, index, after: int, own: float) -> float:
    """Where the inset ends along one axis (stored pixels): the last edge past block line ``after`` whose two
    block lines before it are marked (z > STRIP_Z) and, past the rectangle's own edge ``own``, all the lines it
    adds (z > SPAN_Z); ``own`` where none is."""
    n = len(profile)
    last = min(n, math.floor(index(own) + WHOLE))

    def z(a: int, b: int) -> float:
        return float(profile[a:b].sum()) / math.sqrt(b - a) if b > a else 0.0

    for e in sorted(edges, reverse=True):
        j = min(n, math.floor(index(e) + WHOLE))
        if j >= after + 2 and z(j - 2, j) > STRIP_Z and (j <= last or z(last, j) > SPAN_Z):
            return float(e)
    return own


def polish(fines, steps, g: Geometry, radius: int = 3) -> Geometry:
    """``g`` (an inset's geometry) with its grid phase and then its scale moved to the best exact blind score
    nearby: phase rows, then columns, within ``radius`` quarter pixels, then the scale by +-0.5 %. The refinement
    in ``inset_grid`` scores phases by the block-mean proxy, which on a small inset after a codec settles up to
    half a working pixel off (measured: a 0.3 inset at 512 px decoded at log10 p -1 there, -29 two quarter
    pixels over)."""
    assert g.box is not None
    y0, y1, x0, x1 = g.box
    cropped = [per_plane(list(f), lambda p: p[..., y0:y1, x0:x1]) for f in fines]
    tables = _sync.tables_of(cropped)  # once: each of the ~16 scores measures 4 grids of every plane

    def score(c: Geometry) -> float:
        return _sync._exact_score(cropped, steps, dataclasses.replace(c, box=None), tables)

    best, best_s = g, score(g)
    for field in ("py", "px"):
        for d in range(-radius, radius + 1):
            value = getattr(g, field) + d
            if d == 0 or not 0 <= value < 2 * _sync.HALF:
                continue
            c = dataclasses.replace(best, **{field: value})
            s = score(c)
            if s > best_s:
                best, best_s = c, s
        g = best
    for factor in (0.995, 1.005):
        c = dataclasses.replace(best, scale=g.scale * factor)
        s = score(c)
        if s > best_s:
            best, best_s = c, s
    return best
