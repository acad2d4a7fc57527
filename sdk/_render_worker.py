"""Render frames in a child process, so that rendering and watermarking+encoding use both cores without sharing a GIL.

Produces RAW, unmarked frames: only the Generator consumes them, and it watermarks every one before encoding.

The child is ``python -m sdk._render_worker`` (not multiprocessing: spawn would re-import the caller's main
script). It reads one pickle, ``(renderer, motion)``, from stdin and writes each frame's raw RGB bytes to stdout;
the pipe's capacity is the backpressure. Any failure in the child shows up here as a short read, raised with the
child's stderr.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

log = logging.getLogger(__name__)


class RenderWorkerError(RuntimeError):
    """The render child process failed."""


def picklable(renderer: Any) -> bool:
    try:
        pickle.dumps(renderer, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError, ValueError):
        return False
    return True


def render_in_subprocess(renderer: Any, motion: np.ndarray) -> Iterator[np.ndarray]:
    """Yield ``renderer.render(m)`` for each row of ``motion``, computed in a child process."""
    width, height = renderer.frame_size
    size = width * height * 3
    payload = pickle.dumps((renderer, np.ascontiguousarray(motion)), protocol=pickle.HIGHEST_PROTOCOL)
    env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    # The child must import these packages exactly as this process did, installed or not.
    here = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([here, *filter(None, [env.get("PYTHONPATH")])])
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sdk._render_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
        )
        stdin, stdout = cast(IO[bytes], proc.stdin), cast(io.BufferedReader, proc.stdout)  # both are PIPEs
        try:
            try:
                stdin.write(payload)
                stdin.close()
            except BrokenPipeError:
                pass  # the child died early: reported by the short read below
            for _ in range(len(motion)):
                buf = bytearray(size)
                view = memoryview(buf)
                got = 0
                while got < size:
                    n = stdout.readinto(view[got:])
                    if not n:
                        proc.wait(timeout=10)
                        err.seek(0)
                        detail = err.read().decode(errors="replace").strip().splitlines()[-5:]
                        raise RenderWorkerError(f"render worker exited ({proc.returncode}): {' | '.join(detail)}")
                    got += n
                yield np.frombuffer(buf, np.uint8).reshape(height, width, 3)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            stdout.close()


def _main() -> int:
    renderer, motion = pickle.load(sys.stdin.buffer)
    out = sys.stdout.buffer
    for m in motion:
        out.write(np.ascontiguousarray(renderer.render(m), dtype=np.uint8).tobytes())
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_main())
