"""Issue 17 target: ``dirfa-verify --json --jobs 2`` over >= 300 mixed files (valid, mutated, truncated, crafted
hostile, signed renders) gives every file a report, and how long the batch takes.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/hostile_batch.py [--files 300] [--signed FILE.mp4]

Files are generated from ``fuzz/seeds.py`` (plus the signed render given, and its mutations); the summary prints
the verdict counts, the reasons of the UNREADABLE ones (grouped), wall time and the slowest file.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fuzz.seeds import seeds  # noqa: E402


def corpus(n: int, signed: Path | None, rng: random.Random) -> dict[str, bytes]:
    base = seeds()
    if signed is not None:
        base["signed.mp4"] = signed.read_bytes()
    files = dict(base)
    names = sorted(base)
    k = 0
    while len(files) < n:
        name = names[k % len(names)]
        data = bytearray(base[name])
        kind = k % 3
        if kind == 0:  # byte flips
            for _ in range(rng.choice([1, 8, 64])):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 1:  # truncation
            data = data[: rng.randrange(1, len(data))]
        else:  # a repeated chunk spliced in (box / chunk sizes stop matching)
            a = rng.randrange(len(data))
            data[a:a] = data[a : a + rng.randrange(1, 512)] * rng.randrange(2, 50)
        stem, ext = name.rsplit(".", 1)
        files[f"{stem}-m{k:03d}.{ext}"] = bytes(data)
        k += 1
    return files


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=300)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--signed", type=Path, help="a signed, watermarked render to include (and mutate)")
    p.add_argument("--seed", type=int, default=17)
    ns = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, data in corpus(ns.files, ns.signed, random.Random(ns.seed)).items():
            path = Path(tmp) / name
            path.write_bytes(data)
            paths.append(str(path))
        t = time.perf_counter()
        cmd = [sys.executable, "-m", "verifier.cli", "--json", "--jobs", str(ns.jobs), *paths]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t
    reports = json.loads(done.stdout)["reports"]
    assert len(reports) == len(paths), "a file got no report"
    verdicts = collections.Counter(r["verdict"] for r in reports)
    unreadable = [r for r in reports if r["verdict"] == "unreadable"]
    reasons = collections.Counter(r["summary"].split(":", 1)[1].strip()[:60] for r in unreadable)
    slowest = max(reports, key=lambda r: r["timings"].get("total", 0.0))
    print(
        json.dumps(
            {
                "files": len(paths),
                "reports": len(reports),
                "exit_code": done.returncode,
                "traceback_on_stderr": "Traceback" in done.stderr,
                "wall_s": round(wall, 1),
                "verdicts": dict(verdicts),
                "unreadable_reasons": dict(reasons.most_common(12)),
                "slowest": {"source": Path(slowest["source"]).name, "total_s": slowest["timings"].get("total")},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
