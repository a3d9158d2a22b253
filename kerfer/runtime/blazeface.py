"""BlazeFace (MediaPipe's learned face detector) on a TFLite interpreter, decoded in NumPy.

No TensorFlow: the model runs on ``ai-edge-litert`` like the expression model. The model
file is MediaPipe's full-range detector (Apache-2.0, shipped in ``kerfer/assets``): a
192x192 RGB input in [-1, 1], 2304 anchors on one 48x48 grid (stride 4), and per anchor a
score logit and 16 regression values (box centre, size, then 6 keypoints: the subject's
right eye, left eye, nose tip, mouth centre, right ear, left ear).

The decoding follows MediaPipe's ``SsdAnchorsCalculator`` and
``TensorsToDetectionsCalculator`` (fixed anchor size, every value divided by the input
size and offset by the anchor centre) and its weighted non-maximum suppression, which
averages overlapping boxes instead of dropping them (steadier boxes from frame to frame).
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import cv2
import numpy as np

from kerfer.options import BLAZEFACE_MIN_SCORE, BLAZEFACE_SIZE
from kerfer.runtime.detect import Box, Detection, check_options
from kerfer.runtime.images import as_frame

KEYPOINTS = ("right_eye", "left_eye", "nose", "mouth", "right_ear", "left_ear")
"""BlazeFace's keypoints, named from the subject's side: ``right_eye`` is on the image's left."""

RAW_SCORE_LIMIT = 80.0
"""Logits are clipped to +-80 before the sigmoid (as MediaPipe does): exp(100) overflows float32."""


@dataclasses.dataclass(frozen=True)
class SsdSpec:
    """The anchor grid of one BlazeFace model (MediaPipe's ``SsdAnchorsCalculatorOptions``)."""

    input_size: int
    strides: tuple[int, ...]
    anchors_per_cell: tuple[int, ...]
    offset: float = 0.5


FULL_RANGE = SsdSpec(input_size=BLAZEFACE_SIZE, strides=(4,), anchors_per_cell=(1,))
"""The full-range model: faces up to ~5 m from the camera, one dense 48x48 grid."""

SHORT_RANGE = SsdSpec(input_size=128, strides=(8, 16), anchors_per_cell=(2, 6))
"""The short-range (selfie) model: strides 8, 16, 16, 16 with two anchors per layer, merged."""


def ssd_anchors(spec: SsdSpec) -> np.ndarray:
    """Anchor centres ``(N, 2)`` as (x, y) fractions of the input, in the model's output order:
    layer by layer, rows top to bottom, columns left to right, the cell's anchors together."""
    out = []
    for stride, per_cell in zip(spec.strides, spec.anchors_per_cell):
        cells = spec.input_size // stride
        centres = (np.arange(cells, dtype=np.float32) + spec.offset) / cells
        xs, ys = np.meshgrid(centres, centres)  # ys varies by row, xs by column
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(out).astype(np.float32)


