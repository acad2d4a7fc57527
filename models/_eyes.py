"""Closed-eyelid synthesis for blinks.

The warp closes an eye by sliding the upper lid down and compressing the eyeball into the closure line; at
full
closure that line would still show a sliver of sclera. This module draws the lash line along the moved upper
lid
margin (colour taken from the portrait's own lash line), fading in over the second half of the blink, so a
closed
eye reads as a closed eye and a half blink is left to the warp.
"""

from __future__ import annotations

import cv2
import numpy as np

from models._deform import EYES, ExpressionModel
from models._warp import DenseWarp

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
        self._blink_k = {name: i for i, name in enumerate(("blink_left", "blink_right"))}

    @staticmethod
    def _lash_colour(image: np.ndarray, up: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        xs = np.clip(np.round(up[2:-2, 0]).astype(int), 0, w - 1)
        ys = np.clip(np.round(up[2:-2, 1]).astype(int), 0, h - 1)
        samples = np.concatenate([image[np.clip(ys + d, 0, h - 1), xs] for d in (-1, 0, 1)]).astype(
            np.float64
        )
        lum = samples @ np.array([0.299, 0.587, 0.114])
        dark = samples[lum <= np.percentile(lum, 40)]
        return dark.mean(axis=0).astype(np.float32)

    def render(
        self,
        frame: np.ndarray,
        expr_values: np.ndarray,
        blink: dict[str, float],
        pose: tuple[np.ndarray, np.ndarray] | None,
    ) -> None:
        """Draw lash lines for closing eyes into ``frame`` (RGB uint8, in place)."""
        h, w = frame.shape[:2]
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
            line = (mu + ml) / 2.0 if b > 0.9 else mu
            x0, y0 = np.floor(line.min(axis=0) - 4).astype(int)
            x1, y1 = np.ceil(line.max(axis=0) + 5).astype(int)
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
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
