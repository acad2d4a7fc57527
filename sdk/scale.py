"""Render farms on Ray (the ``scale`` extra): ``render_many(..., backend="ray")`` and ``dirfa render-batch --ray``.

Each Ray actor keeps one :class:`sdk.Generator` (models loaded once per actor) built from a :class:`FarmSpec`,
which travels to the workers. A signing identity never does: :class:`IdentityRef` says how a worker loads it itself
(the dev identity of that machine, PEM files on a path the workers can read, or a ``"module:function"`` factory run
on the worker, e.g. one that builds ``SigningIdentity.from_callback`` around a KMS client). Outputs are written by
the workers, atomically, to paths they share with the driver; or (``return_bytes=True``) rendered to a private
temporary file on the worker and returned, and the driver writes them atomically. The manifest store is whatever
``FarmSpec.store`` names: PostgreSQL for a real cluster (every worker records into the same one).
An actor that dies (a node lost, a killed process) is restarted and its job retried once; a job that fails as a
single render would (no face, silent audio, ...) fails alone. ``docs/scale.md`` has the set-up and figures.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import tempfile
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .batch import RenderJob, RenderOutcome
from .errors import GeneratorError, InputError, ProvenanceError, RenderError

log = logging.getLogger(__name__)

SCALE_HINT = "pip install 'dirfa[scale]'"
_JOB_ERRORS = (InputError, GeneratorError, ProvenanceError, ValueError)


@dataclass(frozen=True)
class IdentityRef:
    """Where a worker finds its signing identity; holds paths or a name, never key material."""

    kind: str = "dev"  # "dev" | "pem" | "factory"
    chain: str | None = None
    key: str | None = None
    factory: str | None = None

    @classmethod
    def dev(cls) -> IdentityRef:
        """Each worker machine's own development identity (UNTRUSTED; one node, or tests)."""
        return cls("dev")

    @classmethod
    def pem(cls, chain: str | os.PathLike[str], key: str | os.PathLike[str]) -> IdentityRef:
        """PEM files at paths every worker can read (a secrets mount): the key is read there, not sent."""
        return cls("pem", chain=os.fspath(chain), key=os.fspath(key))

    @classmethod
    def from_factory(cls, target: str) -> IdentityRef:
        """``"module:function"``, called with no argument on each worker, returning a ``SigningIdentity``."""
        if ":" not in target:
            raise ValueError("factory must be 'module:function'")
        return cls("factory", factory=target)

    def load(self) -> Any:
        from provenance.signing import SigningIdentity, dev_identity

        if self.kind == "dev":
            return dev_identity()
        if self.kind == "pem" and self.chain and self.key:
            return SigningIdentity.from_pem(self.chain, self.key)
        if self.kind == "factory" and self.factory:
            module, _, name = self.factory.partition(":")
            identity = getattr(importlib.import_module(module), name)()
            if not isinstance(identity, SigningIdentity):
                raise TypeError(f"{self.factory} returned {type(identity).__name__}, not a SigningIdentity")
            return identity
        raise ValueError(f"incomplete identity reference: {self!r}")


@dataclass(frozen=True)
class FarmSpec:
    """What each worker's Generator is built from (everything here is sent to the workers)."""

    identity: IdentityRef = dataclasses.field(default_factory=IdentityRef.dev)
    store: str | None = None  # a URL the workers can reach; None = each worker machine's default SQLite store
    watermark_key_file: str | None = None  # an organisation's private watermark key, read on the worker
    model_dir: str | None = None  # None: the shipped motion model
    size: int = 512
    fps: int = 25
    framing: str = "crop"
    crf: int = 18

    def generator(self, generator_cls: Any) -> Any:
        from models.motion.model import MotionModel

        key = None
        if self.watermark_key_file:
            key = Path(self.watermark_key_file).read_bytes().strip()
        return generator_cls(
            model=MotionModel.load(self.model_dir), identity=self.identity.load(), watermark_key=key,
            store=self.store, size=self.size, fps=self.fps, framing=self.framing, crf=self.crf,
        )  # fmt: skip


def spec_for(generator: Any, identity: IdentityRef | None = None, **overrides: Any) -> FarmSpec:
    """A FarmSpec matching a local Generator's settings. Its identity cannot travel: give ``identity`` unless it is
    the development one; a private watermark key needs ``watermark_key_file``; a custom store must be a URL."""
    if identity is None:
        if not generator.identity.is_development:
            raise ValueError(
                "a SigningIdentity never leaves its process: pass identity=IdentityRef.pem(...) or "
                "IdentityRef.from_factory(...) so each worker loads it itself"
            )
        identity = IdentityRef.dev()
    store = overrides.pop("store", generator._store_arg)
    if store is not None and not isinstance(store, (str, os.PathLike)):
        raise ValueError("the store must be given as a URL the workers can open (e.g. postgresql://...)")
    if generator.model.version != _shipped_version() and not overrides.get("model_dir"):
        raise ValueError("the workers load the shipped motion model: pass model_dir=DIR for another one")
    if generator._watermark_key is not None and not overrides.get("watermark_key_file"):
        raise ValueError("a private watermark key must be given to the workers as watermark_key_file=PATH")
    base = dict(identity=identity, store=os.fspath(store) if store is not None else None, size=generator.size,
                fps=generator.fps, framing=generator.framing, crf=generator.crf)  # fmt: skip
    base.update(overrides)
    return FarmSpec(**base)


