"""Face detectors and face crops. OpenCV and NumPy only (no TensorFlow).

The default detector is BlazeFace (:mod:`kerfer.runtime.blazeface`, a learned detector on
the TFLite interpreter); OpenCV's Haar cascade (opencv-python 4.x) and YuNet (from a
user-supplied ONNX file) are the alternatives. Every detector gives boxes as
``(x, y, w, h)`` frame pixels; the learned ones also give eye positions, which
:func:`crop_faces` uses to rotate each face upright before the 48x48 crop.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from kerfer.errors import OptionError
from kerfer.options import (
    BLAZEFACE_MIN_SCORE,
    DETECT_SIZE,
    DETECTOR,
    DETECTORS,
    HAAR_MIN_NEIGHBORS,
    HAAR_SCALE_FACTOR,
    MARGIN,
    MIN_DETECT_SIZE,
    MIN_FACE,
    YUNET_DETECT_SIZE,
    YUNET_MIN_SCORE,
)
from kerfer.paths import native_path
from kerfer.runtime.images import as_frame

Box = tuple[int, int, int, int]  # x, y, w, h in frame pixels


class FaceDetector(Protocol):
    def detect(self, frame: np.ndarray) -> list[Box]:
        """Boxes of the faces in a BGR or grayscale frame."""


@dataclasses.dataclass(frozen=True)
class Detection:
    """One face: its box, the detector's confidence and, from learned detectors, keypoints
    (``(K, 2)`` frame pixels, named by ``keypoint_names``)."""

    box: Box
    score: float = 1.0
    keypoints: np.ndarray | None = None
    keypoint_names: tuple[str, ...] = ()

    def point(self, name: str) -> np.ndarray | None:
        if self.keypoints is None or name not in self.keypoint_names:
            return None
        return self.keypoints[self.keypoint_names.index(name)]

    def eyes(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(the eye on the image's left, the one on its right), or None without keypoints."""
        right, left = self.point("right_eye"), self.point("left_eye")  # the subject's right eye is on the image's left
        if right is None or left is None:
            return None
        return right, left

    def roll_degrees(self) -> float:
        """How far the eye line is tilted from horizontal (positive = clockwise on screen); 0 without eyes."""
        eyes = self.eyes()
        if eyes is None:
            return 0.0
        (x0, y0), (x1, y1) = eyes
        return float(np.degrees(np.arctan2(y1 - y0, x1 - x0)))


def find_faces(detector: FaceDetector, frame: np.ndarray) -> list[Detection]:
    """``detector``'s faces as :class:`Detection` objects: with keypoints where it gives them
    (``detect_faces``), else boxes alone."""
    frame = as_frame(frame)
    detect_faces = getattr(detector, "detect_faces", None)
    if detect_faces is not None:
        return list(detect_faces(frame))
    return [Detection(tuple(int(v) for v in b)) for b in detector.detect(frame)]  # type: ignore[misc]


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


def check_options(det: object) -> None:
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

    Thread-safe: calls from several threads take turns on the one cascade (OpenCV does not
    promise that concurrent ``detectMultiScale`` calls on one classifier are safe).
    """

    scale_factor: float = HAAR_SCALE_FACTOR
    min_neighbors: int = HAAR_MIN_NEIGHBORS
    min_face: int = MIN_FACE
    max_side: int | None = DETECT_SIZE
    equalize: bool = True
    cascade: str = "haarcascade_frontalface_default.xml"
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_options(self)
        if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
            raise RuntimeError(
                "this OpenCV build has no Haar cascades (opencv-python 5.x dropped them): install opencv-python>=4.8,<5"
            )
        path = Path(self.cascade)
        if not path.exists():
            path = Path(cv2.data.haarcascades) / self.cascade
        self._clf = cv2.CascadeClassifier(native_path(path, "cascade"))
        if self._clf.empty():
            raise RuntimeError(f"cannot load the Haar cascade {path}")

    def detect(self, frame: np.ndarray) -> list[Box]:
        small, scale = _downscale(to_gray(as_frame(frame)), self.max_side)
        if self.equalize:
            small = cv2.equalizeHist(small)
        with self._lock:
            found = self._clf.detectMultiScale(
                small,
                scaleFactor=self.scale_factor,
                minNeighbors=self.min_neighbors,
                minSize=(self.min_face, self.min_face),
            )
        return [tuple(int(round(v / scale)) for v in b) for b in found]  # type: ignore[misc]


@dataclasses.dataclass
class YuNetDetector:
    """OpenCV's YuNet DNN face detector from a user-supplied ONNX file (nothing is downloaded).

    Thread-safe: each call sets the network's input size and runs it as one step, under a lock.
    """

    model: str
    score_threshold: float = YUNET_MIN_SCORE
    max_side: int | None = YUNET_DETECT_SIZE
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_options(self)
        if not Path(self.model).exists():
            raise FileNotFoundError(f"{self.model}: no such YuNet ONNX file")
        if Path(self.model).suffix.lower() != ".onnx":
            raise ValueError(f"yunet_model={self.model!r}: expected a YuNet .onnx file")
        try:
            self._net = cv2.FaceDetectorYN.create(
                native_path(self.model, "model"), "", (320, 320), self.score_threshold
            )
        except cv2.error as e:
            raise ValueError(f"yunet_model={self.model!r}: OpenCV cannot load it as a YuNet ONNX model") from e

    def detect(self, frame: np.ndarray) -> list[Box]:
        return [d.box for d in self.detect_faces(frame)]

    def detect_faces(self, frame: np.ndarray) -> list[Detection]:
        """Faces with YuNet's score and five landmarks (eyes, nose tip, mouth corners), in frame pixels."""
        frame = as_frame(frame)
        bgr = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame[..., :3]
        h, w = bgr.shape[:2]
        scale = min(1.0, (self.max_side or max(h, w)) / max(h, w))
        small = cv2.resize(bgr, (round(w * scale), round(h * scale))) if scale < 1 else bgr
        with self._lock:  # setInputSize then detect: another thread's size must not come between
            self._net.setInputSize((small.shape[1], small.shape[0]))
            _, faces = self._net.detect(small)
        if faces is None:
            return []
        names = ("right_eye", "left_eye", "nose", "mouth_right", "mouth_left")
        return [
            Detection(
                tuple(int(round(v / scale)) for v in f[:4]),  # type: ignore[arg-type]
                float(f[14]),
                np.asarray(f[4:14], np.float32).reshape(5, 2) / scale,
                names,
            )
            for f in faces
        ]


