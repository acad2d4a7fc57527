"""``python -m models.motion.corpus``: build a synthetic corpus into an .npz file."""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np

from .build import build_corpus


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.motion.corpus", description=__doc__)
    p.add_argument("--clips", type=int, default=600)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--heldout", action="store_true", help="use the held-out voice variants (evaluation set)")
    p.add_argument(
        "--features",
        choices=("whisper", "mel-phones"),
        default="whisper",
        help="whisper: the real-speech encoder (motion model 2.x); mel-phones: log-mel + PocketSphinx phones (1.x)",
    )
    p.add_argument("--no-phones", action="store_true", help="mel-phones: log-mel only (no PocketSphinx phones)")
    p.add_argument("--visemes", action="store_true", help="add phone-derived viseme features (5 columns)")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--lead", type=float, default=0.10, help="mouth lead over the sound, seconds")
    p.add_argument(
        "--festival-share",
        type=float,
        default=0.0,
        help="fraction of clips spoken by Festival voices (needs festival; see models.motion.corpus.festival)",
    )
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    t = time.time()
    data = build_corpus(
        a.clips,
        seed=a.seed,
        heldout=a.heldout,
        phones=a.features == "mel-phones" and not a.no_phones,
        mel=a.features == "mel-phones",
        whisper=a.features == "whisper",
        visemes=a.visemes,
        augment=not a.no_augment,
        lead_s=a.lead,
        festival_share=a.festival_share,
    )
    np.savez_compressed(a.out, **data)
    frames = data["motion"].shape[0]
    logging.info("wrote %s: %d clips, %.1f min, %.0f s", a.out, a.clips, frames / 25 / 60, time.time() - t)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
