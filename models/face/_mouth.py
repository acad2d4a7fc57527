"""Mouth interior synthesis: fills the tear the warp opens between the lips.

The tear runs along the mid-curve between the inner lips (see ``_deform``). Its two edges are that curve moved with
the upper and with the lower part of the mouth, so the interior drawn here lines up with the warped lips exactly.
The interior is a dark cavity shaded darker towards the corners and under the upper lip, a tongue hint low in the
cavity when the mouth is wide open, and - for portraits whose mouth is closed - synthesised upper (and, when wide
open, lower) teeth. Portraits that already show teeth keep their own: the tear splits them between the jaws.
Colours come from the portrait (lip colour, face brightness, saturation), so a greyscale or dim portrait gets a
greyscale or dim mouth. Edges are anti-aliased (sub-pixel polygon fill with ``LINE_AA``).
"""

from __future__ import annotations

import cv2
import numpy as np

from models.face._deform import INNER_LOWER, INNER_UPPER, OUTER_LOWER, OUTER_UPPER, ExpressionModel
from models.face._warp import DenseWarp

_SHIFT = 4  # sub-pixel bits for cv2 polygon fill
_DENSIFY = 3  # extra points between consecutive mid-curve points
# Portraits whose inner-lip gap exceeds this (IOD) already show their teeth.
OPEN_SOURCE_GAP = 0.04
# Tooth boundaries across the mouth (0 = centre, 1 = inner lip corner).
_SEAMS = np.array([0.0, 0.19, 0.34, 0.47, 0.58, 0.68, 0.77])


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


