"""CPU cost of the video mark's blind search on an UNMARKED clip (issue 16 target: <= 10 s of CPU for a 10 s clip
at 720p). An unmarked clip is the worst case: every re-synchronisation candidate runs and none stops the search.

Two measurements, each the median of ``--repeat`` runs, in ``time.process_time()`` (CPU of this process):
- ``detect``: ``VideoWatermarker().detect(frames)`` on the native RGB frames;
- ``verify``: ``verifier.verify(path, mode="full")`` on the same frames written as an H.264 file (what a platform
  runs: decoding, the aligned pass on 128-px frames, the blind search on the kept frames at 512 px), with plain
  PyAV decoding of that file for reference.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/watermark_cost.py [--seconds 10] [--repeat 3] [--profile]

The clip is the benchmark's slow zoom / rotation / drift of ../shared/media/hallo__1.jpg at 1280x720, 25 fps;
``--edit pip`` puts it (unmarked) as a 0.45 picture-in-picture over moving noise (``_wm_attacks``), the edited
case where the inset search outlines rectangles and measures each.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from watermark_bench import load, motion_clip

from provenance.watermark import VideoWatermarker


def write_h264(frames, path: Path, fps: int = 25) -> None:
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"crf": "20", "preset": "veryfast"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)


def cpu(fn) -> tuple[float, object]:
    t = time.process_time()
    out = fn()
    return time.process_time() - t, out


def decode(path: Path) -> None:
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            frame.to_ndarray(format="rgb24")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--which", choices=("both", "detect", "verify"), default="both")
    p.add_argument("--profile", action="store_true", help="print the top functions of one detect run")
    p.add_argument("--edit", choices=("none", "pip"), default="none")
    p.add_argument("--json", type=Path)
    ns = p.parse_args()

    from verifier import verify

    n = round(ns.seconds * 25)
    frames = motion_clip(load("hallo__1.jpg"), (1280, 720), n)
    if ns.edit == "pip":
        from _wm_attacks import picture_in_picture

        frames = picture_in_picture(frames, 0.45)
    wm = VideoWatermarker()
    out: dict = {"frames": n, "size": "1280x720", "edit": ns.edit}
    if ns.profile:
        prof = cProfile.Profile()
        prof.enable()
        wm.detect(frames, fps=25)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
    if ns.which in ("both", "detect"):
        runs = []
        for _ in range(ns.repeat):
            s, res = cpu(lambda: wm.detect(frames, fps=25))
            assert not res.found, "an unmarked clip was reported marked"
            runs.append(s)
        out["detect_cpu_s"] = runs
        med = statistics.median(runs)
        print(f"detect (native frames): {' / '.join(f'{r:.2f}' for r in runs)} s CPU, median {med:.2f}")
    if ns.which in ("both", "verify"):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "unmarked.mp4"
            write_h264(frames, path)
            del frames
            dec = [cpu(lambda: decode(path))[0] for _ in range(ns.repeat)]
            runs = []
            for _ in range(ns.repeat):
                s, rep = cpu(lambda: verify(path, mode="full"))
                runs.append(s)
            out["decode_cpu_s"], out["verify_cpu_s"] = dec, runs
            out["verdict"] = rep.verdict if hasattr(rep, "verdict") else str(rep)
            print(f"decode: {' / '.join(f'{r:.2f}' for r in dec)} s CPU")
            print(f"verify(full): {' / '.join(f'{r:.2f}' for r in runs)} s CPU, median {statistics.median(runs):.2f}")
    if ns.json:
        ns.json.write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
