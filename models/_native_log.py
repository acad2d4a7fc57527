"""mediapipe / TFLite write their own log lines (absl ``W0000 ...``, ``INFO: Created TensorFlow Lite ...``) straight
to file descriptor 2, before and outside Python's logging. ``native_log()`` catches that descriptor for the length
of a block, turns the lines into INFO records of ``models.native`` (so ``dirfa -v`` shows them), and writes any
other captured text back to stderr afterwards: nothing is lost, only the third-party noise is hidden by default."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator

log = logging.getLogger("models.native")

_NATIVE = re.compile(
    r"^(?:[IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\]|INFO: |WARNING: All log messages before absl|"
    r"WARNING: Logging before InitGoogleLogging)"
)
_lock = threading.RLock()
_depth = 0


@contextlib.contextmanager
def native_log() -> Iterator[None]:
    """Route what native code writes to fd 2 inside the block into logging (nested and threaded use is safe)."""
    global _depth
    with _lock:
        _depth += 1
        if _depth > 1:  # an outer block already captures
            try:
                yield
            finally:
                _depth -= 1
            return
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no usable fd 2: nothing to capture
            _depth -= 1
            yield
            return
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                with contextlib.suppress(OSError, ValueError):
                    sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                _depth -= 1
                sink.seek(0)
                _replay(sink.read().decode("utf-8", "replace"))


def _replay(text: str) -> None:
    other = []
    for line in text.splitlines(keepends=True):
        if _NATIVE.match(line):
            log.info("%s", line.rstrip())
        else:
            other.append(line)
    if other:
        sys.stderr.write("".join(other))
        sys.stderr.flush()
