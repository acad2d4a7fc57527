"""Render frames in a child process, so that rendering and watermarking+encoding use both cores without sharing a GIL.

Produces RAW, unmarked frames: only the Generator consumes them, and it watermarks every one before encoding.

The child is ``python -m sdk._render_worker`` (not multiprocessing: spawn would re-import the caller's main
script). It is spawned first, so that its imports overlap the caller's motion and landmark work, then receives the
pickled renderer, reports ``("ready", frame_size, renderer_name)``, and renders motion rows as they arrive.

Channels:
- parent -> child, stdin: the pickled renderer, then ``("ring", path, slots)``, then pickled messages
  ``("motion", rows)``, ``("free", n)`` (n frame slots released) and ``("end", total_rows)``;
- child -> parent, stdout: pickled messages ``("ready", ...)``, ``("mapped",)``, ``("frame", slot)``, ``("done", n)``,
  ``("error", exc, phase)``;
- frames: a ring of ``SLOTS`` frame buffers in a shared-memory file (``/dev/shm`` where present; unlinked as soon as
  both sides have mapped it). Pushing 0.8 MB frames through a pipe cost ~3-5 ms of system time per frame (64 KiB
  pipe buffer, many wake-ups); the ring costs one memcpy. The child owns a slot until the parent frees it
  (credits), so memory is bounded whatever the audio length.
Any failure in the child shows up here as :class:`RenderWorkerError`, with the child's exception as its cause or
its stderr when it died.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import pickle
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

log = logging.getLogger(__name__)

SLOTS = 8  # frames in flight between the child and the parent
FEED_ROWS = 200  # motion rows per message


class RenderWorkerError(RuntimeError):
    """The render child process failed."""


def picklable(obj: Any) -> bool:
    try:
        pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError, ValueError):
        return False
    return True


def _new_ring(size: int) -> tuple[IO[bytes], str]:
    """A named, sized file in shared memory (``/dev/shm`` where present); the caller unlinks it once mapped."""
    shm = "/dev/shm"
    where = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    f = tempfile.NamedTemporaryFile(prefix="dirfa-ring-", dir=where, delete=False)  # noqa: SIM115 - closed by owner
    try:
        f.truncate(size)
    except BaseException:  # no room (a full /dev/shm, a file-size limit): leave nothing behind
        f.close()
        _unlink(f.name)
        raise
    return f, f.name


class RenderProcess:
    """A render child, spawned at once so that its imports overlap the caller's work; :meth:`start` hands it the
    renderer. Use as a context manager: :meth:`ready` returns ``(frame_size, renderer_name)``, :meth:`frames`
    renders."""

    def __init__(self) -> None:
        env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
        # glibc returns each freed large array to the kernel and page-faults the next one in: ~2 ms of system time
        # per rendered frame. Keeping them in the heap removes it (the child's working set is bounded anyway).
        env.setdefault("MALLOC_MMAP_THRESHOLD_", str(256 << 20))
        env.setdefault("MALLOC_TRIM_THRESHOLD_", str(64 << 20))
        env.setdefault("OPENBLAS_NUM_THREADS", "1")  # the renderer never needs BLAS threads (see sdk._threads)
        # The child must import these packages exactly as this process did, installed or not.
        here = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join([here, *filter(None, [env.get("PYTHONPATH")])])
        self._err = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "sdk._render_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            env=env,
        )
        self._stdin = cast(IO[bytes], self._proc.stdin)
        self._stdout = cast(IO[bytes], self._proc.stdout)
        self._lock = threading.Lock()  # stdin writes come from the feeder thread and the consumer
        self._ring: mmap.mmap | None = None
        self._ring_file: IO[bytes] | None = None
        self._started = False
        self._ready: tuple[tuple[int, int], str] | None = None

    def start(self, renderer: Any) -> bool:
        """Send ``renderer`` to the child; False (and nothing sent) when it does not pickle."""
        try:
            payload = pickle.dumps(renderer, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError, ValueError):
            return False
        self._send_raw(payload)
        self._started = True
        return True

    # -- parent side ---------------------------------------------------------------------------------------------

    def _send_raw(self, data: bytes) -> None:
        with self._lock:
            try:
                self._stdin.write(data)
                self._stdin.flush()
            except (BrokenPipeError, ValueError):
                pass  # the child died: reported by the next read

    def _send(self, message: tuple) -> None:
        self._send_raw(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def _receive(self) -> tuple:
        try:
            message = pickle.load(self._stdout)
        except Exception as exc:  # EOF (the child died), or an exception class that does not unpickle
            raise self._died() from exc
        if message[0] == "error":
            raise RenderWorkerError(f"render worker failed: {message[1]!r}") from message[1]
        return message

    def _died(self) -> RenderWorkerError:
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._err.seek(0)
        detail = self._err.read().decode(errors="replace").strip().splitlines()[-5:]
        return RenderWorkerError(f"render worker exited ({self._proc.returncode}): {' | '.join(detail)}")

    def ready(self) -> tuple[tuple[int, int], str]:
        """Wait for the renderer: ``((width, height), renderer class name)``; raises what its constructor raised."""
        if self._ready is None:
            if not self._started:
                raise RenderWorkerError("render worker has no renderer: call start() first")
            kind, size, name = self._receive()
            if kind != "ready":
                raise RenderWorkerError(f"render worker protocol error: {kind!r}")
            width, height = int(size[0]), int(size[1])
            nbytes = SLOTS * width * height * 3
            self._ring_file, path = _new_ring(nbytes)
            try:
                self._ring = mmap.mmap(self._ring_file.fileno(), nbytes)
                self._send(("ring", path, SLOTS))
                if self._receive()[0] != "mapped":
                    raise RenderWorkerError("render worker protocol error: expected 'mapped'")
            finally:
                _unlink(path)  # both sides hold a mapping: the name is no longer needed
            self._ready = ((width, height), str(name))
        return self._ready

    def frames(self, motion: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Yield one rendered frame per motion row. ``motion`` yields (n, dims) chunks; it is consumed in a thread,
        so a lazy producer overlaps with rendering."""
        (width, height), _ = self.ready()
        ring = cast(mmap.mmap, self._ring)
        total = [0]
        feed_error: list[BaseException] = []

        def feed() -> None:
            try:
                for chunk in motion:
                    chunk = np.ascontiguousarray(chunk, dtype=np.float32)
                    for a in range(0, len(chunk), FEED_ROWS):  # small messages: the pipe never holds the lock long
                        self._send(("motion", chunk[a : a + FEED_ROWS]))
                    total[0] += len(chunk)
            except BaseException as exc:  # surfaced to the consumer below
                feed_error.append(exc)
            self._send(("end", total[0]))

        feeder = threading.Thread(target=feed, name="dirfa-motion-feed", daemon=True)
        feeder.start()
        view = np.frombuffer(ring, np.uint8).reshape(SLOTS, height, width, 3)
        try:
            while True:
                message = self._receive()
                if message[0] == "done":
                    break
                slot = message[1]
                frame = view[slot].copy()
                self._send(("free", 1))
                yield frame
            feeder.join()
            if feed_error:
                raise feed_error[0]
        finally:
            del view  # the ring can only be unmapped once no array views it

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for stream in (self._stdin, self._stdout, self._err):
            with contextlib.suppress(OSError):
                stream.close()
        if self._ring is not None:
            try:
                self._ring.close()
            except BufferError:  # a frame view is still alive somewhere: the GC frees the mapping later
                log.debug("render ring still referenced at close")
        if self._ring_file is not None:
            self._ring_file.close()

    def __enter__(self) -> RenderProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def render_in_subprocess(renderer: Any, motion: np.ndarray) -> Iterator[np.ndarray]:
    """Yield ``renderer.render(m)`` for each row of ``motion``, computed in a child process."""
    with RenderProcess() as proc:
        if not proc.start(renderer):
            raise RenderWorkerError(f"{type(renderer).__name__} does not pickle: it cannot render in a child process")
        yield from proc.frames([motion])


