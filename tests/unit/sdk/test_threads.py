"""The Generator's BLAS limit: one thread while any render runs, the original count restored after the last."""

import threading

import numpy  # noqa: F401 - loads OpenBLAS, the library being limited
from threadpoolctl import threadpool_info

from sdk._threads import single_blas_thread


def blas_threads():
    return sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})


def test_limit_held_across_overlapping_renders_and_restored():
    before = blas_threads()
    entered, release = threading.Event(), threading.Event()

    def other_render():
        with single_blas_thread():
            entered.set()
            release.wait(10)

    with single_blas_thread():
        assert blas_threads() == [1]
        t = threading.Thread(target=other_render)
        t.start()
        entered.wait(10)
    assert blas_threads() == [1]  # the other render still runs
    release.set()
    t.join()
    assert blas_threads() == before
