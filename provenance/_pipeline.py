"""Pipelined stages: run an iterator in a background thread so that two stages overlap (the SDK's render, watermark
and encode stages; the verifier's decoding and watermark detection).

The heavy work in each stage (OpenCV remaps, numpy/BLAS, PyWavelets, libx264) releases the GIL, so on two cores the
stages really run in parallel. Errors raised in a stage surface in the consumer; a consumer that stops early (an
error downstream) stops the stage too. Queues are bounded, so memory stays bounded.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def background(items: Iterable[T], *, maxsize: int = 4, name: str = "stage") -> Iterator[T]:
    """Iterate ``items`` in a daemon thread, yielding its values here in order."""
    q: queue.Queue[object] = queue.Queue(maxsize=maxsize)
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                q.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:
            put(_Failure(exc))
            return
        put(_DONE)

    thread = threading.Thread(target=run, name=f"dirfa-{name}", daemon=True)
    thread.start()
    try:
        while True:
            value = q.get()
            if value is _DONE:
                return
            if isinstance(value, _Failure):
                raise value.exc
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        thread.join(timeout=10)