def decode(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, input_size: int, min_score: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's raw outputs → ``(boxes, keypoints, scores)`` above ``min_score``.

    ``boxes`` are ``(M, 4)`` as x0, y0, x1, y1 and ``keypoints`` ``(M, K, 2)``, both in
    fractions of the model's input; ``scores`` are probabilities. Boxes with no area are dropped.
    """
    raw_boxes = np.asarray(raw_boxes, np.float32).reshape(len(anchors), -1)
    logits = np.clip(np.asarray(raw_scores, np.float32).reshape(-1), -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = scores > min_score
    raw, anchor, scores = raw_boxes[keep] / input_size, anchors[keep], scores[keep]
    centre = raw[:, 0:2] + anchor
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = raw[:, 4:].reshape(len(raw), (raw_boxes.shape[1] - 4) // 2, 2) + anchor[:, None, :]
    valid = np.all(half > 0, axis=1)
    return boxes[valid], keypoints[valid], scores[valid]


def box_iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one x0, y0, x1, y1 box with each row of ``others``."""
    ix = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.3
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's weighted NMS: take the best remaining box, average it with every remaining box
    that overlaps it by more than ``iou_threshold`` (weights = scores), keep the best score.

    Returns ``(box, keypoints, score)`` per face, best first.
    """
    order = np.argsort(-scores, kind="stable")
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    out = []
    remaining = np.arange(len(scores))
    while len(remaining):
        best = remaining[0]
        overlap = box_iou(boxes[best], boxes[remaining]) > iou_threshold
        group = remaining[overlap]
        group[0] = best  # the best box always belongs to its own group (even with a zero-area edge case)
        w = scores[group][:, None]
        box = (boxes[group] * w).sum(0) / w.sum()
        kps = (keypoints[group] * w[:, :, None]).sum(0) / w.sum()
        out.append((box, kps, float(scores[best])))
        remaining = remaining[~overlap]
    return out


def letterbox(frame: np.ndarray, size: int, bgr: bool = False) -> tuple[np.ndarray, float, int, int]:
    """``frame`` scaled to fit ``size`` x ``size`` and centred on black padding (the aspect ratio
    kept), as RGB float32 in [-1, 1]; returns the scale and the left/top padding in model pixels.

    ``bgr``: the frame is OpenCV's BGR (or BGRA, or grayscale) and is converted after the
    resize, on 192x192 pixels instead of the whole frame."""
    h, w = frame.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(frame, (nw, nh), interpolation=interp)
    if bgr:
        small = _to_rgb(small)
    left, top = (size - nw) // 2, (size - nh) // 2
    canvas = np.zeros((size, size, 3), np.uint8)
    canvas[top : top + nh, left : left + nw] = small
    return canvas.astype(np.float32) * (2.0 / 255.0) - 1.0, scale, left, top


def blazeface_model_path() -> Path:
    """The shipped full-range BlazeFace detector file (not a classifier: that is
    :func:`kerfer.modelio.default_model_path`)."""
    from kerfer.integrity import assets_dir

    return assets_dir() / "blazeface_full_range.tflite"


def _to_rgb(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


@dataclasses.dataclass
class BlazeFaceDetector:
    """MediaPipe BlazeFace full-range detector: finds tilted, small and partly turned faces the
    Haar cascade misses, with six keypoints per face (the eyes drive alignment).

    Thread-safe: one detector may serve several threads (a web server's workers); the calls take
    turns on its one interpreter, whose tensors are shared state. For parallel throughput give
    each thread its own detector.

    ``score_threshold`` is the face probability to keep a detection; ``min_face`` drops faces
    smaller than this many pixels of the frame; ``model`` is another BlazeFace ``.tflite``
    with the same outputs (the short-range selfie model needs ``spec=SHORT_RANGE``).
    """

    score_threshold: float = BLAZEFACE_MIN_SCORE
    iou_threshold: float = 0.3
    min_face: int = 1
    model: str | None = None
    spec: SsdSpec = FULL_RANGE
    num_threads: int | None = 1
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_options(self)
        if not 0.0 < self.iou_threshold < 1.0:
            raise ValueError(f"iou_threshold={self.iou_threshold!r}: must be a number between 0 and 1")
        path = Path(self.model) if self.model else blazeface_model_path()
        if not path.exists():
            raise FileNotFoundError(
                f"{path}: no BlazeFace model here"
                + ("" if self.model else " (damaged install: reinstall kerfer, or pass --detector haar)")
            )
        from kerfer.errors import ModelError
        from kerfer.runtime.classifier import load_interpreter
        from kerfer.runtime.quiet import native_quiet

        self._interpreter = load_interpreter(path, self.num_threads)
        try:
            with native_quiet():
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"{path}: not a valid TFLite model ({str(e).splitlines()[0]})") from e
        inp = self._interpreter.get_input_details()[0]
        size = self.spec.input_size
        if tuple(inp["shape"]) != (1, size, size, 3):
            raise ModelError(f"{path}: expected a BlazeFace input of 1x{size}x{size}x3, found {list(inp['shape'])}")
        self._input = inp["index"]
        outs = sorted(self._interpreter.get_output_details(), key=lambda d: -int(d["shape"][-1]))
        self._boxes_out, self._scores_out = outs[0]["index"], outs[1]["index"]
        self._anchors = ssd_anchors(self.spec)
        if int(outs[0]["shape"][1]) != len(self._anchors):
            raise ModelError(f"{path}: {outs[0]['shape'][1]} anchors, but this spec makes {len(self._anchors)}")

    def detect_faces(self, frame: np.ndarray) -> list[Detection]:
        """Faces in a BGR (or grayscale, or BGRA) frame, best first, with keypoints in frame pixels."""
        frame = as_frame(frame)
        size = self.spec.input_size
        tensor, scale, left, top = letterbox(frame, size, bgr=True)
        with self._lock:  # set, invoke and read as one step: another thread's call would interleave
            self._interpreter.set_tensor(self._input, tensor[None])
            self._interpreter.invoke()
            raw_boxes = self._interpreter.get_tensor(self._boxes_out)
            raw_scores = self._interpreter.get_tensor(self._scores_out)
        boxes, kps, scores = decode(raw_boxes, raw_scores, self._anchors, size, self.score_threshold)
        h, w = frame.shape[:2]
        offset = np.array([left, top], np.float32)
        found = []
        for box, points, score in weighted_nms(boxes, kps, scores, self.iou_threshold):
            x0, y0 = (box[:2] * size - offset) / scale
            x1, y1 = (box[2:] * size - offset) / scale
            x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1)
            bw, bh = round(x1 - x0), round(y1 - y0)
            if bw <= 0 or bh <= 0 or max(bw, bh) < self.min_face:
                continue
            found.append(Detection((round(x0), round(y0), bw, bh), score, (points * size - offset) / scale, KEYPOINTS))
        return found

    def detect(self, frame: np.ndarray) -> list[Box]:
        return [d.box for d in self.detect_faces(frame)]
