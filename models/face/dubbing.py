"""Raw visual dubbing (NO provenance: frames changed here carry no watermark or manifest; ``sdk.Generator.dub`` adds
them): track a face through a video and re-pose its mouth to a target opening.

:class:`FaceTracker` runs mediapipe FaceMesh in video mode (it tracks from the previous frame's landmarks instead of
detecting again: ~2.5 ms a 512 px frame on one core) and smooths the points with an exponential filter, reset when
the face is lost. :class:`MouthDubber` moves the lower lip and jaw of one frame from the opening measured on it to a
target opening (the inner-lip gap 13-14 / eye-corner distance 33-263: ``jaw_open`` of ``models.schema``, the
definition ``models.motion.video_targets`` measures), and draws the mouth interior (cavity, upper teeth) in the gap, as
the portrait renderer does. Only a box around the mouth and chin is touched: above the upper lip's inner edge and
outside the mouth/jaw region the warp is exactly the identity, so every other pixel stays the source's.

The warp works in mouth coordinates: ``u`` along the eye line, ``v`` down the face, from the centre of the inner
lips. Along each column the lower lip moves by ``k(u) = D * wl(u)`` (``D`` the gap change in pixels, ``wl`` zero at
the mouth corners), the tissue between the inner lips stretches or compresses linearly, and below the lower lip the
shift fades out to zero under the chin, so the forward map is monotone per column and is inverted piecewise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from models._native_log import native_log
from models.face._deform import INNER_LOWER, INNER_UPPER, OUTER_LOWER, OUTER_UPPER
from models.face._mouth import interior_colours

log = logging.getLogger(__name__)

__all__ = ["FaceTracker", "MouthColours", "MouthDubber", "mouth_opening"]

EYE_R, EYE_L, LIP_UP, LIP_LO, CHIN, CORNER_R, CORNER_L = 33, 263, 13, 14, 152, 61, 291
SMOOTH = 0.65  # weight of the new measurement in the landmark filter (1 = no smoothing)
_TRACK_MAX_SIDE = 640  # frames are tracked at most this large (FaceMesh crops and resizes the face to 192 px anyway)
_CHIN_MARGIN = 0.35  # the jaw shift fades out this far (IOD) below the chin
_MAX_CLOSE = 0.9  # at most this share of the measured gap is closed (the lips then touch, they never overlap)


def mouth_opening(points: np.ndarray) -> float:
    """Inner-lip gap / IOD of (478, 2+) landmarks: ``jaw_open`` as ``models.motion.video_targets`` measures it."""
    iod = float(np.linalg.norm(points[EYE_L, :2] - points[EYE_R, :2]))
    return float(np.linalg.norm(points[LIP_UP, :2] - points[LIP_LO, :2]) / max(iod, 1e-6))


class FaceTracker:
    """FaceMesh in video mode over consecutive frames; :meth:`track` returns (478, 2) float32 pixels or None.

    Use as a context manager (the mediapipe graph is closed at exit). Not thread-safe: one tracker per video."""

    def __init__(self, *, smooth: float = SMOOTH, max_side: int = _TRACK_MAX_SIDE) -> None:
        if not 0.0 < smooth <= 1.0:
            raise ValueError("smooth must be in (0, 1]")
        from models._mediapipe import import_mediapipe

        mp = import_mediapipe()
        self._smooth, self._max_side = smooth, max_side
        with native_log():
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=False, max_num_faces=1, refine_landmarks=False, min_detection_confidence=0.5
            )
        self._last: np.ndarray | None = None
        self._calls = 0

    def track(self, rgb: np.ndarray) -> np.ndarray | None:
        h, w = rgb.shape[:2]
        scale = min(1.0, self._max_side / max(h, w))
        small = rgb if scale == 1.0 else cv2.resize(rgb, (round(w * scale), round(h * scale)), cv2.INTER_AREA)
        if self._calls < 2:  # mediapipe logs while its graph warms up; catching fd 2 on every frame costs ~1 ms
            with native_log():
                res = self._mesh.process(np.ascontiguousarray(small))
        else:
            res = self._mesh.process(np.ascontiguousarray(small))
        self._calls += 1
        if not res.multi_face_landmarks:
            self._last = None  # do not smooth across a gap: the face may come back elsewhere
            return None
        sh, sw = small.shape[:2]
        lm = res.multi_face_landmarks[0].landmark
        pts = np.array([(p.x * sw, p.y * sh) for p in lm], np.float32) / np.float32(scale)
        if self._last is not None:
            pts = self._smooth * pts + (1.0 - self._smooth) * self._last
        self._last = pts
        return pts

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class MouthColours:
    """Colours of the synthesised interior, taken once from a frame of the person (as ``_mouth.MouthSynth`` does)."""

    cavity: np.ndarray  # (3,) float32 RGB
    teeth: np.ndarray  # (3,) float32 RGB

    @classmethod
    def measure(cls, rgb: np.ndarray, points: np.ndarray) -> MouthColours:
        cavity, _, teeth = interior_colours(rgb, points)
        return cls(cavity, teeth)


@dataclass(frozen=True)
class DubFrame:
    """What :meth:`MouthDubber.apply` did to one frame."""

    measured: float  # the source's opening (IOD)
    target: float  # the opening asked for
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) of the pixels that may have changed; empty when none did


class MouthDubber:
    """Re-poses the mouth of single frames; stateless apart from the interior colours."""

    def __init__(self, colours: MouthColours) -> None:
        self.colours = colours

    def apply(self, rgb: np.ndarray, points: np.ndarray, target: float) -> tuple[np.ndarray, DubFrame]:
        """``rgb`` (H, W, 3) uint8 with ``points`` (478, 2) its landmarks -> (a new frame whose inner-lip gap is
        ``target`` IOD, what was done). ``rgb`` is not modified."""
        p = points[:, :2].astype(np.float64)
        eye = p[EYE_L] - p[EYE_R]
        iod = float(np.hypot(*eye))
        if not np.isfinite(iod) or iod < 4.0:
            return rgb, DubFrame(float("nan"), float(target), (0, 0, 0, 0))
        ex = eye / iod
        dn = np.array([-ex[1], ex[0]])  # down the face
        c = (p[LIP_UP] + p[LIP_LO]) / 2.0
        rel = p - c
        u, v = rel @ ex, rel @ dn
        measured = max(float(v[LIP_LO] - v[LIP_UP]), 0.0) / iod
        d = (float(target) - measured) * iod  # gap change, pixels
        d = max(d, -_MAX_CLOSE * measured * iod)
        if abs(d) < 0.25:
            return rgb, DubFrame(measured, float(target), (0, 0, 0, 0))
        u_r, u_l = float(u[CORNER_R]), float(u[CORNER_L])
        uc, half = (u_r + u_l) / 2.0, max(abs(u_l - u_r) / 2.0, 2.0)
        v_top = float(v[list(OUTER_UPPER)].min())
        v_end = float(v[CHIN]) + _CHIN_MARGIN * iod + max(d, 0.0)

        # The box (frame pixels) that holds every moved pixel: the mouth's width, the upper lip to under the chin.
        corners = np.array([[uc + a * half * 1.15, b] for a in (-1, 1) for b in (v_top, v_end)])
        xy = c + corners[:, :1] * ex + corners[:, 1:] * dn
        h, w = rgb.shape[:2]
        x0, y0 = np.maximum(np.floor(xy.min(axis=0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(xy.max(axis=0)).astype(int) + 2, [w, h])
        if x1 - x0 < 3 or y1 - y0 < 3:
            return rgb, DubFrame(measured, float(target), (0, 0, 0, 0))

        gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float64) - c[0], np.arange(y0, y1, dtype=np.float64) - c[1])
        pu = gx * ex[0] + gy * ex[1]  # output pixel, mouth coordinates
        pv = gx * dn[0] + gy * dn[1]
        s = (pu - uc) / half
        wl = np.clip(1.0 - s * s, 0.0, 1.0) ** 0.6  # zero at the corners: they stay put
        k = d * wl
        vu = _curve(u, v, INNER_UPPER, pu)
        vl = np.maximum(_curve(u, v, INNER_LOWER, pu), vu)
        vo = np.maximum(_curve(u, v, OUTER_LOWER, pu), vl + 1.0)
        vb = np.maximum(float(v[CHIN]) + _CHIN_MARGIN * iod, vo + 2.0)

        # Invert v' = v + k * wv(v) piecewise (see the module docstring).
        src = pv.copy()
        ramp = (pv > vu) & (pv < vl + k)
        span = vl - vu
        src[ramp] = (vu + (pv - vu) * span / np.maximum(span + k, 1e-6))[ramp]
        flat = (pv >= vl + k) & (pv <= vo + k)
        src[flat] = (pv - k)[flat]
        tail = (pv > vo + k) & (pv < vb)
        if tail.any():
            t_pv, t_k, t_vo, t_vb = pv[tail], k[tail], vo[tail], vb[tail]
            t = t_pv - t_k
            for _ in range(4):  # a contraction: |k * f'| < 1 for any gap change the model asks for
                f = 0.5 * (1.0 + np.cos(np.pi * np.clip((t - t_vo) / (t_vb - t_vo), 0.0, 1.0)))
                t = t_pv - t_k * f
            src[tail] = t
        shift = src - pv  # along dn only
        mx = (gx + c[0] + shift * dn[0]).astype(np.float32)
        my = (gy + c[1] + shift * dn[1]).astype(np.float32)
        out = rgb.copy()
        roi = cv2.remap(rgb, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        self._interior(roi, pv, vu, vl + k, np.abs(s), iod)
        out[y0:y1, x0:x1] = roi
        return out, DubFrame(measured, float(target), (int(x0), int(y0), int(x1), int(y1)))

    def _interior(self, roi: np.ndarray, pv, top, bottom, cc, iod: float) -> None:
        """Cavity and upper teeth between the inner lips of the output (in place), anti-aliased, fading in with the
        gap so that a hairline parting does not pop in as a dark line."""
        band = (pv > top - 1.0) & (pv < bottom + 1.0) & (cc < 1.0) & (bottom - top > 0.3)
        rows, cols = np.flatnonzero(band.any(axis=1)), np.flatnonzero(band.any(axis=0))
        if not rows.size:
            return
        sl = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))  # only the gap's box: ~10% of the ROI
        roi, pv, top, bottom, cc = roi[sl], pv[sl], top[sl], bottom[sl], cc[sl]
        g = bottom - top
        inside = np.clip(pv - top + 0.5, 0.0, 1.0) * np.clip(bottom - pv + 0.5, 0.0, 1.0) * (cc < 1.0)
        a = inside * np.clip((g - 0.3) / 2.0, 0.0, 1.0)
        if not (a > 0).any():
            return
        below = pv - top
        shade = (1.0 - 0.45 * np.minimum(cc, 1.0) ** 2) * (0.55 + 0.45 * np.clip(below / 3.0, 0.0, 1.0))
        col = self.colours.cavity[None, None, :] * shade[..., None]
        th = np.minimum(0.36 * g, 0.068 * iod) * (1.0 - 0.22 * cc)
        m_t = np.clip(th - below + 0.5, 0.0, 1.0) * np.clip((0.86 - cc) / 0.2, 0.0, 1.0)
        lip_shadow = 0.68 + 0.32 * np.clip(below / np.maximum(0.45 * th, 1.0), 0.0, 1.0)
        tcol = self.colours.teeth[None, None, :] * ((1.0 - 0.5 * np.minimum(cc, 1.0) ** 2) * lip_shadow)[..., None]
        col = col * (1.0 - m_t[..., None]) + tcol * m_t[..., None]
        a3 = a[..., None]
        roi[:] = np.clip(roi.astype(np.float32) * (1.0 - a3) + col * a3 + 0.5, 0, 255).astype(np.uint8)


def _curve(u: np.ndarray, v: np.ndarray, idx: tuple[int, ...], at: np.ndarray) -> np.ndarray:
    """The lip contour ``idx`` as v(u), evaluated at ``at`` (held flat beyond its ends)."""
    cu, cv_ = u[list(idx)], v[list(idx)]
    order = np.argsort(cu)
    return np.interp(at, cu[order], cv_[order])
