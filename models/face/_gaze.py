"""Gaze: the iris is moved as a rigid disc inside the eye opening instead of being warped.

Warping the eyeball to move the iris squashes the iris and folds the sclera into white smears once the shift nears
the iris radius. Instead, once per portrait, each iris disc (the part visible between the lids) is cut out as an
RGBA patch, and a copy of the portrait is made with the irises inpainted from the surrounding sclera. Per frame,
the eye region is sampled from that iris-free copy through the frame's warp, the iris patch is pasted at its new
position (``gaze_x`` in eye half-widths along the eye axis, ``gaze_y`` in half the opening height), and the result
is clipped to the current eye opening (which blinks and head pose move), with anti-aliased edges.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from models.face._deform import EXPRESSION_DIMS, EYES, ExpressionModel
from models.face._warp import DenseWarp

_SHIFT = 4
_NO_GAZE = np.array([k for k, n in enumerate(EXPRESSION_DIMS) if n not in ("gaze_x", "gaze_y")])
GAZE_DIMS = np.array([EXPRESSION_DIMS.index("gaze_x"), EXPRESSION_DIMS.index("gaze_y")])
_MID_LIDS = {"right": (159, 145), "left": (386, 374)}


class GazeSynth:
    def __init__(self, expr: ExpressionModel, warp: DenseWarp, image: np.ndarray, pts: np.ndarray) -> None:
        self.warp = warp
        self.frame = expr.frame
        h, w = image.shape[:2]
        self.eyes: list[dict[str, Any]] = []
        inpaint_mask = np.zeros((h, w), np.uint8)
        for name, spec in EYES.items():
            up = pts[list(spec["upper"]), :2].astype(np.float64)
            lo = pts[list(spec["lower"]), :2].astype(np.float64)
            c = pts[spec["iris"], :2].astype(np.float64)
            r = float(np.mean(np.linalg.norm(pts[list(spec["ring"]), :2] - c, axis=1)))
            if r < 1.5:
                continue
            opening = np.zeros((h, w), np.uint8)
            poly = np.concatenate([up, lo[::-1]])
            cv2.fillPoly(opening, [np.round(poly * (1 << _SHIFT)).astype(np.int32)], 255, cv2.LINE_AA, _SHIFT)
            disc = np.zeros((h, w), np.uint8)
            cc = np.round(c * (1 << _SHIFT)).astype(int)
            cv2.circle(disc, (int(cc[0]), int(cc[1])), round(1.04 * r * (1 << _SHIFT)), 255, -1, cv2.LINE_AA, _SHIFT)
            iris_a = (disc.astype(np.float32) / 255.0) * (opening.astype(np.float32) / 255.0)
            rr = int(np.ceil(1.3 * r)) + 2
            x0, y0 = round(float(c[0])) - rr, round(float(c[1])) - rr
            if x0 < 0 or y0 < 0 or x0 + 2 * rr + 1 > w or y0 + 2 * rr + 1 > h:
                continue
            patch = np.dstack([image[y0 : y0 + 2 * rr + 1, x0 : x0 + 2 * rr + 1].astype(np.float32),
                               iris_a[y0 : y0 + 2 * rr + 1, x0 : x0 + 2 * rr + 1] * 255.0])  # fmt: skip
            inpaint_mask |= cv2.dilate((iris_a > 0.05).astype(np.uint8) * 255, np.ones((3, 3), np.uint8))
            n = len(up)
            lids = np.concatenate([up, lo])
            basis = expr.fields(lids, dout=np.zeros(2 * n)).reshape(-1, 4 * n)
            basis_c = expr.fields(c[None], dout=np.zeros(1)).reshape(-1, 2)
            a, b = _MID_LIDS[name]
            height = float(np.linalg.norm(pts[b, :2] - pts[a, :2]))
            half_w = float(np.linalg.norm(up[-1] - up[0])) / 2.0
            z = warp.depth_at(np.concatenate([lids, c[None]]))
            self.eyes.append(
                {"lids": lids, "n": n, "basis": basis, "c": c, "basis_c": basis_c, "patch": patch,
                 "pc": c - np.array([x0, y0], np.float64),
                 "half_w": half_w, "height": height, "z": z}
            )  # fmt: skip
        self.no_iris = image.copy()
        ys, xs = np.nonzero(inpaint_mask)
        if len(ys):
            y0, y1 = max(ys.min() - 8, 0), min(ys.max() + 9, h)
            x0, x1 = max(xs.min() - 8, 0), min(xs.max() + 9, w)
            self.no_iris[y0:y1, x0:x1] = cv2.inpaint(image[y0:y1, x0:x1], inpaint_mask[y0:y1, x0:x1], 3,
                                                     cv2.INPAINT_TELEA)  # fmt: skip

    def render(
        self,
        frame: np.ndarray,
        expr_values: np.ndarray,
        gaze: tuple[float, float],
        pose: tuple[np.ndarray, np.ndarray] | None,
        smap: np.ndarray | None,
        origin: tuple[int, int],
    ) -> None:
        """Redraw both eyes of ``frame`` (in place) with the irises moved by ``gaze`` (gaze_x, gaze_y)."""
        h, w = frame.shape[:2]
        v = expr_values.astype(np.float64).copy()
        v[GAZE_DIMS] = 0.0
        nz = np.nonzero(v)[0]
        lin = np.eye(2) if pose is None else pose[0][:, :2]
        ex, ey = lin @ self.frame.ex, lin @ self.frame.ey
        for eye in self.eyes:
            n = eye["n"]
            lids = eye["lids"] + ((v[nz] @ eye["basis"][nz]).reshape(2 * n, 2) if len(nz) else 0.0)
            c = eye["c"] + ((v[nz] @ eye["basis_c"][nz]) if len(nz) else 0.0)
            moved = self.warp.pose_points(np.concatenate([lids, c[None]]), eye["z"], pose)
            lids, c = moved[:-1], moved[-1]
            c = c + gaze[0] * eye["half_w"] * ex + gaze[1] * 0.5 * eye["height"] * ey
            poly = np.concatenate([lids[:n], lids[n:][::-1]])
            x0, y0 = np.floor(poly.min(axis=0)).astype(int) - 3
            x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + 4
            top, left = origin
            if smap is not None:
                x0, y0 = max(x0, left), max(y0, top)
                x1, y1 = min(x1, left + smap.shape[1]), min(y1, top + smap.shape[0])
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
            if x1 - x0 < 3 or y1 - y0 < 3:
                continue
            if smap is None:
                base = self.no_iris[y0:y1, x0:x1].astype(np.float32)
            else:
                sub = np.ascontiguousarray(smap[y0 - top : y1 - top, x0 - left : x1 - left])
                base = cv2.remap(self.no_iris, sub, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                base = base.astype(np.float32)
            # The iris patch, translated (and scaled with the head) to its new centre, in ROI coordinates.
            s = float(np.sqrt(abs(np.linalg.det(lin))))
            pc = eye["pc"]  # the iris centre inside its patch
            m = np.array([[s, 0.0, c[0] - x0 - s * pc[0]], [0.0, s, c[1] - y0 - s * pc[1]]], np.float32)
            iris = cv2.warpAffine(eye["patch"], m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # fmt: skip
            a_iris = iris[..., 3:4] / 255.0
            eyeball = base * (1.0 - a_iris) + iris[..., :3] * a_iris
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            p = np.round((poly - [x0, y0]) * (1 << _SHIFT)).astype(np.int32)
            cv2.fillPoly(mask, [p], 255, cv2.LINE_AA, _SHIFT)
            a_open = cv2.GaussianBlur(mask, (0, 0), 0.7).astype(np.float32)[..., None] / 255.0
            roi = frame[y0:y1, x0:x1].astype(np.float32)
            frame[y0:y1, x0:x1] = np.clip(roi * (1.0 - a_open) + eyeball * a_open + 0.5, 0, 255).astype(np.uint8)
