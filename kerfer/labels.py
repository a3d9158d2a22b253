"""Class names and the preprocessing contract shared by training, export and runtime.

Kept free of TensorFlow so that the edge runtime can import it.
"""

from __future__ import annotations

FER2013_CLASSES: tuple[str, ...] = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "sad",
    "surprise",
    "neutral",
)
"""FER2013 ``emotion`` column values 0..6, in order."""

FERPLUS_CLASSES: tuple[str, ...] = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
)
"""FER+ vote columns that are emotions (``unknown`` and ``NF`` are not classes)."""

FER2013_SPLITS: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")

IMAGE_SIZE = 48
"""FER2013 images are 48x48 grayscale."""
