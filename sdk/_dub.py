"""Visual dubbing: an existing talking video + new speech -> a watermarked, signed, self-verified MP4 whose mouth
follows the new speech (``Generator.dub``; docs/dubbing.md).

Streaming, bounded memory: decode (PyAV, a thread) -> track the face and re-pose the mouth (``models.face.dubbing``,
a thread) -> watermark every frame (the Generator's ``VideoWatermarker``, a thread; the soundtrack goes through
``Generator.mark_audio``) -> H.264 + AAC into a temporary file -> sign with an edit manifest
(``provenance._edit_manifest``: the source as ``parentOf``, the speech as an ingredient, ``c2pa.edited`` /
compositeWithTrainedAlgorithmicMedia, the synthesised regions and time ranges) -> verify -> record -> rename.
The output lasts as long as the speech: a longer source is cut, a shorter one loops (decoded again from the start)
or holds its last frame. Frames where no face is tracked pass through unchanged and
are reported. Any failure leaves nothing at the output path.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np

from models.face.dubbing import DubFrame, FaceTracker, MouthColours, MouthDubber
from models.motion.audio import load_audio
from models.schema import MOTION_INDEX
from provenance import _edit_manifest
from provenance._pipeline import background
from provenance.manifest import Ingredient as ManifestIngredient
from provenance.manifest import ModelInfo
from provenance.mime import sniff_mime
from provenance.trust import TrustAnchors
from provenance.watermark import new_content_id

from ._encode import AUDIO_RATE, Mp4Writer
from ._inputs import _audio_ingredient
from ._workdir import WorkDir, check_output, fsync_dir
from .errors import AudioError, NoFaceError, OutputError, ProvenanceError, ProvenanceFailure, VideoError
from .results import DubResult, ManifestSummary

log = logging.getLogger(__name__)

EXTEND = ("loop", "hold")
MIN_SHORT = 256  # the watermark's minimum short side


@dataclass
class _Tally:
    """What the dub stage saw, filled in while frames stream through it."""

    source_frames: int = 0
    dubbed: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class _Source:
    path: Path
    mime: str
    fps: int
    width: int  # even
    height: int  # even


def probe(video: Any) -> _Source:
    """Check the source video before any work: a readable MP4/MOV file with a video stream of at least 256 px."""
    if not isinstance(video, (str, os.PathLike)):
        raise TypeError(f"video must be a path, got {type(video).__name__}")
    path = Path(video)
    if not path.is_file():
        raise VideoError(f"no such video file: {path}")
    with path.open("rb") as f:
        mime = sniff_mime(f.read(64))
    if mime not in _edit_manifest.SOURCE_MIMES:
        raise VideoError(f"source video must be MP4 or MOV (to be recorded as the C2PA parent), got {mime}")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path.name} has no video stream")
            stream = container.streams.video[0]
            rate = float(stream.average_rate or stream.guessed_rate or 25)
            width, height = stream.codec_context.width, stream.codec_context.height
    except av.FFmpegError as exc:
        raise VideoError(f"cannot read {path.name}: {exc}") from exc
    if min(width, height) < MIN_SHORT:
        raise VideoError(f"the video is {width}x{height}: the watermark needs a short side of {MIN_SHORT} px")
    fps = round(rate)
    if not 1 <= fps <= 60:
        raise VideoError(f"unsupported frame rate {rate:.2f}")
    return _Source(path, str(mime), fps, width - width % 2, height - height % 2)


def _decode(src: _Source, n: int, extend: str, tally: _Tally) -> Iterator[np.ndarray]:
    """Exactly ``n`` RGB frames: the source's, cut, looped (decoded again) or with its last frame held."""
    out, last, passes = 0, None, 0
    while out < n:
        try:
            with av.open(str(src.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for frame in container.decode(stream):
                    last = frame.to_ndarray(format="rgb24")[: src.height, : src.width]
                    if passes == 0:
                        tally.source_frames += 1
                    yield last
                    out += 1
                    if out >= n:
                        return
        except av.FFmpegError as exc:
            raise VideoError(f"cannot decode {src.path.name}: {exc}") from exc
        passes += 1
        if last is None:
            raise VideoError(f"{src.path.name} has no decodable frames")
        if extend == "hold":
            while out < n:
                yield last
                out += 1


def _dub_frames(frames: Iterator[np.ndarray], target: np.ndarray, tally: _Tally) -> Iterator[np.ndarray]:
    dubber: MouthDubber | None = None
    with FaceTracker() as tracker:
        for i, rgb in enumerate(frames):
            points = tracker.track(rgb)
            if points is None:
                tally.lost.append(i)
                yield rgb
                continue
            if dubber is None:
                dubber = MouthDubber(MouthColours.measure(rgb, points))
            out, info = dubber.apply(rgb, points, float(target[i]))
            tally.dubbed.append(i)
            if info.box[2] > info.box[0]:
                tally.boxes.append(info.box)
            yield out


def _has_manifest(path: Path) -> bool:
    """The file holds a JUMBF box labelled c2pa (an embedded manifest store), scanned in 1 MiB blocks."""
    tail, seen = b"", set[bytes]()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            chunk = tail + block
            seen.update(m for m in (b"jumb", b"c2pa") if m in chunk)
            if len(seen) == 2:
                return True
            tail = chunk[-3:]
    return False


def _ranges(indices: list[int]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for i in indices:
        if out and out[-1][1] == i:
            out[-1] = (out[-1][0], i + 1)
        else:
            out.append((i, i + 1))
    return tuple(out)


def dub(
    gen: Any,  # the calling sdk.Generator (not imported: it imports this module)
    video: Any,
    audio: Any,
    *,
    output: str | os.PathLike,
    seed: int | None,
    extend: str,
    expressiveness: float,
    verify_source: bool,
    progress: Any,
) -> DubResult:
    if extend not in EXTEND:
        raise ValueError(f"extend must be one of {EXTEND}")
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    out = Path(output)
    check_output(out)
    src = probe(video)
    if out.resolve() == src.path.resolve():
        raise OutputError("the output path is the source video")
    samples, sample_rate = audio if isinstance(audio, tuple) and len(audio) == 2 else (audio, None)
    if isinstance(samples, (str, os.PathLike)) and Path(samples).resolve() == out.resolve():
        raise OutputError("the output path is the audio")
    a16 = load_audio(samples, sample_rate=sample_rate, target_rate=16_000, max_seconds=gen.max_duration)
    a_out = load_audio(samples, sample_rate=sample_rate, target_rate=AUDIO_RATE, max_seconds=gen.max_duration)
    audio_ing = _audio_ingredient(samples, a16)
    seed = secrets.randbits(31) if seed is None else int(seed)
    content_id = new_content_id()

    # The source's own provenance, checked with the verifier in a thread (recorded; a dub of unsigned footage is
    # allowed). Only where it carries a C2PA manifest, unless asked: on footage without one, the watermark search
    # costs ~1.5 CPU-s per 8 s of video, a third of the dub's own CPU time.
    from verifier import Limits, verify

    root = gen.identity.root_pem
    anchors = TrustAnchors.from_pem(root) if root else None
    source_check = None
    if verify_source or _has_manifest(src.path):
        limits = Limits(timeout_s=max(120.0, gen.max_duration))
        checker = ThreadPoolExecutor(1, thread_name_prefix="dirfa-source-verify")
        source_check = checker.submit(
            verify, src.path, trust=anchors, key=gen._watermark_key, mode="fast", limits=limits
        )
        checker.shutdown(wait=False)

    t = time.perf_counter()
    motion = gen.model.generate(a16, sample_rate=16_000, seed=seed, fps=src.fps, expressiveness=expressiveness)
    target = motion.values[:, MOTION_INDEX["jaw_open"]].astype(np.float32)
    n = len(target)
    if n == 0:
        raise AudioError("the audio is shorter than one frame")
    timings["motion"] = time.perf_counter() - t

    tally = _Tally()
    with WorkDir(out) as work:
        t = time.perf_counter()
        frames = background(_decode(src, n, extend, tally), name="decode")
        dubbed = background(_dub_frames(frames, target, tally), name="dub")
        marked = background(gen.watermarker.embed(dubbed, content_id=content_id, fps=src.fps), name="watermark")
        try:
            a_out = gen.mark_audio(a_out, content_id)  # the soundtrack's mark, as every SDK output gets
            with Mp4Writer(work.unsigned, width=src.width, height=src.height, fps=src.fps, audio=a_out,
                           crf=gen.crf) as writer:  # fmt: skip
                for i, frame in enumerate(marked):
                    writer.write(frame)
                    if progress is not None:
                        progress(i + 1, n)
        except ProvenanceError as exc:  # the watermark could not be applied: never write the frames without it
            raise ProvenanceFailure(f"watermarking failed: {exc}") from exc
        except OSError as exc:
            raise OutputError(f"cannot write {out}: {exc}") from exc
        if writer.frames_written != n:
            raise ProvenanceFailure(f"watermarker returned {writer.frames_written} of {n} frames")
        if not tally.dubbed:
            raise NoFaceError(f"no face was found in any frame of {src.path.name}")
        timings["dub_watermark_encode"] = time.perf_counter() - t

        duration = n / src.fps
        t = time.perf_counter()
        source_report = source_check.result() if source_check is not None else None
        source_verdict = source_report.verdict.value if source_report is not None else "not_checked"
        timings["source_verify_wait"] = time.perf_counter() - t
        t = time.perf_counter()
        edit = _edit_record(src, tally, n, extend)
        edit["source_verdict"] = source_verdict
        edit["source_content_id"] = source_report.watermark.content_id if source_report is not None else None
        card = gen.model.card
        info = _edit_manifest.EditInfo(
            title=out.name,
            content_id=content_id,
            model=ModelInfo(card.name, card.version, card.sha256),
            seed=seed,
            fps=src.fps,
            duration=duration,
            source=src.path,
            source_mime=src.mime,
            audio=ManifestIngredient(audio_ing.data, audio_ing.mime, audio_ing.title),
            edit=edit,
        )
        try:
            manifest_bytes = _edit_manifest.sign_edited_file(
                work.unsigned, work.signed, identity=gen.identity, info=info, trust=anchors
            )
        except Exception as exc:
            raise ProvenanceFailure(f"signing failed: {exc}") from exc
        timings["sign"] = time.perf_counter() - t

        t = time.perf_counter()
        report = gen._self_verify(work.signed, content_id)
        if not any(i.endswith("(parentOf)") for i in report.c2pa.ingredients):
            raise ProvenanceFailure(f"self-verification: no parentOf ingredient in {report.c2pa.ingredients}")
        timings["self_verify"] = time.perf_counter() - t
        t = time.perf_counter()
        manifest_id = gen._record(manifest_bytes, content_id, work.signed)
        timings["store"] = time.perf_counter() - t
        try:
            os.replace(work.signed, out)
        except OSError as exc:
            raise OutputError(f"cannot write {out}: {exc}") from exc
        fsync_dir(out.parent)
    timings["total"] = time.perf_counter() - t0
    log.info("dubbed %s (%d frames, %d re-synthesised) in %.2f s", out, n, len(tally.dubbed), timings["total"])
    return DubResult(
        path=out,
        content_id=content_id,
        seed=seed,
        duration=duration,
        frame_count=n,
        fps=src.fps,
        width=src.width,
        height=src.height,
        source_frames=tally.source_frames,
        extend=extend,
        dubbed_frames=len(tally.dubbed),
        face_lost=_ranges(tally.lost),
        source_verdict=source_verdict,
        manifest=ManifestSummary(
            signer=gen.identity.subject,
            issuer=gen.identity.issuer,
            claim_generator=report.c2pa.claim_generator or "",
            status=report.c2pa.status or "",
            manifest_id=manifest_id,
            development_identity=gen.identity.is_development,
        ),
        verdict=report.verdict.value,
        timings={k: round(v, 4) for k, v in timings.items()},
    )


def _edit_record(src: _Source, tally: _Tally, n: int, extend: str) -> dict[str, Any]:
    """The ``edit`` part of the manifest: where and when pixels were synthesised (seconds, frame pixels)."""
    fps = float(src.fps)

    def seconds(ranges: tuple[tuple[int, int], ...]) -> list[dict[str, float]]:
        return [{"start_s": round(a / fps, 3), "end_s": round(b / fps, 3)} for a, b in ranges]

    box = None
    if tally.boxes:
        b = np.array(tally.boxes)
        box = {"x": int(b[:, 0].min()), "y": int(b[:, 1].min()),
               "width": int(b[:, 2].max() - b[:, 0].min()), "height": int(b[:, 3].max() - b[:, 1].min())}  # fmt: skip
    return {
        "region": "mouth and jaw (lower lip, chin) and the mouth interior",
        "region_box": box,  # the union of every frame's changed box, in frame pixels
        "synthesised": seconds(_ranges(tally.dubbed)),
        "face_lost": seconds(_ranges(tally.lost)),
        "source_frames": tally.source_frames,
        "extend": extend if n > tally.source_frames else "none",
        "frame_width": src.width,
        "frame_height": src.height,
    }


__all__ = ["DubFrame", "dub", "probe"]
