"""Closed-eyelid synthesis for blinks.

The warp closes an eye by sliding the upper lid down and compressing the eyeball into the closure line. That is
right for half blinks, but at full closure slivers of sclera, iris and the portrait's own lid creases survive the
compression (stylised eyes with thick lash lines are the worst). So a "lids closed" copy of the portrait is made
once, with the eye openings inpainted from the surrounding skin; over the second half of a blink the eye region is
cross-faded to that copy (sampled through the same warp) and a lash line is drawn along the closure line, in the
colour of the portrait's own lashes.
"""

from __future__ import annotations

import cv2
import numpy as np

from models.face._deform import EYES, ExpressionModel
from models.face._warp import DenseWarp

_SHIFT = 4


class EyeSynth:
    def __init__(self, expr: ExpressionModel, warp: DenseWarp, image: np.ndarray, pts: np.ndarray) -> None:
        self.warp = warp
        self.eyes = []
        for spec in EYES.values():
            up = pts[list(spec["upper"]), :2].astype(np.float64)
            lo = pts[list(spec["lower"]), :2].astype(np.float64)
            n = len(up)
            basis_up = expr.fields(up, dout=np.zeros(n)).reshape(-1, n * 2)
            basis_lo = expr.fields(lo, dout=np.zeros(n)).reshape(-1, n * 2)
            z_up = warp.depth_at(up)
            z_lo = warp.depth_at(lo)
            lash = self._lash_colour(image, up)
            self.eyes.append((spec["blink"], up, lo, basis_up, basis_lo, z_up, z_lo, lash))
        self.thickness = max(1.2, 0.018 * expr.frame.iod)
        self.closed = self._inpaint_openings(image, pts, expr.frame.iod)

    @staticmethod
    def _inpaint_openings(image: np.ndarray, pts: np.ndarray, iod: float) -> np.ndarray:
        h, w = image.shape[:2]
        mask = np.zeros((h, w), np.uint8)
        for spec in EYES.values():
            poly = np.concatenate([pts[list(spec["upper"]), :2], pts[list(spec["lower"])[::-1], :2]])
            cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 255)
        r = max(2, round(0.035 * iod))
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        ys, xs = np.nonzero(mask)
        closed = image.copy()
        if len(ys) == 0:
            return closed
        pad = 4 * r
        y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, h)
        x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, w)
        closed[y0:y1, x0:x1] = cv2.inpaint(image[y0:y1, x0:x1], mask[y0:y1, x0:x1], 2 * r, cv2.INPAINT_TELEA)
        return closed

    @staticmethod
    def _lash_colour(image: np.ndarray, up: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        xs = np.clip(np.round(up[2:-2, 0]).astype(int), 0, w - 1)
        ys = np.clip(np.round(up[2:-2, 1]).astype(int), 0, h - 1)
        samples = np.concatenate([image[np.clip(ys + d, 0, h - 1), xs] for d in (-1, 0, 1)]).astype(np.float64)
        lum = samples @ np.array([0.299, 0.587, 0.114])
        dark = samples[lum <= np.percentile(lum, 40)]
        return dark.mean(axis=0).astype(np.float32)

    def render(
        self,
        frame: np.ndarray,
        expr_values: np.ndarray,
        blink: dict[str, float],
        pose: tuple[np.ndarray, np.ndarray] | None,
        smap: np.ndarray,
        origin: tuple[int, int],
    ) -> None:
        """Close the eyes in ``frame`` (RGB uint8, in place); ``smap`` is the frame's warp map, placed at ``origin``."""
        nz = np.nonzero(expr_values)[0]
        v = expr_values[nz].astype(np.float64)
        for name, up, lo, b_up, b_lo, z_up, z_lo, lash in self.eyes:
            b = blink[name]
            opacity = float(np.clip((b - 0.5) / 0.45, 0.0, 1.0))
            if opacity <= 0.0:
                continue
            opacity = opacity * opacity * (3.0 - 2.0 * opacity)
            n = len(up)
            mu = up + (v @ b_up[nz]).reshape(n, 2) if len(nz) else up
            ml = lo + (v @ b_lo[nz]).reshape(n, 2) if len(nz) else lo
            mu = self.warp.pose_points(mu, z_up, pose)
            ml = self.warp.pose_points(ml, z_lo, pose)
            # The lash line follows the upper lid, settling midway onto the lower lid as the lids meet (no pop).
            meet = float(np.clip((b - 0.8) / 0.2, 0.0, 1.0))
            line = mu + (ml - mu) * 0.5 * meet * meet * (3.0 - 2.0 * meet)
            lid_top = self.warp.pose_points(up, z_up, pose)
            region = np.concatenate([lid_top, ml[::-1]])
            x0, y0 = np.floor(region.min(axis=0) - 6).astype(int)
            x1, y1 = np.ceil(region.max(axis=0) + 7).astype(int)
            top, left = origin
            x0, y0 = max(x0, left), max(y0, top)
            x1, y1 = min(x1, left + smap.shape[1]), min(y1, top + smap.shape[0])
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            # Cross-fade the eye region to the inpainted "lids closed" portrait, sampled through the same warp.
            lid = np.zeros((y1 - y0, x1 - x0), np.uint8)
            rp = np.round((region - [x0, y0]) * (1 << _SHIFT)).astype(np.int32)
            cv2.fillPoly(lid, [rp], 255, lineType=cv2.LINE_AA, shift=_SHIFT)
            lid = cv2.dilate(lid, np.ones((3, 3), np.uint8))
            lid_a = cv2.GaussianBlur(lid, (0, 0), 1.2).astype(np.float32)[..., None] * (opacity / 255.0)
            sub = np.ascontiguousarray(smap[y0 - top : y1 - top, x0 - left : x1 - left])
            skin = cv2.remap(self.closed, sub, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            roi = frame[y0:y1, x0:x1].astype(np.float32)
            frame[y0:y1, x0:x1] = np.clip(roi * (1.0 - lid_a) + skin * lid_a + 0.5, 0, 255).astype(np.uint8)
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            p = np.round((line - [x0, y0]) * (1 << _SHIFT)).astype(np.int32)
            thick = max(1, round(self.thickness))
            cv2.polylines(mask, [p], False, 255, thickness=thick, lineType=cv2.LINE_AA, shift=_SHIFT)
            mask = cv2.GaussianBlur(mask, (0, 0), 0.6)
            # Lash lines taper towards the eye corners.
            a = (mask.astype(np.float32) / 255.0) * opacity
            xs = np.arange(x0, x1, dtype=np.float32)
            lx0, lx1 = float(line[:, 0].min()), float(line[:, 0].max())
            taper = np.clip(np.minimum(xs - lx0, lx1 - xs) / max(0.15 * (lx1 - lx0), 1.0), 0.25, 1.0)
            a = a * taper[None, :]
            roi = frame[y0:y1, x0:x1].astype(np.float32)
            out = roi * (1.0 - a[..., None]) + lash[None, None, :] * a[..., None]
            frame[y0:y1, x0:x1] = np.clip(out + 0.5, 0, 255).astype(np.uint8)
