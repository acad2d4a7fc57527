"""Reading an upload's body under limits enforced while it is read: the size (counted, not only declared), an
idle timeout between chunks, and one deadline for the whole body. The body is spooled to a private temporary
file (never held in memory), which the caller deletes."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path


class UploadError(Exception):
    """The upload cannot be accepted: ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ClientGone(Exception):
    """The client closed the connection before the body ended: there is nobody to answer."""


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = 2 * 1024**3
    idle_timeout_s: float = 10.0  # no byte for this long: 408
    base_timeout_s: float = 30.0  # deadline = base + declared size / min_rate, at most max_timeout_s
    min_rate_bytes_s: float = 128 * 1024
    max_timeout_s: float = 600.0

    def deadline_s(self, declared: int | None) -> float:
        if declared is None:
            return self.max_timeout_s
        return min(self.max_timeout_s, self.base_timeout_s + declared / self.min_rate_bytes_s)


def declared_length(value: str | None, limits: UploadLimits) -> int | None:
    """The Content-Length header checked: 413 over the limit before one byte is read; 400 if malformed."""
    if value is None:
        return None
    if not value.isdigit():
        raise UploadError(400, "bad Content-Length")
    length = int(value)
    if length > limits.max_bytes:
        raise UploadError(413, f"file over the {limits.max_bytes}-byte limit")
    return length


async def spool(
    chunks: AsyncIterator[bytes], declared: int | None, limits: UploadLimits, directory: str | Path
) -> tuple[Path, int]:
    """Write the body to a new 0600 file in ``directory``; return its path and size. On any failure the file is
    removed and UploadError (408/413/400) or ClientGone is raised."""
    fd, name = tempfile.mkstemp(prefix="upload-", suffix=".bin", dir=directory)
    path = Path(name)
    total = 0
    deadline = time.monotonic() + limits.deadline_s(declared)
    try:
        with os.fdopen(fd, "wb") as fh:
            iterator = chunks.__aiter__()
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise UploadError(408, "the upload took longer than its deadline")
                try:
                    chunk = await asyncio.wait_for(iterator.__anext__(), min(limits.idle_timeout_s, remaining))
                except StopAsyncIteration:
                    break
                except asyncio.TimeoutError:
                    if time.monotonic() >= deadline:
                        raise UploadError(408, "the upload took longer than its deadline") from None
                    raise UploadError(408, f"the upload stalled (no data for {limits.idle_timeout_s:g} s)") from None
                total += len(chunk)
                if total > limits.max_bytes:
                    raise UploadError(413, f"file over the {limits.max_bytes}-byte limit")
                if chunk:
                    fh.write(chunk)
        if declared is not None and total != declared:
            raise ClientGone("the body ended before its Content-Length")
        if total == 0:
            raise UploadError(400, "the request has no body: POST the file's bytes")
        return path, total
    except BaseException:
        path.unlink(missing_ok=True)
        raise
