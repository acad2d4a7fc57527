"""Expression deformation: motion dims -> displacement fields, defined analytically around the portrait's landmarks.

Every expression dim moves the face *linearly* in its value, so each one is a fixed displacement field (per unit of
the dim) that can be evaluated at any point: on a dense grid once at start-up (the renderer then only sums a few
precomputed fields per frame) and at landmarks or contour points (for drawing the mouth interior in exactly the
place the warp opened it).

Fields live in a face frame: ``u`` along the eye axis (33 -> 263), ``v`` perpendicular to it, pointing to the chin,
both in IOD units, origin at the inner-lip midpoint. The mouth is split into an upper and a lower part along the
*mid-curve* between the inner lips: dims that move the two parts differently (jaw, lip raise/depress, pucker) tear
the image there, and the renderer fills the tear with a synthesised mouth interior. Beyond the inner lip corners the
split widens into a smooth blend, so cheeks stretch instead of tearing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from models.schema import MOTION_INDEX

# --- mediapipe FaceMesh landmark indices (canonical face model topology) ---
INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
# Subject's right eye is on the image left (33 outer, 133 inner); its iris is 468-472.
EYES: dict[str, dict[str, Any]] = {
    "right": {
        "upper": (33, 246, 161, 160, 159, 158, 157, 173, 133),
        "lower": (33, 7, 163, 144, 145, 153, 154, 155, 133),
        "iris": 468,
        "ring": (469, 470, 471, 472),
        "blink": "blink_right",
    },
    "left": {
        "upper": (263, 466, 388, 387, 386, 385, 384, 398, 362),
        "lower": (263, 249, 390, 373, 374, 380, 381, 382, 362),
        "iris": 473,
        "ring": (474, 475, 476, 477),
        "blink": "blink_left",
    },
}
BROW_PAIRS = (
    (70, 46), (63, 53), (105, 52), (66, 65), (107, 55),
    (336, 285), (296, 295), (334, 282), (293, 283), (300, 276),
)  # fmt: skip
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
UPPER_LIP_SET = frozenset(INNER_UPPER[1:-1]) | frozenset(OUTER_UPPER[1:-1])
LOWER_LIP_SET = frozenset(INNER_LOWER[1:-1]) | frozenset(OUTER_LOWER[1:-1])

EXPRESSION_DIMS = (
    "jaw_open", "lip_stretch", "lip_pucker", "upper_lip_raise", "lower_lip_depress", "smile",
    "blink_left", "blink_right", "gaze_x", "gaze_y", "brow_raise", "brow_furrow",
)  # fmt: skip
EXPRESSION_INDEX = np.array([MOTION_INDEX[n] for n in EXPRESSION_DIMS])

# Share of the jaw opening taken by the lower lip (the rest lifts the upper lip); chin follows the lower lip.
JAW_LOWER_SHARE = 0.88
# How far the mouth corners drop per unit of jaw opening (they sit between the two lips).
JAW_CORNER_DROP = 0.3
# Blink: the lids meet this far down the opening (upper lid travels most, as in real blinks).
BLINK_MEET = 0.85


def _smoothstep(e0: float | np.ndarray, e1: float | np.ndarray, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _gauss(x: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-((x / sigma) ** 2))


@dataclass
class FaceFrame:
    """The face coordinate frame of one portrait, in frame pixels."""

    origin: np.ndarray  # (2,) inner-lip midpoint
    ex: np.ndarray  # (2,) unit, eye axis
    ey: np.ndarray  # (2,) unit, towards the chin
    iod: float  # pixels

    @classmethod
    def from_points(cls, pts: np.ndarray) -> FaceFrame:
        d = pts[263, :2] - pts[33, :2]
        iod = float(np.linalg.norm(d))
        ex = d / iod
        ey = np.array([-ex[1], ex[0]])
        origin = (pts[13, :2] + pts[14, :2]) / 2.0
        return cls(origin=origin, ex=ex, ey=ey, iod=iod)

    def to_face(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = (xy - self.origin) / self.iod
        return d @ self.ex, d @ self.ey

    def to_image(self, du: np.ndarray, dv: np.ndarray) -> np.ndarray:
        """Face-frame displacement (IOD units) -> image displacement (pixels), shape (..., 2)."""
        return (du[..., None] * self.ex + dv[..., None] * self.ey) * self.iod


class ExpressionModel:
    """Per-unit displacement fields of the expression dims for one portrait (frame-pixel landmarks ``pts``)."""

    def __init__(self, pts: np.ndarray, frame_shape: tuple[int, int]) -> None:
        self.pts = np.asarray(pts, dtype=np.float64)
        self.frame = FaceFrame.from_points(self.pts)
        u, v = self.frame.to_face(self.pts[:, :2])
        self.u, self.v = u, v
        self.frame_shape = frame_shape
        # Mouth mid-curve between the inner lips, extended to the outer corners.
        up, lo = np.array(INNER_UPPER), np.array(INNER_LOWER)
        mid_u = (u[up] + u[lo]) / 2.0
        mid_v = (v[up] + v[lo]) / 2.0
        mu = np.concatenate([[u[61]], mid_u, [u[291]]])
        mv = np.concatenate([[v[61]], mid_v, [v[291]]])
        order = np.argsort(mu)
        self.mid_u, self.mid_v = mu[order], mv[order]
        self.mouth_c = float((u[78] + u[308]) / 2.0)
        self.mouth_hw = max(float(abs(u[308] - u[78]) / 2.0), 0.05)
        self.corners = np.array([[u[61], v[61]], [u[291], v[291]]])
        self.gap0 = float(np.linalg.norm(self.pts[13, :2] - self.pts[14, :2]) / self.frame.iod)
        self._eyes = {name: self._eye_geometry(spec) for name, spec in EYES.items()}
        bu = np.array([(u[a] + u[b]) / 2.0 for a, b in BROW_PAIRS])
        bv = np.array([(v[a] + v[b]) / 2.0 for a, b in BROW_PAIRS])
        o = np.argsort(bu)
        self.brow_u, self.brow_v = bu[o], bv[o]
        lid_idx = list(EYES["right"]["upper"]) + list(EYES["left"]["upper"])
        lu, lv = u[lid_idx], v[lid_idx]
        o = np.argsort(lu)
        self.lid_u, self.lid_v = lu[o], lv[o]
        self.face_cu = float((u[33] + u[263]) / 2.0)
        self.chin_v = float(v[152])
        self._oval_dist = self._outside_distance_map()

    # ---------------------------------------------------------------- geometry helpers
    def _eye_geometry(self, spec: dict) -> dict:
        u, v = self.u, self.v
        up, lo = np.array(spec["upper"]), np.array(spec["lower"])
        c_u = float((u[up[0]] + u[up[-1]]) / 2.0)
        hw = max(float(abs(u[up[-1]] - u[up[0]]) / 2.0), 1e-3)
        ue_up, ue_lo = (u[up] - c_u) / hw, (u[lo] - c_u) / hw
        ou, ol = np.argsort(ue_up), np.argsort(ue_lo)
        iris = spec["iris"]
        ring = np.array(spec["ring"])
        r = float(np.mean(np.hypot(u[ring] - u[iris], v[ring] - v[iris])))
        return {
            "c_u": c_u, "hw": hw, "up_u": ue_up[ou], "up_v": v[up][ou], "lo_u": ue_lo[ol], "lo_v": v[lo][ol],
            "iris": (float(u[iris]), float(v[iris])), "iris_r": max(r, 0.02), "blink": spec["blink"],
        }  # fmt: skip

    def _outside_distance_map(self) -> np.ndarray:
        """Distance (IOD units) outside the face oval, on the pixel grid of the frame."""
        h, w = self.frame_shape
        mask = np.full((h, w), 255, np.uint8)
        poly = np.round(self.pts[list(FACE_OVAL), :2] * 4).astype(np.int32)
        cv2.fillPoly(mask, [poly], 0, lineType=cv2.LINE_8, shift=2)
        dist = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
        return dist / self.frame.iod

    def outside_distance(self, xy: np.ndarray) -> np.ndarray:
        h, w = self.frame_shape
        xi = np.clip(np.round(xy[..., 0]).astype(int), 0, w - 1)
        yi = np.clip(np.round(xy[..., 1]).astype(int), 0, h - 1)
        return self._oval_dist[yi, xi]

    def lower_weight(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """0 above the mouth mid-curve, 1 below; a hard split between the inner lip corners, smooth beyond."""
        s = v - np.interp(u, self.mid_u, self.mid_v)
        a = np.abs(u - self.mouth_c) / self.mouth_hw
        sw = 1e-4 + 0.45 * np.maximum(a - 1.0, 0.0) * self.mouth_hw
        return _smoothstep(-sw, sw, s)

    # ---------------------------------------------------------------- fields
    def fields(self, xy: np.ndarray, lower: np.ndarray | None = None, dout: np.ndarray | None = None) -> np.ndarray:
        """Per-unit displacement (pixels) of every expression dim at points ``xy`` (..., 2): (K, ..., 2) float32.

        ``lower`` overrides the upper/lower mouth split (0/1) for points on the tear itself; ``dout`` overrides the
        distance outside the face oval.
        """
        u, v = self.frame.to_face(np.asarray(xy, dtype=np.float64))
        L = self.lower_weight(u, v) if lower is None else np.broadcast_to(lower, u.shape).astype(np.float64)
        dout = self.outside_distance(xy) if dout is None else dout
        zero = np.zeros_like(u)
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        s = v - np.interp(u, self.mid_u, self.mid_v)
        du_c = u - self.mouth_c
        a = np.abs(du_c) / self.mouth_hw
        # Outside the oval, fields fade: slowly below the chin (the neck follows the jaw), fast elsewhere.
        below = _smoothstep(self.chin_v - 0.35, self.chin_v + 0.05, v)
        lateral = _gauss(np.maximum(np.abs(u - self.mouth_c) - 0.4, 0.0), 0.2)
        f_out = below * _gauss(dout, 0.35) * lateral + (1.0 - below) * _gauss(dout, 0.2)

        # Opening profile along the mouth: 1 at the centre, 0 at (and beyond) the inner lip corners, so the tear
        # closes at the corners and the cheeks stretch instead of tearing.
        k = np.clip(1.0 - a * a, 0.0, 1.0) ** 0.6
        cheek = _gauss(np.maximum(a - 1.0, 0.0) * self.mouth_hw, 0.25)
        g_lip = _gauss(np.maximum(a - 1.0, 0.0) * self.mouth_hw, 0.15) * _gauss(s, 0.22)

        # jaw_open, per unit of inner-lip gap (IOD). On the mid-curve the lower side moves JAW_LOWER_SHARE * k + c,
        # the upper side -(1 - JAW_LOWER_SHARE) * k + c (c: the corners' own drop), so the gap opens by exactly k.
        # Below the line the lower face blends into the rigid jaw drop; above it the motion decays towards the nose.
        c0 = JAW_CORNER_DROP * (1.0 - k) * cheek
        f_lat = 1.0 - 0.7 * _smoothstep(0.45, 1.1, np.abs(du_c))
        chin = JAW_LOWER_SHARE * f_lat * f_out
        line_lo = JAW_LOWER_SHARE * k + c0
        r_lo = _smoothstep(0.0, 0.3, np.maximum(s, 0.0))
        dv_lo = line_lo + (chin - line_lo) * r_lo
        dv_up = (-(1.0 - JAW_LOWER_SHARE) * k + c0) * _gauss(np.maximum(-s, 0.0), 0.25)
        jaw_dv = L * dv_lo + (1.0 - L) * dv_up
        jaw_du = -0.1 * du_c * g_lip
        out["jaw_open"] = (jaw_du, jaw_dv)

        out["lip_stretch"] = (du_c * g_lip, zero)
        tight = _gauss(s, 0.1)
        out["lip_pucker"] = (-0.35 * du_c * g_lip, 0.045 * (2.0 * L - 1.0) * k * g_lip * tight)
        out["upper_lip_raise"] = (zero, -0.07 * (1.0 - L) * _gauss(np.maximum(-s, 0.0), 0.12) * k)
        out["lower_lip_depress"] = (zero, 0.07 * L * _gauss(np.maximum(s, 0.0), 0.14) * k)
        d_c = np.min(np.hypot(u[..., None] - self.corners[:, 0], v[..., None] - self.corners[:, 1]), axis=-1)
        w_c = _gauss(d_c, 0.22)
        out["smile"] = (0.035 * np.sign(du_c) * w_c, -0.07 * w_c)

        gx_u, gx_v, gy_u, gy_v = zero.copy(), zero.copy(), zero.copy(), zero.copy()
        for eye in self._eyes.values():
            blink, (gu_x, gv_y) = self._eye_fields(eye, u, v)
            out[eye["blink"]] = (zero, blink)
            gx_u += gu_x
            gy_v += gv_y
        out["gaze_x"] = (gx_u, gx_v)
        out["gaze_y"] = (gy_u, gy_v)

        vb = np.interp(u, self.brow_u, self.brow_v)
        vl = np.interp(u, self.lid_u, self.lid_v)
        lat = _gauss(np.maximum(np.maximum(self.brow_u[0] - u, u - self.brow_u[-1]), 0.0), 0.15)
        above = _gauss(np.maximum(vb - v, 0.0), 0.5)
        between = np.clip((vl - v) / np.maximum(vl - vb, 1e-3), 0.0, 1.0)
        w_b = np.where(v <= vb, above, between) * lat * _gauss(dout, 0.3)
        out["brow_raise"] = (zero, -0.09 * w_b)
        du_f = u - self.face_cu
        inner = np.sign(du_f) * _gauss(np.abs(du_f), 0.45)
        out["brow_furrow"] = (-0.05 * inner * w_b, 0.04 * w_b)

        res = np.stack([self.frame.to_image(*out[name]) for name in EXPRESSION_DIMS])
        return res.astype(np.float32)

    def _eye_fields(self, eye: dict, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        ue = (u - eye["c_u"]) / eye["hw"]
        vu = np.interp(ue, eye["up_u"], eye["up_v"])
        vl = np.interp(ue, eye["lo_u"], eye["lo_v"])
        inside_x = np.abs(ue) < 1.0
        h = np.where(inside_x, np.maximum(vl - vu, 0.0), 0.0)
        t = (v - vu) / np.maximum(h, 1e-6)
        lid_above = BLINK_MEET * h * _gauss(np.maximum(vu - v, 0.0), 0.07)
        lid_inside = h * (BLINK_MEET - t)
        lid_below = -(1.0 - BLINK_MEET) * h * _gauss(np.maximum(v - vl, 0.0), 0.05)
        blink = np.where(v < vu, lid_above, np.where(v > vl, lid_below, lid_inside))
        # Gaze: the iris disc slides inside the opening; the sclera around it stretches / compresses.
        iu, iv = eye["iris"]
        d = np.hypot(u - iu, v - iv) / (1.6 * eye["iris_r"])
        inside = np.clip(4.0 * t * (1.0 - t), 0.0, 1.0) * inside_x
        w_g = np.exp(-(d**4)) * np.sqrt(inside)
        h_c = float(np.interp((iu - eye["c_u"]) / eye["hw"], eye["lo_u"], eye["lo_v"]) - np.interp(
            (iu - eye["c_u"]) / eye["hw"], eye["up_u"], eye["up_v"]))  # fmt: skip
        return blink, (eye["hw"] * w_g, max(h_c, 0.0) / 2.0 * w_g)

    def landmark_fields(self) -> np.ndarray:
        """(K, 478, 2) per-unit displacement of the landmarks, lip points assigned to their side of the tear."""
        lower = np.full(len(self.pts), np.nan)
        lower[list(UPPER_LIP_SET)] = 0.0
        lower[list(LOWER_LIP_SET)] = 1.0
        u, v = self.frame.to_face(self.pts[:, :2])
        auto = self.lower_weight(u, v)
        lower = np.where(np.isnan(lower), auto, lower)
        return self.fields(self.pts[:, :2], lower=lower, dout=np.zeros(len(self.pts)))
