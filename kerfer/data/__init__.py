"""Data loading: FER2013 CSV, FER+ votes and image folders → ``tf.data``."""

from kerfer.data.augment import AugmentConfig, make_augmenter
from kerfer.data.fer2013 import Fer2013Table, load_fer2013, read_fer2013, resolve_classes, table_arrays
from kerfer.data.folders import load_image_folder, read_image_folder
from kerfer.data.pipeline import class_weights, make_dataset
from kerfer.errors import BadRow, DataError

__all__ = [
    "AugmentConfig",
    "BadRow",
    "DataError",
    "Fer2013Table",
    "class_weights",
    "load_fer2013",
    "load_image_folder",
    "read_image_folder",
    "make_augmenter",
    "make_dataset",
    "read_fer2013",
    "resolve_classes",
    "table_arrays",
]
