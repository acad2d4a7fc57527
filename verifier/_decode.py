"""Bounded video/image decoding for the verifier (PyAV): sniff the container, then yield downscaled RGB frames.

Hostile input is expected: every limit is checked before work is done (file size, declared dimensions, duration,
frame count, wall time), and every decoder failure becomes :class:`UnreadableMedia`.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

from provenance.watermark import FramePair

log = logging.getLogger(__name__)


class UnreadableMedia(Exception):
    """The input cannot be decoded as audio-visual media within the limits."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one verification. Defaults suit an upload server."""

    max_bytes: int = 2 * 1024**3  # 2 GiB
    max_duration_s: float = 3 * 3600.0
    # 8K UHD (7680x4320, 33 MP). Decoding cost grows with pixels, not bytes: a 192 KB file of 100 8000x8000 frames
    # took 35 s to decode; the decoded-frame budget below bounds that.
    max_declared_pixels: int = 7680 * 4320
    max_frames: int = 500_000
    # Total decoded pixels over the whole file (every frame at its native size): 30 min of 1080p at 30 fps.
    max_decoded_pixels: int = 1920 * 1080 * 30 * 1800
    # One wall-clock deadline for the whole verification (manifest read, container walk, decoding, detection).
    # In-process it is checked between stages and per frame; the supervised workers (verifier._isolated) also kill
    # a worker that overruns it inside a native call.
    timeout_s: float = 30.0
    # Fragmented MP4 (moof boxes): c2pa's manifest read grows superlinearly with the count (10k one-frame fragments:
    # 10.7 s; 20k: 62.5 s); a 3-hour stream in 2 s fragments has 5,400.
    max_fragments: int = 6_000
    max_boxes: int = 100_000  # top-level ISO BMFF boxes walked before the manifest read
    # Address space a supervised worker may add to its idle size (verifier._isolated); in-process calls are not bound.
    max_memory_bytes: int = 1024**3
    # Frames are downscaled while decoding so that their SHORT side is at most this: the watermark detector works on
    # a 128-px grid anyway (same decisions and p-values measured at 128 and 256 px, crops included), and 1080p then
    # costs what 128p does.
    work_short_side: int = 128
    # ... except the frames the detector keeps for its blind search (at most 32 per file), converted again at this
    # short side from the same decoded picture: a video shown inside a larger one (picture-in-picture, a 9:16
    # canvas) carries its mark at a fraction of the frame, which 128 px no longer resolve.
    fine_short_side: int = 512


@dataclass(frozen=True)
class MediaInfo:
    mime: str | None
    width: int
    height: int
    fps: float
    duration_s: float
    is_still: bool


def open_container(data: bytes | str, limits: Limits) -> av.container.InputContainer:
    try:
        return av.open(io.BytesIO(data) if isinstance(data, bytes) else data, mode="r", timeout=limits.timeout_s)
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise UnreadableMedia(f"not decodable media: {exc}") from exc


class Deadline:
    """One wall-clock budget shared by every stage of a verification."""

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.end = time.monotonic() + self.seconds

    def check(self, stage: str) -> None:
        if time.monotonic() > self.end:
            raise UnreadableMedia(f"limit: the {self.seconds:g} s deadline was exceeded ({stage})")


ISO_BMFF = ("video/mp4", "video/quicktime", "video/x-m4v", "audio/mp4", "image/heic", "image/avif")


def check_boxes(data: bytes, limits: Limits, deadline: Deadline) -> None:
    """Walk the top-level ISO BMFF boxes (sizes only, no parsing) and refuse a file with more fragments or boxes
    than the limits, before anything slower reads it."""
    pos, n, fragments, size = 0, 0, 0, len(data)
    while pos + 8 <= size:
        box = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if box == 1:
            if pos + 16 > size:
                return
            box = int.from_bytes(data[pos + 8 : pos + 16], "big")
        elif box == 0:
            box = size - pos
        if box < 8:
            return  # corrupt: the readers that follow reject it
        n += 1
        fragments += kind == b"moof"
        if fragments > limits.max_fragments:
            raise UnreadableMedia(f"limit: more than {limits.max_fragments} movie fragments")
        if n > limits.max_boxes:
            raise UnreadableMedia(f"limit: more than {limits.max_boxes} top-level boxes")
        if n % 4096 == 0:
            deadline.check("container walk")
        pos += box


def image_size(data: bytes, mime: str | None) -> tuple[int, int] | None:
    """(width, height) from a PNG, JPEG, GIF or WebP header without decoding; None when not found."""
    try:
        if mime == "image/png" and data[12:16] == b"IHDR":
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        if mime == "image/gif":
            return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
        if mime == "image/webp" and data[12:16] == b"VP8X":
            return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
        if mime == "image/jpeg":
            pos = 2
            for _ in range(10_000):  # markers up to the first frame header
                while pos < len(data) and data[pos] == 0xFF:
                    pos += 1
                if pos + 3 > len(data):
                    return None
                marker = data[pos]
                if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                    pos += 1
                    continue
                length = int.from_bytes(data[pos + 1 : pos + 3], "big")
                if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                    h = int.from_bytes(data[pos + 4 : pos + 6], "big")
                    w = int.from_bytes(data[pos + 6 : pos + 8], "big")
                    return w, h
                if length < 2:
                    return None
                pos += 1 + length
    except IndexError:
        return None
    return None


