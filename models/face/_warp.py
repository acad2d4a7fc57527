"""Dense image warp: expression fields + 3D head pose -> one backward map for ``cv2.remap``.

Forward model, per source pixel x (frame pixels): ``q = x + E(x)`` (the expression fields, summed), then the head
pose rotates q in 3D about a pivot at ear depth, using a depth map interpolated from the FaceMesh z values, and
projects it back with weak perspective (orthographic + scale): ``p = c + s * R[:2] @ (q - c, z) + t``. The pose is
blended with a weight that is 1 on the head (face + hair) and falls smoothly to 0 over the neck and shoulders, so
the background and body stay still.

Rendering needs the inverse (for each output pixel, where to sample the source). The forward displacement D is
smooth except at the mouth tear, so the fixed point ``x <- p - D(x)`` converges in a few steps; everything runs on a
coarse grid (one cell per 4x4 pixels for a face 144+ px across the eyes, see :func:`grid_factor`) and the
displacement is upsampled bilinearly. The mouth tear is covered by the synthesised interior, so the iteration's
behaviour inside the gap never shows.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from models.face._deform import EXPRESSION_DIMS, FACE_OVAL, ExpressionModel
from models.face._interp import linear_on_grid
from models.schema import MOTION_INDEX

FIXED_POINT_STEPS = 2
NEWTON_STEPS = 2
RESIDUAL_PX = 0.25  # grid cells whose plain inversion misses by more than this get Newton steps
# FaceMesh z is flatter than x (a face comes out about 2/3 as deep as it is): with raw z a 20 degree yaw
# re-detects as 13-16 degrees. 1.5 was calibrated by that round trip on the bundled sample and checked on the
# shared evaluation portraits (benchmarks/renderer_quality.py).
DEPTH_GAIN = 1.5
# Above 1, the 99th-percentile slope may fold slightly (invisible); ~20 degrees keep the full gain, 30 do not.
FOLD_MARGIN = 1.2
# Dims that move the two lips differently, i.e. open the tear.
TEAR_DIMS = np.array(
    [EXPRESSION_DIMS.index(n) for n in ("jaw_open", "lip_pucker", "upper_lip_raise", "lower_lip_depress")]
)
_POSE_DIMS = ("head_yaw", "head_pitch", "head_roll", "head_tx", "head_ty", "head_scale")
# Grid cell side: about IOD / 36, between 2 and 4 pixels. At 512x512 (IOD 145-185 px) 4 px cells render a frame in 2/3
# of the time of 2 px cells, with the same round-trip jaw, identity and jitter figures (docs/benchmarks.md, "Face
# renderer") and fewer speckles at extreme poses; smaller faces keep 2 px cells.
GRID_CELL_IOD = 36.0
MAX_GRID_FACTOR = 4


def grid_factor(iod: float) -> int:
    """Pixels per side of one warp grid cell for a face ``iod`` pixels across the eyes."""
    return int(min(MAX_GRID_FACTOR, max(2, iod // GRID_CELL_IOD)))


def pose_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """3x3 rotation in image axes (x right, y down, z away from the viewer); signs follow models.schema."""
    a, b, c = math.radians(yaw), math.radians(pitch), math.radians(roll)
    # yaw about y: nose (z < 0) moves to +x for yaw > 0.  pitch about x: nose moves to +y (down) for pitch > 0.
    ry = np.array([[math.cos(a), 0.0, -math.sin(a)], [0.0, 1.0, 0.0], [math.sin(a), 0.0, math.cos(a)]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(b), -math.sin(b)], [0.0, math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0.0], [math.sin(c), math.cos(c), 0.0], [0.0, 0.0, 1.0]])
    return rz @ rx @ ry


class DenseWarp:
    """Precomputed warp for one framed portrait; :meth:`source_map` is the per-frame work."""

    def __init__(self, expr: ExpressionModel, pts: np.ndarray, frame_shape: tuple[int, int], factor: int = 2):
        h, w = frame_shape
        self.h, self.w, self.f = h, w, factor
        self.gh, self.gw = -(-h // factor), -(-w // factor)
        off = (factor - 1) / 2.0
        gx, gy = np.meshgrid(np.arange(self.gw) * factor + off, np.arange(self.gh) * factor + off)
        self.grid = np.stack([gx, gy], axis=-1).astype(np.float32)  # (gh, gw, 2) frame coords
        self.expr = expr
        self.iod = expr.frame.iod
        self.depth_gain = DEPTH_GAIN

        basis = expr.fields(self.grid.astype(np.float64))  # (K, gh, gw, 2)
        active = np.abs(basis).max(axis=(0, 3)) > 0.01
        ys, xs = np.nonzero(active)
        if len(ys):
            self.roi = (int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1)
        else:
            self.roi = (0, 1, 0, 1)
        y0, y1, x0, x1 = self.roi
        self.basis = np.ascontiguousarray(basis[:, y0:y1, x0:x1].reshape(len(basis), -1))  # (K, n*2)
        self.roi_shape = (y1 - y0, x1 - x0, 2)

        oval = pts[list(FACE_OVAL)]
        self.pivot = np.array([oval[:, 0].mean(), oval[:, 1].mean(), oval[:, 2].mean()])
        self.zmap = self._depth_map(pts)
        self.pose_w = self._pose_weight(oval)
        gy, gx = np.gradient(self.zmap / factor)
        head = self.pose_w > 0.5
        self.slope_x = max(float(np.percentile(np.abs(gx[head]), 99)), 0.1) if head.any() else 1.0
        self.slope_y = max(float(np.percentile(np.abs(gy[head]), 99)), 0.1) if head.any() else 1.0
        # Supports (grid boxes) of the expression fields and of the head motion: the warp runs only there.
        self.expr_roi = self._pad_box(self.roi)
        ys, xs = np.nonzero(self.pose_w > 0.0)
        pose_box = (int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1) if len(ys) else self.roi
        self.full_roi = self._pad_box(
            (min(pose_box[0], self.roi[0]), max(pose_box[1], self.roi[1]),
             min(pose_box[2], self.roi[2]), max(pose_box[3], self.roi[3]))
        )  # fmt: skip
        # Per-cell terms of the weighted pose displacement: (w (x - cx), w (y - cy), w (z - cz), w).
        y0, y1, x0, x1 = self.full_roi
        pw = self.pose_w[y0:y1, x0:x1]
        self._pose_terms = np.stack(
            [pw * (self.grid[y0:y1, x0:x1, 0] - self.pivot[0]), pw * (self.grid[y0:y1, x0:x1, 1] - self.pivot[1]),
             pw * (self.zmap[y0:y1, x0:x1] - self.pivot[2]), pw],
        ).astype(np.float32)  # fmt: skip
        self._map_off = (np.float32(off), np.float32(factor))
        self._init_mouth_sides(expr, pts)
        ident_x, ident_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        self.identity = np.stack([ident_x, ident_y], axis=-1)

    # ---------------------------------------------------------------- set-up
    def _init_mouth_sides(self, expr: ExpressionModel, pts: np.ndarray) -> None:
        """The mouth box, where the lip tear is inverted one side at a time (see :meth:`_invert_tear`)."""
        self.lower_grid = expr.lower_weight(*expr.frame.to_face(self.grid.astype(np.float64))).astype(np.float32)
        lips = pts[[61, 291, 0, 17, 13, 14], :2]
        margin_lo = np.array([0.5, 0.1]) * self.iod
        margin_hi = np.array([0.5, 0.75]) * self.iod
        lo = (lips.min(axis=0) - margin_lo - self._map_off[0]) / self.f
        hi = (lips.max(axis=0) + margin_hi - self._map_off[0]) / self.f
        my0, mx0 = max(int(lo[1]), 0), max(int(lo[0]), 0)
        my1, mx1 = min(int(hi[1]) + 1, self.gh), min(int(hi[0]) + 1, self.gw)
        self.mouth_box = (my0, my1, mx0, mx1)
        g = self.grid[my0:my1, mx0:mx1].astype(np.float64)
        n = g.shape[0] * g.shape[1]
        self.mouth_basis = np.ascontiguousarray(expr.fields(g, lower=np.ones(g.shape[:2])).reshape(-1, n * 2))
        pw = self.pose_w[my0:my1, mx0:mx1]
        self._mouth_pose_terms = np.stack(
            [pw * (g[..., 0] - self.pivot[0]), pw * (g[..., 1] - self.pivot[1]),
             pw * (self.zmap[my0:my1, mx0:mx1] - self.pivot[2]), pw],
        ).astype(np.float32)  # fmt: skip

    def _pad_box(self, box: tuple[int, int, int, int], pad: int = 2) -> tuple[int, int, int, int]:
        y0, y1, x0, x1 = box
        return max(y0 - pad, 0), min(y1 + pad, self.gh), max(x0 - pad, 0), min(x1 + pad, self.gw)

    def _depth_map(self, pts: np.ndarray) -> np.ndarray:
        # Grid cell (i, j) sits at frame (j * f + off, i * f + off), as self.grid says.
        off = (self.f - 1) / 2.0
        z = linear_on_grid((pts[:, :2] - off) / self.f, pts[:, 2], (self.gh, self.gw))
        hull_z = float(np.mean(pts[list(FACE_OVAL), 2]))
        z = np.where(np.isnan(z), hull_z, z)
        sigma = max(0.5, 0.05 * self.iod / self.f)
        return cv2.GaussianBlur(z.astype(np.float32), (0, 0), sigma)

    def _pose_weight(self, oval: np.ndarray) -> np.ndarray:
        """1 on the head (face and hair), fading to 0 over the neck, shoulders and background."""
        fr = self.expr.frame
        u, v = fr.to_face(oval[:, :2].astype(np.float64))
        cu, cv_ = (u.max() + u.min()) / 2.0, (v.max() + v.min()) / 2.0
        hu, hv = (u.max() - u.min()) / 2.0, (v.max() - v.min()) / 2.0
        gu, gv = fr.to_face(self.grid.astype(np.float64))
        rho = np.hypot((gu - cu) / (1.3 * hu), (gv - (cv_ - 0.12 * hv)) / (1.3 * hv))
        t = np.clip((rho - 1.0) / 0.7, 0.0, 1.0)
        return (1.0 - t * t * (3.0 - 2.0 * t)).astype(np.float32)

    # ---------------------------------------------------------------- per frame
    def pose_affine(self, motion: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(A 2x3, t 2) of the weak-perspective pose, or None when the pose is neutral."""
        yaw, pitch, roll, tx, ty, sc = (float(motion[MOTION_INDEX[n]]) for n in _POSE_DIMS)
        if yaw == 0.0 and pitch == 0.0 and roll == 0.0 and tx == 0.0 and ty == 0.0 and sc == 0.0:
            return None
        a = (1.0 + sc) * pose_matrix(yaw, pitch, roll)[:2]
        # Depth parallax, capped so the warp never folds: a fold (the nose sweeping over the far cheek) cannot be
        # inverted and would smear. Folding starts where gain * sin(angle) * depth slope exceeds cos(angle).
        gain = self.depth_gain
        for angle, slope in ((yaw, self.slope_x), (pitch, self.slope_y)):
            sa = abs(math.sin(math.radians(angle)))
            if sa > 1e-6:
                gain = min(gain, FOLD_MARGIN * math.cos(math.radians(angle)) / (sa * slope))
        a[:, 2] *= gain
        t = np.array([tx, ty]) * self.iod
        return a, t

    def pose_points(self, xy: np.ndarray, z: np.ndarray, pose: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
        """Apply the full (unweighted) head pose to points (N, 2) with depths z (N,)."""
        if pose is None:
            return xy
        a, t = pose
        rel = np.concatenate([xy - self.pivot[:2], (z - self.pivot[2])[:, None]], axis=1)
        return self.pivot[:2] + rel @ a.T + t

    def depth_at(self, xy: np.ndarray) -> np.ndarray:
        gx = np.clip((xy[:, 0] - self._map_off[0]) / self.f, 0, self.gw - 1).astype(np.float32)
        gy = np.clip((xy[:, 1] - self._map_off[0]) / self.f, 0, self.gh - 1).astype(np.float32)
        return cv2.remap(self.zmap, gx[None], gy[None], cv2.INTER_LINEAR)[0].astype(np.float64)

    def _support(self, pose: bool) -> tuple[int, int, int, int]:
        return self.full_roi if pose else self.expr_roi

    def forward_field(self, expr_values: np.ndarray, pose: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
        """Forward displacement D on the grid (gh, gw, 2) float32; zero outside the support of the motion."""
        d = np.zeros((self.gh, self.gw, 2), np.float32)
        nz = np.nonzero(expr_values)[0]
        e = None
        if len(nz):
            e = _weighted_sum(expr_values, nz, self.basis).reshape(self.roi_shape)
        if pose is not None:
            # The pose is affine in (q, z) with q = x + E(x), so its weighted displacement splits into a smooth
            # part, one small matmul over precomputed per-cell terms, plus (A - I) E inside the expression box.
            b, lin = _pose_coeffs(pose)
            y0, y1, x0, x1 = self.full_roi
            d[y0:y1, x0:x1] = _affine(self._pose_terms, b)
            if e is not None:
                y0, y1, x0, x1 = self.roi
                d[y0:y1, x0:x1] += e + self.pose_w[y0:y1, x0:x1, None] * _lin2(e, lin)
        elif e is not None:
            y0, y1, x0, x1 = self.roi
            d[y0:y1, x0:x1] = e
        return d

    def source_map(
        self, expr_values: np.ndarray, pose: tuple[np.ndarray, np.ndarray] | None
    ) -> tuple[np.ndarray, tuple[int, int]] | None:
        """Backward map for cv2.remap over the moving region: ``(map (h', w', 2) float32, (top, left))``.

        Outside that region the frame is the source unchanged; None when nothing moves at all.
        """
        if pose is None and not np.any(expr_values):
            return None
        d = self.forward_field(expr_values, pose)
        off, f = self._map_off
        y0, y1, x0, x1 = self._support(pose is not None)
        grid = self.grid[y0:y1, x0:x1]
        x = grid - d[y0:y1, x0:x1]
        for _ in range(FIXED_POINT_STEPS):
            gcoord = (x - off) / f
            dx = cv2.remap(d, gcoord, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            x = grid - dx
        if np.any(expr_values[TEAR_DIMS]):
            self._invert_tear(x, (y0, x0), expr_values, pose, d)
        top, left = y0 * self.f, x0 * self.f
        hh, ww = min((y1 - y0) * self.f, self.h - top), min((x1 - x0) * self.f, self.w - left)
        # Upsample the displacement, not the coordinates: resizing clamps at the box edge, which is harmless for a
        # displacement that is zero there but would shift coordinates by half a pixel.
        full = cv2.resize(x - grid, ((x1 - x0) * self.f, (y1 - y0) * self.f), interpolation=cv2.INTER_LINEAR)
        full = full[:hh, :ww]
        full += self.identity[top : top + hh, left : left + ww]
        return full, (top, left)

    def _invert_tear(
        self,
        x: np.ndarray,
        origin: tuple[int, int],
        expr_values: np.ndarray,
        pose: tuple[np.ndarray, np.ndarray] | None,
        d_mixed: np.ndarray,
    ) -> None:
        """Re-invert the mouth box, in place in ``x`` (the grid solution of the support, box at ``origin``).

        Around an opening mouth the plain fixed point fails twice: across the tear the field jumps by the whole
        opening, so output pixels near the lower lip oscillate between the lips (a lip that looks detached), and
        below the mouth corners the skin stretches by more than 2x, where ``x <- p - D(x)`` diverges. Here the
        lower side alone (a smooth field) and the true mixed field are inverted with Newton steps on the grid
        Jacobian; the lower-side solution is kept where it lands below the tear (lower weight ~1), the mixed one
        elsewhere. The upper lip moves little, so the plain iteration already holds there.
        """
        my0, my1, mx0, mx1 = self.mouth_box
        oy, ox = origin
        if my1 - my0 < 3 or mx1 - mx0 < 3:
            return
        nz = np.nonzero(expr_values)[0]
        shape = (my1 - my0, mx1 - mx0, 2)
        grid = self.grid[my0:my1, mx0:mx1]
        sub = x[my0 - oy : my1 - oy, mx0 - ox : mx1 - ox]
        off, f = self._map_off
        bo = np.array([mx0, my0], np.float32)
        d_box = np.ascontiguousarray(d_mixed[my0:my1, mx0:mx1])
        # Only cells where the plain iteration did not converge need the careful inversion.
        res = cv2.remap(d_box, (sub - off) / f - bo, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        res += sub - grid
        bad = np.einsum("ijk,ijk->ij", res, res) > RESIDUAL_PX**2
        n_bad = int(bad.sum())
        if n_bad == 0:
            return
        e = _weighted_sum(expr_values, nz, self.mouth_basis).reshape(shape)
        if pose is not None:
            b, lin = _pose_coeffs(pose)
            pw = self.pose_w[my0:my1, mx0:mx1, None]
            e = _affine(self._mouth_pose_terms, b) + e + pw * _lin2(e, lin)
        cols = 256
        rows = -(-n_bad // cols)

        def lay(a: np.ndarray) -> np.ndarray:  # (n_bad, 2) -> (rows, cols, 2): remap maps must stay narrow
            out = np.zeros((rows * cols, 2), np.float32)
            out[:n_bad] = a
            out[n_bad:] = a[-1]
            return out.reshape(rows, cols, 2)

        p = lay(grid[bad])
        x_lo, l_lo = self._newton(e, p, lay(grid[bad] - e[bad]), bo)
        x_mix, _ = self._newton(d_box, p, lay(sub[bad]), bo)
        keep_lo = l_lo > 0.98
        x_mix[keep_lo] = x_lo[keep_lo]
        sub[bad] = x_mix.reshape(-1, 2)[:n_bad]

    def _newton(self, d: np.ndarray, p: np.ndarray, x: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Solve x + d(x) = p by Newton steps, d given on a box of the grid (at ``box``); points are (rows, cols,
        2) frame coordinates. Returns (x, lower weight at x)."""
        off, f = self._map_off
        jac = _jacobian(d, float(f))
        for _ in range(NEWTON_STEPS):
            g = (x - off) / f - box
            dx = cv2.remap(d, g, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            j = cv2.remap(jac, g, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            r = x + dx - p
            a, b, c, e = 1.0 + j[..., 0], j[..., 1], j[..., 2], 1.0 + j[..., 3]
            det = a * e - b * c
            # Where the map folds or tears (det <= 0.05) take a damped fixed-point step instead.
            bad = det <= 0.05
            det[bad] = 1.0
            inv = 1.0 / det
            step = np.empty_like(r)
            step[..., 0] = (e * r[..., 0] - b * r[..., 1]) * inv
            step[..., 1] = (a * r[..., 1] - c * r[..., 0]) * inv
            step[bad] = 0.5 * r[bad]
            x = x - step
        lw = cv2.remap(self.lower_grid, (x - off) / f, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return x, lw


def _jacobian(d: np.ndarray, f: float) -> np.ndarray:
    """(h, w, 2) field on the grid -> (h, w, 4) dDx/dx, dDx/dy, dDy/dx, dDy/dy in frame units: central differences
    inside, one-sided on the edges (``np.gradient``'s rule, without its per-call overhead)."""
    d = np.ascontiguousarray(d, np.float32)
    gx = cv2.Sobel(d, cv2.CV_32F, 1, 0, ksize=1, scale=0.5 / f, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(d, cv2.CV_32F, 0, 1, ksize=1, scale=0.5 / f, borderType=cv2.BORDER_REPLICATE)
    if d.shape[1] > 1:  # replicated borders give half the one-sided difference there
        gx[:, 0] *= 2.0
        gx[:, -1] *= 2.0
    if d.shape[0] > 1:
        gy[0] *= 2.0
        gy[-1] *= 2.0
    return cv2.merge([gx[..., 0], gy[..., 0], gx[..., 1], gy[..., 1]])


def _pose_coeffs(pose: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(b 4x2, lin 2x2): pose displacement = [w(x-cx), w(y-cy), w(z-cz), w] @ b, and (A - I) for the E term."""
    a, t = pose
    b = np.empty((4, 2), np.float32)
    b[:3] = a.T
    b[0, 0] -= 1.0
    b[1, 1] -= 1.0
    b[3] = t
    return b, (a[:, :2] - np.eye(2)).astype(np.float32)


# Per-frame arithmetic avoids BLAS on purpose: OpenBLAS threads for these thin products cost more than they save on
# a small shared machine (measured: 2x slower frames under load), and elementwise numpy stays single-threaded.
def _weighted_sum(values: np.ndarray, nz: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """sum_k values[k] * rows[k] over the non-zero k, float32."""
    out = rows[nz[0]] * np.float32(values[nz[0]])
    for k in nz[1:]:
        out += rows[k] * np.float32(values[k])
    return out


def _affine(terms: np.ndarray, b: np.ndarray) -> np.ndarray:
    """terms (4, h, w) and b (4, 2) -> (h, w, 2) = sum_i terms[i] * b[i]."""
    out = np.empty((*terms.shape[1:], 2), np.float32)
    for c in range(2):
        acc = terms[0] * b[0, c]
        acc += terms[1] * b[1, c]
        acc += terms[2] * b[2, c]
        acc += terms[3] * b[3, c]
        out[..., c] = acc
    return out


def _lin2(e: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Apply the 2x2 matrix m to every vector of e (..., 2)."""
    out = np.empty_like(e)
    out[..., 0] = e[..., 0] * m[0, 0] + e[..., 1] * m[0, 1]
    out[..., 1] = e[..., 0] * m[1, 0] + e[..., 1] * m[1, 1]
    return out
