"""One BLAS thread while the Generator works.

The render pipeline keeps both cores busy with its own stages; OpenBLAS's worker threads then spin-wait against
them. Measured on this project's 2-core machine under load: the portrait's depth map (scipy ``griddata``, LAPACK
underneath) took 0.4-7.2 s with OpenBLAS's default threads and 3-8 ms with one. The limit is process-wide (BLAS has
no per-thread setting), so it is held from the first render that starts to the last that ends, then restored.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.Lock()
_active = 0
_limiter: Any = None


@contextmanager
def single_blas_thread() -> Iterator[None]:
    global _active, _limiter
    with _lock:
        if _active == 0:
            from threadpoolctl import threadpool_limits

            _limiter = threadpool_limits(limits=1, user_api="blas")
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _limiter is not None:
                _limiter.restore_original_limits()
                _limiter = None
