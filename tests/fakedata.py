"""Small synthetic FER2013 CSVs and image folders, written by the tests themselves."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path

import numpy as np

HEADER = "emotion,pixels,Usage"


def make_images(n: int, seed: int = 0, num_classes: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Random 48x48 uint8 images whose mean brightness depends on the label (so a model can learn)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % num_classes
    rng.shuffle(labels)
    base = (labels * (200 // max(num_classes - 1, 1)) + 20)[:, None, None]
    images = np.clip(base + rng.integers(-20, 21, size=(n, 48, 48)), 0, 255).astype(np.uint8)
    return images, labels


def row(label: int | str, image: np.ndarray | str, usage: str) -> str:
    pixels = image if isinstance(image, str) else " ".join(map(str, np.asarray(image).reshape(-1)))
    return f"{label},{pixels},{usage}"


def write_csv(
    path: Path,
    images: np.ndarray,
    labels: Sequence[int],
    usages: Sequence[str],
    *,
    gz: bool = False,
    extra_lines: Sequence[tuple[int, str]] = (),
    header: str = HEADER,
    newline: str = "\n",
) -> Path:
    """Writes a FER2013-format CSV; ``extra_lines`` inserts raw lines at given data-row positions."""
    lines = [row(int(y), x, u) for x, y, u in zip(images, labels, usages)]
    for pos, text in sorted(extra_lines, reverse=True):
        lines.insert(pos, text)
    text = newline.join([header, *lines]) + newline
    if gz:
        with gzip.open(path, "wt", newline="") as f:
            f.write(text)
    else:
        path.write_text(text, newline="")
    return path


def split_usages(n: int, fractions: Sequence[float] = (0.7, 0.15, 0.15)) -> list[str]:
    names = ["Training", "PublicTest", "PrivateTest"]
    counts = [int(round(f * n)) for f in fractions]
    counts[0] = n - sum(counts[1:])
    return [name for name, c in zip(names, counts) for _ in range(c)]


def tiny_fer_csv(
    path: Path, n: int = 140, seed: int = 0, gz: bool = False
) -> tuple[Path, np.ndarray, np.ndarray, list[str]]:
    images, labels = make_images(n, seed)
    usages = split_usages(n)
    write_csv(path, images, labels, usages, gz=gz)
    return path, images, labels, usages
