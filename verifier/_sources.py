"""What a batch verifies: files, folders (walked for media files), ``@LIST`` files naming paths or URLs, and
http(s) URLs fetched by whichever worker verifies them (size-bounded, to a private temporary file)."""

from __future__ import annotations

import os
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from ._decode import Limits
from ._verify import verify

MEDIA_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".png", ".jpg", ".jpeg", ".webp", ".gif", ".heic", ".avif"}
)
FETCH_TIMEOUT_S = 60.0


class SourceError(ValueError):
    """A batch argument names nothing that can be verified (a missing path, an unreadable list)."""


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def expand(items: list[str]) -> list[str]:
    """Sources in order, each once: a folder becomes its media files (recursively, sorted), ``@FILE`` the lines
    of FILE (blank lines and ``#`` comments skipped; relative paths relative to FILE), a URL stays a URL."""
    out: list[str] = []
    seen: set[str] = set()

    def add(source: str) -> None:
        if source not in seen:
            seen.add(source)
            out.append(source)

    for item in items:
        if item.startswith("@"):
            listing = Path(item[1:])
            try:
                lines = listing.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise SourceError(f"cannot read the list {listing}: {exc}") from exc
            for line in lines:
                line = line.strip()
                if line and not line.startswith("#"):
                    add(line if is_url(line) else str((listing.parent / line).resolve()))
        elif is_url(item):
            add(item)
        elif os.path.isdir(item):
            for root, dirs, files in os.walk(item):
                dirs.sort()
                for name in sorted(files):
                    if Path(name).suffix.lower() in MEDIA_SUFFIXES:
                        add(os.path.join(root, name))
        else:
            add(item)  # a missing file is reported per file, like the single-machine CLI does
    return out


def fetch(url: str, limits: Limits, directory: str | None = None) -> Path:
    """Download ``url`` to a new 0600 temporary file, refusing more than ``limits.max_bytes``."""
    fd, name = tempfile.mkstemp(prefix="dirfa-fetch-", dir=directory)
    path = Path(name)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "dirfa-verify"})
        with os.fdopen(fd, "wb") as fh, urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as resp:
            total = 0
            while chunk := resp.read(1 << 20):
                total += len(chunk)
                if total > limits.max_bytes:
                    raise SourceError(f"{url}: larger than the {limits.max_bytes}-byte limit")
                fh.write(chunk)
        return path
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def verify_source(source: str, **kwargs: Any) -> dict[str, Any]:
    """The report dict for one batch source (a path, or a URL fetched here first); ``source`` as given."""
    if not is_url(source):
        return verify(source, **kwargs).to_dict()
    from ._verify import unreadable_dict

    limits = kwargs.get("limits") or Limits()
    try:
        path = fetch(source, limits)
    except (OSError, SourceError) as exc:
        return unreadable_dict(source, kwargs.get("mode", "full"), f"could not fetch: {exc}")
    try:
        report = verify(path, **kwargs).to_dict()
    finally:
        path.unlink(missing_ok=True)
    report["source"] = source
    return report
