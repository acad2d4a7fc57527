"""Verification in supervised worker processes: one bad file costs one result, never the batch.

Each worker verifies one file at a time under an address-space bound (``RLIMIT_AS``: the idle worker's size plus
``Limits.max_memory_bytes``) and the parent's wall-clock deadline (``Limits.timeout_s`` plus a short grace). A worker
that crashes (a native decoder's segfault, an abort on an allocation failure), exceeds its memory or runs past the
deadline is killed and replaced, and its file gets an UNREADABLE report saying why; the other files go on.
In-process, :func:`verifier.verify` already keeps its own deadline between stages; what it cannot interrupt (a
native call that never returns, a crash) is what this module exists for.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing as mp
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from ._decode import Limits

log = logging.getLogger(__name__)

TARGET = "verifier._sources:verify_source"  # verify(), plus http(s) URLs fetched first
GRACE_S = 5.0  # beyond Limits.timeout_s: verify() reports its own timeout first when it can


def _limit_memory(extra_bytes: int) -> None:
    try:
        import resource

        with open("/proc/self/status") as fh:
            size_kb = next(int(line.split()[1]) for line in fh if line.startswith("VmSize:"))
        limit = size_kb * 1024 + extra_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, StopIteration, ValueError) as exc:  # not Linux: the deadline still holds
        log.debug("no memory bound for verifier workers: %s", exc)


def _resolve(target: str) -> Callable[..., Any]:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _worker(conn: Connection, target: str, kwargs: dict[str, Any], memory_bytes: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    from . import _verify

    run = _resolve(target)
    _limit_memory(memory_bytes)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        index, source, overrides = task if len(task) == 3 else (*task, None)
        call = dict(kwargs, **overrides) if overrides else kwargs
        try:
            result = run(source, **call)
            result = result.to_dict() if hasattr(result, "to_dict") else result
        except FileNotFoundError as exc:
            result = {"source": str(source), "error": str(exc)}
        except MemoryError:
            result = _verify.unreadable_dict(str(source), call.get("mode", "full"), "limit: memory bound exceeded")
        except Exception as exc:  # verify() never raises for bad media; anything else is reported, not fatal
            log.exception("verifier worker: unexpected error on %s", source)
            result = _verify.unreadable_dict(str(source), call.get("mode", "full"), f"internal error: {exc!r}")
        try:
            conn.send((index, result))
        except (OSError, ValueError):
            return


@dataclass
class _Slot:
    proc: Any
    conn: Connection
    task: tuple[int, str] | None = None
    started: float = 0.0
    done: int = field(default=0)


class IsolatedVerifier:
    """``workers`` supervised processes running :func:`verifier.verify` with ``verify_kwargs`` (trust, store, key,
    mode, limits). :meth:`run` yields ``(index, report dict)`` as files complete."""

    def __init__(
        self, workers: int, verify_kwargs: dict[str, Any], limits: Limits | None = None, *, target: str = TARGET
    ) -> None:
        self.workers = max(1, int(workers))
        self.limits = limits or verify_kwargs.get("limits") or Limits()
        self.kwargs = dict(verify_kwargs, limits=self.limits)
        self.target = target
        # forkserver: workers fork from a clean server process that has imported the verifier once (cheap
        # replacements, and none of this process's threads or locks); spawn where there is no fork.
        self._ctx: Any
        if "forkserver" in mp.get_all_start_methods():
            self._ctx = mp.get_context("forkserver")
            self._ctx.set_forkserver_preload(["verifier._verify", target.partition(":")[0]])
        else:  # pragma: no cover
            self._ctx = mp.get_context("spawn")

    def _spawn(self) -> _Slot:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=_worker,
            args=(child, self.target, self.kwargs, self.limits.max_memory_bytes),
            name="dirfa-verify-worker",
        )
        proc.daemon = True
        proc.start()
        child.close()
        return _Slot(proc, parent)

    @staticmethod
    def _kill(slot: _Slot) -> None:
        if slot.proc.is_alive():
            slot.proc.kill()
        slot.proc.join(5)
        slot.conn.close()

    def _failed(self, slot: _Slot, reason: str, mode: str | None = None) -> tuple[int, dict[str, Any]]:
        from ._verify import unreadable_dict

        assert slot.task is not None
        index, source = slot.task
        log.warning("verifier worker on %s: %s", source, reason)
        return index, unreadable_dict(source, mode or self.kwargs.get("mode", "full"), reason)

    def worker(self) -> WorkerProcess:
        """A long-lived supervised worker (see :class:`WorkerProcess`)."""
        return WorkerProcess(self)

    def run(self, sources: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
        pending = deque(enumerate(str(s) for s in sources))
        slots = [self._spawn() for _ in range(min(self.workers, len(pending)) or 1)]
        deadline_s = self.limits.timeout_s + GRACE_S
        try:
            while pending or any(s.task is not None for s in slots):
                for s in slots:
                    if s.task is None and pending:
                        s.task, s.started = pending.popleft(), time.monotonic()
                        with contextlib.suppress(OSError, ValueError):  # a dead worker: found below
                            s.conn.send(s.task)
                busy = [s for s in slots if s.task is not None]
                now = time.monotonic()
                timeout = max(0.0, min(s.started + deadline_s - now for s in busy)) if busy else None
                ready = wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], timeout=timeout)
                for i, s in enumerate(slots):
                    if s.task is None:
                        continue
                    result = None
                    if s.conn in ready:
                        try:
                            result = s.conn.recv()
                        except (EOFError, OSError):
                            result = None
                    if result is not None:
                        s.task = None
                        yield result
                        continue
                    crashed = s.proc.sentinel in ready or not s.proc.is_alive()
                    overdue = time.monotonic() - s.started > deadline_s
                    if not (crashed or overdue):
                        continue
                    if crashed:
                        s.proc.join(1)
                        code = s.proc.exitcode
                        what = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
                        reason = f"the decoder process crashed ({what})"
                    else:
                        reason = f"limit: verification exceeded the {self.limits.timeout_s:g} s deadline"
                    failed = self._failed(s, reason)
                    self._kill(s)
                    slots[i] = self._spawn()
                    yield failed
        finally:
            for s in slots:
                with contextlib.suppress(OSError, ValueError):
                    s.conn.send(None)
            for s in slots:
                s.proc.join(2)
                self._kill(s)


class WorkerProcess:
    """One supervised worker for a long-lived caller (the HTTP service): :meth:`call` sends one file and blocks
    until its result, a crash or the deadline; a worker that crashed or ran over is killed and replaced, and the
    call returns an UNREADABLE report dict saying why (``reason`` set). Not thread-safe: one call at a time."""

    def __init__(self, owner: IsolatedVerifier) -> None:
        self._owner = owner
        self._slot = owner._spawn()
        self.restarts = 0
        self.last_failure: str | None = None

    @property
    def pid(self) -> int | None:
        return self._slot.proc.pid

    def call(self, source: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        owner, slot = self._owner, self._slot
        deadline_s = owner.limits.timeout_s + GRACE_S
        slot.task, slot.started = (0, str(source)), time.monotonic()
        self.last_failure = None
        with contextlib.suppress(OSError, ValueError):  # a dead worker: found below
            slot.conn.send((0, str(source), overrides or None))
        ready = wait([slot.conn, slot.proc.sentinel], timeout=deadline_s)
        crashed = slot.proc.sentinel in ready
        if slot.conn in ready:
            try:
                _, result = slot.conn.recv()
                slot.task = None
                return result
            except (EOFError, OSError):
                crashed = True  # the pipe closed: the worker is dying
        if crashed or not slot.proc.is_alive():
            slot.proc.join(5)
            code = slot.proc.exitcode
            what = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
            reason = f"the decoder process crashed ({what})"
            self.last_failure = "crash"
        else:
            reason = f"limit: verification exceeded the {owner.limits.timeout_s:g} s deadline"
            self.last_failure = "timeout"
        _, failed = owner._failed(slot, reason, mode=(overrides or {}).get("mode"))
        owner._kill(slot)
        self._slot = owner._spawn()
        self.restarts += 1
        return failed

    def stop(self, timeout: float = 2.0) -> None:
        slot = self._slot
        with contextlib.suppress(OSError, ValueError):
            slot.conn.send(None)
        slot.proc.join(timeout)
        self._owner._kill(slot)


def verify_isolated(
    sources: Iterable[str], *, workers: int = 1, target: str | None = None, **verify_kwargs: Any
) -> list[dict[str, Any]]:
    """Report dicts for ``sources``, in order, each verified in a supervised worker (see the module docstring).
    ``target`` ("module:function", default :func:`verifier.verify`) is what a worker runs per file."""
    items = list(sources)
    results: list[dict[str, Any] | None] = [None] * len(items)
    for index, result in IsolatedVerifier(workers, verify_kwargs, target=target or TARGET).run(items):
        results[index] = result
    return [r if r is not None else {"source": s, "error": "not verified"} for r, s in zip(results, items, strict=True)]


__all__ = ["IsolatedVerifier", "WorkerProcess", "verify_isolated"]
