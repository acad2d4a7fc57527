"""Cost of the watermark detector where re-synchronisation runs (unmarked clips, crops, tone changes).

python benchmarks/watermark_resync.py [--root DIR] [--repeats 2] [--json FILE]

``--root``: import ``provenance`` from DIR instead of this checkout, e.g. an export of an older commit
(``git archive <commit> provenance | tar -x -C DIR``), to compare detectors on the same inputs in one session.
Clips: the first 5 s (125 frames, 25 fps) of the hallo__5 512x512 and echomimic__d 1280x720 motion clips of
``watermark_bench.py`` (marked with content ID 0123456789ab; the embedder is the same in every version
compared) and of echomimic__a 512x512 for the tone curves. Reported per case: process CPU seconds (best of
``--repeats``; the machine is shared, so CPU time is the stable figure), wall seconds of that run, and the
result.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=REPO)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    sys.path.insert(0, str(args.root))
    sys.path.insert(1, str(REPO / "benchmarks"))
    pw = importlib.import_module("provenance.watermark")  # before watermark_bench, which puts REPO first
    from _wm_attacks import ATTACKS
    from watermark_bench import SOURCES_512, SOURCES_720, load, motion_clip

    assert Path(pw.__file__).resolve().is_relative_to(args.root.resolve()), pw.__file__
    wm = pw.VideoWatermarker()
    cid = "0123456789ab"
    clips = {
        "hallo__5 512": motion_clip(load(SOURCES_512[0]), (512, 512), 125),
        "echomimic__a 512": motion_clip(load(SOURCES_512[1]), (512, 512), 125),
        "echomimic__d 720p": motion_clip(load(SOURCES_720[1]), (1280, 720), 125),
    }
    marked = {name: list(wm.embed(frames, cid)) for name, frames in clips.items()}
    cases = [
        ("hallo__5 512", "unmarked", clips["hallo__5 512"]),
        ("echomimic__d 720p", "unmarked", clips["echomimic__d 720p"]),
    ]
    for name in ("hallo__5 512", "echomimic__d 720p"):
        for attack in ("crop 90% + crf23", "crop 80% + crf23"):
            cases.append((name, attack, ATTACKS[attack][0](marked[name])))
    for attack in ("contrast x1.2", "gamma 0.8"):
        cases.append(("echomimic__a 512", attack, ATTACKS[attack][0](marked["echomimic__a 512"])))
    rows = []
    for name, attack, frames in cases:
        best = None
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            det = wm.detect(frames, fps=25.0)
            cpu, wall = time.process_time() - c0, time.perf_counter() - t0
            if best is None or cpu < best[0]:
                best = (cpu, wall, det)
        cpu, wall, det = best
        row = {
            "clip": name,
            "case": attack,
            "cpu_s": round(cpu, 2),
            "wall_s": round(wall, 2),
            "found": det.found,
            "exact": det.found and det.content_id == cid,
            "agreeing": f"{det.agreeing_bits}/{det.n_bits} (thr {det.threshold_bits})",
            "geometry": det.geometry,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    report = {
        "root": str(args.root),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average": os.getloadavg(),
        "rows": rows,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