def interior_colours(image: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cavity, tongue, teeth) RGB float32 colours for a synthesised mouth interior, from the person's own lips
    (median colour inside the lip ring) and face (brightness, saturation)."""
    h, w = image.shape[:2]
    outer = np.concatenate([pts[list(OUTER_UPPER), :2], pts[list(OUTER_LOWER)[::-1], :2]])
    inner = np.concatenate([pts[list(INNER_UPPER), :2], pts[list(INNER_LOWER)[::-1], :2]])
    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [np.round(outer).astype(np.int32)], 1)
    cv2.fillPoly(m, [np.round(inner).astype(np.int32)], 0)
    img = image.astype(np.float64)
    lips = img[m > 0] if m.sum() > 4 else img.reshape(-1, 3)
    lip_rgb = np.median(lips, axis=0)
    x0, y0 = np.maximum(pts[:, :2].min(axis=0).astype(int), 0)
    x1, y1 = pts[:, :2].max(axis=0).astype(int)
    face = img[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)].reshape(-1, 3)
    bright = float(np.percentile(_luma(face), 90))
    chroma = (face.max(axis=1) - face.min(axis=1)) / np.maximum(face.max(axis=1), 1.0)
    sat = float(np.clip(np.median(chroma) / 0.18, 0.0, 1.0))
    cav = lip_rgb * 0.22 + np.array([6.0, 2.0, 2.0])
    tongue = lip_rgb * 0.7
    teeth = np.array([236.0, 230.0, 214.0]) * float(np.clip(bright / 205.0, 0.45, 1.02))

    def desat(c: np.ndarray) -> np.ndarray:
        y = _luma(c)
        return np.clip(y + (c - y) * sat, 0, 255).astype(np.float32)

    return desat(cav), desat(tongue), desat(teeth)


class MouthSynth:
    def __init__(self, expr: ExpressionModel, warp: DenseWarp, image: np.ndarray, pts: np.ndarray) -> None:
        self.warp = warp
        self.iod = expr.frame.iod
        up = pts[list(INNER_UPPER), :2]
        lo = pts[list(INNER_LOWER), :2]
        mid = (up + lo) / 2.0
        t = np.linspace(0.0, 1.0, _DENSIFY + 2)[:-1]
        dense = [mid[i] * (1 - s) + mid[i + 1] * s for i in range(len(mid) - 1) for s in t] + [mid[-1]]
        self.mid = np.array(dense)
        n = len(self.mid)
        self.basis_up = expr.fields(self.mid, lower=np.zeros(n), dout=np.zeros(n)).reshape(-1, n * 2)
        self.basis_lo = expr.fields(self.mid, lower=np.ones(n), dout=np.zeros(n)).reshape(-1, n * 2)
        self.mid_z = warp.depth_at(self.mid)
        self.synth_teeth = expr.gap0 < OPEN_SOURCE_GAP
        self._colours(image, pts)

    def _colours(self, image: np.ndarray, pts: np.ndarray) -> None:
        self.cav, self.tongue, self.teeth = interior_colours(image, pts)

    def edges(
        self, expr_values: np.ndarray, pose: tuple[np.ndarray, np.ndarray] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The tear's upper and lower edges (N, 2) in output pixels for this frame."""
        n = len(self.mid)
        nz = np.nonzero(expr_values)[0]
        up, lo = self.mid.copy(), self.mid.copy()
        if len(nz):
            v = expr_values[nz].astype(np.float64)
            up += (v @ self.basis_up[nz]).reshape(n, 2)
            lo += (v @ self.basis_lo[nz]).reshape(n, 2)
        return self.warp.pose_points(up, self.mid_z, pose), self.warp.pose_points(lo, self.mid_z, pose)

    def render(self, frame: np.ndarray, expr_values: np.ndarray, pose: tuple[np.ndarray, np.ndarray] | None) -> None:
        """Draw the interior into ``frame`` (RGB uint8, modified in place)."""
        up, lo = self.edges(expr_values, pose)
        # The warp is inverted on a coarse grid (warp.f pixels a cell), so the lip edges next to the tear are smeared
        # over about one grid cell; the cavity reaches that far under the lower lip (which moves most) to hide it.
        down = self._down(pose)[0]
        down = down / max(float(np.hypot(*down)), 1e-6)
        gaps = np.hypot(*(lo - up).T)
        grow = np.clip(gaps / 3.0, 0.0, 1.0)[:, None]
        up = up - 0.5 * grow * down
        lo = lo + 0.25 * float(self.warp.f) * grow * down
        gaps = np.hypot(*(lo - up).T) * np.sign(np.einsum("ij,ij->i", lo - up, self._down(pose)))
        gap = float(gaps.max())
        if gap < 0.35:
            return
        h, w = frame.shape[:2]
        poly = np.concatenate([up, lo[::-1]])
        x0, y0 = np.floor(poly.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + 3
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        rh, rw = y1 - y0, x1 - x0
        mask = np.zeros((rh, rw), np.uint8)
        p = np.round((poly - [x0, y0]) * (1 << _SHIFT)).astype(np.int32)
        cv2.fillPoly(mask, [p], 255, lineType=cv2.LINE_AA, shift=_SHIFT)
        alpha = mask.astype(np.float32) / 255.0
        if not alpha.any():
            return

        # Per-pixel mouth coordinates: c across (-1..1), depth below the upper edge in pixels, local gap.
        xs = np.arange(x0, x1, dtype=np.float64)
        ou, ol = np.argsort(up[:, 0]), np.argsort(lo[:, 0])
        y_up = np.interp(xs, up[ou, 0], up[ou, 1])
        y_lo = np.interp(xs, lo[ol, 0], lo[ol, 1])
        g = np.maximum(y_lo - y_up, 0.0)
        xl, xr = poly[:, 0].min(), poly[:, 0].max()
        c = np.clip((xs - (xl + xr) / 2.0) / max((xr - xl) / 2.0, 1.0), -1.0, 1.0)
        ys = np.arange(y0, y1, dtype=np.float64)[:, None]
        below_up = ys - y_up[None, :]
        above_lo = y_lo[None, :] - ys
        cc = np.abs(c)[None, :]

        shade = (1.0 - 0.45 * cc**2) * (0.55 + 0.45 * np.clip(below_up / 3.0, 0.0, 1.0))
        col = self.cav[None, None, :] * shade[..., None]
        gap_iod = gap / self.iod
        tongue_vis = float(np.clip((gap_iod - 0.1) / 0.12, 0.0, 1.0))
        if tongue_vis > 0:
            # A dome resting on the lower teeth: tallest in the middle, its top edge soft, lit from the front.
            ht = 0.34 * g[None, :] * np.clip(1.0 - (cc / 0.85) ** 2, 0.0, 1.0)
            soft = np.maximum(0.3 * ht, 2.0)
            tm = (np.clip((ht - above_lo) / soft, 0.0, 1.0) * tongue_vis)[..., None]
            depth = np.clip(above_lo / np.maximum(ht, 1.0), 0.0, 1.0)[..., None]
            tcol = self.tongue[None, None, :] * (0.6 + 0.3 * depth) * (1.0 - 0.3 * cc[..., None] ** 2)
            col = col * (1.0 - tm) + tcol * tm
        if self.synth_teeth:
            # Tooth seams: incisors widest, teeth narrowing towards the corners (seen in perspective); each tooth's
            # biting edge is rounded at its corners, so the band is scalloped, not ruled.
            seam_d = np.min(np.abs(np.abs(c)[:, None] - _SEAMS[None, :]), axis=1) * (xr - xl) / 2.0
            seam = np.exp(-((seam_d / 1.6) ** 2))[None, :]
            seams = 1.0 - 0.12 * np.exp(-((seam_d / 0.8) ** 2))[None, :]
            th = np.minimum(0.36 * g, 0.068 * self.iod)[None, :] * (1.0 - 0.22 * cc) * (1.0 - 0.16 * seam)
            m_t = np.clip(th - below_up + 0.5, 0.0, 1.0) * np.clip((0.86 - cc) / 0.2, 0.0, 1.0)
            lip_shadow = 0.68 + 0.32 * np.clip(below_up / np.maximum(0.45 * th, 1.0), 0.0, 1.0)
            edge = 1.0 - 0.1 * np.clip((below_up - 0.7 * th) / np.maximum(0.3 * th, 1.0), 0.0, 1.0)
            tshade = (1.0 - 0.5 * cc**2) * seams * lip_shadow * edge
            tcol = self.teeth[None, None, :] * tshade[..., None]
            col = col * (1.0 - m_t[..., None]) + tcol * m_t[..., None]
            # Lower incisors: only the middle ones peek over the lower lip, a little less lit than the upper row.
            low_vis = float(np.clip((gap_iod - 0.2) / 0.12, 0.0, 1.0))
            if low_vis > 0:
                lth = np.minimum(0.12 * g, 0.032 * self.iod)[None, :] * (1.0 - 0.2 * seam)
                m_l = np.clip(lth - above_lo + 0.5, 0.0, 1.0) * np.clip((0.5 - cc) / 0.15, 0.0, 1.0) * low_vis
                lshade = (
                    0.86 * (1.0 - 0.5 * cc**2) * seams * (0.8 + 0.2 * np.clip(above_lo / np.maximum(lth, 1.0), 0, 1))
                )
                lcol = self.teeth[None, None, :] * lshade[..., None]
                col = col * (1.0 - m_l[..., None]) + lcol * m_l[..., None]
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        # A parting that is still a hairline fades in with its width instead of popping in as a dark line.
        a = (alpha * np.clip((g - 0.3) / 2.0, 0.0, 1.0)[None, :])[..., None]
        frame[y0:y1, x0:x1] = np.clip(roi * (1.0 - a) + col * a + 0.5, 0, 255).astype(np.uint8)

    def _down(self, pose: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
        ey = self.warp.expr.frame.ey
        if pose is None:
            return ey[None, :]
        a = pose[0][:, :2]
        return (a @ ey)[None, :]
