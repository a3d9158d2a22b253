"""Distillation: a teacher's flip-averaged probabilities mixed into the training targets."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from kerfer.data.splits import Splits, targets


def teacher_targets(
    teacher: str | os.PathLike | Sequence[str | os.PathLike], splits: Splits, weight: float
) -> tuple[np.ndarray, str]:
    """Training targets ``(1 - weight) * labels + weight * teacher``, and a line describing them.

    Each teacher scores every training image once, mean over the image and its mirror (flip
    TTA is worth about a point on FER2013, and the student trains with flips anyway), so
    distillation costs one pass per teacher, not one per epoch. Several teachers are
    averaged: an ensemble is a better teacher than any of its members.
    """
    teachers = [teacher] if isinstance(teacher, (str, os.PathLike)) else list(teacher)
    k = len(splits.class_names)
    labels = targets(splits.y_train, k)
    truth = labels.argmax(1)
    probs = np.zeros_like(labels)
    parts = []
    for t in teachers:
        p = _teacher_probs(t, splits)
        parts.append(f"{t}: {np.mean(p.argmax(1) == truth):.2%}")
        probs += p / len(teachers)
    agree = float(np.mean(probs.argmax(1) == truth))
    who = f"teacher {teachers[0]}" if len(teachers) == 1 else f"mean of {len(teachers)} teachers ({'; '.join(parts)})"
    note = (
        f"{who}: {agree:.2%} top-1 agreement with the training labels (flip-averaged); "
        f"targets = {1 - weight:g} x labels + {weight:g} x teacher"
    )
    return ((1.0 - weight) * labels + weight * probs).astype("float32"), note


def _teacher_probs(teacher: str | os.PathLike, splits: Splits) -> np.ndarray:
    """One teacher's flip-averaged probabilities on the training images, rows summing to 1."""
    from kerfer.evaluation import predict_batches
    from kerfer.runtime import Classifier

    clf = Classifier(teacher)  # any model argument: run dir, .keras, SavedModel, .tflite, "fer2013"
    path = clf.path
    if tuple(clf.class_names) != tuple(splits.class_names):
        raise ValueError(
            f"--teacher {path}: it predicts {', '.join(clf.class_names)} but the training data has "
            f"{', '.join(splits.class_names)}; a teacher must use the same classes in the same order"
        )
    shape = splits.x_train.shape[1:3]
    if (clf.input_size, clf.input_size) != tuple(shape):
        raise ValueError(f"--teacher {path}: it takes {clf.input_size}px faces, the training images are {shape}")
    probs = predict_batches(clf.predict_faces, splits.x_train, tta=True)
    return probs / probs.sum(axis=1, keepdims=True)  # int8 outputs sum to 1 only within 1/256 per class
