"""Real-data path: motion targets measured on talking-face videos with FaceMesh (the renderer's landmarker).

For users with VoxCeleb2/HDTF-style clips (one frontal speaker, audio track): every frame is landmarked with
mediapipe FaceMesh (478 points, iris refined) and turned into the ``models.schema`` vector with the SAME definitions
the renderer uses. Measured dims:

* ``jaw_open``: inner-lip gap (13-14) / eye-corner distance (33-263): exactly the lip-sync evaluation measure;
* ``lip_stretch``: mouth width (61-291) relative to the clip's closed-mouth width; ``lip_pucker`` its narrowing;
* ``smile``: mouth-corner lift relative to the lip centre, in IOD, scaled to -1..1 (0.1 IOD = 1);
* ``blink_left/right``: 1 - eye opening / the clip's open-eye opening (90th percentile);
* ``gaze_x/y``: iris centre (468 / 473) offset from the eye centre over the eye half-width / half-height;
* ``brow_raise``: brow-to-eye distance relative to the clip's median (15% higher = 1);
* ``head_yaw/pitch/roll``: rigid 3-D alignment (Kabsch) of stable landmarks to the clip's median face;
* ``head_tx/ty``: face-centre shift from the clip's median, in IOD; ``head_scale``: IOD / median IOD - 1.

``upper_lip_raise``, ``lower_lip_depress`` and ``brow_furrow`` are not measured (left at 0). Pose and relative dims
are measured against the clip itself, so a clip should start from / mostly show a frontal, neutral face.

    python -m models.motion.video_targets --videos a.mp4 b.mp4 --out /tmp/real.npz   # a corpus for models.motion.train
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from ..errors import AudioError
from ..schema import MOTION_INDEX, NUM_MOTION_DIMS, clip_motion
from . import features as F
from .audio import load_audio

log = logging.getLogger(__name__)

# Stable points for head pose: forehead, nose bridge/tip, eye corners, cheekbones, chin (not the mouth or brows).
_RIGID = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 33, 133, 263, 362, 234, 454, 127, 356, 152)


@dataclass(frozen=True)
class VideoTargets:
    motion: np.ndarray  # (frames, NUM_MOTION_DIMS) float32; NaN-free (gaps interpolated)
    found: np.ndarray  # (frames,) bool: a face was landmarked on that frame
    fps: float


def _face_mesh():
    from models._mediapipe import import_mediapipe

    mp = import_mediapipe()

    return mp.solutions.face_mesh.FaceMesh(
        static_image_mode=False, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.5
    )


def landmark_frames(frames) -> np.ndarray:
    """(N, 478, 3) FaceMesh points in pixels (NaN where no face) for an iterable of RGB uint8 frames."""
    out = []
    with _face_mesh() as mesh:
        for rgb in frames:
            h, w = rgb.shape[:2]
            res = mesh.process(np.ascontiguousarray(rgb))
            if not res.multi_face_landmarks:
                out.append(np.full((478, 3), np.nan, np.float32))
                continue
            lm = res.multi_face_landmarks[0].landmark
            out.append(np.array([(p.x * w, p.y * h, p.z * w) for p in lm], np.float32))
    return np.stack(out) if out else np.zeros((0, 478, 3), np.float32)


def video_frames(path: str | Path):
    """(fps, iterator of RGB frames) of a video file, decoded with PyAV."""
    container = av.open(str(path))
    stream = container.streams.video[0]
    fps = float(stream.average_rate) if stream.average_rate else 25.0

    def it():
        with container:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")

    return fps, it()


def _kabsch(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Rotation R minimising |R @ (src - mean) - (dst - mean)| (both (n, 3))."""
    a, b = src - src.mean(0), dst - dst.mean(0)
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    return vt.T @ np.diag([1, 1, d]) @ u.T


