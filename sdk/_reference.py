"""Reference-video control of a render: head pose and/or blinks measured on a real video (``Generator.render(...,
pose_from=VIDEO, blinks_from=VIDEO)``), the mouth still from the audio.

The reference is landmarked with FaceMesh and turned into motion rows by ``models.motion.video_targets`` (the same
definitions the renderer uses: head yaw/pitch/roll in degrees and shift/scale in IOD against the clip's median face;
blinks from the eye opening against the clip's open-eye opening). Its rows are retimed to the render's length
(linear in time: a 4 s reference under 8 s of speech plays at half speed) and replace the model's pose or blink dims.
The reference file is recorded as an ``inputTo`` ingredient of the render's manifest.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from models.schema import MOTION_INDEX, clip_motion
from provenance.manifest import Ingredient
from provenance.mime import sniff_mime

from .errors import NoFaceError, OutputError, VideoError

POSE = ("head_yaw", "head_pitch", "head_roll", "head_tx", "head_ty", "head_scale")
BLINKS = ("blink_left", "blink_right")
MAX_REFERENCE_BYTES = 512 << 20  # the ingredient is read whole into the manifest builder
_MIMES = ("video/mp4", "video/quicktime")


@dataclass(frozen=True)
class Reference:
    path: Path
    data: bytes  # the file, recorded as an ingredient
    mime: str
    motion: np.ndarray  # (frames, NUM_MOTION_DIMS) float32 at 25 fps, measured


def load(video: Any) -> Reference:
    """Measure a reference video; ``VideoError`` if it cannot be used, ``NoFaceError`` if no frame shows a face."""
    if not isinstance(video, (str, os.PathLike)):
        raise TypeError(f"a reference video must be a path, got {type(video).__name__}")
    path = Path(video)
    if not path.is_file():
        raise VideoError(f"no such reference video: {path}")
    if path.stat().st_size > MAX_REFERENCE_BYTES:
        raise VideoError(f"reference video over {MAX_REFERENCE_BYTES >> 20} MiB: {path}")
    data = path.read_bytes()
    mime = sniff_mime(data[:64])
    if mime not in _MIMES:
        raise VideoError(f"a reference video must be MP4 or MOV, got {mime}")
    from models.motion.video_targets import extract

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path.name} has no video stream")
        targets = extract(path)
    except av.FFmpegError as exc:
        raise VideoError(f"cannot read {path.name}: {exc}") from exc
    except ValueError as exc:  # video_targets: no face in any frame
        raise NoFaceError(f"no face found in the reference video {path.name}") from exc
    return Reference(path, data, str(mime), targets.motion)


def retime(motion: np.ndarray, n: int) -> np.ndarray:
    """(m, dims) rows stretched or squeezed linearly in time to (n, dims)."""
    m = motion.shape[0]
    if m == 1 or n == 1:
        return np.repeat(motion[:1], n, axis=0)
    at = np.linspace(0.0, m - 1.0, n)
    return np.stack([np.interp(at, np.arange(m), motion[:, k]) for k in range(motion.shape[1])], axis=1)


def apply(
    values: np.ndarray, *, pose: Reference | None, blinks: Reference | None, head_motion: float = 1.0
) -> np.ndarray:
    """The model's rows with the pose (scaled by ``head_motion``) and/or blinks of the references."""
    out = values.copy()
    n = values.shape[0]
    if pose is not None:
        cols = [MOTION_INDEX[d] for d in POSE]
        out[:, cols] = retime(pose.motion, n)[:, cols] * np.float32(head_motion)
    if blinks is not None:
        cols = [MOTION_INDEX[d] for d in BLINKS]
        out[:, cols] = retime(blinks.motion, n)[:, cols]
    return clip_motion(out.astype(np.float32))


def load_all(pose_from: Any, blinks_from: Any, out: Path) -> dict[str, Any]:
    """{"pose": Reference, "blinks": Reference} for the given reference videos (one measurement when both are the
    same file)."""
    if pose_from is None and blinks_from is None:
        return {}
    refs: dict[str, Any] = {}
    seen: dict[Path, Any] = {}
    for role, video in (("pose", pose_from), ("blinks", blinks_from)):
        if video is None:
            continue
        if not isinstance(video, (str, os.PathLike)):
            raise TypeError(f"{role}_from must be a path, got {type(video).__name__}")
        key = Path(video).resolve()
        if key == out.resolve():
            raise OutputError(f"the output path is the {role}_from video")
        if key not in seen:
            seen[key] = load(video)
        refs[role] = seen[key]
    return refs


def ingredients(references: dict[str, Any]) -> list[tuple[Ingredient, dict[str, str]]]:
    """One ingredient per distinct reference file, with the generation parameters naming what it drove."""
    out: list[tuple[Ingredient, dict[str, str]]] = []
    by_path: dict[Path, list[str]] = {}
    for role, ref in references.items():
        by_path.setdefault(ref.path, []).append(role)
    for path, roles in by_path.items():
        ref = references[roles[0]]
        sha = hashlib.sha256(ref.data).hexdigest()
        out.append((Ingredient(ref.data, ref.mime, path.name), {f"{r}_from_sha256": sha for r in roles}))
    return out
