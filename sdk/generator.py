"""The Generator: portrait + speech -> a watermarked, signed, self-verified MP4. The only public path to media files.

Pipeline per render: inputs -> motion (audio -> animation) -> frames (renderer) -> watermark every frame -> H.264 +
AAC MP4 in a temporary file next to the output -> sign the final file (C2PA) -> verify it with the verifier (the
same code platforms run) -> record the manifest in the store -> atomic rename onto the output path. Any failure
leaves nothing at the output path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from models.face.renderer import FaceRenderer
from models.motion.model import MotionModel, check_scales
from provenance import manifest as _manifest
from provenance._pipeline import background
from provenance.audiomark import AudioWatermarker
from provenance.signing import SigningIdentity, dev_identity
from provenance.trust import TrustAnchors
from provenance.watermark import VideoWatermarker, new_content_id

from . import _inputs, _reference, _store
from ._blas import one_blas_thread
from ._encode import AUDIO_RATE, Mp4Writer, rgb_to_yuv420p
from ._render_worker import RenderProcess, RenderWorkerError
from ._workdir import WorkDir, check_output, fsync_dir
from .batch import RenderJob, RenderOutcome, render_many
from .errors import OutputError, ProvenanceError, ProvenanceFailure, RenderError
from .results import DubResult, ManifestSummary, RenderResult

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
DEFAULT_MAX_SECONDS = 600.0
MIN_SIZE = 256  # the watermark's minimum short side
RENDERER_CACHE = 2  # prepared portraits kept per Generator (~13 MB each at 512 px)
# Below one payload period plus margin the audio mark cannot reach p <= 1e-9 with its 48-bit ID: the self-check
# then only refuses a wrong ID (docs/audiomark.md, "Short soundtracks").
AUDIO_CHECK_MIN_S = 4.5


class _Written(NamedTuple):
    report: Any  # the self-verification's VerificationReport
    manifest_id: str
    timings: dict[str, float]


class Generator:
    """Renders talking-head videos that always carry a watermark and a signed C2PA manifest.

    Every argument has an embedded default: the shipped motion model, the landmark-warp renderer, the local
    development signing identity (UNTRUSTED: use your organisation's for production), the public watermark key and
    the per-user SQLite manifest store.
    """

    def __init__(
        self,
        *,
        model: MotionModel | None = None,
        renderer: Callable[..., Any] | None = None,
        identity: SigningIdentity | None = None,
        watermark_key: bytes | str | None = None,
        store: Any = None,
        size: int = 512,
        fps: int = 25,
        framing: str = "crop",
        max_duration: float = DEFAULT_MAX_SECONDS,
        crf: int = 18,
        pipelined: bool = True,
    ) -> None:
        if fps <= 0 or fps > 60:
            raise ValueError("fps must be in 1..60")
        if framing not in ("crop", "full"):
            raise ValueError("framing must be 'crop' or 'full'")
        if size < MIN_SIZE:
            raise ValueError(f"size must be at least {MIN_SIZE} px: the watermark needs that much picture")
        self.model = model or MotionModel.load()
        self.renderer_factory = renderer or FaceRenderer
        self.identity = identity or dev_identity()
        self.watermarker = VideoWatermarker(key=watermark_key)
        self.audiomarker = AudioWatermarker(key=watermark_key)  # same key, same content ID (docs/audiomark.md)
        self._watermark_key = watermark_key
        self._store_arg = store
        self.size, self.fps, self.framing = size, fps, framing
        self.max_duration, self.crf = max_duration, crf
        self._setup_lock = threading.Lock()
        self._renderers: OrderedDict[tuple, Any] = OrderedDict()  # see _build_renderer
        # Overlap the stages: render in a child process (in a thread when the renderer does not pickle), watermark
        # and encode in threads. False: one stage at a time, in this thread.
        self.pipelined = pipelined

    def render(
        self,
        image: Any,
        audio: Any,
        *,
        output: str | os.PathLike | None = None,
        seed: int | None = None,
        expressiveness: float = 1.0,
        head_motion: float = 1.0,
        pose_from: str | os.PathLike | None = None,
        blinks_from: str | os.PathLike | None = None,
        progress: Progress | None = None,
    ) -> RenderResult:
        """Animate ``image`` speaking ``audio`` and write a signed, watermarked MP4 to ``output``.

        ``pose_from`` / ``blinks_from``: an MP4/MOV video whose measured head pose (scaled by ``head_motion``) /
        blinks replace the model's, retimed to the audio's length; recorded as ingredients (docs/sdk.md)."""
        check_scales(expressiveness, head_motion)  # before any work
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        seed = secrets.randbits(31) if seed is None else int(seed)
        content_id = new_content_id()
        out = Path(output) if output is not None else Path.cwd() / f"dirfa-{content_id}.mp4"
        check_output(out)

        inputs = _inputs.prepare(image, audio, out_rate=AUDIO_RATE, max_seconds=self.max_duration)
        if out.resolve() in inputs.input_paths:
            raise OutputError("the output path is one of the inputs")
        references = _reference.load_all(pose_from, blinks_from, out)
        # The render child is spawned first (its imports overlap what follows); the landmarks are detected in a
        # thread while this one computes the motion.
        proc = _spawn_worker() if self.pipelined else None
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="dirfa-setup") as pool:
                pending = pool.submit(self._build_renderer, inputs.image)
                timings["prepare"] = time.perf_counter() - t0
                t = time.perf_counter()
                try:
                    motion = self.model.generate(
                        inputs.audio_16k,
                        sample_rate=16_000,
                        seed=seed,
                        fps=self.fps,
                        expressiveness=expressiveness,
                        head_motion=head_motion,
                    )
                    if references:
                        values = _reference.apply(motion.values, pose=references.get("pose"),
                                                  blinks=references.get("blinks"), head_motion=head_motion)  # fmt: skip
                        motion = dataclasses.replace(motion, values=values)
                finally:
                    timings["motion"] = time.perf_counter() - t
                    t = time.perf_counter()
                    renderer = pending.result()  # the image's errors (no face, ...) come first, as they always did
                    timings["renderer_wait"] = time.perf_counter() - t
            width, height = renderer.frame_size
            frames: Iterator[np.ndarray]
            if proc is not None and _child_ready(proc, renderer):
                frames = proc.frames([motion.values])
            else:  # not pipelined, a renderer that does not pickle, or no child process here: render in this one
                frames = (renderer.render(m) for m in motion.values)
            try:
                written = self._write(
                    frames, motion, content_id, seed, inputs, out, width, height, type(renderer).__name__, progress,
                    references,
                )  # fmt: skip
            except RenderWorkerError as exc:
                raise RenderError(str(exc)) from exc
        finally:
            if proc is not None:
                proc.close()
        timings.update(written.timings)
        timings["total"] = time.perf_counter() - t0
        log.info("rendered %s (%d frames, content id %s) in %.2f s", out, len(motion), content_id, timings["total"])
        report, manifest_id = written.report, written.manifest_id
        return RenderResult(
            path=out,
            content_id=content_id,
            seed=seed,
            duration=len(motion) / self.fps,
            frame_count=len(motion),
            fps=self.fps,
            width=width,
            height=height,
            manifest=ManifestSummary(
                signer=self.identity.subject,
                issuer=self.identity.issuer,
                claim_generator=report.c2pa.claim_generator or "",
                status=report.c2pa.status or "",
                manifest_id=manifest_id,
                development_identity=self.identity.is_development,
            ),
            verdict=report.verdict.value,
            timings={k: round(v, 4) for k, v in timings.items()},
        )

    def dub(
        self,
        video: str | os.PathLike,
        audio: Any,
        *,
        output: str | os.PathLike,
        seed: int | None = None,
        extend: str = "loop",
        expressiveness: float = 1.0,
        verify_source: bool = False,
        progress: Progress | None = None,
    ) -> DubResult:
        """Make the person in ``video`` (an MP4/MOV file) say ``audio``: the mouth re-synthesised from the motion
        model's prediction, everything else kept; watermarked, signed as an edit of ``video``, self-verified.

        The output lasts as long as ``audio``; a shorter video loops (``extend="loop"``) or holds its last frame
        (``"hold"``). Frames where no face is tracked are passed through unchanged (``DubResult.face_lost``).
        The source is verified (verdict recorded) when it carries a C2PA manifest, or always with
        ``verify_source=True`` (a watermark search: ~1.5 CPU-s per 8 s). See docs/dubbing.md."""
        check_scales(expressiveness, 1.0)
        from ._dub import dub

        return dub(self, video, audio, output=output, seed=seed, extend=extend, expressiveness=expressiveness,
                   verify_source=verify_source, progress=progress)  # fmt: skip

    def _build_renderer(self, image: np.ndarray) -> Any:
        """The renderer for ``image``. The default renderer is a pure function of (pixels, size, framing), so the
        last few are kept: an app that animates the same portrait again skips landmark detection (~0.35 s)."""
        key = None
        if self.renderer_factory is FaceRenderer:
            key = (hashlib.sha256(np.ascontiguousarray(image).data).hexdigest(), image.shape, self.size, self.framing)
        with self._setup_lock:  # landmark detection, serialised across batch threads
            if key is not None and key in self._renderers:
                self._renderers.move_to_end(key)
                return self._renderers[key]
            with one_blas_thread():  # see sdk._blas
                renderer = self.renderer_factory(image, size=self.size, framing=self.framing)
            if key is not None:
                self._renderers[key] = renderer
                while len(self._renderers) > RENDERER_CACHE:
                    self._renderers.popitem(last=False)
            return renderer

    def _write(
        self, frames, motion, content_id, seed, inputs, out, width, height, renderer_name, progress, references=None
    ) -> _Written:
        """Watermark + encode into a temporary file next to ``out``, sign, self-verify, record, rename."""
        timings: dict[str, float] = {}
        with WorkDir(out) as work:  # claims the output name; removed however this ends (see sdk._workdir)
            unsigned, signed = work.unsigned, work.signed
            t = time.perf_counter()
            try:
                self._encode(frames, len(motion), content_id, unsigned, width, height, inputs.audio_out, progress)
            except ProvenanceError as exc:  # the watermark could not be applied: never write the frames without it
                raise ProvenanceFailure(f"watermarking failed: {exc}") from exc
            except OSError as exc:  # ENOSPC, EIO, a quota: PyAV's errors are OSErrors too
                raise OutputError(f"cannot write {out}: {exc}") from exc
            timings["render_watermark_encode"] = time.perf_counter() - t

            t = time.perf_counter()
            info = self._manifest_info(inputs, content_id, seed, len(motion) / self.fps, renderer_name, references)
            try:
                manifest_bytes = _manifest.sign_file(unsigned, signed, identity=self.identity, info=info)
            except Exception as exc:
                raise ProvenanceFailure(f"signing failed: {exc}") from exc
            timings["sign"] = time.perf_counter() - t

            t = time.perf_counter()
            report = self._self_verify(signed, content_id)
            timings["self_verify"] = time.perf_counter() - t

            t = time.perf_counter()
            manifest_id = self._record(manifest_bytes, content_id, signed)
            timings["store"] = time.perf_counter() - t

            try:
                os.replace(signed, out)
            except OSError as exc:
                raise OutputError(f"cannot write {out}: {exc}") from exc
            fsync_dir(out.parent)
        return _Written(report, manifest_id, timings)

    def render_many(
        self,
        jobs: Iterable[RenderJob],
        *,
        workers: int = 2,
        backend: str = "local",
        ray_address: str | None = None,
        identity_ref: Any = None,
        return_bytes: bool = False,
        **farm: Any,
    ) -> list[RenderOutcome]:
        """Render many jobs; one :class:`RenderOutcome` per job, in order. A failed job carries its error and
        writes nothing; the others go on.

        ``backend="local"``: ``workers`` renders at a time in this process. ``backend="ray"`` (the scale extra):
        on a Ray cluster (``ray_address``: None = a local one, ``"auto"``, ``"ray://host:port"``), ``workers``
        actors (0 = one per cluster CPU), each with its own Generator built from this one's settings; the signing
        identity is loaded on each worker from ``identity_ref`` (an ``sdk.scale.IdentityRef``; default: the
        worker's dev identity, allowed only when this Generator signs with the dev identity). ``return_bytes``:
        workers send the files back and this process writes them (no shared filesystem needed). ``farm``: more
        ``sdk.scale.FarmSpec`` fields (``store``, ``watermark_key_file``, ``model_dir``)."""
        if backend == "local":
            if farm or identity_ref is not None or ray_address is not None or return_bytes:
                raise ValueError("ray_address, identity_ref, return_bytes and farm settings need backend='ray'")
            return render_many(self, jobs, workers=workers)
        if backend != "ray":
            raise ValueError("backend must be 'local' or 'ray'")
        from .scale import render_on_ray, spec_for

        spec = spec_for(self, identity_ref, **farm)
        return render_on_ray(spec, jobs, generator_cls=type(self), address=ray_address, actors=workers or None,
                             return_bytes=return_bytes)  # fmt: skip

    def _encode(self, frames, n, content_id, path, width, height, audio, progress) -> None:
        # Overlapping stages: render (child process) -> watermark (thread) -> encode (here).
        if self.pipelined:
            frames = background(frames, name="render")
        audio = self.mark_audio(audio, content_id)
        marked = self.watermarker.embed(frames, content_id=content_id, fps=self.fps)
        # The watermark thread also converts to yuv420p: the encoder (x264 + AAC, here) is the longest stage.
        planes: Iterator[np.ndarray] = (rgb_to_yuv420p(frame) for frame in marked)
        if self.pipelined:
            planes = background(planes, name="watermark")
        with Mp4Writer(path, width=width, height=height, fps=self.fps, audio=audio, crf=self.crf) as writer:
            for i, frame in enumerate(planes):
                writer.write_yuv420p(frame)
                if progress is not None:
                    progress(i + 1, n)
        if writer.frames_written != n:
            raise ProvenanceFailure(f"watermarker returned {writer.frames_written} of {n} frames")

    def _manifest_info(self, inputs, content_id, seed, duration, renderer_name, references=None):
        card = self.model.card
        refs = _reference.ingredients(references or {})
        return _manifest.ManifestInfo(
            title=f"dirfa-{content_id}.mp4",
            content_id=content_id,
            model=_manifest.ModelInfo(card.name, card.version, card.sha256),
            renderer=renderer_name,
            seed=seed,
            fps=self.fps,
            duration=duration,
            image=_manifest.Ingredient(
                inputs.image_ingredient.data, inputs.image_ingredient.mime, inputs.image_ingredient.title
            ),
            audio=_manifest.Ingredient(
                inputs.audio_ingredient.data, inputs.audio_ingredient.mime, inputs.audio_ingredient.title
            ),
            references=tuple(ing for ing, _ in refs),
            extra_parameters={key: value for _, entry in refs for key, value in entry.items()},
        )

    def mark_audio(self, audio: np.ndarray, content_id: str) -> np.ndarray:
        """The soundtrack with the audio mark (same content ID and key as the picture). Every soundtrack the SDK
        writes goes through here before AAC; a mark that cannot be applied raises (WatermarkError), never skips."""
        return self.audiomarker.embed(audio, AUDIO_RATE, content_id)

    def _self_verify(self, path: Path, content_id: str):
        from verifier import Limits, Verdict, verify

        root = self.identity.root_pem
        anchors = TrustAnchors.from_pem(root) if root else None
        # Our own file: the upload-server deadline does not apply (a long render's fast check takes seconds).
        limits = Limits(timeout_s=max(120.0, self.max_duration))
        report = verify(path, trust=anchors, key=self._watermark_key, mode="fast", limits=limits)
        expected = {Verdict.VERIFIED} if anchors else {Verdict.VERIFIED, Verdict.SIGNED_UNTRUSTED}
        audio = report.audio_watermark
        if not audio.analysed:  # every render has a soundtrack: not analysing it is a failure, not a pass
            audio_ok = False
        elif audio.duration_s >= AUDIO_CHECK_MIN_S:  # long enough to carry a decidable audio mark: required
            audio_ok = audio.content_id == content_id
        else:
            audio_ok = audio.content_id in (None, content_id)
        if report.verdict not in expected or report.watermark.content_id != content_id or not audio_ok:
            raise ProvenanceFailure(
                f"self-verification failed: verdict {report.verdict.value}, watermark "
                f"{report.watermark.content_id!r}, audio mark {getattr(audio, 'content_id', None)!r} (expected "
                f"{content_id}): {report.summary}"
            )
        return report

    def _record(self, manifest_bytes: bytes, content_id: str, signed: Path) -> str:
        try:
            return _store.record(self._store_arg, manifest_bytes, content_id, signed, self.identity)
        except Exception as exc:
            raise ProvenanceFailure(f"could not record the manifest in the store: {exc}") from exc


def _spawn_worker() -> RenderProcess | None:
    try:
        return RenderProcess()
    except OSError as exc:  # no usable interpreter to spawn: render in this process
        log.warning("cannot start a render worker, rendering in this process: %s", exc)
        return None


def _child_ready(proc: RenderProcess, renderer: Any) -> bool:
    """Hand ``renderer`` to the render child. False when it does not pickle, or when the child could not start (an
    embedded interpreter without ``sys.executable``, a sandbox without subprocesses): the render then runs in this
    process, slower but the same frames."""
    if not proc.start(renderer):
        return False
    try:
        proc.ready()
    except (RenderWorkerError, OSError) as exc:
        log.warning("render worker unavailable, rendering in this process: %s", exc)
        return False
    return True