def motion_from_landmarks(points: np.ndarray) -> VideoTargets:
    """The motion vector per frame from (N, 478, 3) pixel landmarks (see the module docstring for definitions)."""
    n = points.shape[0]
    found = ~np.isnan(points[:, 0, 0])
    if not found.any():
        raise ValueError("no face found in any frame")
    p = points.copy()
    idx = np.arange(n)
    for k in range(478):  # fill frames without a face by interpolation
        for c in range(3):
            p[~found, k, c] = np.interp(idx[~found], idx[found], p[found, k, c])
    d = lambda a, b: np.linalg.norm(p[:, a, :2] - p[:, b, :2], axis=1)  # noqa: E731
    iod = d(33, 263)
    m = np.zeros((n, NUM_MOTION_DIMS), np.float32)
    jaw = d(13, 14) / iod
    m[:, MOTION_INDEX["jaw_open"]] = jaw
    width = d(61, 291) / iod
    closed = jaw <= np.percentile(jaw, 20)
    w_ref = np.median(width[closed])
    m[:, MOTION_INDEX["lip_stretch"]] = width / w_ref - 1
    m[:, MOTION_INDEX["lip_pucker"]] = np.clip(-(width / w_ref - 1) / 0.25, 0, 1)
    corners_y = (p[:, 61, 1] + p[:, 291, 1]) / 2
    centre_y = (p[:, 13, 1] + p[:, 14, 1]) / 2
    lift = (centre_y - corners_y) / iod
    m[:, MOTION_INDEX["smile"]] = (lift - np.median(lift[closed])) / 0.1
    for dim, (top, bot, c1, c2) in (("blink_left", (386, 374, 362, 263)), ("blink_right", (159, 145, 33, 133))):
        opening = d(top, bot) / d(c1, c2)
        m[:, MOTION_INDEX[dim]] = 1 - opening / max(np.percentile(opening, 90), 1e-6)
    for iris, (c1, c2), (top, bot), sign in ((468, (33, 133), (159, 145), 1), (473, (362, 263), (386, 374), 1)):
        cx = (p[:, c1, 0] + p[:, c2, 0]) / 2
        cy = (p[:, top, 1] + p[:, bot, 1]) / 2
        half_w = np.abs(p[:, c2, 0] - p[:, c1, 0]) / 2
        half_h = np.maximum(np.abs(p[:, bot, 1] - p[:, top, 1]) / 2, 1e-3)
        m[:, MOTION_INDEX["gaze_x"]] += 0.5 * sign * (p[:, iris, 0] - cx) / half_w
        m[:, MOTION_INDEX["gaze_y"]] += 0.5 * (p[:, iris, 1] - cy) / half_h
    brow = (d(105, 159) + d(334, 386)) / 2 / iod
    m[:, MOTION_INDEX["brow_raise"]] = (brow / np.median(brow) - 1) / 0.15
    # Head pose against the clip's median face.
    rigid = p[:, _RIGID, :]
    ref = np.median(rigid, axis=0)
    for i in range(n):
        r = _kabsch(ref, rigid[i])
        # Image axes: x right, y down, z away from the viewer (mediapipe z is negative towards the camera).
        yaw = np.degrees(np.arcsin(np.clip(r[0, 2], -1, 1)))
        pitch = np.degrees(np.arctan2(-r[1, 2], r[2, 2]))
        roll = np.degrees(np.arctan2(r[1, 0], r[0, 0]))
        m[i, MOTION_INDEX["head_yaw"]] = -yaw
        m[i, MOTION_INDEX["head_pitch"]] = pitch
        m[i, MOTION_INDEX["head_roll"]] = roll
    centre = rigid[:, :, :2].mean(axis=1)
    iod_ref = np.median(iod)
    m[:, MOTION_INDEX["head_tx"]] = (centre[:, 0] - np.median(centre[:, 0])) / iod_ref
    m[:, MOTION_INDEX["head_ty"]] = (centre[:, 1] - np.median(centre[:, 1])) / iod_ref
    m[:, MOTION_INDEX["head_scale"]] = iod / iod_ref - 1
    return VideoTargets(clip_motion(m), found, 25.0)


