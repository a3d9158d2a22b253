"""Reading any image file into 8-bit BGR or grayscale with OpenCV (no TensorFlow)."""

from __future__ import annotations

import os

import cv2
import numpy as np


class ImageReadError(ValueError):
    """An image file that cannot be read or decoded."""


def read_image(path: str | os.PathLike, gray: bool = False) -> np.ndarray:
    """8/16-bit, gray/BGR/BGRA files → uint8 BGR ``(H, W, 3)`` (or ``(H, W)`` with ``gray``)."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as e:
        raise ImageReadError(f"{path}: cannot read ({e.strerror or e})") from e
    # ANYDEPTH | ANYCOLOR keeps 16-bit and grayscale files as they are, like IMREAD_UNCHANGED, but
    # unlike it applies the EXIF orientation: a phone's portrait photo is stored sideways.
    img = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR) if data.size else None
    if img is None:
        raise ImageReadError(f"{path}: cannot decode image (unreadable or not an image)")
    if img.dtype == np.uint16:
        img = (img // 257).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if gray:
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img
