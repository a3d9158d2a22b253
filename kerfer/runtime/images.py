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


def rotate_image(image: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """``image`` turned counter-clockwise by ``degrees`` on a canvas that holds all of it (black
    corners), and the 2x3 matrix that maps its pixels into the result: turned photos for
    testing detectors and alignment."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(round(h * sin + w * cos)), int(round(h * cos + w * sin))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(image, m, (nw, nh)), m
