"""Frame → faces → probabilities: the detector, the crops and the classifier in one call."""

from __future__ import annotations

import dataclasses

import numpy as np

from kerfer.runtime.classifier import Classifier
from kerfer.runtime.detect import Box, FaceDetector, HaarDetector, crop_faces


@dataclasses.dataclass(frozen=True)
class Face:
    box: Box
    probs: np.ndarray

    def label(self, class_names) -> str:
        return class_names[int(np.argmax(self.probs))]


MAX_MARGIN = 2.0
"""Largest crop padding (a fraction of the box side each way); beyond it the face is a speck in the crop."""


class FacePipeline:
    """Detects faces and classifies all of a frame's faces in one batch."""

    def __init__(
        self, classifier: Classifier, detector: FaceDetector | None = None, margin: float = 0.1, tta: bool = False
    ):
        if not 0.0 <= margin <= MAX_MARGIN:
            raise ValueError(f"margin={margin!r}: must be a fraction of the face box between 0 and {MAX_MARGIN}")
        self.classifier = classifier
        self.detector = detector or HaarDetector()
        self.margin = margin
        self.tta = tta

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.classifier.class_names

    def detect(self, frame: np.ndarray) -> list[Box]:
        return self.detector.detect(frame)

    def classify(self, frame: np.ndarray, boxes: list[Box]) -> list[Face]:
        if not boxes:
            return []
        c = self.classifier
        crops = crop_faces(frame, boxes, c.input_size, self.margin, c.channels)
        probs = c.predict_faces(crops, tta=self.tta)
        return [Face(b, p) for b, p in zip(boxes, probs)]

    def __call__(self, frame: np.ndarray) -> list[Face]:
        return self.classify(frame, self.detect(frame))
