"""Attack harness for the watermark benchmarks, written as data: name -> (function, detect-time fps).

Every attack maps a list of RGB uint8 frames (25 fps) to the list a platform would hand back. Codecs go
through PyAV (libx264 preset medium, yuv420p; libvpx-vp9); resampling, JPEG and the tone curves use OpenCV,
which only the benchmarks (never ``provenance``) import.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import av
import cv2
import numpy as np

FPS = 25


def encode(frames: list[np.ndarray], codec: str, options: dict, fps: int = FPS, fmt: str = "mp4") -> list:
    buf = io.BytesIO()
    h, w = frames[0].shape[:2]
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = w // 2 * 2, h // 2 * 2
        stream.pix_fmt = "yuv420p"
        stream.options = options
        for f in frames:
            f = np.ascontiguousarray(f[: h // 2 * 2, : w // 2 * 2])
            out.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(stream.encode())
    buf.seek(0)
    with av.open(buf) as inp:
        return [fr.to_ndarray(format="rgb24") for fr in inp.decode(video=0)]


def h264(frames, crf: int):
    return encode(frames, "libx264", {"crf": str(crf), "preset": "medium"})


def vp9(frames):
    opts = {"crf": "32", "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"}
    return encode(frames, "libvpx-vp9", opts, fmt="webm")


def rescale(frames, r: float):
    h, w = frames[0].shape[:2]
    size = (max(2, round(w * r)), max(2, round(h * r)))
    interp = cv2.INTER_AREA if r < 1 else cv2.INTER_CUBIC
    return [cv2.resize(f, size, interpolation=interp) for f in frames]


def crop(frames, r: float):
    h, w = frames[0].shape[:2]
    ch, cw = int(h * r) // 2 * 2, int(w * r) // 2 * 2
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return [np.ascontiguousarray(f[y0 : y0 + ch, x0 : x0 + cw]) for f in frames]


def crop_at(frames, area: float, at: tuple[float, float]):
    """Keep ``area`` of the frame (same aspect), its top-left corner at (x, y) fractions of the room left."""
    h, w = frames[0].shape[:2]
    r = area**0.5
    ch, cw = int(h * r) // 2 * 2, int(w * r) // 2 * 2
    y0, x0 = int((h - ch) * at[1]), int((w - cw) * at[0])
    return [np.ascontiguousarray(f[y0 : y0 + ch, x0 : x0 + cw]) for f in frames]


def rotate(frames, degrees: float, fill: bool = False):
    """A small rotation about the centre (a tilted phone), same size: the corners filled by reflection, or with
    ``fill`` zoomed in until no corner is empty (an editor's straighten tool)."""
    h, w = frames[0].shape[:2]
    a = np.radians(abs(degrees))
    zoom = np.cos(a) + max(h, w) / min(h, w) * np.sin(a) if fill else 1.0
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, zoom)
    return [cv2.warpAffine(f, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT) for f in frames]


