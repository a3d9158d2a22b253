"""Checks shared by the crop tests: one crop per photo, and the re-runs after SRC is moved,
reached through a link or a photo relabelled (the subprocess kill test and its in-process twin
run the same sequence)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from kerfer.runtime.cropping import REPORT, CropReport


def write_photo(path: Path, seed: int, black: bool = False) -> Path:
    """A 40x40 photo of noise with a red left half (so a channel swap shows), or a black one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    img = np.zeros((40, 40, 3), np.uint8) if black else rng.integers(40, 255, (40, 40, 3)).astype(np.uint8)
    if not black:
        img[:, :20, 2] = 250
        img[:, :20, :2] = 20
    path.write_bytes(cv2.imencode(path.suffix, img)[1].tobytes())  # cv2.imwrite: not for every name
    return path


def photo_folder(root: Path, per_class: int = 3) -> Path:
    """SRC/<angry|happy|sad>/p<class><i>.png, ``per_class`` photos each."""
    for c, name in enumerate(("angry", "happy", "sad")):
        for i in range(per_class):
            write_photo(root / name / f"p{c}{i}.png", seed=10 * c + i)
    return root


def report_rows(out: Path) -> list[dict]:
    with open(out / REPORT, newline="", encoding="utf-8", errors="surrogateescape") as f:
        return list(csv.DictReader(f))


def one_crop_per_photo(src: Path, out: Path) -> None:
    photos = sorted(p.relative_to(src).as_posix() for p in src.glob("*/*.png"))
    assert sorted(p.relative_to(out).as_posix() for p in out.glob("*/*.png")) == photos, "one crop per photo"
    assert sorted(r["source"] for r in report_rows(out)) == photos


def move_link_and_relabel(src: Path, out: Path, crop: Callable[[Path, Path], object]) -> None:
    """Renames SRC, crops it, crops it through a link, moves angry/p01.png to sad/: one crop per
    photo after each, and the relabelled photo's old crop gone."""
    moved = src.parent / "renamed_SRC"
    src.rename(moved)
    crop(moved, out)
    one_crop_per_photo(moved, out)
    link = src.parent / "link_to_SRC"
    link.symlink_to(moved)
    crop(link, out)
    one_crop_per_photo(moved, out)
    (moved / "sad" / "p01.png").write_bytes((moved / "angry" / "p01.png").read_bytes())  # relabelled: angry → sad
    (moved / "angry" / "p01.png").unlink()
    crop(moved, out)
    one_crop_per_photo(moved, out)
    assert not (out / "angry" / "p01.png").exists()


def refuse_reading(monkeypatch, name: str) -> None:
    """Reading the photo called ``name`` fails as a file without read permission does."""
    real = np.fromfile

    def fromfile(path, *a, **kw):
        if Path(path).name == name:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *a, **kw)

    monkeypatch.setattr(np, "fromfile", fromfile)


def crop_report(out: Path, layout: str, per_class: dict[str, int], size: int = 48, grayscale: bool = True, **kw):
    """A :class:`CropReport` for ``out`` as a run would return it, for its summary and train line."""
    fields = dict(src=out.parent / "SRC", roi="face", rows=[], ignored=[], seconds=1.25, report_path=out / REPORT)
    return CropReport(out=out, layout=layout, size=size, grayscale=grayscale, per_class=per_class, **{**fields, **kw})
