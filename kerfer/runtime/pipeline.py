"""Frame → faces → probabilities: the detector, the crops and the classifier in one call."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np

from kerfer.options import ALIGN_MIN_DEGREES, DETECTOR, MARGIN, MAX_MARGIN
from kerfer.runtime.classifier import Classifier
from kerfer.runtime.detect import Box, Detection, FaceDetector, crop_faces, find_faces, make_detector
from kerfer.runtime.images import as_frame


@dataclasses.dataclass(frozen=True)
class Face:
    box: Box
    probs: np.ndarray
    detection: Detection | None = None

    def label(self, class_names) -> str:
        return class_names[int(np.argmax(self.probs))]


def default_detector() -> FaceDetector:
    """BlazeFace full-range: finds tilted and small faces, no false faces on the shared photos
    (``benchmarks/detectors.py``), and faster per frame than the Haar cascade here."""
    from kerfer.runtime.blazeface import BlazeFaceDetector

    return BlazeFaceDetector()


class FacePipeline:
    """Detects faces and classifies all of a frame's faces in one batch.

    ``classifier`` is a :class:`Classifier` or any model argument it takes (a path, ``"fer2013"``,
    ``None``). ``align`` turns each face upright by its eye line before cropping (detectors that
    give eye positions: BlazeFace, YuNet); the Haar cascade gives none, so its faces are cropped
    as found. Frames are uint8 BGR, gray or BGRA arrays (:func:`~kerfer.runtime.images.as_frame`).

    Thread-safe: one pipeline may serve several threads; it keeps no state between calls, and its
    detector and classifier take turns on their interpreters.
    """

    def __init__(
        self,
        classifier: Classifier | str | os.PathLike | None = None,
        detector: FaceDetector | None = None,
        margin: float = MARGIN,
        tta: bool = False,
        align: bool = True,
    ):
        if not 0.0 <= margin <= MAX_MARGIN:
            raise ValueError(f"margin={margin!r}: must be a fraction of the face box between 0 and {MAX_MARGIN}")
        if classifier is None or isinstance(classifier, (str, os.PathLike)):
            classifier = Classifier(classifier)  # "fer2013" or a path: unambiguous, so converted
        if not callable(getattr(classifier, "predict_faces", None)):
            raise TypeError(
                f"classifier={classifier!r}: expected a kerfer.Classifier or a model argument "
                "(a run directory, .keras, .tflite, SavedModel, 'fer2013', 'ferplus' or None)"
            )
        self.classifier = classifier
        self.detector = detector if detector is not None else default_detector()
        self.margin = margin
        self.tta = tta
        self.align = align

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.classifier.class_names

    def detect(self, frame: np.ndarray) -> list[Detection]:
        return find_faces(self.detector, frame)

    def classify(self, frame: np.ndarray, faces: Sequence[Detection | Box]) -> list[Face]:
        """Probabilities for ``faces`` (detections, or plain ``(x, y, w, h)`` boxes) in one batch."""
        frame = as_frame(frame)
        if not faces:
            return []
        dets = [f if isinstance(f, Detection) else Detection(tuple(int(v) for v in f)) for f in faces]  # type: ignore[misc]
        c = self.classifier
        angles = [level_angle(d.roll_degrees()) for d in dets] if self.align else None
        crops = crop_faces(frame, [d.box for d in dets], c.input_size, self.margin, c.channels, angles)
        probs = c.predict_faces(crops, tta=self.tta)
        return [Face(d.box, p, d) for d, p in zip(dets, probs)]

    def __call__(self, frame: np.ndarray) -> list[Face]:
        frame = as_frame(frame)
        return self.classify(frame, self.detect(frame))


def level_angle(roll: float) -> float:
    """The rotation that levels a face: all of its tilt once past :data:`ALIGN_MIN_DEGREES`, else none."""
    return roll if abs(roll) > ALIGN_MIN_DEGREES else 0.0


def make_pipeline(
    model: str | os.PathLike | None = None,
    *,
    unsafe: bool = False,
    margin: float = MARGIN,
    tta: bool = False,
    align: bool = True,
    detector: str = DETECTOR,
    **detector_options,
) -> FacePipeline:
    """A pipeline from the options ``predict`` and ``live`` take: a model argument, and a
    detector by name with its options (:func:`~kerfer.runtime.detect.make_detector`)."""
    classifier = Classifier(model, unsafe=unsafe)
    finder = make_detector(detector, **detector_options)
    return FacePipeline(classifier, finder, margin=margin, tta=tta, align=align)
