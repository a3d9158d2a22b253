"""Reading any image file into 8-bit BGR or grayscale with OpenCV (no TensorFlow)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from kerfer.errors import ImageReadError
from kerfer.paths import shown


def read_image(path: str | os.PathLike, gray: bool = False) -> np.ndarray:
    """8/16-bit, gray/BGR/BGRA files → uint8 BGR ``(H, W, 3)`` (or ``(H, W)`` with ``gray``).

    The bytes are read by Python, not by OpenCV, so any file name works (OpenCV crashes on a
    name that is not valid UTF-8); every failure is an :class:`ImageReadError` naming the file."""
    return decode_image(read_bytes(path), path, gray)


def read_bytes(path: str | os.PathLike) -> np.ndarray:
    """The file's bytes as uint8; :class:`ImageReadError` (one line) when it cannot be read."""
    try:
        return np.fromfile(path, np.uint8)
    except (OSError, ValueError) as e:
        problem = getattr(e, "strerror", None) or str(e)
        raise ImageReadError(f"{shown(path)}: cannot read ({problem})") from e


def decode_image(data: np.ndarray, path: str | os.PathLike, gray: bool = False) -> np.ndarray:
    """An image file's bytes → uint8 BGR (or gray), as :func:`read_image`; ``path`` names it in errors.

    OpenCV's own refusals (a PNG that declares 40000x40000 pixels, over its
    ``CV_IO_MAX_IMAGE_PIXELS`` limit; a corrupt stream) become :class:`ImageReadError` too."""
    try:
        return _decode(data, gray)
    except ImageReadError as e:
        raise ImageReadError(f"{shown(path)}: {e}") from None
    except cv2.error as e:
        raise ImageReadError(f"{shown(path)}: cannot decode image ({_opencv_problem(e)})") from None
    except MemoryError:
        raise ImageReadError(f"{shown(path)}: cannot decode image (too large for the memory available)") from None


def _decode(data: np.ndarray, gray: bool) -> np.ndarray:
    # ANYDEPTH | ANYCOLOR keeps 16-bit and grayscale files as they are, like IMREAD_UNCHANGED, but
    # unlike it applies the EXIF orientation: a phone's portrait photo is stored sideways.
    img = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR) if data.size else None
    if img is None:
        raise ImageReadError("cannot decode image (unreadable or not an image)")
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


def _opencv_problem(e: cv2.error) -> str:
    """One line from an OpenCV exception (its text is several lines with a source location)."""
    text = str(e)
    if "CV_IO_MAX_IMAGE_PIXELS" in text:
        return "its declared size is over OpenCV's limit of 2^30 pixels (CV_IO_MAX_IMAGE_PIXELS); too large or corrupt"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"OpenCV: {lines[-1] if lines else type(e).__name__}"


def encode_image(image: np.ndarray, suffix: str) -> bytes:
    """``image`` encoded as ``suffix`` (``.jpg``, ``.png``) by OpenCV, in memory."""
    ok, data = cv2.imencode(suffix, image)
    if not ok:
        raise OSError(f"OpenCV cannot encode a {image.shape} image as {suffix}")
    return data.tobytes()


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Writes ``image`` in the format of ``path``'s suffix, atomically, through Python: never
    ``cv2.imwrite``, which crashes on a file name that is not valid UTF-8 (and fails on
    non-ASCII names on Windows). ``OSError`` names the file when it cannot be written."""
    from kerfer.io import atomic_write_bytes

    atomic_write_bytes(path, encode_image(image, Path(path).suffix or ".png"))


def as_frame(frame: object) -> np.ndarray:
    """``frame`` as the detectors take it, or a ``TypeError``/``ValueError`` saying what is accepted:
    a uint8 NumPy array, ``(H, W)`` gray, ``(H, W, 3)`` BGR or ``(H, W, 4)`` BGRA. A 16-bit frame
    is converted (``v // 257``, as 16-bit files are read); a float frame is refused, since 0..1
    and 0..255 cannot be told apart (both used to give "no face" in silence)."""
    if frame is None:
        raise TypeError(
            "frame is None: cv2.imread returns None for a file it cannot read (missing, unreadable or not an "
            "image); check the path, or read it with kerfer.runtime.images.read_image, which says why"
        )
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"frame: expected a NumPy array of uint8 pixels, (H, W[, 3 or 4]), got {type(frame).__name__}")
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (1, 3, 4)):
        raise ValueError(f"frame has shape {frame.shape}: expected (H, W) gray, (H, W, 3) BGR or (H, W, 4) BGRA")
    if frame.size == 0:
        raise ValueError(f"frame has shape {frame.shape}: it is empty")
    if frame.dtype == np.uint16:
        frame = (frame // 257).astype(np.uint8)
    elif frame.dtype != np.uint8:
        raise TypeError(
            f"frame has dtype {frame.dtype}: expected uint8 pixels 0..255 (uint16 is converted); for floats in "
            "0..1 pass (frame * 255).round().astype(np.uint8), for floats in 0..255 frame.astype(np.uint8)"
        )
    return frame[..., 0] if frame.ndim == 3 and frame.shape[2] == 1 else frame


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
