"""A bounded pool of supervised verifier processes for the ASGI service.

``workers`` long-lived processes (:class:`verifier._isolated.WorkerProcess`: forkserver, ``RLIMIT_AS``, killed and
replaced past the deadline or on a crash) and at most ``queue`` requests waiting for one. A request only enters the
pool once its body has been read in full, so a slow or idle upload never holds a worker or a queue place.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from .._decode import Limits
from .._isolated import IsolatedVerifier, WorkerProcess

log = logging.getLogger(__name__)

TARGET = "verifier.service._work:verify_upload"


class Saturated(Exception):
    """Every worker is busy and the queue is full: answer 503 with Retry-After."""


@dataclass(frozen=True)
class PoolStats:
    workers: int
    busy: int
    waiting: int
    queue_limit: int
    restarts: int

    @property
    def saturated(self) -> bool:
        return self.busy >= self.workers and self.waiting >= self.queue_limit


class WorkerPool:
    """Start with :meth:`start` (in the event loop), stop with :meth:`close`."""

    def __init__(
        self,
        workers: int,
        queue: int,
        verify_kwargs: dict[str, Any],
        limits: Limits,
        *,
        target: str = TARGET,
        on_restart: Callable[[str], None] | None = None,
    ) -> None:
        self.workers = max(1, int(workers))
        self.queue_limit = max(0, int(queue))
        self._supervisor = IsolatedVerifier(self.workers, verify_kwargs, limits, target=target)
        self._free: asyncio.Queue[WorkerProcess] | None = None
        self._all: list[WorkerProcess] = []
        self._waiting = 0
        self._busy = 0
        self._restarts = 0
        self._on_restart = on_restart
        self._limiter: anyio.CapacityLimiter | None = None

    async def start(self) -> None:
        self._free = asyncio.Queue()
        self._limiter = anyio.CapacityLimiter(self.workers)
        t = time.perf_counter()
        self._all = await anyio.to_thread.run_sync(lambda: [self._supervisor.worker() for _ in range(self.workers)])
        for w in self._all:
            self._free.put_nowait(w)
        log.info("%d verifier workers started in %.2f s", self.workers, time.perf_counter() - t)

    def stats(self) -> PoolStats:
        return PoolStats(self.workers, self._busy, self._waiting, self.queue_limit, self._restarts)

    def pids(self) -> list[int]:
        return [p for p in (w.pid for w in self._all) if p is not None]

    def check_admission(self) -> None:
        """Raise :class:`Saturated` if a request arriving now would have to be refused."""
        if self._free is None:
            raise Saturated("the verifier is starting or stopping")
        if self._free.empty() and self._waiting >= self.queue_limit:
            raise Saturated("every verifier worker is busy and the queue is full")

    async def verify(self, path: str, overrides: dict[str, Any]) -> dict[str, Any]:
        """The worker's result for ``path`` (a report dict, or what the target returns). Raises Saturated."""
        self.check_admission()
        assert self._free is not None and self._limiter is not None
        self._waiting += 1
        try:
            worker = await self._free.get()
        finally:
            self._waiting -= 1
        self._busy += 1
        try:
            result = await anyio.to_thread.run_sync(worker.call, path, overrides, limiter=self._limiter)
            if worker.last_failure is not None:
                self._restarts += 1
                if self._on_restart is not None:
                    self._on_restart(worker.last_failure)
            return result
        finally:
            self._busy -= 1
            self._free.put_nowait(worker)

    async def close(self) -> None:
        workers, self._all, self._free = self._all, [], None

        def stop_all() -> None:
            for w in workers:
                w.stop()

        await anyio.to_thread.run_sync(stop_all)
        log.info("verifier workers stopped")
