"""Blind re-synchronisation: grid scale and sub-pixel phase (tone curves: ``_tone``).

The statistic is |sum of z^2| (see ``_measure``): it peaks where the block grid of the received frames lines
up with the embedding grid, and where the assumed QIM step matches the received level scale (contrast
changes); it ignores the key and the bits, so choosing geometry with it favours no codeword. The cyclic tile
shift is not chosen here: the detector considers all 256 shifts and counts them in its union bound.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import _resample
from ._measure import SUPER, Geometry, block_s0, per_plane, work_from_fine

# A crop kept at its cropped size maps the original to ``scale`` < 1 of the working grid. 2 % steps: with
# 32-px blocks on a 512-px frame a 1 % scale error moves the frame edge by a tenth of a block.
SCALES = tuple(float(s) for s in np.round(0.98 ** np.arange(-2, 18), 4))  # 1.04 .. 0.71
_BLOCK_SUPER = 8 * SUPER  # one block in super-resolution pixels


def _box_means(y: np.ndarray, size: int) -> np.ndarray:
    """Mean of every size x size window (top-left anchored): (h - size + 1, w - size + 1)."""
    c = np.zeros((y.shape[0] + 1, y.shape[1] + 1))
    c[1:, 1:] = np.cumsum(np.cumsum(y, axis=0, dtype=np.float64), axis=1)
    s = c[size:, size:] - c[:-size, size:] - c[size:, :-size] + c[:-size, :-size]
    return s / float(size * size)


def _phase_sums(means: np.ndarray, step: float, block: int, near=None) -> tuple[np.ndarray, int]:
    """Sum of z^2 at EVERY grid phase at once: (block, block) complex sums and the blocks per phase.

    s0 is approximated by 8 x the block mean (exact on flat blocks), and block (j, i) of phase (py, px) starts
    at (py + block j, px + block i), so one reshape gathers all phases. ``near`` = (py, px, r): only the phases
    within r of (py, px) (cyclically) are computed; the others are 0."""
    nby, nbx = means.shape[0] // block, means.shape[1] // block
    if near is None:
        z = np.exp(4j * np.pi * 8.0 * means[: nby * block, : nbx * block] / step)
        return z.reshape(nby, block, nbx, block).sum(axis=(0, 2)), nby * nbx
    cy, cx, r = near
    out = np.zeros((block, block), complex)
    half = block // 2  # the background estimate's phases too (see _phase_scores)
    for py in {(cy + d + e) % block for d in range(-r, r + 1) for e in (0, half)}:
        rows = means[py : nby * block : block]
        for px in {(cx + d + e) % block for d in range(-r, r + 1) for e in (0, half)}:
            out[py, px] = np.exp(4j * np.pi * 8.0 * rows[:, px : nbx * block : block] / step).sum()
    return out, nby * nbx


# Scores are |sum z^2 - background| / sqrt(blocks): a z-score, so that small (down-scaled) grids, whose mean
# over fewer blocks is noisier, are not favoured. Sums are coherent over frames: the QIM phase is shared by the
# frames. The background is the mean sum on the three grids moved by half a block (down, right, both): smooth
# content (the blurred fill of a 9:16 canvas, flat borders) gives nearly the same coherent z^2 on all of them
# and cancels, while the mark's blocks, cut in halves or quarters there, do not. (One shifted grid alone made
# the score symmetric under that shift: a crop's search settled half a block off.) Without it the fill's z^2,
# at an arbitrary QIM phase, outscored the mark's grid 25 to 8 on a 9:16 canvas.
HALF = 4 * SUPER  # half a block, in quarter working pixels


def _exact_sums(fines: list[list[np.ndarray]], steps: tuple[float, ...], g: Geometry) -> tuple[np.ndarray, int]:
    total = np.zeros(len(steps), complex)
    count = 0
    for fine in fines:
        s0_of = per_plane(list(fine), lambda plane: block_s0(work_from_fine(plane, g)))
        for k, (s0, step) in enumerate(zip(s0_of, steps, strict=True)):
            total[k] += np.exp(4j * np.pi * s0 / step).sum()
            count += s0.size
    return total, count


def _exact_score(fines: list[list[np.ndarray]], steps: tuple[float, ...], g: Geometry) -> float:
    total, count = _exact_sums(fines, steps, g)
    background = np.zeros_like(total)
    for dy, dx in ((HALF, 0), (0, HALF), (HALF, HALF)):
        moved = dataclasses.replace(g, py=(g.py + dy) % (2 * HALF), px=(g.px + dx) % (2 * HALF))
        background += _exact_sums(fines, steps, moved)[0] / 3.0
    return float(np.sum(np.abs(total - background)) / np.sqrt(max(count, 1)))


def _phase_scores(
    fines: list[list[np.ndarray]], steps: tuple[float, ...], scale: float, factor: int, near=None
) -> np.ndarray:
    """(8 f, 8 f) z-scores of every grid phase (or those ``near``, see _phase_sums) at ``scale`` on a grid
    ``factor`` = f times the working one, summed coherently over frames per carrier."""
    block = 8 * factor
    acc = np.zeros((len(steps), block, block), complex)
    count = 0

    def means(plane: np.ndarray) -> np.ndarray:
        wh, ww = _resample.working_shape(plane.shape[-2], plane.shape[-1], scale)
        return _box_means(_resample.resize(plane, (wh * factor, ww * factor)), block)

    for fine in fines:
        for k, (m, step) in enumerate(zip(per_plane(list(fine), means), steps, strict=True)):
            sums, n = _phase_sums(m, step, block, near)
            acc[k] += sums
            count += n
    h = block // 2
    background = sum(np.roll(acc, d, axis=(1, 2)) for d in ((h, 0), (0, h), (h, h))) / 3.0
    return np.abs(acc - background).sum(axis=0) / np.sqrt(max(count, 1))


def search_grid(fines: list[list[np.ndarray]], steps: tuple[float, ...], keep: int = 3) -> Geometry:
    """Best (scale, py, px): every half-pixel grid phase at each of SCALES by the proxy (on every other frame of
    ``fines``); the best ``keep``
    refined in scale (+-1 %) and to the quarter pixel (phases within 3 quarter pixels of the coarse one: a
    scale change moves the grid about the frame origin, where the phase is anchored), then re-scored exactly.
    ``fines``: per frame, the K stored carrier planes (a list, whose repeated planes are measured once, or a
    (K, h, w) array)."""
    coarse = []
    for scale in SCALES:
        scores = _phase_scores(fines[::2], steps, scale, SUPER // 2)  # every other sync frame
        for flat in np.argsort(scores, axis=None)[-2:]:
            py, px = np.unravel_index(flat, scores.shape)
            coarse.append((float(scores[py, px]), Geometry(scale, int(py) * 2, int(px) * 2)))
    coarse.sort(key=lambda r: -r[0])
    refined = []
    for _, g in coarse[:keep]:
        for scale in g.scale * (1.0 + np.arange(-2, 3) * 0.005):
            scores = _phase_scores(fines, steps, float(scale), SUPER, near=(g.py, g.px, 3))
            py, px = np.unravel_index(int(np.argmax(scores)), scores.shape)
            refined.append((float(scores[py, px]), Geometry(float(scale), int(py), int(px))))
    refined.sort(key=lambda r: -r[0])
    return max(refined[:keep], key=lambda r: _exact_score(fines, steps, r[1]))[1]
