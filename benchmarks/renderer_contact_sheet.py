"""Contact sheet of rendered frames: rows = portraits, columns = motions, plus a 2x zoom of the mouth.

python benchmarks/renderer_contact_sheet.py                      # bundled sample + variations -> docs/
python benchmarks/renderer_contact_sheet.py --shared out.png     # the evaluation portraits (never commit)"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from models.face.image_io import load_image  # noqa: E402
from models.face.renderer import FaceRenderer  # noqa: E402
from models.schema import MOTION_INDEX  # noqa: E402

SHARED = ROOT.parent / "shared" / "media"
MOTIONS: list[tuple[str, dict[str, float]]] = [
    ("neutral", {}),
    ("jaw 0.15", {"jaw_open": 0.15}),
    ("jaw 0.35", {"jaw_open": 0.35}),
    ("oo", {"lip_pucker": 0.9, "jaw_open": 0.1}),
    ("f/v", {"upper_lip_raise": 0.8, "jaw_open": 0.04}),
    ("smile+brows", {"smile": 0.8, "brow_raise": 0.8, "jaw_open": 0.1}),
    ("blink", {"blink_left": 1.0, "blink_right": 1.0}),
    ("yaw +20", {"head_yaw": 20.0, "jaw_open": 0.2}),
    ("yaw -20 pitch 10", {"head_yaw": -20.0, "head_pitch": 10.0}),
    ("roll 12 + talk", {"head_roll": 12.0, "jaw_open": 0.25, "gaze_x": 0.4}),
]


def variations(base: np.ndarray) -> list[tuple[str, np.ndarray]]:
    h, w = base.shape[:2]
    rot = cv2.warpAffine(base, cv2.getRotationMatrix2D((w / 2, h / 2), 15, 1.0), (w, h), borderMode=cv2.BORDER_REFLECT)
    small = cv2.resize(base, (w * 3 // 5, h * 3 // 5), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(cv2.cvtColor(base, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    dark = np.clip(base.astype(np.float32) * 0.45, 0, 255).astype(np.uint8)
    return [
        ("sample", base),
        ("flipped", np.ascontiguousarray(base[:, ::-1])),
        ("rotated 15", rot),
        ("scaled 0.6", small),
        ("darker", dark),
        ("greyscale", grey),
    ]


def motion_vector(r: FaceRenderer, values: dict[str, float]) -> np.ndarray:
    m = r.neutral_motion()
    for k, v in values.items():
        m[MOTION_INDEX[k]] = v
    return m


def label(img: np.ndarray, text: str) -> np.ndarray:
    img = img.copy()
    cv2.putText(img, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def sheet(portraits: list[tuple[str, np.ndarray]], tile: int, zoom: bool) -> np.ndarray:
    rows = []
    for name, img in portraits:
        r = FaceRenderer(img, size=512)
        tiles, zooms = [], []
        lm = r.landmarks
        c = ((lm[13, :2] + lm[14, :2]) / 2).astype(int)
        half = int(0.55 * r.iod)
        for title, values in MOTIONS:
            f = r.render(motion_vector(r, values))
            tiles.append(label(cv2.resize(f, (tile, tile), interpolation=cv2.INTER_AREA), f"{name}: {title}"))
            if zoom:
                y0, x0 = max(c[1] - half, 0), max(c[0] - int(1.5 * half), 0)
                crop = f[y0 : y0 + 2 * half, x0 : x0 + 3 * half]
                zooms.append(cv2.resize(crop, (tile, tile * 2 // 3), interpolation=cv2.INTER_CUBIC))
        rows.append(np.concatenate(tiles, axis=1))
        if zoom:
            rows.append(np.concatenate(zooms, axis=1))
    return np.concatenate(rows, axis=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", metavar="OUT", help="render the evaluation portraits in ../shared/media to OUT")
    ap.add_argument("--out", default=str(ROOT / "docs" / "renderer-contact-sheet.png"))
    ap.add_argument("--tile", type=int, default=150)
    args = ap.parse_args()
    if args.shared:
        files = sorted(p for p in SHARED.glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        portraits = [(p.stem.split("__")[-1], load_image(p)) for p in files]
        portraits.insert(0, ("sample", load_image(ROOT / "sdk" / "data" / "portrait.jpg")))
        out = args.shared
    else:
        portraits = variations(load_image(ROOT / "sdk" / "data" / "portrait.jpg"))
        out = args.out
    img = sheet(portraits, args.tile, zoom=True)
    if args.shared:
        cv2.imwrite(out, cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    else:
        # The committed sheet is palette-quantised (256 colours, dithered) to stay a modest size in the repository.
        from PIL import Image

        q = Image.fromarray(img).quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG
        )
        q.save(out, optimize=True)
    print(f"wrote {out} ({img.shape[1]}x{img.shape[0]}, {os.path.getsize(out) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