def _shipped_version() -> str:
    import json
    from importlib import resources

    from models.motion.model import CARD_FILE

    return str(json.loads(resources.files("models.motion").joinpath("data", CARD_FILE).read_text())["version"])


class _RenderActor:
    """One Ray actor: one Generator, reused for every job sent here."""

    def __init__(self, spec: FarmSpec, generator_cls: Any) -> None:
        self._generator = spec.generator(generator_cls)

    def render(self, job: RenderJob, return_bytes: bool) -> tuple[Any, bytes | None, BaseException | None]:
        try:
            if not return_bytes:
                return self._render(job, job.output), None, None
            with tempfile.TemporaryDirectory(prefix="dirfa-farm-") as tmp:
                result = self._render(job, Path(tmp) / Path(job.output).name)
                return result, result.path.read_bytes(), None
        except _JOB_ERRORS as exc:
            return None, None, exc

    def _render(self, job: RenderJob, output: Any) -> Any:
        return self._generator.render(
            job.image, job.audio, output=output, seed=job.seed,
            expressiveness=job.expressiveness, head_motion=job.head_motion,
        )  # fmt: skip

    def pid(self) -> int:
        return os.getpid()


def _write_atomically(data: bytes, output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_on_ray(
    spec: FarmSpec,
    jobs: Iterable[RenderJob],
    *,
    generator_cls: Any,
    address: str | None = None,
    actors: int | None = None,
    cpus_per_actor: float = 1.0,
    return_bytes: bool = False,
) -> list[RenderOutcome]:
    """Render ``jobs`` on Ray, one :class:`RenderOutcome` per job in input order (see the module docstring).
    At most two jobs per actor are outstanding at once. ``generator_cls``: what the workers build
    (``sdk.Generator``; Ray sends the class by reference). Most callers use ``Generator.render_many(jobs,
    backend="ray")``."""
    from verifier.scale import connect, disconnect, ray_module

    ray = ray_module()
    jobs = list(jobs)
    outputs = [Path(j.output).resolve() for j in jobs]
    if len(set(outputs)) != len(outputs):
        raise ValueError("two jobs write the same output path")
    owned = connect(address)
    pool: list[Any] = []
    outcomes: list[RenderOutcome | None] = [None] * len(jobs)
    try:
        n = actors or max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_actor))
        n = min(n, len(jobs)) or 1
        remote = ray.remote(num_cpus=cpus_per_actor, max_restarts=-1, max_task_retries=1)(_RenderActor)
        pool = [remote.remote(spec, generator_cls) for _ in range(n)]
        pending = deque(enumerate(jobs))
        waiting: dict[Any, tuple[int, int]] = {}
        load = [0] * n
        t0 = time.monotonic()
        while pending or waiting:
            while pending and len(waiting) < 2 * n:
                a = min(range(n), key=load.__getitem__)
                index, job = pending.popleft()
                waiting[pool[a].render.remote(job, return_bytes)] = (index, a)
                load[a] += 1
            ready, _ = ray.wait(list(waiting), num_returns=1)
            for ref in ready:
                index, a = waiting.pop(ref)
                load[a] -= 1
                outcomes[index] = _outcome(ray, ref, jobs[index], return_bytes)
        log.info("%d render jobs on %d Ray actors in %.1f s", len(jobs), n, time.monotonic() - t0)
    finally:
        for actor in pool:
            ray.kill(actor, no_restart=True)
        if owned:
            disconnect()
    return [o for o in outcomes if o is not None]


def _outcome(ray: Any, ref: Any, job: RenderJob, return_bytes: bool) -> RenderOutcome:
    try:
        result, data, error = ray.get(ref)
    except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as exc:
        log.warning("job %s: the Ray worker died twice (%s)", job.output, type(exc).__name__)
        return RenderOutcome(job, None, RenderError(f"the Ray worker died on this job: {type(exc).__name__}"))
    if error is not None:
        log.warning("job %s failed: %s", job.output, error)
        return RenderOutcome(job, None, error)
    if return_bytes:
        assert data is not None
        output = Path(job.output)
        try:
            _write_atomically(data, output)
        except OSError as exc:
            from .errors import OutputError

            return RenderOutcome(job, None, OutputError(f"cannot write {output}: {exc}"))
        result = dataclasses.replace(result, path=output)
    return RenderOutcome(job, result, None)


__all__ = ["FarmSpec", "IdentityRef", "render_on_ray", "spec_for"]
