"""Motion model speed and memory: ms per generated frame (25 fps) by stage, and a 10-minute clip's peak memory.

    python benchmarks/motion_speed.py [--package DIR] [--seconds 60] [--long-minutes 10]

Stages: loudness normalisation + log-mel (1.x), PocketSphinx phone features (1.x), the real-speech encoder (Whisper
tiny.en blocks 1-2, onnxruntime, 2.x), the motion network's encoder (onnxruntime), autoregressive step
decoder (onnxruntime, one call per frame). The long run happens in a child process so its peak RSS
(``ru_maxrss``) is the generation's own, from the audio array onwards. Speech is espeak-ng (no media needed).
Run with OMP_WAIT_POLICY=PASSIVE; everything is single-threaded. Stage times are this process's CPU time
(``time.process_time``), which other jobs on shared cores disturb far less than wall-clock time; the totals are given
both ways.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from models.motion import features as F
from models.motion.audio import load_audio
from models.motion.corpus.espeak import synthesize
from models.motion.model import MotionModel

TEXT = (
    "The quick brown fox jumps over the lazy dog. Speech is made of syllables, pauses and emphasis; a talking head "
    "has to follow all of them, for minutes on end, without drifting or slowing down. "
)


def speech(seconds: float) -> np.ndarray:
    u = synthesize(TEXT, voice="en-us", rate=165)
    x = load_audio(u.samples, sample_rate=u.sample_rate)
    reps = int(np.ceil(seconds * 16000 / x.size))
    return np.tile(x, reps)[: int(seconds * 16000)]


def stages(model: MotionModel, x: np.ndarray) -> dict:
    frames = F.num_frames(x.size)
    clock = time.process_time
    t0 = clock()
    norm = F.normalize_loudness(x)
    cfg = model.runtime.cfg.raw
    mel = F.log_mel(norm, frames) if cfg.get("mel", True) else np.zeros((frames, 0), np.float32)
    t1 = clock()
    empty = np.zeros((frames, 0), np.float32)
    segs = F.phone_segments(norm) if (cfg["phones"] or cfg.get("visemes")) else []
    ph = F.phone_features(norm, frames, segments=segs) if cfg["phones"] else empty
    vis = F.viseme_features(segs, frames) if cfg.get("visemes") else empty
    t2 = clock()
    wh = F.audio_features(x, phones=False, mel=False, whisper=True, n_frames=frames) if cfg.get("whisper") else empty
    tw = clock()
    feats = np.concatenate([wh, mel, ph, vis], axis=1)
    model.runtime.encode(feats)
    t3 = clock()
    model.runtime.generate(feats, rng=np.random.default_rng(0))  # encoder again + decoder
    t4 = clock()
    decoder = (t4 - t3) - (t3 - tw)
    ms = lambda s: 1000 * s / frames  # noqa: E731
    w5, t5 = time.perf_counter(), clock()
    model.generate(x, sample_rate=16000, seed=0)
    w6, t6 = time.perf_counter(), clock()
    return {
        "frames": frames,
        "ms_per_frame_cpu": {
            "log_mel": ms(t1 - t0),
            "phones_pocketsphinx": ms(t2 - t1),
            "whisper_encoder": ms(tw - t2),
            "encoder": ms(t3 - tw),
            "step_decoder": ms(decoder),
            "total_generate": ms(t6 - t5),
        },
        "total_generate_ms_per_frame_wall": ms(w6 - w5),
    }


def long_child(package: str | None, minutes: float) -> None:
    model = MotionModel.load(package)
    x = speech(minutes * 60)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t, c = time.perf_counter(), time.process_time()
    seq = model.generate(x, sample_rate=16000, seed=0)
    el, cpu = time.perf_counter() - t, time.process_time() - c
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"minutes": minutes, "frames": len(seq), "seconds_wall": el, "seconds_cpu": cpu,
                      "ms_per_frame_cpu": 1000 * cpu / len(seq), "ms_per_frame_wall": 1000 * el / len(seq),
                      "peak_rss_mb": peak / 1024, "rss_before_generate_mb": base / 1024}))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--package")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--long-minutes", type=float, default=10.0)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        long_child(a.package, a.long_minutes)
        return 0
    model = MotionModel.load(a.package)
    model.generate(speech(2.0), sample_rate=16000, seed=0)  # warm-up
    res = {"short": stages(model, speech(a.seconds))}
    if a.long_minutes > 0:
        cmd = [sys.executable, __file__, "--child", "--long-minutes", str(a.long_minutes)]
        if a.package:
            cmd += ["--package", a.package]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        res["long"] = json.loads(out)
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
