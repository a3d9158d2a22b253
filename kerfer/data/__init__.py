"""Data loading: FER2013 CSV, FER+ votes and image folders → ``tf.data``.

The names below are imported on first use, as in :mod:`kerfer`: ``kerfer.data.fastparse`` and
``kerfer.data.cache`` are NumPy only, and importing them (the parse cache's tests, the mutation
runs over them) must not pay ~9 s for Keras and TensorFlow through this package's
``__init__``.
"""

from __future__ import annotations

from typing import Any

from kerfer.errors import BadRow, DataError  # noqa: F401 (re-exported: cheap, no TensorFlow)
from kerfer.kit import lazy_attribute

_API = {
    "AugmentConfig": "kerfer.data.augment",
    "make_augmenter": "kerfer.data.augment",
    "Fer2013Table": "kerfer.data.fer2013",
    "load_fer2013": "kerfer.data.fer2013",
    "read_fer2013": "kerfer.data.fer2013",
    "resolve_classes": "kerfer.data.fer2013",
    "table_arrays": "kerfer.data.fer2013",
    "load_image_folder": "kerfer.data.folders",
    "read_image_folder": "kerfer.data.folders",
    "class_weights": "kerfer.data.pipeline",
    "make_dataset": "kerfer.data.pipeline",
}
"""Each public name, once: name → the module that defines it (imported on first use)."""

__all__ = sorted([*_API, "BadRow", "DataError"])


def __getattr__(name: str) -> Any:
    return lazy_attribute("kerfer.data", _API, name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
