"""Ray against the local process pool on the same work, same cores (issue 20).

Verification: ``--files`` (default 200) files in fast mode, 3/4 signed 10 s renders and 1/4 re-encoded copies
(watermark only), through ``IsolatedVerifier`` with 2 workers (what ``dirfa-verify --jobs 2`` runs) and through
``verifier.scale.verify_on_ray`` with 2 actors on a local Ray cluster of 2 CPUs (started before the clock; its start
is reported apart). Renders: ``--renders`` (default 20) 3 s jobs through ``Generator.render_many(workers=2)`` and
through ``backend="ray"`` with 2 actors, Generator construction included on both sides.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/scale_bench.py [--files 200] [--renders 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def reencode(src: Path, dst: Path) -> None:
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 512, 512, "yuv420p"
        s.options = {"crf": "23", "preset": "veryfast"}
        for f in inp.decode(video=0):
            for p in s.encode(av.VideoFrame.from_ndarray(f.to_ndarray(format="rgb24"), format="rgb24")):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=200)
    p.add_argument("--renders", type=int, default=20)
    ns = p.parse_args()
    os.environ.setdefault("DIRFA_HOME", tempfile.mkdtemp(prefix="dirfa-bench-"))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import numpy as np
    import ray
    from render_speed import make_audio

    from models.motion.audio import encode_wav, load_audio
    from sdk import Generator, RenderJob
    from verifier._isolated import IsolatedVerifier
    from verifier.scale import verify_on_ray

    tmp = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    make_audio(10.0, tmp / "speech10.wav")
    clip = Generator(size=512).render(ROOT / "sdk" / "data" / "portrait.jpg", tmp / "speech10.wav",
                                      output=tmp / "clip.mp4", seed=1).path  # fmt: skip
    reencode(clip, tmp / "plain.mp4")
    files = []
    for i in range(ns.files):
        dst = tmp / "files" / f"{i:04d}.mp4"
        dst.parent.mkdir(exist_ok=True)
        shutil.copy(tmp / "plain.mp4" if i % 4 == 3 else clip, dst)
        files.append(str(dst))

    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - t
    rows = []

    t = time.perf_counter()
    local = [r for _, r in IsolatedVerifier(2, {"mode": "fast"}, target="verifier._sources:verify_source").run(files)]
    t_local = time.perf_counter() - t
    t = time.perf_counter()
    remote = list(verify_on_ray(files, actors=2, mode="fast"))
    t_ray = time.perf_counter() - t
    assert len(local) == len(remote) == len(files)
    same = sorted((r["source"], r["verdict"]) for r in local) == sorted((r["source"], r["verdict"]) for r in remote)
    rows.append({"work": f"verify {len(files)} files, fast mode", "local_pool_s": round(t_local, 2),
                 "ray_s": round(t_ray, 2), "local_files_per_s": round(len(files) / t_local, 1),
                 "ray_files_per_s": round(len(files) / t_ray, 1), "ray_overhead": round(t_ray / t_local - 1, 3),
                 "same_verdicts": same, "per_file_cpu_s": round(2 * t_local / len(files), 3)})  # fmt: skip
    print(json.dumps(rows[-1]), flush=True)

    speech = load_audio(ROOT / "sdk" / "data" / "speech.wav")[: 3 * 16000]
    (tmp / "speech3.wav").write_bytes(encode_wav(speech.astype(np.float32), 16000))
    for backend in ("local", "ray"):
        (tmp / backend).mkdir()
        jobs = [RenderJob(ROOT / "sdk" / "data" / "portrait.jpg", tmp / "speech3.wav",
                          tmp / backend / f"{i:03d}.mp4", seed=i) for i in range(ns.renders)]  # fmt: skip
        t = time.perf_counter()
        outcomes = Generator(size=512).render_many(jobs, workers=2, backend=backend)
        elapsed = time.perf_counter() - t
        assert all(o.ok for o in outcomes), [str(o.error) for o in outcomes if not o.ok]
        rows.append({"work": f"render {ns.renders} x 3 s jobs", "backend": backend, "s": round(elapsed, 2),
                     "renders_per_min": round(60 * ns.renders / elapsed, 1)})  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    r_local, r_ray = rows[-2]["s"], rows[-1]["s"]
    print(json.dumps({"render_ray_overhead": round(r_ray / r_local - 1, 3), "ray_cluster_start_s": round(ray_start, 2),
                      "machine": f"{platform.machine()} {os.cpu_count()} cores",
                      "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}))  # fmt: skip
    ray.shutdown()


if __name__ == "__main__":
    main()