def check_image_header(data: bytes, mime: str | None, limits: Limits) -> None:
    """Refuse an image whose header declares more pixels than the limit before any decoder allocates them (FFmpeg's
    probe decodes the first frame: a 750 KB 16000x16000 image cost 684 MB before the declared-size check)."""
    size = image_size(data, mime)
    if size is not None and size[0] * size[1] > limits.max_declared_pixels:
        raise UnreadableMedia(
            f"limit: declared image size {size[0]}x{size[1]} exceeds {limits.max_declared_pixels} pixels"
        )


def declared_duration(container: av.container.InputContainer, stream: Any, limits: Limits) -> float:
    """The stream's declared duration in seconds (the container's when the stream has none; 0 when neither
    says); over ``limits.max_duration_s`` is :class:`UnreadableMedia`, before anything is decoded."""
    duration = 0.0
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / av.time_base
    if duration > limits.max_duration_s:
        raise UnreadableMedia(f"limit: declared duration {duration:.0f} s exceeds {limits.max_duration_s:g} s")
    return duration


def probe(container: av.container.InputContainer, mime: str | None, limits: Limits) -> MediaInfo:
    if not container.streams.video:
        raise UnreadableMedia("no video stream")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    if ctx is None:  # a stream FFmpeg has no decoder for (SVG, JPEG XL in this build, ...)
        raise UnreadableMedia(f"no decoder for this {container.format.name} stream")
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    if width <= 0 or height <= 0:
        raise UnreadableMedia("video stream has no valid dimensions")
    if width * height > limits.max_declared_pixels:
        raise UnreadableMedia(
            f"limit: declared frame size {width}x{height} exceeds {limits.max_declared_pixels} pixels"
        )
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 25.0
    if not np.isfinite(fps) or fps <= 0 or fps > 1000:
        fps = 25.0
    duration = declared_duration(container, stream, limits)
    is_still = bool(mime and mime.startswith("image/"))
    return MediaInfo(mime, width, height, fps, duration, is_still)


# What PyAV raises for a frame it cannot decode or convert: UnreadableMedia, wherever the conversion runs.
_DECODE_ERRORS = (av.error.FFmpegError, OSError, ValueError, MemoryError)


def _fine_converter(frame: av.VideoFrame, width: int, height: int):
    def convert() -> np.ndarray:
        try:
            return frame.to_ndarray(width=width, height=height, format="rgb24", interpolation="AREA")
        except _DECODE_ERRORS as exc:
            raise UnreadableMedia(f"decoding failed: {exc}") from exc

    return convert


def work_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    scale = min(1.0, short_side / min(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def iter_frames(
    container: av.container.InputContainer,
    info: MediaInfo,
    limits: Limits,
    *,
    sample_every_s: float | None = None,
    keyframes_only: bool = False,
    deadline: Deadline | None = None,
    fine: bool = False,
) -> Iterator[tuple[float, np.ndarray | FramePair]]:
    """Yield ``(timestamp_s, rgb_uint8)`` frames, downscaled while decoding; optionally one per ``sample_every_s``,
    or only the key frames (the decoder then skips everything else: the cheapest way to sample a long video).
    ``fine``: yield :class:`FramePair` s instead when the native frame is larger than the working size, whose
    ``fine()`` converts the same decoded picture again at ``limits.fine_short_side``."""
    stream = container.streams.video[0]
    # No frame threading: at a 128-px output the decoder is not the bottleneck, and on two cores its threads
    # compete with the watermark detector (measured slower with thread_type="AUTO").
    if keyframes_only:
        stream.codec_context.skip_frame = "NONKEY"
    w, h = work_size(info.width, info.height, limits.work_short_side)
    # The fine frames: the native size, or a whole multiple of the working size when that is smaller (1280x720 ->
    # 912x512: the detector's 4x super-resolution grid is then the frame's own pixels).
    fw, fh = info.width, info.height
    if min(info.width, info.height) > limits.fine_short_side:
        ratio = max(1, limits.fine_short_side // max(1, limits.work_short_side))
        fw, fh = w * ratio, h * ratio
    deadline = deadline or Deadline(limits.timeout_s)
    next_t = 0.0
    count = 0
    pixels = 0
    try:
        for index, frame in enumerate(container.decode(stream)):
            deadline.check("decoding")
            count += 1
            if count > limits.max_frames:
                raise UnreadableMedia("limit: too many frames")
            pixels += frame.width * frame.height
            if pixels > limits.max_decoded_pixels:
                raise UnreadableMedia("limit: too many decoded pixels")
            t = float(frame.time) if frame.time is not None else index / info.fps
            if t > limits.max_duration_s:
                raise UnreadableMedia("duration exceeds the limit")
            if sample_every_s is not None:
                if t + 1e-6 < next_t:
                    continue
                next_t = t + sample_every_s
            if frame.width * frame.height > limits.max_declared_pixels:
                raise UnreadableMedia("limit: frame size exceeds the limit")
            # Area (box) averaging: what the detector's working grid assumes, and 1.5x faster than swscale's default.
            work = frame.to_ndarray(width=w, height=h, format="rgb24", interpolation="AREA")
            if fine and (fw, fh) != (w, h) and frame.width == info.width and frame.height == info.height:
                yield t, FramePair(work, _fine_converter(frame, fw, fh))
            else:
                yield t, work
    except _DECODE_ERRORS as exc:
        raise UnreadableMedia(f"decoding failed: {exc}") from exc