def extract(path: str | Path, *, cache: str | Path | None = None) -> VideoTargets:
    """Motion targets of a video file, resampled to 25 fps (``found``: a face on the nearest source frame).

    ``cache``: a folder for the per-frame landmarks (``<cache>/<parent folder>/<stem>.npz``, key ``landmarks``),
    so that re-building a corpus with other settings does not run FaceMesh again."""
    cached = Path(cache) / Path(path).parent.name / (Path(path).stem + ".npz") if cache else None
    if cached is not None and cached.is_file():
        with np.load(cached) as d:
            points, fps = d["landmarks"], float(d["fps"])
    else:
        fps, frames = video_frames(path)
        points = landmark_frames(frames)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp.npz")
            np.savez(tmp, landmarks=points, fps=fps)
            tmp.replace(cached)
    t = motion_from_landmarks(points)
    if abs(fps - F.FPS) < 0.01:
        return VideoTargets(t.motion, t.found, F.FPS)
    n = max(1, round(points.shape[0] * F.FPS / fps))
    src = (np.arange(n) + 0.5) * fps / F.FPS - 0.5  # frame centres, in source frames
    idx = np.arange(points.shape[0])
    motion = np.stack([np.interp(src, idx, t.motion[:, k]) for k in range(NUM_MOTION_DIMS)], axis=1)
    found = t.found[np.clip(np.round(src).astype(int), 0, points.shape[0] - 1)]
    return VideoTargets(motion.astype(np.float32), found, F.FPS)


# The dims FaceMesh measures well enough to supervise the mouth; the others of a real clip get loss weight 0 (head
# pose, blinks and brows of a few studio speakers would teach the network less motion than the synthetic corpus).
MEASURED = ("jaw_open", "lip_stretch", "lip_pucker")


def shift(y: np.ndarray, lag: int) -> np.ndarray:
    """``out[t] = y[t + lag]`` (NaN where that falls outside)."""
    out = np.full(y.shape, np.nan, np.float32)
    n = y.shape[0]
    if abs(lag) < n:
        if lag >= 0:
            out[: n - lag] = y[lag:]
        else:
            out[-lag:] = y[: n + lag]
    return out


def lag_curve(pred: np.ndarray, measured: np.ndarray, max_lag: int = 8) -> np.ndarray:
    """Pearson r between ``pred[t]`` and ``measured[t + lag]`` for lag = -max_lag..max_lag (NaN-aware)."""
    out = np.zeros(2 * max_lag + 1)
    for i, lag in enumerate(range(-max_lag, max_lag + 1)):
        y = shift(measured, lag)
        ok = ~np.isnan(y)
        if ok.sum() > 10 and pred[ok].std() > 0 and y[ok].std() > 0:
            out[i] = np.corrcoef(pred[ok], y[ok])[0, 1]
    return out


