"""Batch verification on a Ray cluster (the ``scale`` extra: ``pip install 'dirfa[scale]'``).

    from verifier.scale import verify_on_ray
    for report in verify_on_ray(paths_or_urls, address="auto", mode="fast", trust=anchors):
        ...                                   # one report dict per source, as each completes

Each Ray actor (one CPU) keeps one supervised verifier process (:class:`verifier._isolated.WorkerProcess`), so a
file that crashes the decoder, blows its memory bound or runs past the deadline costs that file an UNREADABLE report
and the actor a new process, never the batch. An actor that dies itself (its node lost, its process killed) is
restarted by Ray and its call retried once; a second death makes that file's report UNREADABLE ("the Ray worker
died"). At most ``in_flight`` calls are outstanding (default 2 per actor): a million-file list is never submitted at
once. Paths must be readable where the actors run (a shared filesystem on a multi-node cluster); http(s) URLs are
fetched by the actor that verifies them. ``docs/scale.md`` has the cluster set-up and the measured figures.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from ._decode import Limits
from ._isolated import GRACE_S, IsolatedVerifier

log = logging.getLogger(__name__)

SCALE_HINT = "pip install 'dirfa[scale]'"
TARGET = "verifier._sources:verify_source"
ANSWER_GRACE_S = 60.0  # beyond the worker's own deadline: an actor this late is killed (it should never happen)


def ray_module() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ImportError(f"Ray batches need the scale extra: {SCALE_HINT}") from exc
    return ray


def connect(address: str | None = None, *, num_cpus: int | None = None) -> bool:
    """Join or start Ray: None or ``"local"`` starts a local cluster on this machine's cores (``num_cpus`` to
    bound it), ``"auto"`` joins the cluster this machine belongs to, ``"ray://host:10001"`` a remote one. True when
    this call connected (the caller then owns :func:`disconnect`); False if Ray was already initialised."""
    ray = ray_module()
    if ray.is_initialized():
        return False
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # inherited by local workers (see docs/scale.md)
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    if address in (None, "local"):
        ray.init(num_cpus=num_cpus, **kwargs)
    else:
        ray.init(address=address, **kwargs)
    return True


def disconnect() -> None:
    ray_module().shutdown()


class _VerifierActor:
    """One Ray actor: one supervised verifier process, reused for every file sent to this actor."""

    def __init__(self, verify_kwargs: dict[str, Any], limits: Limits, target: str = TARGET) -> None:
        self._worker = IsolatedVerifier(1, verify_kwargs, limits, target=target).worker()

    def verify(self, source: str) -> dict[str, Any]:
        return self._worker.call(source)

    def pid(self) -> int:
        return os.getpid()

    def worker_pid(self) -> int | None:
        return self._worker.pid


def start_actors(n: int, verify_kwargs: dict[str, Any], limits: Limits, target: str = TARGET) -> list[Any]:
    ray = ray_module()
    actor = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=1)(_VerifierActor)
    return [actor.remote(verify_kwargs, limits, target) for _ in range(n)]


def verify_on_ray(
    sources: Iterable[str],
    *,
    address: str | None = None,
    actors: int | None = None,
    in_flight: int | None = None,
    target: str = TARGET,
    **verify_kwargs: Any,
) -> Iterator[dict[str, Any]]:
    """Report dicts for ``sources`` (paths or URLs), in completion order; see the module docstring.
    ``actors`` defaults to the cluster's CPU count; ``verify_kwargs`` are :func:`verifier.verify`'s (mode, trust,
    store, key, limits); ``target`` ("module:function") is what a worker runs per source (tests swap it)."""
    ray = ray_module()
    from ._verify import unreadable_dict

    limits = verify_kwargs.pop("limits", None) or Limits()
    mode = verify_kwargs.get("mode", "full")
    owned = connect(address)
    pool: list[Any] = []
    try:
        n = actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
        pool = start_actors(n, dict(verify_kwargs, limits=limits), limits, target)
        bound = max(n, in_flight or 2 * n)
        pending = deque(sources)
        waiting: dict[Any, tuple[str, int, float]] = {}  # ref -> (source, actor index, submitted at)
        load = [0] * n
        late = limits.timeout_s + GRACE_S + ANSWER_GRACE_S
        while pending or waiting:
            while pending and len(waiting) < bound:
                index = min(range(n), key=load.__getitem__)
                source = pending.popleft()
                waiting[pool[index].verify.remote(source)] = (source, index, time.monotonic())
                load[index] += 1
            ready, _ = ray.wait(list(waiting), num_returns=1, timeout=5.0)
            for ref in ready:
                source, index, _ = waiting.pop(ref)
                load[index] -= 1
                try:
                    yield ray.get(ref)
                except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as exc:
                    log.warning("Ray worker failed on %s: %s", source, type(exc).__name__)
                    yield unreadable_dict(source, mode, f"the Ray worker died on this file ({type(exc).__name__})")
            now = time.monotonic()
            for ref, (source, index, since) in list(waiting.items()):
                if now - since > late:  # the supervised process has its own deadline: this is a stuck actor
                    log.warning("Ray worker %d is %.0f s late on %s: killing it", index, now - since, source)
                    ray.kill(pool[index], no_restart=False)  # restarted; its calls are retried once
                    waiting[ref] = (source, index, now)
    finally:
        for a in pool:
            ray.kill(a, no_restart=True)
        if owned:
            disconnect()


__all__ = ["connect", "disconnect", "verify_on_ray"]
