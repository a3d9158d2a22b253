"""Regenerates the README's overlay pictures from the shared media with the shipped model.

    .venv/bin/python tools/overlay_screenshot.py [--media ../shared/media] [--out docs]

writes ``overlay_emoji.jpg`` (two_people.jpg annotated as ``kerfer predict --save-annotated
--overlay emoji`` draws it, at most 1000 px wide) and ``emoji_sheet.png`` (the seven emojis
``kerfer live/predict --overlay emoji`` draws, with their names).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

from kerfer.labels import FER2013_CLASSES
from kerfer.runtime.emoji import draw_emoji

ROOT = Path(__file__).resolve().parents[1]

MAX_WIDTH = 1000


def annotated(photo: Path) -> np.ndarray:
    """The photo as ``kerfer predict PHOTO --save-annotated DIR --overlay emoji`` writes it
    (the CLI's own defaults: shipped model, detector, flip TTA)."""
    from kerfer.cli import main as kerfer

    with tempfile.TemporaryDirectory() as tmp:
        kerfer(["predict", str(photo), "--save-annotated", tmp, "--overlay", "emoji"], standalone_mode=False)
        image = cv2.imread(str(Path(tmp) / f"{photo.stem}_kerfer.jpg"))
    if image is None:
        raise SystemExit(f"kerfer predict wrote no annotated copy of {photo}")
    return image


def emoji_sheet(radius: int = 60, names=FER2013_CLASSES) -> np.ndarray:
    """The emojis in a row on a dark background, each named under it."""
    cell, pad, caption = 2 * radius + 40, 20, 40
    sheet = np.full((2 * radius + 2 * pad + caption, len(names) * cell + 2 * pad, 3), (48, 40, 36), np.uint8)
    for i, name in enumerate(names):
        cx, cy = pad + i * cell + cell // 2, pad + radius + 4
        draw_emoji(sheet, (cx, cy), radius, name)
        (tw, _), _ = cv2.getTextSize(name, cv2.FONT_HERSHEY_SIMPLEX, 0.75, 2)
        org = (cx - tw // 2, cy + radius + caption - 6)
        cv2.putText(sheet, name, org, cv2.FONT_HERSHEY_SIMPLEX, 0.75, (235, 235, 235), 2, cv2.LINE_AA)
    return sheet


def save_png(path: Path, image: np.ndarray) -> None:
    """A 256-colour dithered PNG (a third of the size of the full-colour one) where Pillow is
    installed, else a full-colour one."""
    try:
        from PIL import Image
    except ImportError:
        cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        return
    rgb = Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    palette = rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    rgb.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--media", type=Path, default=ROOT.parent / "shared" / "media", help="the shared photos")
    ap.add_argument("--out", type=Path, default=ROOT / "docs", help="where the pictures go")
    ap.add_argument("--photo", default="two_people.jpg", help="the photo to annotate (in --media)")
    args = ap.parse_args(argv)

    photo = args.media / args.photo
    if not photo.is_file():
        ap.error(f"{photo} not found (give --media)")
    args.out.mkdir(parents=True, exist_ok=True)
    image = annotated(photo)
    if image.shape[1] > MAX_WIDTH:
        h = round(image.shape[0] * MAX_WIDTH / image.shape[1])
        image = cv2.resize(image, (MAX_WIDTH, h), interpolation=cv2.INTER_AREA)
    shot, sheet = args.out / "overlay_emoji.jpg", args.out / "emoji_sheet.png"
    cv2.imwrite(str(shot), image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    save_png(sheet, emoji_sheet())
    for p in (shot, sheet):
        print(f"{p}: {p.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
