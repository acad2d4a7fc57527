"""A verification function that misbehaves on purpose, by file name (the supervised workers' tests run it)."""

from __future__ import annotations

import ctypes
import time
from pathlib import Path

from verifier import verify


def faulty_verify(source, **kwargs):
    name = Path(str(source)).name
    if name.startswith("segv"):
        ctypes.string_at(0)  # a real SIGSEGV, as a native decoder's bug would raise
    if name.startswith("slow"):
        time.sleep(3)
    if name.startswith("hang"):
        time.sleep(60)
    if name.startswith("hog"):
        hog = bytearray(3 * 1024**3)  # over the worker's address-space bound
        hog[-1] = 1
    return verify(source, **kwargs)
