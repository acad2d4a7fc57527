"""Batch rendering: many (portrait, audio) jobs, several at a time, one outcome per job in input order.

A failing job (no face, silent audio, ...) does not stop the batch: its outcome carries the error instead of a
result, and, as for a single render, nothing is written for it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .errors import GeneratorError, InputError, ProvenanceError
from .results import RenderResult

log = logging.getLogger(__name__)


class Renders(Protocol):
    """What a batch needs of a renderer: ``sdk.Generator.render`` (batch builds on it, it does not import it)."""

    def render(
        self, image: Any, audio: Any, *, output: Any, seed: int | None, expressiveness: float, head_motion: float
    ) -> RenderResult: ...


@dataclass(frozen=True)
class RenderJob:
    image: Any
    audio: Any
    output: str | os.PathLike
    seed: int | None = None
    expressiveness: float = 1.0
    head_motion: float = 1.0


@dataclass(frozen=True)
class RenderOutcome:
    job: RenderJob
    result: RenderResult | None
    error: Exception | None

    @property
    def ok(self) -> bool:
        return self.error is None


def render_many(generator: Renders, jobs: Iterable[RenderJob], *, workers: int = 2) -> list[RenderOutcome]:
    """Render ``jobs`` with ``workers`` renders in flight (each render already overlaps its own stages)."""
    jobs = list(jobs)
    outputs = [Path(j.output).resolve() for j in jobs]
    if len(set(outputs)) != len(outputs):
        raise ValueError("two jobs write the same output path")

    def one(job: RenderJob) -> RenderOutcome:
        try:
            result = generator.render(
                job.image,
                job.audio,
                output=job.output,
                seed=job.seed,
                expressiveness=job.expressiveness,
                head_motion=job.head_motion,
            )
        except (InputError, GeneratorError, ProvenanceError, ValueError) as exc:
            log.warning("job %s failed: %s", job.output, exc)
            return RenderOutcome(job, None, exc)
        return RenderOutcome(job, result, None)

    if workers <= 1 or len(jobs) <= 1:
        return [one(j) for j in jobs]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dirfa-job") as pool:
        return list(pool.map(one, jobs))


def read_jobs(path: str | os.PathLike) -> list[RenderJob]:
    """Jobs from a JSON Lines file: one object per line with ``portrait``, ``audio``, ``output`` and optional
    ``seed``, ``expressiveness``, ``head_motion``. Relative paths are relative to the job file."""
    base = Path(path).resolve().parent
    jobs = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                item = json.loads(line)
                jobs.append(
                    RenderJob(
                        image=base / item["portrait"],
                        audio=base / item["audio"],
                        output=base / item["output"],
                        seed=item.get("seed"),
                        expressiveness=float(item.get("expressiveness", 1.0)),
                        head_motion=float(item.get("head_motion", 1.0)),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: bad job line: {exc}") from exc
    return jobs
