"""Public watermark API: :class:`VideoWatermarker`, :class:`WatermarkDetection`, :func:`new_content_id`.

The raw embedder emits frames WITHOUT signed provenance; ``sdk`` is the only caller that turns them into
files.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..errors import WatermarkInputError
from . import _code, _keys
from ._detector import DetectOptions, run_detection
from ._embed import EmbedParams, embed_stream
from ._frames import FramePair

new_content_id = _keys.new_content_id


class WatermarkSegment(NamedTuple):
    """A time range (seconds) that carries the mark of ``content_id``."""

    start_s: float
    end_s: float
    content_id: str | None


@dataclass(frozen=True)
class WindowResult:
    """One sliding 1-s window: its own blind decode, and whether it carries the clip's content ID."""

    start_s: float
    end_s: float
    frames: int
    content_id: str | None  # the window's own decision (blind, corrected for every hypothesis)
    log10_p: float
    agreeing_bits: int
    matches_clip: bool  # the window carries the clip's codeword (a one-codeword test, far more sensitive)


@dataclass(frozen=True)
class WatermarkDetection:
    """Result of :meth:`VideoWatermarker.detect`. ``found`` is False when no mark passes the 1e-9 test."""

    found: bool
    content_id: str | None
    log10_p: float  # log10 of the corrected p-value (union bound over every hypothesis and test); 0 = no evidence
    frames_used: int
    segments: tuple[WatermarkSegment, ...]
    agreeing_bits: int  # of n_bits coded bits, for the best hypothesis of the deciding test
    n_bits: int  # coded bits observed (232 unless a crop erased some)
    threshold_bits: int  # agreeing bits needed for found (clip-level test, at this hypothesis count)
    hypotheses: int  # hypotheses x tests in the union bound
    key_id: str
    version: int | None
    frame_bit_agreement: float  # mean per-frame fraction of coded bits agreeing with the decoded codeword
    time_offset_s: float  # temporal key phase found (non-zero after trimming the start)
    resynchronised: bool  # geometry/gain re-synchronisation was needed
    geometry: str  # human-readable geometry and gain of the deciding measurement
    windows: tuple[WindowResult, ...] = ()


class VideoWatermarker:
    """Embed and detect the DIRFA video watermark.

    ``key=None`` uses the PUBLIC default key: any platform running the verifier detects marks made with it.
    Pass ``bytes`` or ``str`` for an organisation-private key (detected only by holders of that key). Keys
    are never logged; ``key_id`` is a short public fingerprint.
    """

    def __init__(self, key: bytes | str | None = None, *, params: EmbedParams | None = None) -> None:
        self._key = _keys.normalise_key(key)
        self._params = params or EmbedParams()
        self.key_id = _keys.key_id(self._key)

    def embed(self, frames: Iterable[np.ndarray], content_id: str, *, fps: float = 25.0) -> Iterator[np.ndarray]:
        """Yield each RGB uint8 (H, W, 3) frame watermarked with ``content_id``, streaming.

        Frames are counted from 0: frame k belongs to time (k + 0.5) / fps, which picks its layout in the
        re-keying schedule (version 1 of the mark uses a single layout). ``content_id`` is checked before the
        first frame is read. Raises WatermarkInputError on bad frames (dtype, shape, short side < 256,
        changing shape) or when ``frames`` is empty.
        """
        _code.content_id_to_bits(content_id)
        _check_fps(fps)
        return embed_stream(frames, content_id, self._key, float(fps), self._params)

    def detect(
        self,
        frames: Iterable[np.ndarray | FramePair],
        fps: float = 25.0,
        *,
        timestamps: Sequence[float] | None = None,
        resync: bool = True,
        sync_frames: int = 12,
        keep_frames: int = 32,
    ) -> WatermarkDetection:
        """Look for this key's mark in RGB uint8 frames of any size (short side >= 64).

        A :class:`FramePair` instead of an array gives the frame at two resolutions: the aligned pass measures
        its ``work`` frame, and its ``fine()`` frame is fetched for the frames kept for re-synchronisation
        (a decoder scaling frames down to the 128-px working grid keeps insets and canvases detectable that
        way). A sized sequence of frames lets the detector pick its kept frames without reducing extra ones.

        ``timestamps``: presentation time in seconds of each frame, for a temporally subsampled stream (e.g.
        the verifier's fast mode at 2 frames per second) or a variable frame rate; by default frame i is at i
        / fps. ``fps`` is the frame rate of the video the frames come from (a frame spans 1/fps from its
        timestamp). ``resync``: when the aligned decode does not pass, search grid scale/phase, cyclic tile
        shift and level gain (crops, non-uniform rescales, contrast changes) on ``sync_frames`` frames and
        decide on up to ``keep_frames`` frames kept evenly spread over the clip. The hypothesis count of the
        union bound includes the re-synchronisation stage whether or not it runs, so ``log10_p`` does not
        depend on early exits.
        """
        _check_fps(fps)
        if not (isinstance(sync_frames, int) and isinstance(keep_frames, int) and 1 <= sync_frames <= keep_frames):
            raise WatermarkInputError("need 1 <= sync_frames <= keep_frames (integers)")
        stamps = None
        if timestamps is not None:
            stamps = np.asarray(timestamps, dtype=np.float64)
            if stamps.ndim != 1 or not np.all(np.isfinite(stamps)):
                raise WatermarkInputError("timestamps must be a 1-D sequence of finite seconds")
        options = DetectOptions(resync=resync, sync_frames=sync_frames, keep_frames=keep_frames)
        raw = run_detection(frames, self._key, self._params, float(fps), stamps, options)
        segments = tuple(WatermarkSegment(*s) for s in raw.segments)
        windows = tuple(WindowResult(**w) for w in raw.windows)
        return WatermarkDetection(
            found=raw.found,
            content_id=raw.content_id if raw.found else None,
            log10_p=raw.log10_p,
            frames_used=raw.frames_used,
            segments=segments,
            agreeing_bits=raw.agreeing_bits,
            n_bits=raw.n_bits,
            threshold_bits=raw.threshold_bits,
            hypotheses=round(10**raw.log10_hypotheses),
            key_id=self.key_id,
            version=raw.version if raw.found else None,
            frame_bit_agreement=raw.frame_bit_agreement,
            time_offset_s=raw.time_offset_s,
            resynchronised=raw.resynchronised,
            geometry=raw.geometry,
            windows=windows,
        )


def _check_fps(fps: float) -> None:
    if not isinstance(fps, (int, float)) or not math.isfinite(fps) or fps <= 0:
        raise WatermarkInputError("fps must be a positive number")
