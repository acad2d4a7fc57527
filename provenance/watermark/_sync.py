"""Blind re-synchronisation: grid scale and sub-pixel phase (tone curves: ``_tone``).

The statistic is |sum of z^2| (see ``_measure``): it peaks where the block grid of the received frames lines
up with the embedding grid, and where the assumed QIM step matches the received level scale (contrast
changes); it ignores the key and the bits, so choosing geometry with it favours no codeword. The cyclic tile
shift is not chosen here: the detector considers all 256 shifts and counts them in its union bound.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import _integral, _resample, _rule
from ._measure import SUPER, Geometry, per_plane, unturn, work_from_fine

# A crop kept at its cropped size maps the original to ``scale`` < 1 of the working grid. 2 % steps: with
# 32-px blocks on a 512-px frame a 1 % scale error moves the frame edge by a tenth of a block.
SCALES = tuple(float(s) for s in np.round(0.98 ** np.arange(-2, 18), 4))  # 1.04 .. 0.71
# A marked video shown smaller than the frame (picture-in-picture, fitted into a larger canvas) maps to scale > 1:
# the frame's short side spans 128 x scale working pixels of the original's grid (a 0.3 inset: 3.33). Searched
# coarser (4 % steps, whole working pixels) and refined like the crops' scales.
SCALES_UP = tuple(float(s) for s in np.round(1.04 * 1.04 ** np.arange(1, 31), 4))  # 1.08 .. 3.37
_BLOCK_SUPER = 8 * SUPER  # one block in super-resolution pixels


# Scores are |sum z^2 - background| / sqrt(blocks): a z-score, so that small (down-scaled) grids, whose mean
# over fewer blocks is noisier, are not favoured. Sums are coherent over frames: the QIM phase is shared by the
# frames. The background is the mean sum on the three grids moved by half a block (down, right, both): smooth
# content (the blurred fill of a 9:16 canvas, flat borders) gives nearly the same coherent z^2 on all of them
# and cancels, while the mark's blocks, cut in halves or quarters there, do not. (One shifted grid alone made
# the score symmetric under that shift: a crop's search settled half a block off.) Without it the fill's z^2,
# at an arbitrary QIM phase, outscored the mark's grid 25 to 8 on a 9:16 canvas.
HALF = 4 * SUPER  # half a block, in quarter working pixels


def grid_s0s(plane: np.ndarray, g: Geometry, table: np.ndarray | None = None) -> list[np.ndarray]:
    """Block s0 of ``plane`` on grid ``g`` and on its three half-block-moved grids (``_moved``), in that order:
    ``block_s0(work_from_fine(plane, gg, table))`` for each (the same values; on the resampling path's float64
    planes to ~1e-13, the stacked matmul's order), from ONE working plane and one batched s0. A grid half a block
    over starts 4 whole working pixels (2 LL pixels) later on the plane of the phase below it (py mod 16, px mod
    16), on which both paths of ``work_from_fine`` compute every pixel alike: its working plane is a slice."""
    base = dataclasses.replace(g, py=g.py % HALF, px=g.px % HALF)
    return four_grid_s0s(work_from_fine(plane, base, table), g)


def four_grid_s0s(work: np.ndarray, g: Geometry) -> list[np.ndarray]:
    """``grid_s0s`` from the working plane of the grid ``g`` with its phases taken mod half a block."""
    base = dataclasses.replace(g, py=g.py % HALF, px=g.px % HALF)
    ll = _rule.haar_ll(work)  # 4 working px later = 2 LL px later, Haar pairs alike
    blocks = []
    for gg in [g, *_moved(g)]:
        dy, dx = (gg.py - base.py) // (2 * SUPER), (gg.px - base.px) // (2 * SUPER)
        blocks.append(_rule.ll_blocks(ll[..., dy:, dx:]))
    # one batched s0 for the four grids (per block the same operations in the same order as block_s0)
    flat = _rule.top_s0(np.concatenate([b.reshape(-1, 4, 4) for b in blocks]))
    out, at = [], 0
    for b in blocks:
        n = int(np.prod(b.shape[:-2], dtype=np.int64))
        out.append(flat[at : at + n].reshape(b.shape[:-2]))
        at += n
    return out


def _grid_sums(fines: list[list[np.ndarray]], steps: tuple[float, ...], g: Geometry, tables=None):
    """((4, K) sums of z^2 over the blocks of every frame on ``g`` and its three moved grids, block count on g)."""
    return _sums_of(
        [
            per_plane(list(fine), lambda plane, tabs=tabs: grid_s0s(plane, g, tabs.get(id(plane))))
            for fine, tabs in zip(fines, table_maps(fines, tables), strict=True)
        ],
        steps,
    )


def _sums_of(per_frame: list, steps: tuple[float, ...]) -> tuple[np.ndarray, int]:
    """``_grid_sums`` from each frame's per-plane lists of the four grids' s0."""
    total = np.zeros((4, len(steps)), complex)
    count = 0
    for s0_of in per_frame:
        for k, (s0s, step) in enumerate(zip(s0_of, steps, strict=True)):
            for j, s0 in enumerate(s0s):
                total[j, k] += np.exp(4j * np.pi * s0 / step).sum()
            count += s0s[0].size
    return total, count


def _moved(g: Geometry) -> list[Geometry]:
    """The three grids half a block off ``g`` (down, right, both): the background estimate's."""
    return [
        dataclasses.replace(g, py=(g.py + dy) % (2 * HALF), px=(g.px + dx) % (2 * HALF))
        for dy, dx in ((HALF, 0), (0, HALF), (HALF, HALF))
    ]


def _exact_score(fines: list[list[np.ndarray]], steps: tuple[float, ...], g: Geometry, tables=None) -> float:
    """The blind coherence of grid ``g`` with exact s0 (``tables``: the planes' integral images, if at hand)."""
    return _score(*_grid_sums(fines, steps, g, tables))


def turn_score(aligned: list[list[np.ndarray]], steps: tuple[float, ...], g: Geometry) -> float:
    """``_exact_score`` of the rotation hypothesis ``g`` (``Geometry.angle``) from the frames' ALIGNED working
    planes (per frame, the K carriers' planes; a plane listed twice is turned once): the same value."""
    base = dataclasses.replace(g, py=g.py % HALF, px=g.px % HALF)
    per_frame = [per_plane(list(w), lambda p: four_grid_s0s(unturn(p, base), g)) for w in aligned]
    return _score(*_sums_of(per_frame, steps))


def _score(sums: np.ndarray, count: int) -> float:
    background = np.zeros(sums.shape[1], complex)
    for j in (1, 2, 3):
        background += sums[j] / 3.0
    return float(np.sum(np.abs(sums[0] - background)) / np.sqrt(max(count, 1)))


def _phase_scores(
    tables: list[list[np.ndarray]], steps: tuple[float, ...], scale: float, factor: int, near=None
) -> np.ndarray:
    """(8 f, 8 f) z-scores of every grid phase at ``scale``, phases 1 / f working pixel apart (or only those
    ``near`` = (py, px, r) and their half-block partners, the others 0), summed coherently over frames per carrier.
    ``tables``: per frame, the K carrier planes' integral images (``_integral.table``; a plane measured at two
    QIM steps is one table). Block means come straight from the tables (s0 approximated by 8 x the mean)."""
    n_ph = 8 * factor
    acc = np.zeros((len(steps), n_ph, n_ph), complex)
    count = 0
    half = n_ph // 2
    if near is None:
        ay = ax = np.arange(n_ph)
    else:
        cy, cx, r = near
        ay = np.array(sorted({(cy + d + e) % n_ph for d in range(-r, r + 1) for e in (0, half)}))
        ax = np.array(sorted({(cx + d + e) % n_ph for d in range(-r, r + 1) for e in (0, half)}))
    for tabs in tables:
        done: dict[int, np.ndarray] = {}
        for k, (t, step) in enumerate(zip(tabs, steps, strict=True)):
            if id(t) not in done:
                done[id(t)] = _phase_means(t, scale, factor, ay, ax)
            m = done[id(t)]  # (len(ay), nby, len(ax), nbx) block means
            x = m * np.float32(32.0 * np.pi / step)  # the phase of z^2, float32: cos and sin are most of the cost
            acc[k][np.ix_(ay, ax)] += np.cos(x).sum(axis=(1, 3)) + 1j * np.sin(x).sum(axis=(1, 3))
            count += m.shape[1] * m.shape[3]
    background = sum(np.roll(acc, d, axis=(1, 2)) for d in ((half, 0), (0, half), (half, half))) / 3.0
    return np.abs(acc - background).sum(axis=0) / np.sqrt(max(count, 1))


def _phase_means(t: np.ndarray, scale: float, factor: int, ay: np.ndarray, ax: np.ndarray) -> np.ndarray:
    """Block means of the plane whose integral image is ``t`` on the working grid at ``scale``, for the grid
    phases ``ay`` x ``ax`` (in 1 / factor working pixels): (len(ay), nby, len(ax), nbx), the same block count
    at every phase."""
    h, w = t.shape[-2] - 1, t.shape[-1] - 1
    wh, ww = _resample.working_shape(h, w, scale)
    ry, rx = h / wh, w / ww  # stored pixels per working pixel
    last = (8 * factor - 1) / factor
    nby, nbx = max(1, int((wh - last) // 8)), max(1, int((ww - last) // 8))
    ye = (ay[:, None] / factor + 8.0 * np.arange(nby + 1)[None, :]) * ry
    xe = (ax[:, None] / factor + 8.0 * np.arange(nbx + 1)[None, :]) * rx
    f = _integral.at(t, ye.ravel(), xe.ravel()).reshape(len(ay), nby + 1, len(ax), nbx + 1)
    sums = f[:, 1:, :, 1:] - f[:, :-1, :, 1:] - f[:, 1:, :, :-1] + f[:, :-1, :, :-1]
    return (sums / (64.0 * ry * rx)).astype(np.float32)


def search_grid(fines: list[list[np.ndarray]], steps: tuple[float, ...], keep: int = 3, tables=None) -> Geometry:
    """Best (scale, py, px): every half-pixel grid phase at each of SCALES by the proxy (on every other frame of
    ``fines``); the best ``keep``
    refined in scale (+-1 %) and to the quarter pixel (phases within 3 quarter pixels of the coarse one: a
    scale change moves the grid about the frame origin, where the phase is anchored), then re-scored exactly.
    ``fines``: per frame, the K stored carrier planes (a list, whose repeated planes are measured once, or a
    (K, h, w) array). ``tables``: their integral images (``tables_of``), if at hand."""
    tables = tables_of(fines) if tables is None else tables
    coarse = []
    for scale, factor in [(s, SUPER // 2) for s in SCALES] + [(s, 1) for s in SCALES_UP]:
        scores = _phase_scores(tables[::2], steps, scale, factor)  # every other sync frame
        for flat in np.argsort(scores, axis=None)[-2:]:
            py, px = np.unravel_index(flat, scores.shape)
            coarse.append(
                (float(scores[py, px]), Geometry(scale, int(py) * SUPER // factor, int(px) * SUPER // factor))
            )
    coarse.sort(key=lambda r: -r[0])
    refined = []
    for _, g in coarse[:keep]:
        refined += _refined(tables, steps, g, 0.005 if g.scale <= SCALES[0] else 0.01, 3)
    refined.sort(key=lambda r: -r[0])
    return max(refined[:keep], key=lambda r: _exact_score(fines, steps, r[1], tables))[1]


def _refined(tables, steps, g: Geometry, step: float, radius: int) -> list[tuple[float, Geometry]]:
    """(proxy score, geometry) at each of five scales ``step`` apart about ``g``'s, with the best quarter-pixel
    phase within ``radius`` of ``g``'s."""
    out = []
    for scale in g.scale * (1.0 + np.arange(-2, 3) * step):
        scores = _phase_scores(tables, steps, float(scale), SUPER, near=(g.py, g.px, radius))
        py, px = np.unravel_index(int(np.argmax(scores)), scores.shape)
        out.append((float(scores[py, px]), Geometry(float(scale), int(py), int(px))))
    return out


def tables_of(fines: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """Per frame, the integral images of its K carrier planes (a plane listed twice: one table)."""
    return [per_plane(list(f), _integral.table) for f in fines]


def table_maps(fines: list[list[np.ndarray]], tables) -> list[dict[int, np.ndarray]]:
    """Per frame, {id(plane): its integral image} from ``tables`` (``tables_of``); empty dicts without them."""
    if tables is None:
        return [{} for _ in fines]
    return [{id(p): t for p, t in zip(f, tabs, strict=True)} for f, tabs in zip(fines, tables, strict=True)]


def gain_scores(
    fines: list[list[np.ndarray]], steps: tuple[float, ...], g: Geometry, gains, tables=None
) -> dict[float, float]:
    """The background-subtracted coherence (as ``_exact_score``) of each contrast gain at grid ``g``: the QIM step
    S / gain. Subtracting the half-block-moved grids matters here as in the grid search: the smooth fill of a
    canvas is coherent at SOME step, and scored plainly it outscored the mark's own gain. ``tables``: the planes'
    integral images, if at hand (the same values to float rounding, 4x cheaper than resampling each plane)."""
    per_frame = [
        per_plane(list(f), lambda p, tabs=tabs: grid_s0s(p, g, tabs.get(id(p))))
        for f, tabs in zip(fines, table_maps(fines, tables), strict=True)
    ]
    s0s = [[[planes[j] for planes in frame] for frame in per_frame] for j in range(4)]  # grid, frame, plane
    out = {}
    for gain in gains:
        total = 0.0
        for k, step in enumerate(steps):
            sums = [sum(np.exp((4j * np.pi * gain / step) * s[k]).sum() for s in per_grid) for per_grid in s0s]
            count = sum(s[k].size for s in s0s[0])
            total += abs(sums[0] - (sums[1] + sums[2] + sums[3]) / 3.0) / np.sqrt(max(count, 1))
        out[float(gain)] = total
    return out
