"""Image-folder datasets: ``root/<split>/<class>/*.png|jpg`` (as most Kaggle FER2013 copies ship).

Decoded once with OpenCV (so one bad file is named, and skipped on request), resized to
the model input and kept in memory as uint8: the same contract as the CSV loader.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from kerfer.errors import DataError
from kerfer.options import IMAGE_EXTENSIONS
from kerfer.runtime.scan import class_folders, class_images


def _list_split(
    root: Path, split: str, class_names: Sequence[str] | None, only: bool = False
) -> tuple[list[str], list[int], tuple[str, ...]]:
    split_dir = root / split
    if not split_dir.is_dir():
        have = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        where = f"; splits present: {', '.join(have)}" if have else ""
        raise DataError(f"{split_dir}: no such split folder (expected {root}/<split>/<class>/*.png){where}")
    found = class_folders(split_dir)  # kerfer crop's rule too: folders with images, not `.*`/`_*`
    names = tuple(class_names) if class_names is not None else tuple(found)
    if not names:
        raise DataError(f"{split_dir}: no class folders with images inside (expected {split_dir}/<class>/*.png)")
    if only:  # a chosen subset (--classes): other folders are left out, every chosen one must exist
        missing = [n for n in names if n not in found]
        if missing:
            raise DataError(
                f"{split_dir}: no images for the chosen classes {missing}; class folders with images: "
                f"{', '.join(found) or 'none'}"
            )
    unknown = [] if only else sorted(set(found) - set(names))
    if unknown:
        raise DataError(f"{split_dir}: class folders {unknown} are not among the classes {list(names)}")
    files: list[str] = []
    labels: list[int] = []
    for i, name in enumerate(names):
        d = split_dir / name
        if not d.is_dir():
            continue
        for f in class_images(d):
            files.append(str(f))
            labels.append(i)
    if not files:
        raise DataError(f"{split_dir}: no images found (extensions {', '.join(IMAGE_EXTENSIONS)})")
    return files, labels, names


def read_image_folder(
    root: str | os.PathLike,
    split: str = "train",
    image_size: int = 48,
    color_mode: str = "grayscale",
    *,
    class_names: Sequence[str] | None = None,
    on_bad_file: str = "error",
    only: bool = False,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Reads one split into ``(uint8 images (N, S, S, C), int32 labels, class names)``.

    Class names come from the sub-folders that hold images (sorted) unless given, so
    validation uses the training split's order; with ``only``, the given classes are a
    subset and other folders are skipped. Any size, grayscale or colour, is converted to
    ``color_mode`` at ``image_size``.
    """
    if color_mode not in ("grayscale", "rgb"):
        raise ValueError(f"color_mode must be 'grayscale' or 'rgb', not {color_mode!r}")
    root = Path(root)
    files, labels, names = _list_split(root, split, class_names, only)
    images, keep = [], []
    for i, f in enumerate(files):
        try:
            images.append(decode_image_file(f, image_size, color_mode))
            keep.append(i)
        except DataError:
            if on_bad_file != "skip":
                raise
    channels = 1 if color_mode == "grayscale" else 3
    out = np.stack(images) if images else np.zeros((0, image_size, image_size, channels), np.uint8)
    return out, np.asarray(labels, np.int32)[keep], names


def decode_image_file(path: str | os.PathLike, image_size: int, color_mode: str) -> np.ndarray:
    """Any image file (8/16-bit, gray/RGB/RGBA) → uint8 ``(S, S, C)``; DataError names a bad file."""
    import cv2

    from kerfer.errors import ImageReadError
    from kerfer.runtime.images import read_image

    try:
        img = read_image(path, gray=color_mode == "grayscale")
    except ImageReadError as e:
        raise DataError(str(e)) from e
    if color_mode != "grayscale":
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if img.shape[:2] != (image_size, image_size):
        shrink = img.shape[0] > image_size
        img = cv2.resize(img, (image_size, image_size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return img.reshape(image_size, image_size, -1)


def load_image_folder(
    root: str | os.PathLike,
    split: str = "train",
    *,
    image_size: int = 48,
    color_mode: str = "grayscale",
    class_names: Sequence[str] | None = None,
    batch_size: int | None = 64,
    shuffle: bool = False,
    seed: int | None = None,
    augment=None,
    dtype: str = "uint8",
    cache: bool = True,
    prefetch: bool = True,
) -> tf.data.Dataset:
    """Image folder split → ``tf.data.Dataset`` of ``(image, label)``, like :func:`load_fer2013`."""
    from kerfer.data.pipeline import make_dataset

    images, labels, _ = read_image_folder(root, split, image_size, color_mode, class_names=class_names)
    return make_dataset(
        images,
        labels,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        augment=augment,
        dtype=dtype,
        cache=cache,
        prefetch=prefetch,
    )
