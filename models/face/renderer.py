"""Raw face rendering (NO provenance: frames from here carry no watermark or manifest; ``sdk`` adds them).

DIRFA's second stage turns a motion sequence and the source portrait into video frames. No trained neural generator
ships with the project, so the default :class:`FaceRenderer` is a landmark-driven image warp: FaceMesh landmarks are
detected once per portrait, every motion dim is a precomputed displacement field around them, the head pose is a 3D
rotation with weak-perspective projection, and the mouth interior is synthesised where the lips part. Per frame the
work is a weighted sum of a few fields, a short inversion on a coarse grid (fixed point, plus Newton steps
around an opening mouth), one ``cv2.remap`` and small composites for the mouth interior, irises and closed lids.
:class:`Renderer` is the seat for a neural generator (see ``models.face.onnx_renderer``).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from models.errors import FaceTooSmallError, ImageError
from models.face._deform import EXPRESSION_INDEX, ExpressionModel
from models.face._eyes import EyeSynth
from models.face._framing import frame_portrait
from models.face._gaze import GAZE_DIMS, GazeSynth
from models.face._mouth import MouthSynth
from models.face._warp import DenseWarp, grid_factor
from models.face.image_io import load_image
from models.face.landmarks import INNER_LIP_LOWER, INNER_LIP_UPPER, FaceLandmarks, detect_faces, select_face
from models.schema import MOTION_INDEX, NUM_MOTION_DIMS, clip_motion, neutral_motion

logger = logging.getLogger(__name__)

__all__ = ["FaceRenderer", "Renderer"]

# Below this eye-corner distance in the output frame the mouth and eyes are a few pixels: nothing to animate.
MIN_FRAME_IOD_PX = 16


@runtime_checkable
class Renderer(Protocol):
    """What the SDK needs from a frame renderer: fixed frame size, a neutral motion, one frame per motion vector."""

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of every frame, both even."""
        ...

    def neutral_motion(self) -> np.ndarray:
        """The motion vector that reproduces the (framed) portrait."""
        ...

    def render(self, motion_frame: np.ndarray) -> np.ndarray:
        """One motion vector (NUM_MOTION_DIMS,) -> one RGB uint8 frame (height, width, 3)."""
        ...


