"""The portrait is prepared with one BLAS thread (OpenBLAS's spinning threads fight the motion computed meanwhile),
and the caller's BLAS setting is back afterwards."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from models import FaceRenderer
from sdk import Generator


def blas_threads():
    return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}


def test_the_renderer_is_built_on_one_blas_thread(portrait_path):
    np.dot(np.ones((2, 2)), np.ones((2, 2)))  # OpenBLAS loaded
    before = blas_threads()
    if max(before) < 2:
        pytest.skip("BLAS already runs on one thread here")
    seen = []

    def probe(image, *, size, framing):
        seen.append(blas_threads())
        return FaceRenderer(image, size=size, framing=framing)

    gen = Generator(size=256, renderer=probe)
    gen._build_renderer(np.asarray(FaceRenderer(portrait_path, size=256).source))
    assert seen == [{1}]
    assert blas_threads() == before


def test_threadpoolctl_versions_that_can_deadlock_are_not_used(monkeypatch):
    import contextlib

    import threadpoolctl

    from sdk import _blas

    assert _blas.version_tuple("3.8.0") == (3, 8) and _blas.version_tuple("3.10.1rc1") == (3, 10)
    assert _blas.version_tuple("4") == (4, 0) and _blas.version_tuple("3.7.0") < _blas.SAFE_FROM
    monkeypatch.setattr(threadpoolctl, "__version__", "3.6.0")
    assert isinstance(_blas.one_blas_thread(), contextlib.nullcontext)
    monkeypatch.setattr(threadpoolctl, "__version__", "3.8.0")
    with _blas.one_blas_thread() as limiter:
        assert limiter is not None
