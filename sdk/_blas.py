"""One BLAS thread while a portrait is prepared (``Generator._build_renderer``), where that can be done safely.

OpenBLAS's spinning threads fight the motion computed in the meantime (the portrait's depth map, scipy griddata,
took 0.4-7 s with OpenBLAS's default threads under load, 3-8 ms with one), so the preparation runs with one BLAS
thread, set and restored in the preparing thread (threadpoolctl 3.8 cannot restore a limit from another thread).

threadpoolctl before 3.8 finds the loaded libraries with ``dl_iterate_phdr`` and a Python callback. That deadlocks
against an extension-module import in another thread: the importing thread holds the GIL and waits for the dynamic
loader's lock, and the callback holds that lock and waits for the GIL (joblib/threadpoolctl#239). A render does
exactly this, because the motion imports PocketSphinx while the portrait is prepared; 1 ``dirfa render`` in 6 hung
here with threadpoolctl 3.6. 3.8 reads ``/proc/self/maps`` instead. With an older threadpoolctl the limit is skipped.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from typing import Any

log = logging.getLogger(__name__)

SAFE_FROM = (3, 8)
_warned = False


def version_tuple(text: str) -> tuple[int, int]:
    """``"3.8.0"`` -> ``(3, 8)``; non-numeric parts count as 0."""
    parts = [int("".join(itertools.takewhile(str.isdigit, p)) or 0) for p in text.split(".")[:2]]
    major, minor = [*parts, 0, 0][:2]
    return major, minor


def one_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """A context manager that runs its body with one BLAS thread, or does nothing where that could deadlock."""
    global _warned
    try:
        import threadpoolctl
    except ImportError:
        return contextlib.nullcontext()
    if version_tuple(threadpoolctl.__version__) < SAFE_FROM:
        if not _warned:
            _warned = True
            log.warning(
                "threadpoolctl %s can deadlock across threads; BLAS threads are not limited while preparing "
                "portraits (pip install 'threadpoolctl>=3.8')",
                threadpoolctl.__version__,
            )
        return contextlib.nullcontext()
    return threadpoolctl.threadpool_limits(limits=1, user_api="blas")
