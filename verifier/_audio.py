"""The soundtrack's audio mark: decode the first audio stream (PyAV, bounded) and search it with numpy only.

Works on videos (independently of the picture) and on audio-only files (WAV, MP3, M4A/AAC, Opus, FLAC).
"""

from __future__ import annotations

import logging

import av
import numpy as np

from provenance.audiomark import AudioWatermarker
from provenance.errors import WatermarkInputError

from . import _decode
from ._decode import Limits, UnreadableMedia
from .report import AudioSegmentSection, AudioWatermarkSection

log = logging.getLogger(__name__)

ANALYSIS_RATE = 16_000
MAX_AUDIO_S = 600.0  # longer soundtracks: their first 10 minutes are searched (speed 1)
SPEED_SEARCH_S = 10.0  # the speed search (41 speeds, ~0.04 s CPU per second of audio) covers this much


def has_video_stream(data: bytes, limits: Limits) -> bool:
    """True when the container has a video stream (whether or not it decodes): such a file is a video, and an
    undecodable picture stays UNREADABLE however good its soundtrack."""
    try:
        with _decode.open_container(data, limits) as container:
            return bool(container.streams.video)
    except UnreadableMedia:
        return False


def decode_audio(data: bytes, limits: Limits, deadline: _decode.Deadline) -> tuple[np.ndarray, float] | None:
    """(mono float32 samples at 16 kHz, declared duration) of the first audio stream, or None without one."""
    with _decode.open_container(data, limits) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        duration = _decode.declared_duration(container, stream, limits)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=ANALYSIS_RATE)
        chunks, total, cap = [], 0, int(MAX_AUDIO_S * ANALYSIS_RATE)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += chunk.size
                if total >= cap:
                    break
                deadline.check("audio decoding")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except (av.error.FFmpegError, ValueError) as exc:
            if not chunks:
                raise UnreadableMedia(f"audio not decodable: {exc}") from exc
            log.info("audio decoding stopped early: %s", exc)
    samples = np.concatenate(chunks)[:cap] if chunks else np.zeros(0, np.float32)
    return samples, duration or samples.size / ANALYSIS_RATE


def audio_section(
    data: bytes, key: bytes | str | None, limits: Limits, deadline: _decode.Deadline, *, full_search: bool = True
) -> AudioWatermarkSection:
    """The ``audio_watermark`` report section (analysed=False: no audio stream). ``full_search``: also search
    playback speeds +-5 % (the verifier's fast mode searches speed 1 only, still over every alignment)."""
    keyname = "public" if key is None else "private"
    decoded = decode_audio(data, limits, deadline)
    if decoded is None:
        return AudioWatermarkSection(analysed=False, key=keyname)
    samples, duration = decoded
    if samples.size < ANALYSIS_RATE // 2 or not np.any(np.abs(samples) > 1e-6):
        return AudioWatermarkSection(analysed=True, found=False, duration_s=round(duration, 3), key=keyname)
    try:
        marker = AudioWatermarker(key=key)
        # speed 1 over the whole soundtrack; the speed search (~8x the CPU) over its first SPEED_SEARCH_S only,
        # so a long file stays within the deadline. Both count every speed in the p-value.
        det = marker.detect(samples, ANALYSIS_RATE, speeds=(1.0,))
        if full_search and not det.found:
            deadline.check("audio watermark search")
            det = marker.detect(samples[: int(SPEED_SEARCH_S * ANALYSIS_RATE)], ANALYSIS_RATE)
    except WatermarkInputError as exc:
        raise UnreadableMedia(f"audio not analysable: {exc}") from exc
    return AudioWatermarkSection(
        analysed=True,
        found=det.found,
        content_id=det.content_id,
        log10_p=float(det.log10_p_value),
        p_value=float(det.p_value),
        speed=float(det.speed),
        duration_s=round(duration, 3),
        segments=tuple(AudioSegmentSection(s.start_s, s.end_s, s.agreement) for s in det.segments),
        key=keyname,
    )
