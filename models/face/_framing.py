"""Output framing of the renderer: which part of the portrait becomes the video frame, at what size.

``"crop"``: a square centred on the face, side ``CROP_FACE_RATIO`` times the landmark box, kept inside the image
(shrunk to the image's short side if needed, never padded with invented pixels), resized to ``size`` x ``size``.
``"full"``: the whole portrait, longest side capped at ``size`` (never upscaled); both sides rounded down to even
numbers, as H.264 with 4:2:0 chroma needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FRAMINGS = ("crop", "full")
# Landmarks span brow-to-chin; 2.0x leaves room for hair, ears, neck and head motion (about what VoxCeleb crops hold).
CROP_FACE_RATIO = 2.0
# The landmark box centre sits low on the head (no hair); lift the crop centre by this fraction of the box height.
CROP_LIFT = 0.08


@dataclass(frozen=True)
class Framing:
    """``image`` is the framed source (H, W, 3) uint8; ``matrix`` (2x3) maps portrait pixels to frame pixels."""

    image: np.ndarray
    matrix: np.ndarray

    def map_points(self, pts: np.ndarray) -> np.ndarray:
        """Map (N, 3) portrait points (x, y, z) into the frame; z scales with x."""
        out = np.asarray(pts, dtype=np.float64).copy()
        out[:, :2] = out[:, :2] @ self.matrix[:, :2].T + self.matrix[:, 2]
        out[:, 2] *= self.matrix[0, 0]
        return out


def frame_portrait(image: np.ndarray, points: np.ndarray, *, size: int, framing: str) -> Framing:
    """Frame ``image`` (RGB uint8) around the face whose landmarks (portrait pixels) are ``points``."""
    if framing not in FRAMINGS:
        raise ValueError(f"framing must be one of {FRAMINGS}, got {framing!r}")
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 64:
        raise ValueError(f"size must be an int >= 64, got {size!r}")
    h, w = image.shape[:2]
    if framing == "full":
        scale = min(1.0, size / max(w, h))
        ow, oh = max(2, round(w * scale) // 2 * 2), max(2, round(h * scale) // 2 * 2)
        sx, sy = ow / w, oh / h
        matrix = np.array([[sx, 0.0, 0.0], [0.0, sy, 0.0]])
        interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
        framed = cv2.resize(image, (ow, oh), interpolation=interp) if (ow, oh) != (w, h) else image.copy()
        return Framing(image=np.ascontiguousarray(framed), matrix=matrix)

    size = int(size) // 2 * 2
    lo = points[:, :2].min(axis=0)
    hi = points[:, :2].max(axis=0)
    box = float(max(hi - lo))
    cx = float(lo[0] + hi[0]) / 2.0
    cy = float(lo[1] + hi[1]) / 2.0 - CROP_LIFT * float(hi[1] - lo[1])
    side = min(CROP_FACE_RATIO * box, float(min(w, h)))
    x0 = min(max(cx - side / 2.0, 0.0), w - side)
    y0 = min(max(cy - side / 2.0, 0.0), h - side)
    s = size / side
    matrix = np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s]])
    # Area averaging when shrinking (no aliasing); cubic when enlarging (sharper than linear).
    interp = cv2.INTER_AREA if s < 1.0 else cv2.INTER_CUBIC
    if s < 1.0:
        # warpAffine has no true area filter: crop first, then resize.
        xi, yi = round(x0), round(y0)
        si = max(1, round(side))
        crop = image[yi : yi + si, xi : xi + si]
        framed = cv2.resize(crop, (size, size), interpolation=interp)
        matrix = np.array([[size / si, 0.0, -xi * size / si], [0.0, size / si, -yi * size / si]])
    else:
        framed = cv2.warpAffine(image, matrix, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)
    return Framing(image=np.ascontiguousarray(framed), matrix=matrix)
