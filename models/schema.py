"""The motion representation shared by the motion model (audio -> motion) and the face renderer (motion -> frames).

One motion frame is a float32 vector of ``len(MOTION_DIMS)`` values at the video frame rate (25 fps by default).
Every dimension has a unit, a valid range and a neutral value; the neutral vector reproduces the portrait as it is.

Geometric units are relative to the face so that one motion drives any portrait:
``IOD`` is the inter-ocular distance of the portrait, the distance between the outer eye corners (FaceMesh landmarks
33 and 263). ``jaw_open`` is defined exactly as the real-video measurement used to evaluate lip sync: the inner-lip gap
(landmarks 13-14) divided by IOD, so a value predicted from audio can be compared with a value measured on video.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class MotionDim:
    """One dimension of the motion vector."""

    name: str
    unit: str
    low: float
    high: float
    neutral: float
    doc: str


MOTION_DIMS: tuple[MotionDim, ...] = (
    # --- mouth ---
    MotionDim("jaw_open", "IOD", 0.0, 0.6, 0.0, "inner-lip gap (13-14) / IOD; speech is mostly 0.02-0.3"),
    MotionDim("lip_stretch", "ratio", -0.25, 0.3, 0.0, "relative change of mouth width (61-291); + wider"),
    MotionDim("lip_pucker", "0-1", 0.0, 1.0, 0.0, "rounding: lips narrow and push forward (oo, w)"),
    MotionDim("upper_lip_raise", "0-1", 0.0, 1.0, 0.0, "upper lip lifts, showing upper teeth (f, v)"),
    MotionDim("lower_lip_depress", "0-1", 0.0, 1.0, 0.0, "lower lip pulls down independently of the jaw"),
    MotionDim("smile", "-1..1", -1.0, 1.0, 0.0, "mouth corners up (+) or down (-)"),
    # --- eyes ---
    MotionDim("blink_left", "0-1", 0.0, 1.0, 0.0, "left eyelid closure (subject's left); 1 = closed"),
    MotionDim("blink_right", "0-1", 0.0, 1.0, 0.0, "right eyelid closure (subject's right); 1 = closed"),
    MotionDim(
        "gaze_x", "-1..1", -1.0, 1.0, 0.0, "iris shift as a fraction of the eye half-width; + towards image right"
    ),
    MotionDim("gaze_y", "-1..1", -1.0, 1.0, 0.0, "iris shift as a fraction of the eye half-height; + down"),
    # --- brows ---
    MotionDim("brow_raise", "0-1", 0.0, 1.0, 0.0, "both brows lift (surprise, emphasis)"),
    MotionDim("brow_furrow", "0-1", 0.0, 1.0, 0.0, "brows lower and draw together"),
    # --- head pose (rotation about the face centre, then translation and scale in the image plane) ---
    MotionDim("head_yaw", "deg", -30.0, 30.0, 0.0, "turn; + towards image right"),
    MotionDim("head_pitch", "deg", -20.0, 20.0, 0.0, "nod; + chin down"),
    MotionDim("head_roll", "deg", -20.0, 20.0, 0.0, "tilt in the image plane; + clockwise"),
    MotionDim("head_tx", "IOD", -0.3, 0.3, 0.0, "horizontal shift; + right"),
    MotionDim("head_ty", "IOD", -0.3, 0.3, 0.0, "vertical shift; + down"),
    MotionDim("head_scale", "ratio", -0.15, 0.15, 0.0, "relative size change; 0.1 = 10% larger"),
)

MOTION_NAMES: tuple[str, ...] = tuple(d.name for d in MOTION_DIMS)
MOTION_INDEX: dict[str, int] = {name: i for i, name in enumerate(MOTION_NAMES)}
NUM_MOTION_DIMS = len(MOTION_DIMS)
MOTION_LOW = np.array([d.low for d in MOTION_DIMS], dtype=np.float32)
MOTION_HIGH = np.array([d.high for d in MOTION_DIMS], dtype=np.float32)
DEFAULT_FPS = 25


def neutral_motion() -> np.ndarray:
    """The motion vector that leaves the portrait unchanged."""
    return np.array([d.neutral for d in MOTION_DIMS], dtype=np.float32)


def clip_motion(values: np.ndarray) -> np.ndarray:
    """Clamp motion values (a vector or a frames x dims array) into each dimension's valid range."""
    values = np.asarray(values, dtype=np.float32)
    if values.shape[-1] != NUM_MOTION_DIMS:
        raise ValueError(f"motion has {values.shape[-1]} dims, expected {NUM_MOTION_DIMS}")
    return np.clip(values, MOTION_LOW, MOTION_HIGH)


@dataclass(frozen=True)
class MotionSequence:
    """A generated animation: ``values`` is (frames, dims) float32 at ``fps``; ``names`` labels the columns."""

    values: np.ndarray
    fps: int = DEFAULT_FPS
    seed: int | None = None
    names: tuple[str, ...] = field(default=MOTION_NAMES)

    def __post_init__(self) -> None:
        if self.values.ndim != 2 or self.values.shape[1] != len(self.names):
            raise ValueError(f"motion values must be (frames, {len(self.names)}), got {self.values.shape}")

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def duration(self) -> float:
        return len(self) / self.fps

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.names.index(name)]
