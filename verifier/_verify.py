"""``verify()``: one call that reads a file's C2PA manifest, detects the watermark, checks that the two agree, and
recovers a stripped manifest from a store by the watermark's content ID. Imports no torch, onnxruntime or mediapipe."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from provenance._pipeline import background
from provenance.errors import WatermarkInputError
from provenance.manifest import SOFT_BINDING_ALG
from provenance.mime import sniff_mime
from provenance.trust import TrustAnchors
from provenance.validation import ManifestFinding, ManifestStatus, read_manifest
from provenance.watermark import VideoWatermarker

from . import _decode
from ._audio import audio_section, has_video_stream
from ._decode import Limits, UnreadableMedia
from ._recovery import recover
from .report import (
    AudioWatermarkSection,
    BindingSection,
    C2paSection,
    MediaSection,
    RecoverySection,
    SegmentSection,
    Verdict,
    VerificationReport,
    WatermarkSection,
)

log = logging.getLogger(__name__)

Source = str | os.PathLike | bytes | bytearray | BinaryIO
MIN_GAP_S = 1.0  # one detection window
SPLICE_MIN_S = 2.0  # an unmarked stretch this long in a marked video is a splice (windows are 1 s, 0.5 s apart)
FAST_MIN_KEYFRAMES = 4  # fast mode reads key frames; with fewer than this ...
FAST_SAMPLE_EVERY_S = 0.5  # ... it decodes everything and keeps two frames per second ...
FAST_MAX_FRAMES = 120  # ... and at most this many frames over the whole video


def verify(
    source: Source,
    *,
    trust: TrustAnchors | str | os.PathLike | bytes | None = None,
    store: Any = None,
    key: bytes | str | None = None,
    mode: str = "full",
    limits: Limits | None = None,
) -> VerificationReport:
    """Verify ``source`` (a path, bytes or a binary file object) and return a :class:`VerificationReport`.

    ``trust``: the anchors to trust (a :class:`TrustAnchors`, or a PEM bundle's path or bytes); None trusts nobody, so
    a valid signature reads SIGNED_UNTRUSTED. ``store``: a manifest store (or its URL) used to recover a manifest by the
    watermark's content ID when the file has none. ``key``: an organisation's private watermark key (default: the
    public key). ``mode``: "full" analyses every frame; "fast" key frames only (see docs/verifier.md).
    Never raises for bad media: unreadable input is the UNREADABLE verdict.
    """
    if mode not in ("full", "fast"):
        raise ValueError(f"mode must be 'full' or 'fast', not {mode!r}")
    limits = limits or Limits()
    anchors = _anchors(trust)
    timings: dict[str, float] = {}
    errors: list[str] = []
    t0 = time.perf_counter()

    name, data = _read_source(source, limits)
    if data is None:
        return _unreadable(name, mode, f"input is larger than the {limits.max_bytes} byte limit", timings)
    mime = sniff_mime(data[:64])
    timings["read"] = time.perf_counter() - t0
    deadline = _decode.Deadline(limits.timeout_s)
    try:
        if mime in _decode.ISO_BMFF:
            _decode.check_boxes(data, limits, deadline)
        _decode.check_image_header(data, mime, limits)
    except UnreadableMedia as exc:
        return _unreadable(name, mode, str(exc), timings, size=len(data))

    t = time.perf_counter()
    try:
        finding = read_manifest(data, mime=mime, trust=anchors) if mime else None
    except Exception as exc:  # read_manifest reports damage as MALFORMED; anything else must not end the verification
        log.debug("manifest read failed on %s", name, exc_info=True)
        finding = None
        errors.append(f"manifest could not be read: {exc!r}")
    if finding is not None and finding.status is ManifestStatus.MALFORMED and not _has_c2pa_marker(data):
        # c2pa could not parse the container, and there is no manifest in it to be damaged: not "tampered".
        errors.append(f"container not parsable by c2pa: {finding.error}")
        finding = None
    c2pa = _c2pa_section(finding)
    timings["manifest"] = time.perf_counter() - t

    t = time.perf_counter()
    try:
        deadline.check("manifest read")
        media, wm, wm_error = _watermark(data, mime, key, mode, limits, deadline)
    except UnreadableMedia as exc:
        media, wm, wm_error = None, WatermarkSection(analysed=False), str(exc)
    except Exception as exc:  # never a crash on a hostile file: an unexpected failure is this file's result
        log.warning("watermark analysis failed on %s", name, exc_info=True)
        media, wm, wm_error = None, WatermarkSection(analysed=False), f"internal error: {exc!r}"
    timings["watermark"] = time.perf_counter() - t
    if wm_error:
        errors.append(wm_error)
    t = time.perf_counter()
    audio = _audio_stage(data, key, mode, limits, deadline, errors)
    timings["audio_watermark"] = time.perf_counter() - t
    if media is None and audio.analysed and not has_video_stream(data, limits):
        # an audio-only file (WAV, MP3, M4A, Opus, FLAC): the soundtrack decides
        media, wm_error = MediaSection(mime=mime, duration_s=audio.duration_s, size_bytes=len(data)), None
        errors[:] = [e for e in errors if e != "no video stream"]
    if media is None and c2pa.status not in ("invalid", "malformed"):
        # Without the pixels the watermark and its binding cannot be checked: no verdict can be complete.
        return _unreadable(name, mode, wm_error or "not decodable media", timings, size=len(data), c2pa=c2pa)

    binding = _binding(c2pa, wm if wm.analysed or not audio.analysed else _audio_as_mark(audio), mode)
    recovery = None
    if not c2pa.present and (wm.found or audio.found) and store is not None:
        t = time.perf_counter()
        recovery = recover(store, wm.content_id or audio.content_id or "", data, mime, anchors)
        timings["recovery"] = time.perf_counter() - t

    verdict, summary = _decide_with_audio(c2pa, wm, audio, binding, recovery)
    timings["total"] = time.perf_counter() - t0
    return VerificationReport(
        verdict=verdict,
        source=name,
        summary=summary,
        ai_generated=True if audio.found else _ai_generated(c2pa, wm, recovery),
        ai_origin=_ai_origin(c2pa),
        media=media or MediaSection(mime=mime, size_bytes=len(data)),
        c2pa=c2pa,
        watermark=wm,
        audio_watermark=audio,
        binding=binding,
        recovery=recovery or _no_recovery(store, c2pa, wm),
        mode=mode,
        errors=tuple(errors),
        timings={k: round(v, 4) for k, v in timings.items()},
    )


def _anchors(trust: TrustAnchors | str | os.PathLike | bytes | None) -> TrustAnchors | None:
    if trust is None or isinstance(trust, TrustAnchors):
        return trust
    return TrustAnchors.from_pem(trust)


def _read_source(source: Source, limits: Limits) -> tuple[str, bytes | None]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return "<bytes>", data if len(data) <= limits.max_bytes else None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        if path.stat().st_size > limits.max_bytes:
            return str(path), None
        return str(path), path.read_bytes()
    if hasattr(source, "read"):
        data = source.read(limits.max_bytes + 1)
        if not isinstance(data, bytes):
            raise TypeError("file object must be opened in binary mode")
        return getattr(source, "name", "<stream>"), data if len(data) <= limits.max_bytes else None
    raise TypeError(f"unsupported source type: {type(source).__name__}")


def _has_c2pa_marker(data: bytes) -> bool:
    """A JUMBF superbox labelled c2pa: the bytes every embedded manifest store starts with."""
    return b"jumb" in data and b"c2pa" in data


def _c2pa_section(finding: ManifestFinding | None) -> C2paSection:
    if finding is None or finding.status is ManifestStatus.ABSENT:
        return C2paSection(present=False, status="absent")
    actions = tuple(str(a.get("action", "")) for a in finding.actions if isinstance(a, Mapping))
    reasons = sorted(r.value for r in finding.reasons)
    if finding.error:
        reasons.append(finding.error)
    return C2paSection(
        present=True,
        status=finding.status.value,
        validation_state=finding.validation_state,
        trusted=finding.status is ManifestStatus.TRUSTED,
        signer_subject=finding.signer_subject,
        signer_issuer=finding.signer_issuer,
        claim_generator=finding.claim_generator,
        actions=actions,
        digital_source_type=finding.digital_source_type,
        ingredients=tuple(f"{i.title} ({i.relationship or 'ingredient'})" for i in finding.ingredients),
        soft_binding_alg=finding.soft_binding_alg,
        soft_binding_value=finding.soft_binding_value,
        generation=dict(finding.generation or {}),
        failure_codes=tuple(finding.failure_codes),
        reasons=tuple(reasons),
    )


def _watermark(
    data: bytes, mime: str | None, key: bytes | str | None, mode: str, limits: Limits, deadline: _decode.Deadline
) -> tuple[MediaSection | None, WatermarkSection, str | None]:
    try:
        with _decode.open_container(data, limits) as container:
            info = _decode.probe(container, mime, limits)
            media = MediaSection(info.mime, info.width, info.height, info.fps, info.duration_s, len(data))
            marker = VideoWatermarker(key=key)
            if mode == "fast" and not info.is_still:
                det = _detect_fast(marker, data, container, info, limits, deadline)
            else:
                # Full mode streams every frame (frame i at i / fps), searching crops and rescales if needed.
                # Decode in a thread while the detector scores frames: PyAV releases the GIL (27% faster on 2 cores).
                frames = background(
                    _decode.iter_frames(container, info, limits, deadline=deadline, fine=True),
                    maxsize=16,
                    name="decode",
                )
                det = marker.detect((f for _, f in frames), fps=info.fps)
    except (UnreadableMedia, WatermarkInputError) as exc:
        return None, WatermarkSection(analysed=False), str(exc)
    # Past the deadline only in the detector's blind search (bounded by the frames it keeps, whatever the input):
    # the result stands, with a note; the supervised workers still kill a verification at the deadline + 5 s.
    note = None
    if time.monotonic() > deadline.end:
        note = f"the watermark search ran past the {deadline.seconds:g} s deadline"
    if mode == "full" and det.found and not info.is_still:
        end = max(info.duration_s, det.frames_used / info.fps)
        segments = _timeline(det.segments, end)
    else:  # sparse frames: report where the mark was seen, but do not call the rest unmarked
        segments = tuple(SegmentSection(float(a), float(b), cid is not None, cid) for a, b, cid in det.segments)
    return (
        media,
        WatermarkSection(
            analysed=True,
            found=bool(det.found),
            content_id=det.content_id,
            log10_p=float(det.log10_p),
            frames_analysed=int(det.frames_used),
            segments=segments,
            key="public" if key is None else "private",
        ),
        note,
    )


def _detect_fast(marker: VideoWatermarker, data: bytes, container, info, limits: Limits, deadline):
    """Key frames only (the decoder skips the rest); when a video has too few, two frames per second. The
    sampled frames need their timestamps, known only after decoding, so the few kept frames are held in memory.
    The crop/rescale search runs on a handful of frames only: a definite "no mark" needs full mode."""
    pairs = list(_decode.iter_frames(container, info, limits, keyframes_only=True, deadline=deadline))
    if len(pairs) < FAST_MIN_KEYFRAMES:
        every = max(FAST_SAMPLE_EVERY_S, info.duration_s / FAST_MAX_FRAMES)
        with _decode.open_container(data, limits) as again:
            pairs = list(_decode.iter_frames(again, info, limits, sample_every_s=every, deadline=deadline))
    elif len(pairs) > FAST_MAX_FRAMES:
        pairs = pairs[:: int(np.ceil(len(pairs) / FAST_MAX_FRAMES))]
    if not pairs:
        raise UnreadableMedia("no frames decoded")
    return marker.detect(
        [f for _, f in pairs], fps=info.fps, timestamps=[t for t, _ in pairs], sync_frames=4, keep_frames=16
    )


def _timeline(marked: Sequence[tuple[float, float, str | None]], end_s: float) -> tuple[SegmentSection, ...]:
    """The whole duration as segments: where the detector saw a mark, and the gaps between (found=False). Gaps
    shorter than one detection window (1 s) are window granularity, not evidence: they join their neighbours."""
    spans: list[list] = []
    for a, b, cid in sorted((float(a), float(b), cid) for a, b, cid in marked):
        if spans and spans[-1][2] == cid and a - spans[-1][1] < MIN_GAP_S:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b, cid])
    out: list[SegmentSection] = []
    t = 0.0
    for i, (a, b, cid) in enumerate(spans):
        if a - t >= MIN_GAP_S:
            out.append(SegmentSection(round(t, 3), round(a, 3), False, None))
        else:
            a = t  # absorb a short leading gap
        if i == len(spans) - 1 and end_s - b < MIN_GAP_S:
            b = end_s  # ... and a short trailing one
        out.append(SegmentSection(round(a, 3), round(b, 3), cid is not None, cid))
        t = max(t, b)
    if end_s - t >= MIN_GAP_S:
        out.append(SegmentSection(round(t, 3), round(end_s, 3), False, None))
    return tuple(out)


def _whole_video_marked(wm: WatermarkSection, mode: str) -> bool | None:
    """False when a stretch of SPLICE_MIN_S or more carries no mark, or another content ID (full mode only: the
    detector's 1-s windows need every frame)."""
    if not wm.found or mode != "full" or not wm.segments:
        return None
    for s in wm.segments:
        if s.found and s.content_id not in (None, wm.content_id):
            return False
        if not s.found and s.end_s - s.start_s >= SPLICE_MIN_S:
            return False
    return True


def _binding(c2pa: C2paSection, wm: WatermarkSection, mode: str) -> BindingSection:
    whole = _whole_video_marked(wm, mode)
    if not c2pa.present or c2pa.soft_binding_alg != SOFT_BINDING_ALG:
        return BindingSection(checked=False, watermark_value=wm.content_id, whole_video_marked=whole)
    return BindingSection(
        checked=True,
        matches=wm.found and wm.content_id == c2pa.soft_binding_value,
        manifest_value=c2pa.soft_binding_value,
        watermark_value=wm.content_id,
        whole_video_marked=whole,
    )


_AI_SOURCE_TYPES = (
    "trainedAlgorithmicMedia",
    "compositeWithTrainedAlgorithmicMedia",
    "algorithmicMedia",
    "compositeSynthetic",
)


def _ai_generated(c2pa: C2paSection, wm: WatermarkSection, recovery: RecoverySection | None) -> bool | None:
    if wm.found:
        return True
    if recovery is not None and recovery.found:
        return True
    valid = c2pa.present and c2pa.status in ("trusted", "valid_untrusted")
    if valid and c2pa.digital_source_type:
        return c2pa.digital_source_type.rsplit("/", 1)[-1] in _AI_SOURCE_TYPES
    return None


def _ai_origin(c2pa: C2paSection) -> str | None:
    """Whole file AI-made ("generated") or AI edits of other media ("modified"), as a VALID manifest declares it."""
    if not (c2pa.present and c2pa.status in ("trusted", "valid_untrusted") and c2pa.digital_source_type):
        return None
    kind = c2pa.digital_source_type.rsplit("/", 1)[-1]
    if kind not in _AI_SOURCE_TYPES:
        return None
    if kind.startswith("composite") or ("c2pa.edited" in c2pa.actions and "c2pa.created" not in c2pa.actions):
        return "modified"
    return "generated"


def _decide(c2pa: C2paSection, wm: WatermarkSection, binding: BindingSection, recovery) -> tuple[Verdict, str]:
    partial = binding.whole_video_marked is False
    if c2pa.present:
        if c2pa.status in ("invalid", "malformed"):
            return Verdict.TAMPERED, "a C2PA manifest is present but fails validation: " + (
                ", ".join(c2pa.reasons or c2pa.failure_codes) or "invalid"
            )
        if binding.checked and not binding.matches:
            if not wm.found:
                return Verdict.MISMATCH, "the manifest declares a watermark, but none was found in the pixels"
            return Verdict.MISMATCH, "the watermark's content ID differs from the manifest's soft binding"
        if partial:
            return Verdict.MISMATCH, "only part of the video carries the watermark (spliced?)"
        if c2pa.status == "trusted":
            return Verdict.VERIFIED, f"signed by a trusted identity ({c2pa.signer_subject}); manifest intact"
        return Verdict.SIGNED_UNTRUSTED, f"valid signature by an untrusted identity ({c2pa.signer_subject})"
    if wm.found:
        if partial:
            return Verdict.MISMATCH, "only part of the video carries the watermark (spliced?)"
        if (
            recovery is not None
            and recovery.found
            and recovery.status in ("recovered", "recovered_untrusted", "matches_asset")
        ):
            return Verdict.RECOVERED, (
                f"no manifest in the file; watermark {wm.content_id} recovered a signed manifest from the store"
            )
        return Verdict.WATERMARK_ONLY, f"watermark {wm.content_id} found (AI-generated by this SDK); no manifest"
    return Verdict.NO_PROVENANCE, "no C2PA manifest and no watermark found"


def _audio_stage(data: bytes, key, mode: str, limits: Limits, deadline: _decode.Deadline, errors: list[str]):
    """The audio_watermark section; a failure is this file's result (noted), never a crash."""
    try:
        return audio_section(data, key, limits, deadline, full_search=mode == "full")
    except UnreadableMedia as exc:
        errors.append(str(exc))
    except Exception as exc:  # a hostile file must not end the verification
        log.warning("audio watermark analysis failed", exc_info=True)
        errors.append(f"audio watermark: internal error: {exc!r}")
    return AudioWatermarkSection(analysed=False, key="public" if key is None else "private")


def _audio_as_mark(audio: AudioWatermarkSection) -> WatermarkSection:
    """An audio-only file: its soundtrack's mark stands where the picture's would (binding, verdict)."""
    return WatermarkSection(analysed=True, found=audio.found, content_id=audio.content_id, log10_p=audio.log10_p,
                            key=audio.key)  # fmt: skip


def _decide_with_audio(c2pa, wm, audio: AudioWatermarkSection, binding, recovery) -> tuple[Verdict, str]:
    """The picture's verdict, then what the soundtrack adds: a content ID that contradicts the picture's mark or
    the manifest is a MISMATCH (audio replaced or re-used); an audio mark alone is still our provenance."""
    picture = wm if wm.analysed or not audio.analysed else _audio_as_mark(audio)
    verdict, summary = _decide(c2pa, picture, binding, recovery)
    if not audio.found or verdict in (Verdict.TAMPERED, Verdict.MISMATCH, Verdict.UNREADABLE):
        return verdict, summary
    if wm.found and wm.content_id != audio.content_id:
        return Verdict.MISMATCH, (
            f"the soundtrack's audio mark ({audio.content_id}) and the picture's watermark ({wm.content_id}) name "
            "different renders (audio or picture replaced?)"
        )
    if c2pa.present and c2pa.soft_binding_alg == SOFT_BINDING_ALG and c2pa.soft_binding_value != audio.content_id:
        return Verdict.MISMATCH, "the soundtrack's audio mark differs from the manifest's soft binding"
    if verdict is Verdict.NO_PROVENANCE:
        return Verdict.WATERMARK_ONLY, (
            f"audio watermark {audio.content_id} found in the soundtrack (written by this SDK into a render or dub); "
            "no manifest and no picture watermark"
        )
    return verdict, summary


def _no_recovery(store: Any, c2pa: C2paSection, wm: WatermarkSection) -> RecoverySection:
    if store is None or c2pa.present or not wm.found:
        return RecoverySection(attempted=False)
    return RecoverySection(attempted=True, found=False)


def _unreadable(
    name: str,
    mode: str,
    reason: str,
    timings: dict[str, float],
    size: int | None = None,
    c2pa: C2paSection | None = None,
) -> VerificationReport:
    return VerificationReport(
        verdict=Verdict.UNREADABLE,
        source=name,
        summary=f"unreadable: {reason}",
        media=MediaSection(size_bytes=size),
        c2pa=c2pa or C2paSection(),
        mode=mode,
        errors=(reason,),
        timings={k: round(v, 4) for k, v in timings.items()},
    )


def unreadable_dict(source: str, mode: str, reason: str) -> dict[str, Any]:
    """The report dict of a file whose verification could not finish (a crashed or overdue worker)."""
    return _unreadable(source, mode, reason, {}).to_dict()