def jpeg(frames, q: int):
    out = []
    for f in frames:
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        out.append(cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
    return out


def tone(frames, fn: Callable[[np.ndarray], np.ndarray]):
    table = np.clip(np.round(fn(np.arange(256, dtype=np.float64))), 0, 255).astype(np.uint8)
    return [table[f] for f in frames]


def change_fps(frames, new_fps: int):
    """Resample in time as a player would (nearest earlier source frame): 25 -> 30 duplicates, -> 15 drops."""
    n_out = int(len(frames) * new_fps / FPS)
    return [frames[min(len(frames) - 1, int(k * FPS / new_fps + 1e-9))] for k in range(n_out)]


def trim_middle(frames, seconds: float = 2.0):
    n = len(frames)
    cut = int(seconds * FPS)
    start = (n - cut) // 2
    return frames[:start] + frames[start + cut :]


def greyscale(frames):
    """A black-and-white filter: BT.601 luma in all three channels (chroma is gone)."""
    return [np.repeat(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2) for f in frames]


def mirror(frames):
    return [np.ascontiguousarray(f[:, ::-1]) for f in frames]


def stretch(frames, sx: float, sy: float = 1.0):
    """Non-uniform scaling (an aspect-ratio change, e.g. 4:3 shown as 16:9)."""
    h, w = frames[0].shape[:2]
    size = (round(w * sx) // 2 * 2, round(h * sy) // 2 * 2)
    return [cv2.resize(f, size, interpolation=cv2.INTER_CUBIC if sx * sy >= 1 else cv2.INTER_AREA) for f in frames]


def vertical_canvas(frames):
    """A 9:16 vertical frame: the video fitted to the width, centred, over a blurred, zoomed copy of itself."""
    h, w = frames[0].shape[:2]
    cw, ch = 720, 1280
    fit_h = round(h * cw / w) // 2 * 2
    out = []
    for f in frames:
        bg = cv2.GaussianBlur(cv2.resize(f, (cw, ch), interpolation=cv2.INTER_LINEAR), (0, 0), 25)
        y0 = (ch - fit_h) // 2
        bg[y0 : y0 + fit_h] = cv2.resize(f, (cw, fit_h), interpolation=cv2.INTER_CUBIC)
        out.append(bg)
    return out


def picture_in_picture(frames, scale: float = 0.45, at: tuple[float, float] = (0.52, 0.08), blur: float = 9):
    """The video scaled to ``scale`` of a 1280x720 canvas height, at (x, y) fractions of the canvas, over another
    (unmarked) moving picture: coloured noise blurred by ``blur`` px (2: a busy, sharp texture)."""
    cw, ch = 1280, 720
    h, w = frames[0].shape[:2]
    ph = round(ch * scale) // 2 * 2
    pw = round(w * ph / h) // 2 * 2
    x0, y0 = min(int(at[0] * cw), cw - pw), min(int(at[1] * ch), ch - ph)
    rng = np.random.default_rng(5)
    base = cv2.GaussianBlur(rng.integers(0, 255, (ch, cw, 3), dtype=np.uint8), (0, 0), blur)
    base = cv2.normalize(base, None, 0, 255, cv2.NORM_MINMAX)
    out = []
    for i, f in enumerate(frames):
        bg = np.roll(base, 3 * i, axis=1).copy()
        bg[y0 : y0 + ph, x0 : x0 + pw] = cv2.resize(f, (pw, ph), interpolation=cv2.INTER_AREA)
        out.append(bg)
    return out


def hevc(frames, crf: int = 28):
    return encode(frames, "libx265", {"crf": str(crf), "preset": "fast", "x265-params": "log-level=error"})


def av1(frames):
    return encode(frames, "libsvtav1", {"crf": "35", "preset": "10"})


# name -> (attack, fps of the result)
ATTACKS: dict[str, tuple[Callable, int]] = {
    "none": (lambda f: f, FPS),
    "h264 crf18": (lambda f: h264(f, 18), FPS),
    "h264 crf23": (lambda f: h264(f, 23), FPS),
    "h264 crf28": (lambda f: h264(f, 28), FPS),
    "h264 crf35": (lambda f: h264(f, 35), FPS),
    "h264 crf40": (lambda f: h264(f, 40), FPS),
    "vp9 crf32": (vp9, FPS),
    "rescale 0.5 + crf23": (lambda f: h264(rescale(f, 0.5), 23), FPS),
    "rescale 0.75 + crf23": (lambda f: h264(rescale(f, 0.75), 23), FPS),
    "upscale 1.5": (lambda f: rescale(f, 1.5), FPS),
    "crop 90% + crf23": (lambda f: h264(crop(f, 0.9), 23), FPS),
    "crop 80% + crf23": (lambda f: h264(crop(f, 0.8), 23), FPS),
    "jpeg q50": (lambda f: jpeg(f, 50), FPS),
    "brightness +20": (lambda f: tone(f, lambda x: x + 20), FPS),
    "brightness -20": (lambda f: tone(f, lambda x: x - 20), FPS),
    "contrast x0.8": (lambda f: tone(f, lambda x: (x - 128) * 0.8 + 128), FPS),
    "contrast x1.2": (lambda f: tone(f, lambda x: (x - 128) * 1.2 + 128), FPS),
    "gamma 0.8": (lambda f: tone(f, lambda x: 255 * (x / 255) ** 0.8), FPS),
    "gamma 1.2": (lambda f: tone(f, lambda x: 255 * (x / 255) ** 1.2), FPS),
    "fps 25->30": (lambda f: change_fps(f, 30), 30),
    "fps 25->15": (lambda f: change_fps(f, 15), 15),
    "trim 2 s from middle": (trim_middle, FPS),
}

# Issue 16: everyday edits, each followed by a codec.
EDITS: dict[str, tuple[Callable, int]] = {
    "greyscale + crf23": (lambda f: h264(greyscale(f), 23), FPS),
    "greyscale + vp9": (lambda f: vp9(greyscale(f)), FPS),
    "mirror + crf23": (lambda f: h264(mirror(f), 23), FPS),
    "mirror + vp9": (lambda f: vp9(mirror(f)), FPS),
    "crop 70% (49% area) + crf23": (lambda f: h264(crop(f, 0.7), 23), FPS),
    "crop 60% + crf23": (lambda f: h264(crop(f, 0.6), 23), FPS),
    "stretch 4:3->16:9 + crf23": (lambda f: h264(stretch(f, 4 / 3), 23), FPS),
    "stretch 1.2x tall + crf23": (lambda f: h264(stretch(f, 1.0, 1.2), 23), FPS),
    "9:16 canvas, blurred fill + crf23": (lambda f: h264(vertical_canvas(f), 23), FPS),
    "picture-in-picture 0.45 + crf23": (lambda f: h264(picture_in_picture(f), 23), FPS),
    "mirror + greyscale + crf23": (lambda f: h264(greyscale(mirror(f)), 23), FPS),
    "mirror + hevc crf28": (lambda f: hevc(mirror(f)), FPS),
    "stretch 4:3->16:9 + av1": (lambda f: av1(stretch(f, 4 / 3)), FPS),
    # Second round: unknown affine placement (scale, offset, anisotropy, rotation), other codecs.
    "crop 55% area off-centre + crf23": (lambda f: h264(crop_at(f, 0.55, (0.8, 0.25)), 23), FPS),
    "crop 50% area off-centre + vp9": (lambda f: vp9(crop_at(f, 0.5, (0.2, 0.7))), FPS),
    "9:16 canvas, blurred fill + vp9": (lambda f: vp9(vertical_canvas(f)), FPS),
    "9:16 canvas, blurred fill + hevc crf28": (lambda f: hevc(vertical_canvas(f)), FPS),
    "picture-in-picture 0.6 + crf23": (lambda f: h264(picture_in_picture(f, 0.6, (0.1, 0.3)), 23), FPS),
    "picture-in-picture 0.3 + crf23": (lambda f: h264(picture_in_picture(f, 0.3, (0.6, 0.55)), 23), FPS),
    "stretch 1.4:1 wide + crf23": (lambda f: h264(stretch(f, 1.4), 23), FPS),
    "rotate 2 deg + crf23": (lambda f: h264(rotate(f, 2.0), 23), FPS),
    # Sixth round: other angles, and the straighten tool's zoom to fill.
    "rotate -4 deg + vp9": (lambda f: vp9(rotate(f, -4.0)), FPS),
    "rotate 3 deg, zoomed to fill + crf23": (lambda f: h264(rotate(f, 3.0, fill=True), 23), FPS),
    # Third round: insets at other sizes and places, over a busy background, touching the canvas edge.
    "picture-in-picture 0.35, busy background + vp9": (
        lambda f: vp9(picture_in_picture(f, 0.35, (0.04, 0.6), blur=2)),
        FPS,
    ),
    "picture-in-picture 0.8 at the corner + hevc crf28": (
        lambda f: hevc(picture_in_picture(f, 0.8, (1.0, 1.0))),
        FPS,
    ),
}
ATTACKS_ALL = {**ATTACKS, **EDITS}
