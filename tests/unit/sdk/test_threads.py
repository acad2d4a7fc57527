"""The Generator's BLAS limit: one thread while any render runs, the original count restored after the last.

Run in a fresh interpreter: BLAS thread counts are process-wide, and other tests (torch, renders in threads) touch
them too."""

import os
import subprocess
import sys

SCENARIO = r"""
import threading
import numpy, scipy.linalg  # two OpenBLAS builds, as in a render
from threadpoolctl import threadpool_info
from sdk._threads import single_blas_thread

def blas():
    return sorted((p["filepath"], p["num_threads"]) for p in threadpool_info() if p["user_api"] == "blas")

before = blas()
assert before and max(n for _, n in before) > 1, before
entered, release = threading.Event(), threading.Event()

def other_render():
    with single_blas_thread():
        entered.set()
        release.wait(10)

with single_blas_thread():
    assert {n for _, n in blas()} == {1}, blas()
    t = threading.Thread(target=other_render)
    t.start()
    entered.wait(10)
assert {n for _, n in blas()} == {1}, "released while another render runs"
release.set()
t.join()
assert blas() == before, (blas(), before)
print("ok")
"""


def test_limit_held_across_overlapping_renders_and_restored():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2")  # two BLAS threads to start from, whatever the machine
    out = subprocess.run([sys.executable, "-c", SCENARIO], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
