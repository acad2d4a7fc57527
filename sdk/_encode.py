"""H.264 + AAC MP4 writing with PyAV. Writes UNSIGNED media: only the Generator calls it, then signs the result."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np

log = logging.getLogger(__name__)

AUDIO_RATE = 48_000
X264_PARAMS = "mbtree=1:rc-lookahead=10"


# Full-range BT.601 chroma (OpenCV's YCrCb, JPEG's) -> the limited range H.264 uses: 128 + (c - 128) * 224 / 255.
_LIMITED_CHROMA = np.clip(np.rint(128 + (np.arange(256) - 128) * 224 / 255), 0, 255).astype(np.uint8)


def rgb_to_yuv420p(frame: np.ndarray) -> np.ndarray:
    """RGB uint8 (h, w, 3), even sides -> planar yuv420p (h * 3 / 2, w): BT.601 limited range, chroma from 2x2
    averages, as swscale makes it (within 1 level on Y and 2 on chroma), at a quarter of its cost (0.4 vs 1.6 ms
    per 512x512 frame): the encode thread is on the render pipeline's critical path."""
    h, w = frame.shape[:2]
    out = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420)  # its Y plane; its chroma is point-sampled, replaced below
    half = cv2.resize(frame, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    ycrcb = cv2.cvtColor(half, cv2.COLOR_RGB2YCrCb)
    quarter = (h // 2) * (w // 2)
    flat = out.reshape(-1)
    flat[h * w : h * w + quarter] = cv2.LUT(ycrcb[..., 2], _LIMITED_CHROMA).reshape(-1)  # U (Cb)
    flat[h * w + quarter :] = cv2.LUT(ycrcb[..., 1], _LIMITED_CHROMA).reshape(-1)  # V (Cr)
    return out


class Mp4Writer:
    """Streams RGB frames and mono audio into an H.264 (yuv420p) + AAC MP4 with faststart.

    Audio is pushed in step with video so the file is interleaved; :meth:`close` flushes both encoders and pads the
    audio with silence up to the video's end, so both tracks last ``frames / fps`` (plus AAC's frame granularity).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        width: int,
        height: int,
        fps: int,
        audio: np.ndarray | None,
        audio_rate: int = AUDIO_RATE,
        crf: int = 18,
        preset: str = "superfast",
    ) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"frame size must be even, got {width}x{height}")
        self.path = Path(path)
        self.fps = fps
        self.width, self.height = width, height
        self._container = av.open(str(self.path), mode="w", format="mp4", options={"movflags": "+faststart"})
        self._video = self._container.add_stream("libx264", rate=fps)
        self._video.width, self._video.height = width, height
        self._video.pix_fmt = "yuv420p"
        self._video.codec_context.time_base = Fraction(1, fps)
        # A key frame every 2 s (x264's default is 10 s): seeking, streaming, and the verifier's fast mode, which
        # decodes key frames only.
        self._video.codec_context.gop_size = 2 * fps
        # One encoder thread: the Generator already keeps both cores busy with its own stages, and x264's frame
        # threads cost ~25% more CPU per frame. superfast + macroblock-tree rate control: half veryfast's CPU per
        # frame at the same PSNR and ~7% larger files (benchmarks in docs/benchmarks.md).
        self._video.options = {"crf": str(crf), "preset": preset, "threads": "1", "x264-params": X264_PARAMS}
        self._audio_samples = None if audio is None else np.asarray(audio, dtype=np.float32)
        self._audio_rate = audio_rate
        self._audio_pos = 0
        self._audio_pts = 0
        if self._audio_samples is not None:
            self._audio = self._container.add_stream("aac", rate=audio_rate)
            self._audio.layout = "mono"
            self._audio.bit_rate = 128_000
            # FFmpeg's constant-quantiser AAC coder: 0.4x the CPU of its default two-loop search, and a closer
            # waveform at this rate (10 s of speech, 48 kHz mono, 128 kb/s: 0.08 vs 0.20 s CPU, SNR 46.5 vs
            # 31.5 dB; docs/benchmarks.md, "Render speed").
            self._audio.options = {"aac_coder": "fast"}
        self.frames_written = 0
        self._closed = False

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(
                f"expected uint8 frame of shape {(self.height, self.width, 3)}, got {frame.shape} {frame.dtype}"
            )
        self.write_yuv420p(rgb_to_yuv420p(frame))

    def write_yuv420p(self, planes: np.ndarray) -> None:
        """Write one frame already converted by :func:`rgb_to_yuv420p` (``(height * 3 / 2, width)`` uint8): the
        Generator converts in its watermark thread, off the encoder's critical path."""
        if planes.shape != (self.height * 3 // 2, self.width) or planes.dtype != np.uint8:
            raise ValueError(
                f"expected uint8 yuv420p planes of shape {(self.height * 3 // 2, self.width)}, got "
                f"{planes.shape} {planes.dtype}"
            )
        vf = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        vf.pts = self.frames_written
        for packet in self._video.encode(vf):
            self._container.mux(packet)
        self.frames_written += 1
        self._push_audio(until=self.frames_written * self._audio_rate // self.fps)

    def _push_audio(self, until: int) -> None:
        if self._audio_samples is None or until <= self._audio_pos:
            return
        chunk = self._audio_samples[self._audio_pos : until]
        if chunk.size < until - self._audio_pos:  # audio shorter than video: pad with silence
            chunk = np.pad(chunk, (0, until - self._audio_pos - chunk.size))
        af = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="flt", layout="mono")
        af.sample_rate = self._audio_rate
        af.pts = self._audio_pts
        af.time_base = Fraction(1, self._audio_rate)
        self._audio_pts += chunk.size
        self._audio_pos = until
        for packet in self._audio.encode(af):
            self._container.mux(packet)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            for packet in self._video.encode(None):
                self._container.mux(packet)
            if self._audio_samples is not None:
                for packet in self._audio.encode(None):
                    self._container.mux(packet)
        finally:
            self._container.close()

    def abort(self) -> None:
        """Close without caring about the result (the caller deletes the file)."""
        if not self._closed:
            self._closed = True
            try:
                self._container.close()
            except Exception:
                log.debug("ignoring error while aborting %s", self.path, exc_info=True)

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