class FaceRenderer:
    """Landmark-driven warp renderer for one portrait.

    ``image``: path, encoded bytes, numpy RGB array or PIL image (see :func:`models.face.image_io.load_image`).
    ``size``: output side for ``framing="crop"`` (a face-centred square); the cap on the longest side for
    ``framing="full"`` (the portrait's own framing, never upscaled). Frame sides are always even.
    ``face_index``: which face of a group portrait, counted left to right; default the largest.

    ``jaw_open`` is absolute (the inner-lip gap / IOD the frame should show), so a portrait photographed with an
    open mouth closes it when the motion says so; :meth:`neutral_motion` returns the portrait's own measured gap,
    which is why it can differ from :func:`models.schema.neutral_motion`. All other dims are relative to the portrait.
    Motion values are clipped to the ranges in ``models.schema``.
    """

    def __init__(self, image: Any, *, size: int = 512, framing: str = "crop", face_index: int | None = None):
        rgb = load_image(image)
        face = select_face(rgb, face_index)
        framed = frame_portrait(rgb, face.points, size=size, framing=framing)
        pts = self._refine(framed.image, framed.map_points(face.points))
        frame_iod = float(np.linalg.norm(pts[263, :2] - pts[33, :2]))
        if frame_iod < MIN_FRAME_IOD_PX:
            raise FaceTooSmallError(
                f"the face would be {frame_iod:.0f} px across the eyes in a {framed.image.shape[1]}x"
                f"{framed.image.shape[0]} frame (< {MIN_FRAME_IOD_PX}); use framing='crop' or a larger size"
            )
        self._source = framed.image
        self._source.setflags(write=False)
        self._points = pts.astype(np.float32)
        self._points.setflags(write=False)
        self.framing = framing
        h, w = framed.image.shape[:2]
        self._expr = ExpressionModel(pts, (h, w))
        self._warp = DenseWarp(self._expr, pts, (h, w), factor=grid_factor(frame_iod))
        self._mouth = MouthSynth(self._expr, self._warp, framed.image, pts)
        self._eyes = EyeSynth(self._expr, self._warp, framed.image, pts)
        self._gaze = GazeSynth(self._expr, self._warp, framed.image, pts)
        self._neutral = neutral_motion()
        self._neutral[MOTION_INDEX["jaw_open"]] = np.float32(self._expr.gap0)
        logger.debug("FaceRenderer ready: %dx%d, IOD %.1f px, gap %.3f", w, h, self._expr.frame.iod, self._expr.gap0)

    @staticmethod
    def _refine(frame: np.ndarray, mapped: np.ndarray) -> np.ndarray:
        """Re-detect on the framed image (landmarks at output resolution); keep the mapped ones if that fails.
        FaceMesh alone first (one pass; the framed face is usually the only or the most prominent one), the full
        multi-face detection only when that finds another face."""
        c = mapped[:, :2].mean(axis=0)
        iod = float(np.linalg.norm(mapped[263, :2] - mapped[33, :2]))
        for max_faces in (1, 8):
            try:
                faces: list[FaceLandmarks] = detect_faces(frame, max_faces=max_faces)
            except ImageError:  # the landmarker failed on the framed image: the mapped points are still valid
                return mapped
            best = min(faces, key=lambda f: float(np.linalg.norm(f.points[:, :2].mean(axis=0) - c)), default=None)
            if best is not None and np.linalg.norm(best.points[:, :2].mean(axis=0) - c) <= 0.25 * iod:
                return best.points.astype(np.float64)
        return mapped

    # ---------------------------------------------------------------- public API
    @property
    def frame_size(self) -> tuple[int, int]:
        return int(self._source.shape[1]), int(self._source.shape[0])

    @property
    def source(self) -> np.ndarray:
        """The framed portrait (read-only), which the neutral motion reproduces."""
        return self._source

    @property
    def landmarks(self) -> np.ndarray:
        """(478, 3) FaceMesh landmarks of the portrait in frame pixels (read-only)."""
        return self._points

    @property
    def iod(self) -> float:
        return float(self._expr.frame.iod)

    def neutral_motion(self) -> np.ndarray:
        return self._neutral.copy()

    def render(self, motion_frame: np.ndarray) -> np.ndarray:
        m = np.asarray(motion_frame, dtype=np.float32)
        if m.shape != (NUM_MOTION_DIMS,):
            raise ValueError(f"motion_frame must have shape ({NUM_MOTION_DIMS},), got {m.shape}")
        if not np.isfinite(m).all():
            raise ValueError("motion_frame contains NaN or infinite values")
        m = clip_motion(m)
        expr = (m - self._neutral)[EXPRESSION_INDEX]
        pose = self._warp.pose_affine(m)
        # Gaze is drawn (the iris moves as a disc), not warped: the warp gets the other dims only.
        gaze = (float(expr[GAZE_DIMS[0]]), float(expr[GAZE_DIMS[1]]))
        moving_eyes = gaze != (0.0, 0.0) and bool(self._gaze.eyes)
        if moving_eyes:
            expr = expr.copy()
            expr[GAZE_DIMS] = 0.0
        warp = self._warp.source_map(expr, pose)
        frame = self._source.copy()
        if warp is None:
            if moving_eyes:
                self._gaze.render(frame, expr, gaze, None, None, (0, 0))
            return frame
        smap, (top, left) = warp
        h, w = smap.shape[:2]
        frame[top : top + h, left : left + w] = cv2.remap(
            self._source, smap, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        self._mouth.render(frame, expr, pose)
        if moving_eyes:
            self._gaze.render(frame, expr, gaze, pose, smap, (top, left))
        blink = {name: float(m[MOTION_INDEX[name]]) for name in ("blink_left", "blink_right")}
        if max(blink.values()) > 0.5:
            self._eyes.render(frame, expr, blink, pose, smap, (top, left))
        return frame

    def target_landmarks(self, motion_frame: np.ndarray) -> np.ndarray:
        """Where the warp moves the portrait's landmarks for ``motion_frame``: (478, 2) frame pixels (for tests)."""
        m = clip_motion(np.asarray(motion_frame, dtype=np.float32))
        expr = (m - self._neutral)[EXPRESSION_INDEX].astype(np.float64)
        if not hasattr(self, "_lm_basis"):
            self._lm_basis = self._expr.landmark_fields().astype(np.float64)
        xy = self._points[:, :2].astype(np.float64) + np.tensordot(expr, self._lm_basis, axes=1)
        return self._warp.pose_points(xy, self._points[:, 2].astype(np.float64), self._warp.pose_affine(m))

    def measured_jaw_open(self) -> float:
        """The portrait's own inner-lip gap / IOD."""
        p = self._points
        return float(np.linalg.norm(p[INNER_LIP_UPPER, :2] - p[INNER_LIP_LOWER, :2]) / self.iod)
