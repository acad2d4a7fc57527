"""Robustness, audibility and cost of the audio mark on real speech (docs/audiomark.md has the results).

    OMP_WAIT_POLICY=PASSIVE nice -n 10 .venv/bin/python benchmarks/audiomark_bench.py [--clips 14] [--json out.json]

Clips: ../shared/media speech (hallo, echomimic, the two SadTalker videos' audio), 12 s excerpts of the
../shared/data/real-av presidential addresses (at 5 s and 20 s where long enough) and two 15 s runs of five GRID
speakers each; babble is built from GRID speaker s1 clips (not
under test). Every clip is marked with its own random content ID and attacked with every attack in
benchmarks/_audio_attacks.py (a no-attack baseline included); a case passes when the detector returns exactly that ID.
Unmarked copies of every clip go through the same attacks as a small false-positive check (the large one is
benchmarks/audiomark_fp.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _audio_attacks import RATE, decode, make_attacks

from provenance.audiomark import AudioWatermarker
from provenance.watermark import new_content_id

SHARED = Path(__file__).resolve().parents[2] / "shared"


def load(path: Path, start_s: float = 0.0, dur_s: float | None = None) -> np.ndarray:
    x, _ = decode(path.read_bytes(), RATE)
    x = x[int(start_s * RATE) :]
    return x[: int(dur_s * RATE)] if dur_s else x


def clips() -> list[tuple[str, np.ndarray]]:
    media, pres = SHARED / "media", SHARED / "data" / "real-av" / "presidential"
    out = [(p.name, load(p)) for p in (media / "hallo__1.wav", media / "echomimic__echomimic_en.wav",
                                       media / "SadTalker__WDA_KatieHill_000.mp4",
                                       media / "SadTalker__WDA_AlexandriaOcasioCortez_000.mp4")]  # fmt: skip
    for p in sorted(pres.glob("*.mp4")):
        for start in (5.0, 20.0):
            x = load(p, start, 12.0)
            if x.size >= 11 * RATE:
                out.append((f"{p.stem}@{start:g}s", x))
    grid = sorted((SHARED / "data" / "real-av" / "grid-speakers").glob("*.mp4"))
    for i in range(2):  # five GRID speakers back to back per clip, 15 s
        out.append((f"grid-speakers-{i}", np.concatenate([load(p) for p in grid[i * 5 : i * 5 + 5]])))
    return [(n, x / max(1e-9, np.abs(x).max()) * 0.7) for n, x in out]  # peak-normalised like a render's soundtrack


def babble() -> np.ndarray:
    grid = sorted((SHARED / "data" / "real-av" / "grid-s1").glob("*.mp4"))[:12]
    voices = [np.concatenate([load(p) for p in grid[i::4]]) for i in range(4)]
    n = min(v.size for v in voices)
    return sum(v[:n] / np.sqrt(np.mean(v[:n] ** 2)) for v in voices)


def seg_snr(x: np.ndarray, y: np.ndarray, frame: int = 480) -> float:
    """Segmental SNR (dB) over speech frames (within 40 dB of the loudest), each clamped to [-10, 35] dB."""
    n = x.size // frame
    xs, ds = x[: n * frame].reshape(n, frame), (y - x)[: n * frame].reshape(n, frame)
    ex, ed = (xs**2).sum(1), (ds**2).sum(1) + 1e-20
    act = ex > ex.max() * 1e-4
    return float(np.clip(10 * np.log10(ex[act] / ed[act]), -10, 35).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=100)
    ap.add_argument("--attacks", nargs="*", default=None)
    ap.add_argument("--no-unmarked", action="store_true", help="skip the unmarked false-positive pass")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=None, help="content IDs from this seed (default: random IDs)")
    args = ap.parse_args()
    ids = np.random.default_rng(args.seed)
    attacks = make_attacks(babble())
    names = args.attacks or list(attacks)
    wm = AudioWatermarker()
    rows, fps, snrs, embed_s = [], [], [], []
    for clip, x in clips()[: args.clips]:
        cid = new_content_id() if args.seed is None else ids.bytes(6).hex()
        t = time.process_time()
        y = wm.embed(x, RATE, cid).astype(np.float64)
        embed_s.append((time.process_time() - t, x.size / RATE))
        snrs.append(seg_snr(x, y))
        for name in names:
            a, r = attacks[name](y)
            t = time.process_time()
            det = wm.detect(a, r)
            cpu = time.process_time() - t
            ok = det.found and det.content_id == cid
            rows.append(
                {
                    "clip": clip,
                    "attack": name,
                    "ok": ok,
                    "found": det.found,
                    "log10_p": det.log10_p_value,
                    "agreement": det.agreement,
                    "speed": det.speed,
                    "cpu_s": cpu,
                    "duration_s": a.size / r,
                }
            )
            print(
                f"{clip:34s} {name:28s} {'PASS' if ok else 'fail'} p=1e{det.log10_p_value:.1f} "
                f"agree={det.agreement:.2f} speed={det.speed} cpu={cpu:.2f}s",
                flush=True,
            )
            if not args.no_unmarked:
                a, r = attacks[name](x)
                det = wm.detect(a, r)
                fps.append(det.found)
                if det.found:
                    print(f"FALSE POSITIVE {clip} {name} p=1e{det.log10_p_value:.1f}", flush=True)
    print("\nattack                        pass")
    for name in names:
        sub = [r["ok"] for r in rows if r["attack"] == name]
        print(f"{name:28s} {sum(sub):3d}/{len(sub)}")
    non_speed = [r["ok"] for r in rows if not r["attack"].startswith("speed")]
    speed = [r["ok"] for r in rows if r["attack"].startswith("speed")]
    print(f"non-speed cases: {sum(non_speed)}/{len(non_speed)} = {100 * np.mean(non_speed):.1f} %")
    if speed:
        print(f"speed cases: {sum(speed)}/{len(speed)} = {100 * np.mean(speed):.1f} %")
    print(f"segmental SNR: min {min(snrs):.1f} dB, mean {np.mean(snrs):.1f} dB")
    e = np.array(embed_s)
    print(f"embed: {e[:, 0].sum() / e[:, 1].sum() * 10:.3f} s CPU per 10 s of audio")
    print(f"unmarked false positives: {sum(fps)}/{len(fps)}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "seg_snr": snrs, "embed": embed_s, "fp": sum(fps)}, indent=1))


if __name__ == "__main__":
    main()
