"""Face landmarks for the renderer: mediapipe FaceMesh (478 points, iris included), run once per portrait.

Points are in pixels of the image passed in: ``x`` right, ``y`` down, ``z`` towards the viewer is *negative*
(mediapipe's convention, same scale as ``x``). Faces are listed left to right; :func:`select_face` picks the largest
by default. Detection strategy, cheapest first, stopping at the first that finds a face:

1. FaceMesh on the image (downscaled to at most 1280 px): works for ordinary portraits;
2. the full-range face detector (small or distant faces), then FaceMesh on a crop around each detection;
3. the same on a contrast-equalised copy (dark, hazy or stylised images);
4. the image rotated by 90, 270 and 180 degrees (sideways or upside-down photos), points mapped back."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np

from models._mediapipe import import_mediapipe
from models._native_log import native_log
from models.errors import FaceTooSmallError, ImageError, NoFaceError

logger = logging.getLogger(__name__)

NUM_LANDMARKS = 478
# Outer eye corners: the inter-ocular distance (IOD) that scales every geometric motion dim.
EYE_OUTER_RIGHT, EYE_OUTER_LEFT = 33, 263
INNER_LIP_UPPER, INNER_LIP_LOWER = 13, 14
# Below this IOD (pixels in the loaded image) the face has too few pixels to animate credibly.
MIN_IOD_PX = 24.0
_DETECT_MAX_SIDE = 1280
PROMINENT_IOD = 0.1  # of the image's short side: see detect_faces(exhaustive=False)

_lock = threading.Lock()  # mediapipe graphs are not re-entrant


@dataclass(frozen=True)
class FaceLandmarks:
    """One detected face. ``points`` is (478, 3) float32 in pixels of the image it was detected on."""

    points: np.ndarray
    image_size: tuple[int, int]  # (width, height)

    @property
    def iod(self) -> float:
        return float(np.linalg.norm(self.points[EYE_OUTER_LEFT, :2] - self.points[EYE_OUTER_RIGHT, :2]))

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the landmarks."""
        lo = self.points[:, :2].min(axis=0)
        hi = self.points[:, :2].max(axis=0)
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.bbox
        return (x1 - x0) * (y1 - y0)


