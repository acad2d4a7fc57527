"""Streaming batches for ``dirfa-verify --json-lines OUT [--ray ADDRESS]``: one JSON report per line as each file
completes, resumable (sources already in OUT are skipped), progress on a terminal, a summary at the end."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Any, TextIO

from . import _isolated
from .report import Verdict


def already_done(path: str) -> dict[str, dict[str, Any]]:
    """The reports already in a JSON Lines file, by source (lines that do not parse, e.g. a line cut by a crash,
    are ignored: their file is verified again)."""
    done: dict[str, dict[str, Any]] = {}
    if path == "-" or not os.path.exists(path):
        return done
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict) and isinstance(item.get("source"), str) and "verdict" in item:
                done[item["source"]] = item
    return done


def _ends_with_newline(path: str) -> bool:
    if path == "-" or not os.path.exists(path) or os.path.getsize(path) == 0:
        return True
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _local(sources: list[str], kwargs: dict[str, Any], jobs: int | None) -> Iterator[dict[str, Any]]:
    workers = jobs if jobs and jobs > 0 else (1 if jobs is None else os.cpu_count() or 1)
    for index, result in _isolated.IsolatedVerifier(min(workers, len(sources)), kwargs, target=_isolated.TARGET).run(
        sources
    ):
        result.setdefault("source", sources[index])
        yield result


class _Progress:
    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.stream, self.enabled = total, stream, stream.isatty()
        self.done, self.t0 = 0, time.monotonic()

    def step(self) -> None:
        self.done += 1
        if self.enabled:
            rate = self.done / max(time.monotonic() - self.t0, 1e-9)
            self.stream.write(f"\r{self.done}/{self.total} files  {rate:.1f} files/s ")
            self.stream.flush()

    def end(self) -> None:
        if self.enabled and self.done:
            self.stream.write("\n")


def run_batch(
    sources: list[str], kwargs: dict[str, Any], *, jobs: int | None, ray_address: str | None, out: str
) -> int:
    from .cli import EXIT_CODES, EXIT_USAGE

    done = already_done(out)
    todo = [s for s in sources if s not in done]
    if ray_address is not None:
        from .scale import verify_on_ray

        try:
            stream = verify_on_ray(todo, address=ray_address, actors=jobs if jobs else None, **kwargs)
        except ImportError as exc:
            print(f"dirfa-verify: {exc}", file=sys.stderr)
            return EXIT_USAGE
    else:
        stream = _local(todo, kwargs, jobs) if todo else iter(())
    verdicts: Counter[str] = Counter(r["verdict"] for s, r in done.items() if s in set(sources))
    failures: list[str] = []
    errors = 0
    progress = _Progress(len(todo), sys.stderr)
    t0 = time.monotonic()
    newline = not _ends_with_newline(out)
    with nullcontext(sys.stdout) if out == "-" else open(out, "a", encoding="utf-8") as fh:
        if newline:
            fh.write("\n")  # the last line was cut (a crash mid-write): start a fresh one
        for report in stream if todo else ():
            fh.write(json.dumps(report, separators=(",", ":")) + "\n")
            fh.flush()
            progress.step()
            if "error" in report:  # e.g. a missing file: no report, as in the single-machine CLI
                errors += 1
                failures.append(f"{report.get('source')}: {report['error']}")
                continue
            verdicts[report["verdict"]] += 1
            if report["verdict"] == Verdict.UNREADABLE.value:
                failures.append(f"{report['source']}: {report['summary']}")
    progress.end()
    elapsed = time.monotonic() - t0
    verified = progress.done
    rate = f"{verified / elapsed:.1f} files/s" if elapsed > 0 and verified else "-"
    where = f"Ray ({ray_address})" if ray_address is not None else "local workers"
    print(
        f"dirfa-verify: {verified} verified in {elapsed:.1f} s ({rate}, {where}); {len(sources) - len(todo)} "
        f"already in {out}; verdicts: " + (", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())) or "none"),
        file=sys.stderr,
    )
    for line in failures[:20]:
        print(f"  unreadable or failed: {line}", file=sys.stderr)
    if len(failures) > 20:
        print(f"  ... and {len(failures) - 20} more", file=sys.stderr)
    code = max((EXIT_CODES[Verdict(v)] for v in verdicts), default=0)
    return max(code, EXIT_USAGE) if errors else code