def build_corpus(
    paths: list[str | Path],
    *,
    phones: bool = False,
    visemes: bool = False,
    mel: bool = False,
    whisper: bool = True,
    min_found: float = 0.8,
    offsets: str | int = 0,
    reference=None,
    cache: str | Path | None = None,
    clip_weight: float = 1.0,
) -> dict[str, np.ndarray]:
    """A training corpus (same layout as ``models.motion.corpus.build_corpus``, plus ``weight`` and ``lags``) from
    real talking-face videos; only the ``MEASURED`` mouth dims carry loss weight, on frames with a face.

    Audio/video offset: ``offsets`` is a fixed lag in frames (targets become ``mouth[t + lag]``), or ``"clip"`` /
    ``"folder"`` to estimate it against ``reference`` (a ``MotionModel``: its jaw for the clip's audio) per clip,
    or pooled over the clips of each folder (one recording set, e.g. GRID, shares its offset; a 3 s clip alone
    gives a noisy estimate). The reference's own alignment comes from its training targets (a fixed 100 ms lead of
    the mouth over the sound in the synthetic corpus)."""
    if offsets in ("clip", "folder") and reference is None:
        raise ValueError("estimating offsets needs a reference model")
    items = []
    for path in paths:
        try:
            targets = extract(path, cache=cache)
        except ValueError as exc:
            log.warning("skipping %s: %s", path, exc)
            continue
        if targets.found.mean() < min_found:
            log.warning("skipping %s: face found in only %.0f%% of frames", path, 100 * targets.found.mean())
            continue
        try:
            samples = load_audio(path)
        except AudioError as exc:
            log.warning("skipping %s: %s", path, exc)
            continue
        items.append((Path(path), targets, samples))
    if not items:
        raise ValueError("no usable video")
    lags: dict[Path, int] = {}
    if offsets in ("clip", "folder"):
        curves = {}
        for path, t, samples in items:
            jaw = reference.generate(samples, sample_rate=16000, seed=0, temperature=0.0).values[:, 0]
            n = min(jaw.size, t.motion.shape[0])
            y = np.where(t.found[:n], t.motion[:n, MOTION_INDEX["jaw_open"]], np.nan).astype(np.float32)
            curves[path] = lag_curve(jaw[:n], y)
        groups: dict[Path, list[Path]] = {}
        for path in curves:
            groups.setdefault(path.parent if offsets == "folder" else path, []).append(path)
        for members in groups.values():
            lag = int(np.argmax(np.mean([curves[p] for p in members], axis=0))) - 8
            lags.update(dict.fromkeys(members, lag))
            log.info(
                "offset %+d frames for %s (%d clips)",
                lag,
                members[0].parent if len(members) > 1 else members[0],
                len(members),
            )
    else:
        lags = dict.fromkeys((p for p, _, _ in items), int(offsets))
    feats, motions, weights, bounds, names, lag_list = [], [], [], [0], [], []
    cols = [MOTION_INDEX[d] for d in MEASURED]
    for path, t, samples in items:
        n = t.motion.shape[0]
        lag = lags[path]
        motion = t.motion.copy()
        found = t.found.astype(np.float32)
        shifted = shift(np.concatenate([motion[:, cols], found[:, None]], axis=1), lag)
        ok = ~np.isnan(shifted[:, -1]) & (np.nan_to_num(shifted[:, -1]) > 0.5)
        motion[:, cols] = np.nan_to_num(shifted[:, :-1])
        weight = np.zeros_like(motion)
        weight[:, cols] = ok[:, None]
        feats.append(
            F.audio_features(samples, phones=phones, visemes=visemes and phones, mel=mel, whisper=whisper, n_frames=n)
        )
        motions.append(motion)
        weights.append(weight)
        bounds.append(bounds[-1] + n)
        names.append(str(path))
        lag_list.append(lag)
    return {
        "feats": np.concatenate(feats).astype(np.float32),
        "motion": np.concatenate(motions).astype(np.float32),
        "weight": np.concatenate(weights).astype(np.float32),
        "offsets": np.asarray(bounds, np.int64),
        "voices": np.asarray(names),
        "lags": np.asarray(lag_list, np.int64),
        "clip_weight": np.diff(bounds).astype(np.float64) * clip_weight,
        "groups": np.asarray(F.feature_groups(phones=phones, mel=mel, visemes=visemes and phones, whisper=whisper)),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.motion.video_targets", description=__doc__)
    p.add_argument("--videos", nargs="+", required=True, help="video files, or folders of .mp4 files")
    p.add_argument("--exclude", nargs="*", default=[], help="file stems to leave out (e.g. corrupt clips)")
    p.add_argument(
        "--features", choices=("whisper", "mel-phones"), default="whisper", help="see python -m models.motion.corpus"
    )
    p.add_argument(
        "--offsets",
        default="folder",
        help="audio/video offset: a number of frames, or 'clip' / 'folder' to estimate it against --reference",
    )
    p.add_argument("--reference", help="motion model folder used to estimate offsets (default: the shipped model)")
    p.add_argument("--cache", help="folder for per-video landmarks (FaceMesh runs once per video)")
    p.add_argument("--clip-weight", type=float, default=1.0, help="sampling weight of these clips per frame")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    paths: list[str | Path] = []
    for v in a.videos:
        paths.extend(sorted(Path(v).glob("*.mp4")) if Path(v).is_dir() else [Path(v)])
    paths = [x for x in paths if Path(x).stem not in set(a.exclude)]
    offsets: str | int = a.offsets if a.offsets in ("clip", "folder") else int(a.offsets)
    reference = None
    if offsets in ("clip", "folder"):
        from .model import MotionModel

        reference = MotionModel.load(a.reference)
    data = build_corpus(
        paths,
        phones=a.features == "mel-phones",
        visemes=a.features == "mel-phones",
        mel=a.features == "mel-phones",
        whisper=a.features == "whisper",
        offsets=offsets,
        reference=reference,
        cache=a.cache,
        clip_weight=a.clip_weight,
    )
    np.savez_compressed(a.out, **data)
    log.info("wrote %s: %d clips, %.1f min", a.out, len(data["offsets"]) - 1, data["motion"].shape[0] / 25 / 60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
