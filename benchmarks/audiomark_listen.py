"""What can stand in for listening: the mark's level against the host, per frame and in pauses, and a picture.

    OMP_WAIT_POLICY=PASSIVE nice -n 10 .venv/bin/python benchmarks/audiomark_listen.py CLIP [--png out.png]

Prints the segmental SNR, the mark-to-host ratio per 10 ms frame (percentiles), the mark's level (dBFS) and its
ratio to the host in the quietest 20 % of frames (pauses), and writes spectrograms of the host and of
marked - host on one dB scale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _audio_attacks import RATE, decode
from audiomark_bench import seg_snr

from provenance.audiomark import AudioWatermarker


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip", type=Path)
    ap.add_argument("--png", type=Path, default=None)
    args = ap.parse_args()
    x, _ = decode(args.clip.read_bytes(), RATE)
    x = 0.7 * x[: 12 * RATE] / np.abs(x).max()
    y = AudioWatermarker().embed(x, RATE, "a1b2c3d4e5f6").astype(np.float64)
    d = y - x
    f = 480
    n = x.size // f
    ex = (x[: n * f].reshape(n, f) ** 2).mean(1)
    ed = (d[: n * f].reshape(n, f) ** 2).mean(1)
    ratio = 10 * np.log10((ed + 1e-20) / (ex + 1e-20))
    print(f"segmental SNR {seg_snr(x, y):.1f} dB")
    p50, p90, p99, top = np.percentile(ratio, [50, 90, 99, 100])
    print(f"mark/host per 10 ms frame, dB: p50 {p50:.1f}  p90 {p90:.1f}  p99 {p99:.1f}  max {top:.1f}")
    quiet = ex <= np.quantile(ex, 0.2)
    print(
        f"quietest 20 % of frames: host {10 * np.log10(ex[quiet].mean() + 1e-20):.1f} dBFS, mark "
        f"{10 * np.log10(ed[quiet].mean() + 1e-20):.1f} dBFS, mark/host p90 {np.percentile(ratio[quiet], 90):.1f} dB"
    )
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
        for ax, sig, title in ((axes[0], x, "host"), (axes[1], d, "marked - host (same dB scale)")):
            ax.specgram(sig, NFFT=1536, Fs=RATE, noverlap=768, vmin=-160, vmax=-20, cmap="magma")
            ax.set_ylim(0, 12000)
            ax.set_title(title)
            ax.set_ylabel("Hz")
        axes[1].set_xlabel("s")
        fig.tight_layout()
        fig.savefig(args.png, dpi=80)


if __name__ == "__main__":
    main()
