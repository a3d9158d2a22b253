"""Face detectors and face crops. OpenCV only (no TensorFlow).

The default is OpenCV's Haar cascade (shipped with opencv-python 4.x). Detection is the
expensive step of the live pipeline, so it runs on a downscaled copy of the frame and the
boxes are mapped back. A DNN detector (YuNet) works from a user-supplied ONNX file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x, y, w, h in frame pixels


class FaceDetector(Protocol):
    def detect(self, frame: np.ndarray) -> list[Box]:
        """Boxes of the faces in a BGR or grayscale frame."""


def to_gray(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return frame
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def _downscale(gray: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    h, w = gray.shape[:2]
    side = max(h, w)
    if not max_side or side <= max_side:
        return gray, 1.0
    scale = max_side / side
    return cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA), scale


MIN_DETECT_SIZE = 32
"""Smallest ``max_side`` accepted: below it no face is big enough to detect."""


def _check_options(det: object) -> None:
    """Refuses detector settings OpenCV would reject with a traceback (or silently mis-handle).

    Raises ``ValueError`` naming the setting, its value and the allowed values.
    """
    checks = {
        "scale_factor": (lambda v: v > 1.0, "a number > 1.0 (e.g. 1.1 or 1.2)"),
        "min_neighbors": (lambda v: v >= 0, "an integer >= 0"),
        "min_face": (lambda v: v >= 1, "an integer >= 1 (pixels)"),
        "max_side": (
            lambda v: v is None or v == 0 or v >= MIN_DETECT_SIZE,
            f"0/None (full size) or >= {MIN_DETECT_SIZE}",
        ),
        "score_threshold": (lambda v: 0.0 < v < 1.0, "a number between 0 and 1"),
    }
    for name, (ok, allowed) in checks.items():
        if hasattr(det, name) and not ok(getattr(det, name)):
            raise ValueError(f"{name}={getattr(det, name)!r}: must be {allowed}")


@dataclasses.dataclass
class HaarDetector:
    """OpenCV Haar cascade; every parameter of ``detectMultiScale`` is exposed.

    ``max_side`` downscales the frame before detection (the main speed lever);
    ``min_face`` is the smallest face, in pixels of the downscaled frame.
    """

    scale_factor: float = 1.2
    min_neighbors: int = 4
    min_face: int = 20
    max_side: int | None = 320
    equalize: bool = True
    cascade: str = "haarcascade_frontalface_default.xml"

    def __post_init__(self) -> None:
        _check_options(self)
        if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
            raise RuntimeError(
                "this OpenCV build has no Haar cascades (opencv-python 5.x dropped them): install opencv-python>=4.8,<5"
            )
        path = Path(self.cascade)
        if not path.exists():
            path = Path(cv2.data.haarcascades) / self.cascade
        self._clf = cv2.CascadeClassifier(str(path))
        if self._clf.empty():
            raise RuntimeError(f"cannot load the Haar cascade {path}")

    def detect(self, frame: np.ndarray) -> list[Box]:
        small, scale = _downscale(to_gray(frame), self.max_side)
        if self.equalize:
            small = cv2.equalizeHist(small)
        found = self._clf.detectMultiScale(
            small,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_face, self.min_face),
        )
        return [tuple(int(round(v / scale)) for v in b) for b in found]  # type: ignore[misc]


@dataclasses.dataclass
class YuNetDetector:
    """OpenCV's YuNet DNN face detector from a user-supplied ONNX file (nothing is downloaded)."""

    model: str
    score_threshold: float = 0.7
    max_side: int | None = 640

    def __post_init__(self) -> None:
        _check_options(self)
        if not Path(self.model).exists():
            raise FileNotFoundError(f"{self.model}: no such YuNet ONNX file")
        if Path(self.model).suffix.lower() != ".onnx":
            raise ValueError(f"yunet_model={self.model!r}: expected a YuNet .onnx file")
        try:
            self._net = cv2.FaceDetectorYN.create(self.model, "", (320, 320), self.score_threshold)
        except cv2.error as e:
            raise ValueError(f"yunet_model={self.model!r}: OpenCV cannot load it as a YuNet ONNX model") from e

    def detect(self, frame: np.ndarray) -> list[Box]:
        bgr = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame[..., :3]
        h, w = bgr.shape[:2]
        scale = min(1.0, (self.max_side or max(h, w)) / max(h, w))
        small = cv2.resize(bgr, (round(w * scale), round(h * scale))) if scale < 1 else bgr
        self._net.setInputSize((small.shape[1], small.shape[0]))
        _, faces = self._net.detect(small)
        if faces is None:
            return []
        return [tuple(int(round(v / scale)) for v in f[:4]) for f in faces]  # type: ignore[misc]


def crop_faces(
    frame: np.ndarray, boxes: list[Box], size: int = 48, margin: float = 0.1, channels: int = 1
) -> np.ndarray:
    """Square, margin-padded crops resized to ``size``: ``(N, size, size, channels)`` uint8.

    Squaring around the box centre keeps the face's aspect ratio; areas outside the frame
    are filled by replicating the border.
    """
    img = to_gray(frame) if channels == 1 else cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    out = np.zeros((len(boxes), size, size, channels), np.uint8)
    h, w = img.shape[:2]
    for i, (x, y, bw, bh) in enumerate(boxes):
        side = int(round(max(bw, bh) * (1 + 2 * margin)))
        cx, cy = x + bw / 2, y + bh / 2
        x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
        x1, y1 = x0 + side, y0 + side
        pad = max(0, -x0, -y0, x1 - w, y1 - h)
        src = img
        if pad:
            src = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
            x0, y0, x1, y1 = x0 + pad, y0 + pad, x1 + pad, y1 + pad
        crop = src[y0:y1, x0:x1]
        interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
        out[i] = cv2.resize(crop, (size, size), interpolation=interp).reshape(size, size, channels)
    return out
