"""Detection pipeline: aligned pass over every frame, then (if needed) blind re-synchronisation on kept
frames.

Memory stays bounded for long videos: per frame only 256 complex tile sums are kept, plus at most
``keep_frames`` frames as uint8 RGB at short side <= 512 (evenly spread: the sampling stride doubles whenever
the buffer fills), plus the stack of frames (at most BATCH_PIXELS) the aligned pass is about to measure in one
vectorised pass.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sized
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import WatermarkInputError
from . import _code, _decide, _inset, _keys, _placement, _resample, _sync, _tone
from ._frames import MIN_DETECT_SHORT, FramePair, check_fine, check_frame
from ._measure import (
    Geometry,
    fill_zoom,
    measure_planes,
    per_plane,
    planes,
    unstretch,
    unturn,
    work_from_fine,
)

FINE_SHORT = 512  # kept frames are stored at this short side (uint8 RGB) for re-synchronisation


@dataclass(frozen=True)
class DetectOptions:
    resync: bool = True
    sync_frames: int = 12
    keep_frames: int = 32


@dataclass
class _Raw:
    found: bool = False
    content_id: str | None = None
    version: int | None = None
    log10_p: float = 0.0
    log10_hypotheses: float = 0.0
    frames_used: int = 0
    agreeing_bits: int = 0
    n_bits: int = 0
    threshold_bits: int = 0
    frame_bit_agreement: float = 0.0
    time_offset_s: float = 0.0
    resynchronised: bool = False
    geometry: str = "aligned"
    segments: list = field(default_factory=list)
    windows: list = field(default_factory=list)


class _Keeper:
    def __init__(self, capacity: int, expected: int | None = None) -> None:
        self.capacity = max(1, capacity)
        self.stride = 1
        # Frames known in advance (a sized sequence): start at the stride the buffer would end at, keeping the
        # same frames without first reducing ones that would be dropped (at 250 frames: 32 reduced, not 80).
        while expected is not None and -(-expected // self.stride) > self.capacity:
            self.stride *= 2
        self.items: list[tuple[int, float, np.ndarray]] = []
        self._planes: dict[int, list[np.ndarray]] = {}
        self._aligned: dict[int, list[np.ndarray]] = {}

    def wants(self, index: int) -> bool:
        return index % self.stride == 0

    def add(self, index: int, t: float, luma: np.ndarray) -> None:
        self.items.append((index, t, luma))
        while len(self.items) > self.capacity:
            self.stride *= 2
            self.items = [it for it in self.items if it[0] % self.stride == 0]

    def planes(self, j: int, channels: tuple[str, ...]) -> list[np.ndarray]:
        """The carrier planes of kept frame ``j`` with no tone curve undone (float32), computed once: every
        candidate but the tone curves' measures them (at 912x512, 2 planes of 32 frames: 120 MB, and 1 s of CPU
        saved on an unmarked 10 s clip)."""
        index = self.items[j][0]
        if index not in self._planes:
            self._planes[index] = _tone.carrier_planes(self.items[j][2], channels, 1.0)
        return self._planes[index]

    def aligned(self, j: int, channels: tuple[str, ...]) -> list[np.ndarray]:
        """The working planes of kept frame ``j`` on the aligned grid (no tone curve undone), computed once: the
        gain-only tone curves and the rotations start from them."""
        index = self.items[j][0]
        if index not in self._aligned:
            self._aligned[index] = per_plane(self.planes(j, channels), lambda pl: work_from_fine(pl, Geometry()))
        return self._aligned[index]


# Frames measured together in the aligned pass: 0.5 Mpx, 32 frames at the verifier's 128 x 128. Larger stacks
# save no CPU (measured 8 to 128 frames: the same within noise) and leave the verifier's decode thread, 16 frames
# ahead, idle while a stack is measured.
BATCH_PIXELS = 1 << 19


class _Batch:
    """The aligned pass's measurements, made on stacks of same-shaped frames (one vectorised pass per stack,
    the same values as frame by frame). Frames are copied in as they arrive (a producer may reuse its buffer);
    memory stays bounded by BATCH_PIXELS."""

    def __init__(self, channels: tuple[str, ...], steps: tuple[float, ...]) -> None:
        self.channels, self.steps = channels, steps
        self.buf: np.ndarray | None = None
        self.count = 0
        self.tiles: list[np.ndarray] = []
        self.pairs: list[np.ndarray] = []

    def add(self, frame: np.ndarray) -> None:
        if self.buf is not None and (self.buf.shape[1:] != frame.shape or self.count == len(self.buf)):
            self._flush()
        if self.buf is None or self.buf.shape[1:] != frame.shape:
            size = max(1, BATCH_PIXELS // (frame.shape[0] * frame.shape[1]))
            self.buf = np.empty((size, *frame.shape), np.uint8)
        assert self.buf is not None
        self.buf[self.count] = frame
        self.count += 1

    def _flush(self) -> None:
        if self.count and self.buf is not None:
            stack = self.buf[: self.count]
            work = planes(stack, self.channels, _resample.working_shape(*stack.shape[1:3]))
            f, p = measure_planes(work, self.steps)
            self.tiles.append(f)
            self.pairs.append(p)
            self.count = 0

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(N, K, 256) tile sums and (N, K) mean z^2 of every frame added."""
        self._flush()
        self.buf = None
        return np.concatenate(self.tiles), np.concatenate(self.pairs)


