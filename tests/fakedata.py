"""Small synthetic FER2013 CSVs and image folders, written by the tests themselves."""

from __future__ import annotations

import gzip
import struct
import zlib
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


FERPLUS_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"


def ferplus_votes(labels: np.ndarray, seed: int = 0, agree: float = 0.8) -> np.ndarray:
    """(N, 10) FER+ votes whose majority is the FER2013 label's FER+ class on ``agree`` of rows.

    Real FER+ votes agree with FER2013 labels on ~60 % of rows; kerfer checks that they do.
    """
    from kerfer.data.ferplus import FER2013_TO_FERPLUS

    rng = np.random.default_rng(seed)
    winners = np.where(rng.random(len(labels)) < agree, FER2013_TO_FERPLUS[labels], rng.integers(0, 8, len(labels)))
    votes = np.zeros((len(labels), 10), np.int32)
    votes[np.arange(len(labels)), winners] = 6
    votes[np.arange(len(labels)), rng.integers(0, 10, len(labels))] += 4
    return votes


def write_ferplus(path: Path, usages: Sequence[str], votes: np.ndarray, names: Sequence[bool] | None = None) -> Path:
    """A fer2013new.csv(.gz) (gzip when the name ends in .gz); ``names[i]`` False = dropped by FER+."""
    lines = [FERPLUS_HEADER]
    for i, (u, v) in enumerate(zip(usages, votes)):
        name = "" if names is not None and not names[i] else f"fer{i:07d}.png"
        lines.append(f"{u},{name}," + ",".join(map(str, v)))
    text = "\n".join(lines) + "\n"
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        Path(path).write_text(text)
    return Path(path)


def huge_png(path: Path) -> Path:
    """A few hundred bytes that declare 40000x40000 pixels: over OpenCV's decoding limit."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 40000, 40000, 8, 0, 0, 0, 0)
    data = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 40001 * 4)) + chunk(b"IEND", b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + data)
    return path


def make_two_class_run(run: Path, labels: Sequence[int]) -> tuple[Path, Path]:
    """``run`` made a run directory with an untrained 2-class (angry, happy) model and a
    four-row CSV (two Training, two PublicTest rows of ``labels``): enough to reach the checks
    of evaluate/export. Returns ``(run, csv)``."""
    from kerfer.contract import ModelContract
    from kerfer.models import build_model

    build_model("vgg", 2, widths=[8, 16, 16, 32], stem_filters=4).save(run / "best.keras")
    ModelContract(class_names=("angry", "happy")).save(run / "labels.json")
    images, _ = make_images(4)
    return run, write_csv(run / "f.csv", images, list(labels), ["Training", "Training", "PublicTest", "PublicTest"])
