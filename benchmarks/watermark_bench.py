"""Watermark robustness, invisibility and speed, beside stock invisible-watermark measured in the same run.

python benchmarks/watermark_bench.py [--seconds 5] [--quick] [--no-baselines] [--out DIR] [--json FILE]
python benchmarks/watermark_bench.py --markdown FILE   # tables for docs/benchmarks.md from a saved --json

Clips: 5 s at 25 fps with slow zoom, rotation and drift (every frame differs) made from the portraits in
../shared/media at 512x512 and 1280x720, plus the first 5 s of a real talking-face video (512x512). Each clip
is marked with a fresh content ID, attacked (benchmarks/_wm_attacks.py) and given to ``detect`` (default
options: aligned pass, then re-synchronisation when needed). Reported per attack: whether the exact content
ID came back, the agreeing/observed coded bits, per-frame bit accuracy (against the true codeword, at the
geometry the detector settled on; aligned when it found nothing) and detection time. Baselines (dwtDct and
dwtDctSvd with 64 bits, rivaGan with 32 bits) run on a shorter 512x512 clip: per-frame bit accuracy, and
"clip exact" = the per-bit majority over decoded frames equals the payload. Media never leave ../shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _wm_attacks import ATTACKS_ALL as ATTACKS  # noqa: E402
from _wm_attacks import FPS  # noqa: E402

from provenance.watermark import (  # noqa: E402
    EmbedParams,
    VideoWatermarker,
    _code,
    _decide,
    _keys,
    _measure,
    _resample,
    new_content_id,
)

MEDIA = REPO.parent / "shared" / "media"
SOURCES_512 = ["hallo__5.jpg", "echomimic__a.png"]
SOURCES_720 = ["hallo__1.jpg", "echomimic__d.png"]
REAL_VIDEO = "SadTalker__WDA_KatieHill_000.mp4"


def load(name: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(MEDIA / name)), cv2.COLOR_BGR2RGB)


def motion_clip(img: np.ndarray, size: tuple[int, int], n: int) -> list[np.ndarray]:
    """Slow zoom (6 %), rotation (+-2 deg) and drift over the clip; centre-cropped to the target aspect."""
    w_out, h_out = size
    h, w = img.shape[:2]
    aspect = w_out / h_out
    if w / h > aspect:
        cw = int(h * aspect)
        img = img[:, (w - cw) // 2 : (w - cw) // 2 + cw]
    else:
        ch = int(w / aspect)
        img = img[(h - ch) // 2 : (h - ch) // 2 + ch]
    h, w = img.shape[:2]
    frames = []
    for k in range(n):
        m = cv2.getRotationMatrix2D((w / 2 + 0.02 * w * k / n, h / 2), 2.0 * np.sin(k / 40), 1 + 0.06 * k / n)
        warped = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        frames.append(cv2.resize(warped, size, interpolation=cv2.INTER_AREA))
    return frames


def video_clip(name: str, n: int) -> list[np.ndarray]:
    import av

    with av.open(str(MEDIA / name)) as inp:
        out = []
        for fr in inp.decode(video=0):
            out.append(fr.to_ndarray(format="rgb24"))
            if len(out) == n:
                break
    return out


def psnr(a: list[np.ndarray], b: list[np.ndarray], luma: bool = False) -> float:
    if luma:
        a = [_measure._rule.luma(x) for x in a]
        b = [_measure._rule.luma(x) for x in b]
    mse = np.mean([np.mean((x.astype(np.float64) - y) ** 2) for x, y in zip(a, b, strict=True)])
    return float(10 * np.log10(255.0**2 / mse))


def ssim(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    from skimage.metrics import structural_similarity

    idx = range(0, len(a), 10)
    return float(np.mean([structural_similarity(a[i], b[i], channel_axis=2, data_range=255) for i in idx]))


def aligned_frame_accuracy(frames, cid: str, wm: VideoWatermarker, fps: float) -> float:
    """Per-frame accuracy of the aligned soft bits against the TRUE codeword (best carrier signs)."""
    params = wm._params
    word = _code.encode(_code.content_id_to_bits(cid, wm._params.version))
    ch = tuple(c for c, _ in params.carriers)
    st = tuple(s for _, s in params.carriers)
    meas = [_measure.measure_planes(_measure.planes(f, ch, _resample.working_shape(*f.shape[:2])), st) for f in frames]
    tiles = np.array([m[0] for m in meas])
    pairs = np.array([m[1] for m in meas])
    sums = _decide.coded_sums(tiles, wm._key)
    lay = _keys.layout_of_time((np.arange(len(frames)) + 0.5) / fps)
    per = sums[np.arange(len(frames)), :, lay]
    theta = np.angle(-np.sum(pairs * np.abs(pairs), axis=0)) / 2
    best = 0.0
    for signs in _decide.sign_combos(len(ch)):
        soft = np.einsum("k,nkc->nc", signs, -np.imag(per * np.exp(-1j * theta)[None, :, None]))
        seen = soft != 0
        best = max(best, float(np.sum(((soft > 0) == (word == 1)) & seen) / max(1, seen.sum())))
    return best


MARKS = {
    2: EmbedParams(),  # mark version 2 (V + Y carriers), the default
    1: EmbedParams(carriers=(("v", 76.0),), version=1, legacy=()),  # mark version 1 as shipped until 2026-12
}


def run_ours(name: str, frames: list[np.ndarray], attacks: list[str], out_dir: Path, mark: int = 2) -> dict:
    wm = VideoWatermarker(params=MARKS[mark])
    detector = VideoWatermarker()  # today's detector finds both versions
    cid = new_content_id()
    t0 = time.perf_counter()
    marked = list(wm.embed(frames, cid))
    embed_ms = (time.perf_counter() - t0) / len(frames) * 1000
    res = {
        "clip": name,
        "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
        "frames": len(frames),
        "embed_ms_per_frame": embed_ms,
        "psnr_rgb": psnr(frames, marked),
        "psnr_luma": psnr(frames, marked, luma=True),
        "ssim": ssim(frames, marked),
        "max_abs_diff": int(max(np.abs(a.astype(int) - b).max() for a, b in zip(frames, marked, strict=True))),
        "attacks": {},
    }
    k = len(frames) // 2
    diff = np.clip(128 + 16 * (marked[k].astype(np.float64) - frames[k]), 0, 255).astype(np.uint8)
    cv2.imwrite(str(out_dir / f"diff_x16_{name}.png"), cv2.cvtColor(diff, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(out_dir / f"marked_{name}.png"), cv2.cvtColor(marked[k], cv2.COLOR_RGB2BGR))
    for attack in attacks:
        fn, fps = ATTACKS[attack]
        attacked = fn(marked)
        t0, c0 = time.perf_counter(), time.process_time()
        det = detector.detect(attacked, fps=float(fps))
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        exact = det.found and det.content_id == cid
        acc = det.frame_bit_agreement if exact else aligned_frame_accuracy(attacked, cid, wm, fps)
        res["attacks"][attack] = {
            "exact_id": exact,
            "found": det.found,
            "wrong_id": det.found and det.content_id != cid,
            "agreeing_bits": det.agreeing_bits,
            "n_bits": det.n_bits,
            "threshold_bits": det.threshold_bits,
            "log10_p": det.log10_p,
            "frame_bit_accuracy": acc,
            "resynchronised": det.resynchronised,
            "geometry": det.geometry,
            "segments": [list(s) for s in det.segments],
            "detect_s": dt,
            "detect_cpu_s": dc,
            "frames": len(attacked),
        }
        print(
            f"  {name:22s} {attack:22s} exact={exact!s:5s} {det.agreeing_bits:3d}/{det.n_bits:3d} "
            f"(thr {det.threshold_bits}) frame_acc={acc:.3f} resync={det.resynchronised!s:5s} "
            f"{dt:5.1f}s cpu {dc:5.1f}s",
            flush=True,
        )
    return res


def run_baselines(frames: list[np.ndarray], attacks: list[str], decode_frames: int, riva_frames: int) -> dict:
    """Stock invisible-watermark on the same clip and attacks (imported here only: it loads torch)."""
    from imwatermark import WatermarkDecoder, WatermarkEncoder

    rng = np.random.default_rng(7)
    out = {}
    for method, n_bits, n_frames in (
        ("dwtDct", 64, len(frames)),
        ("dwtDctSvd", 64, len(frames)),
        ("rivaGan", 32, riva_frames),
    ):
        clip = frames[:n_frames]
        bits = rng.integers(0, 2, n_bits)
        enc = WatermarkEncoder()
        enc.set_watermark("bits", list(bits))
        if method == "rivaGan":
            WatermarkEncoder.loadModel()
        t0 = time.perf_counter()
        marked = [enc.encode(np.ascontiguousarray(f[..., ::-1]), method)[..., ::-1] for f in clip]
        embed_ms = (time.perf_counter() - t0) / len(clip) * 1000
        marked = [np.ascontiguousarray(m) for m in marked]
        dec = WatermarkDecoder("bits", n_bits)
        entry = {
            "bits": n_bits,
            "frames": len(clip),
            "psnr_rgb": psnr(clip, marked),
            "embed_ms": embed_ms,
            "attacks": {},
        }
        for attack in attacks:
            attacked = ATTACKS[attack][0](marked)
            pick = np.unique(np.linspace(0, len(attacked) - 1, min(decode_frames, len(attacked))).astype(int))
            decoded = []
            for i in pick:
                f = attacked[i]
                if min(f.shape[:2]) < 256 or f.shape[0] * f.shape[1] < 256 * 256:
                    continue
                decoded.append(np.array(dec.decode(np.ascontiguousarray(f[..., ::-1]), method)).astype(int))
            if not decoded:
                entry["attacks"][attack] = {
                    "frame_bit_accuracy": None,
                    "clip_exact": False,
                    "note": "frames below the library's 256x256 minimum",
                }
                continue
            d = np.array(decoded)
            majority = (d.mean(axis=0) > 0.5).astype(int)
            entry["attacks"][attack] = {
                "frame_bit_accuracy": float(np.mean(d == bits[None, :])),
                "clip_exact": bool(np.array_equal(majority, bits)),
            }
            print(
                f"  {method:10s} {attack:22s} acc={entry['attacks'][attack]['frame_bit_accuracy']:.3f} "
                f"clip_exact={entry['attacks'][attack]['clip_exact']}",
                flush=True,
            )
        out[method] = entry
    return out


def speed(frames_512: list[np.ndarray], repeats: int = 3) -> dict:
    wm = VideoWatermarker()
    cid = new_content_id()
    clip = frames_512[:50]
    emb, det, emb_cpu, det_cpu = [], [], [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        marked = list(wm.embed(clip, cid))
        emb.append((time.perf_counter() - t0) / len(clip) * 1000)
        emb_cpu.append((time.process_time() - c0) / len(clip) * 1000)
        t0, c0 = time.perf_counter(), time.process_time()
        wm.detect(marked, resync=False)
        det.append((time.perf_counter() - t0) / len(clip) * 1000)
        det_cpu.append((time.process_time() - c0) / len(clip) * 1000)
    resync_s, resync_cpu = [], []
    for _ in range(max(1, repeats // 2)):
        t0, c0 = time.perf_counter(), time.process_time()
        d = wm.detect(clip)
        resync_s.append(time.perf_counter() - t0)
        resync_cpu.append(time.process_time() - c0)
    fast = marked[::12]
    t0, c0 = time.perf_counter(), time.process_time()
    wm.detect(fast, timestamps=[i / FPS for i in range(0, len(marked), 12)])
    fast_s, fast_cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "embed_ms_per_frame_512": min(emb),
        "embed_cpu_ms_per_frame_512": min(emb_cpu),
        "detect_ms_per_frame_512_aligned": min(det),
        "detect_cpu_ms_per_frame_512_aligned": min(det_cpu),
        "detect_unmarked_50_frames_with_resync_s": min(resync_s),
        "detect_unmarked_50_frames_with_resync_cpu_s": min(resync_cpu),
        "unmarked_found": d.found,
        "detect_2fps_subsample_s": fast_s,
        "detect_2fps_subsample_cpu_s": fast_cpu,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--quick", action="store_true", help="one 512 clip, 2 s, a few attacks (smoke test)")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--baseline-seconds", type=float, default=2.0)
    ap.add_argument("--out", type=Path, default=Path("/tmp/watermark_bench"))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--markdown", type=Path, help="print markdown tables from a saved --json report and exit")
    ap.add_argument("--speed", action="store_true", help="only the 512x512 speed figures (best of 5 runs)")
    ap.add_argument("--mark", type=int, choices=(1, 2), default=2, help="embed mark version 1 or 2 (default 2)")
    ap.add_argument("--attacks", nargs="+", help="only these attacks (names as in benchmarks/_wm_attacks.py)")
    args = ap.parse_args()
    if args.speed:
        frames = motion_clip(load(SOURCES_512[0]), (512, 512), 50)
        print(json.dumps({"load_average": os.getloadavg(), **speed(frames, repeats=5)}, indent=1))
        return
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    n = int(args.seconds * FPS)
    attacks = args.attacks or list(ATTACKS)
    clips = []
    if args.quick:
        n = 50
        attacks = ["none", "h264 crf23", "crop 90% + crf23", "fps 25->15"]
        clips.append(("hallo5_512", motion_clip(load(SOURCES_512[0]), (512, 512), n)))
    else:
        for s in SOURCES_512:
            clips.append((Path(s).stem + "_512", motion_clip(load(s), (512, 512), n)))
        clips.append(("real_talking_512", video_clip(REAL_VIDEO, n)))
        for s in SOURCES_720:
            clips.append((Path(s).stem + "_720p", motion_clip(load(s), (1280, 720), n)))
    report = {
        "mark": args.mark,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_start": os.getloadavg(),
        "clips": [],
        "baselines": None,
    }
    report["speed"] = speed(clips[0][1])
    print("speed", report["speed"], flush=True)
    for name, frames in clips:
        report["clips"].append(run_ours(name, frames, attacks, args.out, args.mark))
    if not args.no_baselines:
        nb = int(args.baseline_seconds * FPS)
        report["baselines"] = run_baselines(clips[0][1][:nb], attacks, decode_frames=10, riva_frames=10)
    report["load_average_end"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    print(json.dumps({"summary": summarise(report)}, indent=1))


def summarise(report: dict) -> dict:
    out = {}
    for attack in report["clips"][0]["attacks"]:
        rows = [c["attacks"][attack] for c in report["clips"]]
        out[attack] = {
            "exact": f"{sum(r['exact_id'] for r in rows)}/{len(rows)}",
            "wrong_id": sum(r["wrong_id"] for r in rows),
            "frame_acc": round(float(np.mean([r["frame_bit_accuracy"] for r in rows])), 3),
        }
    return out


def markdown(report: dict) -> str:
    clips = report["clips"]
    base = report.get("baselines") or {}
    lines = [
        "| attack | ours: exact ID (clips) | ours: per-frame bit acc. (mean, min) | ours: detect CPU s (max) | "
        + " | ".join(f"{m}: bit acc. / clip exact" for m in base)
        + " |",
        "|---|---|---|---|" + "---|" * len(base),
    ]
    for attack in clips[0]["attacks"]:
        rows = [c["attacks"][attack] for c in clips]
        accs = [r["frame_bit_accuracy"] for r in rows]
        cells = [
            attack,
            f"{sum(r['exact_id'] for r in rows)}/{len(rows)}"
            + (f" ({sum(r['wrong_id'] for r in rows)} wrong)" if any(r["wrong_id"] for r in rows) else ""),
            f"{np.mean(accs):.3f}, {np.min(accs):.3f}",
            f"{max(r.get('detect_cpu_s', r['detect_s']) for r in rows):.1f}",
        ]
        for m in base.values():
            b = m["attacks"].get(attack, {})
            acc = b.get("frame_bit_accuracy")
            cells.append("n/a" if acc is None else f"{acc:.3f} / {'yes' if b['clip_exact'] else 'no'}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "| clip | size | PSNR RGB | PSNR luma | SSIM | max abs diff | embed ms/frame |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in clips:
        lines.append(
            f"| {c['clip']} | {c['size']} | {c['psnr_rgb']:.2f} | {c['psnr_luma']:.2f} | {c['ssim']:.4f} | "
            f"{c['max_abs_diff']} | {c['embed_ms_per_frame']:.1f} |"
        )
    for name, m in base.items():
        lines.append(
            f"| baseline {name} ({m['bits']} bits) | 512x512 | {m['psnr_rgb']:.2f} | | | | {m['embed_ms']:.0f} |"
        )
    fails = []
    for c in clips:
        missed = [a for a, r in c["attacks"].items() if not r["exact_id"]]
        fails.append(f"{c['clip']}: " + (", ".join(missed) if missed else "none"))
    lines += ["", "attacks without the exact ID, per clip: " + "; ".join(fails), "", f"speed: {report['speed']}"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