def make_detector(
    name: str = DETECTOR,
    *,
    yunet_model: str | None = None,
    min_score: float | None = None,
    min_face: int = MIN_FACE,
    scale_factor: float = HAAR_SCALE_FACTOR,
    min_neighbors: int = HAAR_MIN_NEIGHBORS,
    detect_size: int = DETECT_SIZE,
) -> FaceDetector:
    """A detector by its ``--detector`` name with the options ``predict``, ``live`` and ``crop``
    share, checked together (each detector checks its own): the one factory for the CLI and
    Python callers. ``detect_size`` 0 means full size; ``min_score`` None is the detector's
    default. Options that do not fit the detector are an :class:`~kerfer.errors.OptionError`
    naming the one at fault."""
    if yunet_model and name != "yunet":
        raise OptionError("yunet_model", f"{yunet_model} is used only with --detector yunet: add it")
    if min_score is not None and name == "haar":
        raise OptionError("min_score", "the Haar cascade has no score: use --min-neighbors, or --detector blazeface")
    if name == "yunet":
        if not yunet_model:
            raise OptionError("detector", "--detector yunet needs --yunet-model FILE.onnx")
        try:
            return YuNetDetector(
                yunet_model, score_threshold=min_score or YUNET_MIN_SCORE, max_side=detect_size or None
            )
        except ValueError as e:
            raise OptionError("yunet_model", str(e).split(": ", 1)[-1]) from e
    if name == "blazeface":
        from kerfer.runtime.blazeface import BlazeFaceDetector

        return BlazeFaceDetector(score_threshold=min_score or BLAZEFACE_MIN_SCORE, min_face=min_face)
    if name != "haar":
        raise OptionError("detector", f"{name!r} is not a detector: use {', '.join(DETECTORS)}")
    return HaarDetector(
        scale_factor=scale_factor, min_neighbors=min_neighbors, min_face=min_face, max_side=detect_size or None
    )


def crop_faces(
    frame: np.ndarray,
    boxes: list[Box],
    size: int = 48,
    margin: float = MARGIN,
    channels: int = 1,
    angles: list[float] | None = None,
) -> np.ndarray:
    """Square, margin-padded crops resized to ``size``: ``(N, size, size, channels)`` uint8.

    Squaring around the box centre keeps the face's aspect ratio; areas outside the frame
    are filled by replicating the border. ``angles`` (degrees, one per box, as
    :meth:`Detection.roll_degrees` gives them) rotate each crop about the box centre so
    that the eye line is level: FER2013's faces are upright, so a tilted face is turned
    back before the model sees it.
    """
    img = to_gray(frame) if channels == 1 else cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    out = np.zeros((len(boxes), size, size, channels), np.uint8)
    for i, (x, y, bw, bh) in enumerate(boxes):
        side = max(1, int(round(max(bw, bh) * (1 + 2 * margin))))
        cx, cy = x + bw / 2, y + bh / 2
        angle = angles[i] if angles else 0.0
        if abs(angle) < 0.5:
            crop = _square(img, cx, cy, side)
            interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
            out[i] = cv2.resize(crop, (size, size), interpolation=interp).reshape(size, size, channels)
            continue
        # A square big enough to hold the rotated one, brought near the output scale first
        # (INTER_AREA, no aliasing), then rotated about its centre and cut to the face.
        outer = int(np.ceil(side * np.sqrt(2))) + 2
        work = max(size, int(np.ceil(size * outer / side)))
        region = _square(img, cx, cy, outer)
        interp = cv2.INTER_AREA if outer > work else cv2.INTER_LINEAR
        region = cv2.resize(region, (work, work), interpolation=interp)
        m = cv2.getRotationMatrix2D((work / 2, work / 2), angle, outer * size / (work * side))  # work px -> output px
        m[:, 2] += (size - work) / 2
        rotated = cv2.warpAffine(region, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out[i] = rotated.reshape(size, size, channels)
    return out


def _square(img: np.ndarray, cx: float, cy: float, side: int) -> np.ndarray:
    """The ``side`` x ``side`` window of ``img`` centred on (cx, cy), border pixels replicated outside."""
    h, w = img.shape[:2]
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    x1, y1 = x0 + side, y0 + side
    pad = max(0, -x0, -y0, x1 - w, y1 - h)
    if pad:
        img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0, x1, y1 = x0 + pad, y0 + pad, x1 + pad, y1 + pad
    return img[y0:y1, x0:x1]