# -- child side ------------------------------------------------------------------------------------------------------


def _send_child(out: IO[bytes], message: tuple) -> None:
    try:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an exception that does not pickle: send its text
        data = pickle.dumps(
            ("error", RenderWorkerError(repr(message[1])), *message[2:]), protocol=pickle.HIGHEST_PROTOCOL
        )
    out.write(data)
    out.flush()


def _main() -> int:
    try:  # one OpenCV thread: the parent's stages use the other core (two threads cost 50% more CPU per frame)
        import cv2

        cv2.setNumThreads(1)
        import models.face.renderer  # noqa: F401 - the default renderer's modules, loaded while the parent works
    except ImportError:
        pass
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    try:
        renderer = pickle.load(inp)
        width, height = renderer.frame_size
    except Exception as exc:
        _send_child(out, ("error", exc, "load"))
        return 1
    _send_child(out, ("ready", (width, height), type(renderer).__name__))
    kind, ring_path, slots = pickle.load(inp)
    if kind != "ring":
        return 2
    with open(ring_path, "r+b") as f:
        ring = mmap.mmap(f.fileno(), slots * width * height * 3)
    _send_child(out, ("mapped",))
    view = np.frombuffer(ring, np.uint8).reshape(slots, height, width, 3)
    pending: deque[np.ndarray] = deque()
    credits, index, expected = slots, 0, None
    try:
        while True:
            if pending and credits:
                view[index % slots] = renderer.render(pending.popleft())
                _send_child(out, ("frame", index % slots))
                credits -= 1
                index += 1
                continue
            if expected is not None and index >= expected:
                break
            message = pickle.load(inp)
            if message[0] == "motion":
                pending.extend(message[1])
            elif message[0] == "free":
                credits += message[1]
            elif message[0] == "end":
                expected = message[1]
    except Exception as exc:
        _send_child(out, ("error", exc, "render"))
        return 1
    _send_child(out, ("done", index))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