def _fine_rgb(frame: np.ndarray) -> np.ndarray:
    """The frame as stored for re-synchronisation: uint8 RGB (tone curves are undone on it), area-reduced if its
    short side is above FINE_SHORT to 4x its working grid (1280x720 -> 912x512, not 910x512: the unmoved grid's
    super-resolution plane is then the stored plane itself, with no resampling per candidate)."""
    h, w = frame.shape[:2]
    if min(h, w) <= FINE_SHORT:
        return frame.copy()
    wh, ww = _resample.working_shape(h, w)
    shape = (wh * FINE_SHORT // _resample.WORK_SHORT, ww * FINE_SHORT // _resample.WORK_SHORT)
    rgb = frame.astype(np.float32)
    out = np.stack([_resample.resize(rgb[..., c], shape) for c in range(3)], axis=-1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# Aspect ratios a stretched video may have been made at (renders: 1:1 crops, or the portrait's own framing): a
# non-uniform rescale (4:3 shown as 16:9, a 1:1 video fitted to 9:16) is undone by resampling the kept frames to
# each, keeping the short side. All are counted; the ASPECT_TRY best by the blind coherence are decoded.
ASPECTS = (1.0, 4 / 3, 3 / 4, 3 / 2, 2 / 3, 16 / 9, 9 / 16, 5 / 4, 4 / 5)
ASPECT_TRY = 2

# Small rotations about the frame centre (a tilted phone straightened, an editor's rotate tool), undone on the
# aligned grid; each angle as it is (the corners filled somehow) and zoomed to fill the frame again. The aligned
# pass itself takes about +-1 degree at 720p (a 2-degree turn moves the corners over half a block); 1.5 degrees
# apart, no turn up to 6.75 degrees is more than 0.75 off one (at 0.6 off a 720p clip kept 221-232 of 232 bits).
# All are counted; the ROTATION_TRY best by the blind coherence are decoded.
ANGLES = (-6.0, -4.5, -3.0, -1.5, 1.5, 3.0, 4.5, 6.0)
ROTATION_TRY = 2

# Insets (picture-in-picture, a video fitted into a 9:16 canvas): the rectangles bounded by persistent borders
# (``_inset``), each with its grid refined (two phases: the proxy's and the exact score's) and up to CORNERS^2
# candidate corners (tile shifts); all BOX_LIMIT x 2 x CORNERS^2 are counted, the BOX_TRY best rectangles by the
# blind coherence are decoded.
BOX_LIMIT = 6
BOX_TRY = 2

ALL_SHIFTS = tuple((sy, sx) for sy in range(_keys.TILE) for sx in range(_keys.TILE))


def _roll(tiles: np.ndarray, shift: tuple[int, int]) -> np.ndarray:
    if shift == (0, 0):
        return tiles
    n, k = tiles.shape[:2]
    grid = tiles.reshape(n, k, _keys.TILE, _keys.TILE)
    return np.roll(grid, shift, axis=(2, 3)).reshape(n, k, -1)


def _best_shift(tiles, pairs, lay, key, shifts) -> tuple[int, int]:
    """The cyclic tile shift whose clip decode (at the blind QIM phase, both carrier signs) agrees best.

    Coded sums are linear in the tiles, so the frames are combined first and every shift is one row of a
    single matrix product; all shifts are decoded in one batched Viterbi call."""
    weight = np.abs(pairs)  # (N, K)
    theta = _decide.blind_phase(pairs)
    onehot = (lay[:, :, None] == np.arange(_keys.N_LAYOUTS)[None, None, :]).astype(np.float64)  # (O, N, L)
    combined = np.einsum("onl,nk,nkq->oklq", onehot, weight, tiles)  # (O, K, L, 256) complex
    t = _keys.TILE
    y, x = np.divmod(np.arange(t * t), t)
    src = np.array([((y - sy) % t) * t + (x - sx) % t for sy, sx in shifts])  # (S, 256): np.roll semantics
    rolled = combined[..., src]  # (O, K, L, S, 256)
    m = _decide._layout_matrices(key)  # (L, 256, 232)
    z = np.einsum("oklsq,lqc->oksc", rolled.real, m) + 1j * np.einsum("oklsq,lqc->oksc", rolled.imag, m)
    zr = z * np.exp(-1j * theta)[None, :, None, None]  # (O, K, S, 232)
    per_shift = zr.transpose(2, 0, 1, 3)  # (S, O, K, 232)
    soft = np.stack([_decide.expand(row, theta, _decide.PHASES[:1]).soft for row in per_shift])  # (S, R, 232)
    flat = soft.reshape(-1, soft.shape[-1])
    agree = _decide.agreement(flat, _decide.encode_batch(_code.viterbi(flat))).reshape(soft.shape[:2])
    return shifts[int(np.argmax(agree.max(axis=1)))]


def _evaluate(tiles, pairs, t_centre, key, log10_hyp, frame_s, shifts=((0, 0),), groups=None, blind_windows=True):
    """The clip test (at the best of the cyclic tile shifts in ``shifts``) and the window tests at that shift, for
    each carrier group (the current mark's carriers; those of mark version 1, at another QIM step): the group
    whose clip or best window test is strongest. Groups are decoded separately, so a carrier measured at the
    wrong step adds no noise to the other's evidence; each group's hypotheses are counted.
    ``groups``: ((carrier indices, accepted payload versions), ...); a decode whose version the group does not
    carry is no detection, so each hypothesis has 2^48 acceptable codewords whatever the number of versions.
    Every test of every group is decoded in one batched Viterbi call. ``blind_windows=False`` (the
    re-synchronisation candidates): windows are decoded for the segment map but are no blind tests of their own
    (a window can then only match a clip that passed), so the union bound counts one test per candidate."""
    groups = groups or ((tuple(range(tiles.shape[1])), _code.VERSIONS),)
    lay = _decide.layouts_for(t_centre)
    prepared, hyps = [], []
    for indices, _versions in groups:
        idx = list(indices)
        g_tiles, g_pairs = tiles[:, idx], pairs[:, idx]
        shift = shifts[0] if len(shifts) == 1 else _best_shift(g_tiles, g_pairs, lay, key, shifts)
        sums = _decide.coded_sums(_roll(g_tiles, shift), key)
        tests: list[tuple[Any, Any, Any, Any]] = [(None, None, None, _decide.soft_hypotheses(sums, g_pairs, lay))]
        for start, end, w_idx in _decide.windows(t_centre, frame_s):
            tests.append((start, end, w_idx, _decide.soft_hypotheses(sums[w_idx], g_pairs[w_idx], lay[:, w_idx])))
        prepared.append((sums, shift, tests))
        hyps += [t[3] for t in tests]
    results = iter(_decide.blind_tests(hyps, log10_hyp))
    best, best_p = None, math.inf
    for (sums, shift, tests), (_indices, versions) in zip(prepared, groups, strict=True):
        clip = _only(next(results), versions)
        wins = [(a, b, i, _only(next(results), versions if blind_windows else ()), h) for a, b, i, h in tests[1:]]
        p = min([clip.log10_p] + [w[3].log10_p for w in wins])
        if best is None or p < best_p:
            best, best_p = (clip, wins, _frame_agreement(sums, lay, clip), shift), p
    return best


def _only(result, versions):
    """``result`` unless it decoded a payload version outside ``versions``: then a non-detection (p = 1)."""
    return result if result.version in versions else dataclasses.replace(result, log10_p=0.0)


def _frame_agreement(sums, lay, clip) -> float:
    """Mean per-frame agreement with the clip codeword under the clip's hypothesis."""
    n = sums.shape[0]
    o = int(np.argmin(np.abs(_decide.OFFSETS_S - clip.offset_s)))
    per_frame = sums[np.arange(n), :, lay[o]]  # (N, K, C)
    fsoft = np.einsum("k,nkc->nc", clip.signs, -np.imag(per_frame * np.exp(-1j * clip.theta)[None, :, None]))
    seen = fsoft != 0
    agree = np.sum(((fsoft > 0) == (clip.codeword[None, :] == 1)) & seen) / max(1, int(seen.sum()))
    return float(agree)


def _n_windows(t_centre: np.ndarray, frame_s: float) -> int:
    return len(_decide.windows(t_centre, frame_s))


def _fill(raw: _Raw, clip, wins, agree, t_centre, log10_hyp, fps: float) -> None:
    found_clip = clip.log10_p <= _decide.LOG10_ALPHA and clip.version in _code.VERSIONS
    best = clip
    if not found_clip:
        passing = [w[3] for w in wins if w[3].log10_p <= _decide.LOG10_ALPHA and w[3].version in _code.VERSIONS]
        if passing:
            best = min(passing, key=lambda r: r.log10_p)
    raw.found = best.log10_p <= _decide.LOG10_ALPHA and best.version in _code.VERSIONS
    raw.content_id = best.content_id
    raw.version = best.version
    raw.log10_p = best.log10_p if raw.found else clip.log10_p
    raw.agreeing_bits = best.agreeing if raw.found else clip.agreeing
    raw.frames_used = len(t_centre)
    raw.frame_bit_agreement = agree
    raw.time_offset_s = best.offset_s
    raw.n_bits = clip.n_bits
    raw.threshold_bits = _code.min_agreeing_bits(clip.n_bits, log10_hyp + _decide.LOG10_CODEWORDS)
    raw.windows = []
    ranges = []
    for start, end, _idx, res, wsoft in wins:
        own = res.content_id if res.log10_p <= _decide.LOG10_ALPHA and res.version in _code.VERSIONS else None
        matches = False
        if raw.found:
            _, p_known = _decide.known_test(wsoft, best.codeword, log10_hyp)
            matches = p_known <= _decide.LOG10_ALPHA
        raw.windows.append(
            dict(
                start_s=start,
                end_s=end,
                frames=len(_idx),
                content_id=own,
                log10_p=res.log10_p,
                agreeing_bits=res.agreeing,
                matches_clip=matches,
            )
        )
        cid = raw.content_id if matches else own
        if cid is not None:
            ranges.append([start, end, cid])
    if raw.found and not wins:
        ranges.append([max(0.0, float(t_centre.min()) - 0.5 / fps), float(t_centre.max()) + 0.5 / fps, raw.content_id])
    merged: list[list] = []
    for r in ranges:
        if merged and merged[-1][2] == r[2] and r[0] <= merged[-1][1] + 1e-9:
            merged[-1][1] = max(merged[-1][1], r[1])
        else:
            merged.append(list(r))
    raw.segments = [tuple(m) for m in merged]


def run_detection(frames: Iterable[np.ndarray | FramePair], key: bytes, params, fps: float, timestamps, options):
    carriers = params.detect_carriers
    channels = tuple(c for c, _ in carriers)
    steps = tuple(float(st) for _, st in carriers)
    times = []
    batch = _Batch(channels, steps)
    expected = len(frames) if isinstance(frames, Sized) else None
    keeper = _Keeper(options.keep_frames, expected) if options.resync else None
    n = 0
    for i, item in enumerate(frames):
        frame = item.work if isinstance(item, FramePair) else item
        check_frame(frame, i, min_short=MIN_DETECT_SHORT)
        if timestamps is not None and i >= len(timestamps):
            raise WatermarkInputError("more frames than timestamps")
        t = (float(timestamps[i]) if timestamps is not None else i / fps) + 0.5 / fps
        batch.add(frame)
        times.append(t)
        if keeper is not None and keeper.wants(i):
            fine = check_fine(item.fine(), frame, i) if isinstance(item, FramePair) else frame
            keeper.add(i, t, _fine_rgb(fine))
        n += 1
    if n == 0:
        raise WatermarkInputError("no frames to analyse")
    if timestamps is not None and len(timestamps) != n:
        raise WatermarkInputError(f"{len(timestamps)} timestamps for {n} frames")
    tiles_a, pairs_a = batch.result()
    t_a = np.array(times)

    # Carrier groups, decoded separately: the current mark's carriers, then version 1's (V alone, step 76).
    main = tuple(range(len(params.carriers)))
    groups: tuple = ((main, (params.version,)),)
    if len(carriers) > len(main):
        groups += ((tuple(range(len(main), len(carriers))), (1,)),)
    per_test = math.log10(sum(_decide.hypotheses_per_test(len(g)) for g, _ in groups))
    n_tests = 1 + _n_windows(t_a, 1.0 / fps)
    if keeper is not None:
        # Candidate 1: aligned grid under each tone hypothesis but the identity; candidate 2: scale and grid
        # phase, then every cyclic tile shift. Counted whether or not they run, and for every hypothesis of
        # the set even though only the best-scoring few are decoded. Each is ONE blind test (the kept clip):
        # counting its 1-s windows too multiplied the set by 1 + W_k (6 for 3 s, 20 for 10 s) and cost a
        # crop to 49 % of the area at 512 px (94 observable coded bits, all agreeing) its detection.
        mirror, tones, turns = 1, len(_tone.TONES) - 1, 2 * len(ANGLES)  # the tones but the identity; 2 zooms each
        insets = BOX_LIMIT * _placement.CORNERS**2 * 2
        n_tests += mirror + tones + len(ASPECTS) + turns + insets + len(ALL_SHIFTS)
    log10_hyp = per_test + math.log10(n_tests)

    raw = _Raw(log10_hypotheses=log10_hyp)
    clip, wins, agree, _ = _evaluate(tiles_a, pairs_a, t_a, key, log10_hyp, 1.0 / fps, groups=groups)
    _fill(raw, clip, wins, agree, t_a, log10_hyp, fps)
    if raw.found or keeper is None:
        return raw

    best_raw = raw
    for geometry, tone, shifts in _resync_candidates(keeper, channels, steps, options.sync_frames):
        k_tiles, k_pairs = _measure_kept(keeper, channels, _tone.steps_for(steps, tone), geometry, tone)
        k_t_a = np.array([it[1] for it in keeper.items])
        clip, wins, agree, shift = _evaluate(
            k_tiles, k_pairs, k_t_a, key, log10_hyp, 1.0 / fps, shifts, groups, blind_windows=False
        )
        cand = _Raw(log10_hypotheses=log10_hyp, resynchronised=True)
        cand.geometry = (
            f"scale={geometry.scale:.4f} phase=({geometry.py},{geometry.px}) shift=({shift[0]},{shift[1]}) "
            f"{tone.describe()}"
            + (f" aspect={geometry.aspect:.3f}" if geometry.aspect else "")
            + (" mirrored" if geometry.mirror else "")
            + (f" rotated={geometry.angle:+.1f}deg zoom={geometry.zoom:.3f}" if geometry.angle else "")
            + (" inset=rows {}:{} cols {}:{}".format(*geometry.box) if geometry.box else "")
        )
        _fill(cand, clip, wins, agree, k_t_a, log10_hyp, fps)
        if cand.found or cand.log10_p < best_raw.log10_p:
            best_raw = cand
        if cand.found:
            break
    return best_raw


def _measure_kept(keeper: _Keeper, channels, steps, geometry: Geometry, tone) -> tuple[np.ndarray, np.ndarray]:
    """(N, K, 256) tile sums and (N, K) mean z^2 of the kept frames under ``geometry`` and ``tone``, frame by frame
    (stacking them measured slower: the 4x super-resolution planes of 32 frames outgrow the caches)."""
    tiles, pairs = [], []
    on_aligned = tone.gamma == 1.0 and dataclasses.replace(geometry, angle=0.0, zoom=1.0) == Geometry()
    for j, (_i, _t, rgb) in enumerate(keeper.items):
        if on_aligned:  # the aligned grid, or a rotation undone on it
            work = keeper.aligned(j, channels)
            if geometry.angle:
                work = per_plane(work, lambda pl: unturn(pl, geometry))
        else:
            full = keeper.planes(j, channels) if tone.gamma == 1.0 else _tone.carrier_planes(rgb, channels, tone.gamma)
            work = per_plane(full, lambda pl: work_from_fine(pl, geometry))
        f, p = measure_planes(work, steps)
        tiles.append(f)
        pairs.append(p)
    return np.array(tiles), np.array(pairs)


def _resync_candidates(keeper: _Keeper, channels: tuple[str, ...], steps: tuple[float, ...], sync_frames: int):
    items = keeper.items
    pick = np.unique(np.linspace(0, len(items) - 1, min(len(items), sync_frames)).round().astype(int))
    rgbs = [items[j][2] for j in pick]
    # Candidate 0: a horizontal mirror, undone (the kept frames flipped back: the frames as marked).
    yield Geometry(mirror=True), _tone.Tone(1.0, 1.0), ((0, 0),)
    # Candidate 1: aligned grid, the best few tone curves (gamma x contrast gain) by the blind coherence.
    _best, scores = _tone.search(rgbs, channels, steps)
    for tone in _tone.ranked(scores):
        yield Geometry(), tone, ((0, 0),)
    # Candidate 1b: a non-uniform rescale, undone for each standard aspect ratio the frames do not already have.
    fines = [keeper.planes(int(j), channels) for j in pick]  # per frame, K float32 planes (shared)
    h, w = rgbs[0].shape[:2]
    aspects = [a for a in ASPECTS if abs(math.log(a * h / w)) > 0.03]
    few = fines[::3]
    # each frame unstretched once per aspect (not once per grid of the score); the same values
    score = {
        a: _sync._exact_score([per_plane(f, lambda p, a=a: unstretch(p, a)) for f in few], steps, Geometry())
        for a in aspects
    }
    scored = sorted(aspects, key=lambda a: -score[a])
    for a in scored[:ASPECT_TRY]:
        yield Geometry(aspect=a), _tone.Tone(1.0, 1.0), ((0, 0),)
    # Candidate 1d: a small rotation about the centre, undone, with or without the zoom that fills the frame.
    turns = [Geometry(angle=a, zoom=z) for a in ANGLES for z in (1.0, fill_zoom(a, h, w))]
    aligned = [keeper.aligned(int(j), channels) for j in pick[::3]]  # the frames of ``few``
    by_turn = {g: _sync.turn_score(aligned, steps, g) for g in turns}
    for g in sorted(turns, key=lambda g: -by_turn[g])[:ROTATION_TRY]:
        yield g, _tone.Tone(1.0, 1.0), ((0, 0),)
    # Candidate 1c: the video inside a larger picture, measured inside each rectangle the borders outline.
    same = [j for j, rgb in enumerate(rgbs) if rgb.shape == rgbs[0].shape]  # a stream may change size midway
    borders = _inset.find([rgbs[j] for j in same], limit=BOX_LIMIT)
    fixed = [fines[j] for j in same]
    tables = _sync.tables_of(fines)  # the sync frames' integral images: insets, grid search and gains share them
    fixed_tables = [tables[j] for j in same]
    insets = [
        _placement.inset_grid(fixed, steps, (b.y0, b.y1, b.x0, b.x1), borders, fixed_tables) for b in borders.boxes
    ]
    tried: list[Geometry] = []
    for _score, g, shifts in sorted(insets, key=lambda r: -r[0]):
        if g not in tried and len(tried) < BOX_TRY:
            tried.append(g)
            yield g, _tone.Tone(1.0, 1.0), shifts
            polished = _placement.polish(fixed, steps, g)
            if polished != g:  # the exact blind score's grid: counted as a second phase whether or not it differs
                yield polished, _tone.Tone(1.0, 1.0), shifts
    # Candidate 2: grid scale and phase, then the contrast gain at the found grid; the cyclic tile shift is
    # searched by decoding every one. (The curve of candidate 1 is not carried over: on a misaligned grid its
    # score says nothing.)
    g = _sync.search_grid(fines, steps, tables=tables)
    by_gain = _sync.gain_scores(fines, steps, g, _tone.GAINS, tables)
    tone = _tone.best_gain({_tone.Tone(1.0, k): v for k, v in by_gain.items()}, 1.0)
    yield g, tone, ALL_SHIFTS
