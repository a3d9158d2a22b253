"""The label sets (FER2013's and FER+'s class names, emotion aliases) and FER2013's splits and
image size: facts about the data sets, shared by training, export and runtime.

What a model expects and returns (its classes, input size, channels, value range) is its
contract, in :mod:`kerfer.contract`. Kept free of TensorFlow so that the edge runtime can import it.
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

EMOJI_EMOTIONS: tuple[str, ...] = FER2013_CLASSES
"""The emotions ``--overlay emoji`` has a face for (FER2013's; FER+ spellings reach them through
:data:`EMOTION_ALIASES`); any other class gets a neutral face with its name."""

EMOTION_ALIASES: dict[str, str] = {
    "anger": "angry",
    "disgusted": "disgust",
    "fearful": "fear",
    "scared": "fear",
    "happiness": "happy",
    "sadness": "sad",
    "surprised": "surprise",
}
"""FER+ and everyday spellings of the FER2013 emotions, so a FER2013 head row serves FER+'s
``happiness`` and the emoji overlay draws ``sadness``."""


def canonical_emotion(name: str) -> str:
    """A class name in FER2013's spelling (lower case; unknown names are returned lower-cased)."""
    key = str(name).strip().lower()
    return EMOTION_ALIASES.get(key, key)


FER2013_SPLITS: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")

IMAGE_SIZE = 48
"""FER2013 images are 48x48 grayscale."""
