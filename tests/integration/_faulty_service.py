"""A service worker target that misbehaves on purpose, by upload name (X-Filename)."""

from __future__ import annotations

import ctypes
import time

from verifier.service._work import verify_upload


def faulty_upload(path, *, filename="upload", **kwargs):
    if filename.startswith("segv"):
        ctypes.string_at(0)  # a real SIGSEGV, as a native decoder's bug would raise
    if filename.startswith("slow"):
        time.sleep(3)
    if filename.startswith("hang"):
        time.sleep(600)
    return verify_upload(path, filename=filename, **kwargs)