def detect_faces(image: np.ndarray, *, max_faces: int = 8, exhaustive: bool = True) -> list[FaceLandmarks]:
    """All faces found in an RGB uint8 image, sorted left to right (empty list if none).

    ``exhaustive=False``: when FaceMesh alone finds a prominent face (eye corners >= 1/10 of the image's short side
    apart), the full-range detector's search for smaller faces is skipped; enough to find the LARGEST face."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ImageError("detect_faces expects an RGB uint8 (H, W, 3) array")
    h, w = image.shape[:2]
    scale = min(1.0, _DETECT_MAX_SIDE / max(h, w))
    small = image if scale == 1.0 else _resize(image, scale)
    faces = _detect_any(small, max_faces, exhaustive)
    if not faces:
        for k in (1, 3, 2):  # 90 ccw, 90 cw, 180
            rot = np.ascontiguousarray(np.rot90(small, k))
            found = _detect_any(rot, max_faces, exhaustive)
            if found:
                faces = [_unrotate(p, k, small.shape[1], small.shape[0]) for p in found]
                logger.info("face found only after rotating the image by %d degrees", 90 * k)
                break
    out = []
    for pts in faces:
        pts = pts / scale
        out.append(FaceLandmarks(points=pts.astype(np.float32), image_size=(w, h)))
    out = _dedupe(out)
    out.sort(key=lambda f: float(f.points[:, 0].mean()))
    return out


def select_face(image: np.ndarray, face_index: int | None = None) -> FaceLandmarks:
    """The face to animate: the largest one, or ``face_index`` into the left-to-right list.

    Raises NoFaceError (none found, or index out of range) or FaceTooSmallError.
    """
    if face_index is not None and (not isinstance(face_index, (int, np.integer)) or isinstance(face_index, bool)):
        raise TypeError(f"face_index must be an int or None, got {type(face_index).__name__}")
    faces = detect_faces(image, exhaustive=face_index is not None)
    if not faces:
        raise NoFaceError("no face found in the portrait")
    if face_index is None:
        face = max(faces, key=lambda f: f.area)
    elif -len(faces) <= face_index < len(faces):
        face = faces[face_index]
    else:
        raise NoFaceError(f"face_index {face_index} out of range: {len(faces)} face(s) found")
    if face.iod < MIN_IOD_PX:
        raise FaceTooSmallError(
            f"face is too small to animate (eye-corner distance {face.iod:.1f} px < {MIN_IOD_PX:.0f} px)"
        )
    return face


# ------------------------------------------------------------------------------------------------------------


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _detect_any(image: np.ndarray, max_faces: int, exhaustive: bool = True) -> list[np.ndarray]:
    # FaceMesh's own detector is short-range: in a group photo it can miss the smaller faces, so the full-range
    # detector runs too and any face it finds that FaceMesh did not is added (unless only the largest face is
    # wanted and FaceMesh already found a prominent one: the faces it misses are the small ones).
    faces = _mesh(image, max_faces)
    if not exhaustive and any(_iod(f) >= PROMINENT_IOD * min(image.shape[:2]) for f in faces):
        return faces
    if len(faces) < max_faces:
        faces = _merge(faces, _mesh_on_detections(image, max_faces))
    if faces:
        return faces
    return _mesh_on_detections(_equalise(image), max_faces)


def _iod(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[EYE_OUTER_LEFT, :2] - points[EYE_OUTER_RIGHT, :2]))


def _merge(faces: list[np.ndarray], extra: list[np.ndarray]) -> list[np.ndarray]:
    out = list(faces)
    for e in extra:
        c = e[:, :2].mean(axis=0)
        iod = float(np.linalg.norm(e[EYE_OUTER_LEFT, :2] - e[EYE_OUTER_RIGHT, :2]))
        if all(np.linalg.norm(c - f[:, :2].mean(axis=0)) > 0.5 * max(iod, 1.0) for f in out):
            out.append(e)
    return out


def _equalise(image: np.ndarray) -> np.ndarray:
    import cv2

    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    lab[:, :, 0] = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(lab[:, :, 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def _mesh(image: np.ndarray, max_faces: int) -> list[np.ndarray]:
    mp = import_mediapipe()

    h, w = image.shape[:2]
    try:
        with (
            _lock,
            native_log(),
            mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True,
                max_num_faces=max_faces,
                refine_landmarks=True,
                min_detection_confidence=0.5,
            ) as fm,
        ):
            res = fm.process(np.ascontiguousarray(image))
    except Exception as exc:
        raise ImageError(f"face landmarker failed: {exc}") from exc
    out = []
    for face in res.multi_face_landmarks or []:
        pts = np.array([(p.x * w, p.y * h, p.z * w) for p in face.landmark], dtype=np.float64)
        if pts.shape[0] == NUM_LANDMARKS:
            out.append(pts)
    return out


def _mesh_on_detections(image: np.ndarray, max_faces: int) -> list[np.ndarray]:
    """Full-range detector finds small faces; FaceMesh then runs on a generous square crop of each."""
    mp = import_mediapipe()

    h, w = image.shape[:2]
    # The detector tends to report only the most prominent face of a group, so it also runs on overlapping tiles.
    tiles = [(0, 0, w, h)]
    tw, th = round(0.6 * w), round(0.6 * h)
    tiles += [(x, y, tw, th) for x in (0, w - tw) for y in (0, h - th)]
    boxes: list[tuple[float, float, float]] = []
    try:
        with (
            _lock,
            native_log(),
            mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5) as fd,
        ):
            for x0, y0, cw, ch in tiles:
                res = fd.process(np.ascontiguousarray(image[y0 : y0 + ch, x0 : x0 + cw]))
                for det in res.detections or []:
                    b = det.location_data.relative_bounding_box
                    cx, cy = x0 + (b.xmin + b.width / 2) * cw, y0 + (b.ymin + b.height / 2) * ch
                    size = max(b.width * cw, b.height * ch)
                    if all(np.hypot(cx - bx, cy - by) > 0.4 * max(size, bs) for bx, by, bs in boxes):
                        boxes.append((cx, cy, size))
    except Exception as exc:
        raise ImageError(f"face detector failed: {exc}") from exc
    out: list[np.ndarray] = []
    for cx, cy, size in boxes[:max_faces]:
        side = 2.2 * size
        x0, y0 = round(cx - side / 2), round(cy - side / 2)
        side_i = max(8, round(side))
        crop = _crop_padded(image, x0, y0, side_i)
        target = 384.0
        s = target / side_i
        found = _mesh(_resize(crop, s), 1)
        for pts in found:
            pts = pts / s
            pts[:, 0] += x0
            pts[:, 1] += y0
            out.append(pts)
    return out


def _crop_padded(image: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    pad_l, pad_t = max(0, -x0), max(0, -y0)
    pad_r, pad_b = max(0, x0 + side - w), max(0, y0 + side - h)
    crop = image[max(0, y0) : min(h, y0 + side), max(0, x0) : min(w, x0 + side)]
    if pad_l or pad_t or pad_r or pad_b:
        crop = cv2.copyMakeBorder(crop, pad_t, pad_b, pad_l, pad_r, cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(crop)


def _unrotate(pts: np.ndarray, k: int, w: int, h: int) -> np.ndarray:
    """Map points found on ``np.rot90(img, k)`` back to ``img`` (w x h)."""
    x, y = pts[:, 0], pts[:, 1]
    out = pts.copy()
    if k == 1:  # rotated ccw: new (x', y') = (y, w - 1 - x)
        out[:, 0], out[:, 1] = (w - 1) - y, x
    elif k == 3:  # rotated cw: new (x', y') = (h - 1 - y, x)
        out[:, 0], out[:, 1] = y, (h - 1) - x
    else:  # 180
        out[:, 0], out[:, 1] = (w - 1) - x, (h - 1) - y
    return out


def _dedupe(faces: list[FaceLandmarks]) -> list[FaceLandmarks]:
    """Drop near-duplicate detections (the same face found twice); keep the first."""
    kept: list[FaceLandmarks] = []
    for f in faces:
        c = f.points[:, :2].mean(axis=0)
        if all(np.linalg.norm(c - g.points[:, :2].mean(axis=0)) > 0.3 * max(g.iod, 1.0) for g in kept):
            kept.append(f)
    return kept
