"""A TensorFlow Datasets builder for FER2013 (manual download), with a FER+ variant.

Register it by importing this module (``import kerfer.data.tfds_fer2013``), then::

    tfds.load("fer2013", split="train", download_and_prepare_kwargs={"download_config":
              tfds.download.DownloadConfig(manual_dir="/path/with/fer2013.csv.gz")})

Splits come from the Usage column: Training → ``train``, PublicTest → ``validation``,
PrivateTest → ``test`` (only the splits the file has). The ``ferplus`` config adds the FER+
votes and majority label, and needs ``fer2013new.csv(.gz)`` beside the CSV.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from kerfer.labels import FER2013_CLASSES, FERPLUS_CLASSES

SPLIT_NAMES = {"Training": "train", "PublicTest": "validation", "PrivateTest": "test"}


def _find(manual_dir: Path, names: tuple[str, ...], what: str) -> Path:
    for name in names:
        if (manual_dir / name).exists():
            return manual_dir / name
    raise AssertionError(
        f"{what} not found in the TFDS manual directory {manual_dir}. Download it from Kaggle "
        f"(challenges-in-representation-learning-facial-expression-recognition-challenge) and place "
        f"{' or '.join(names)} there, or pass download_config=tfds.download.DownloadConfig(manual_dir=...)."
    )


class Fer2013(tfds.core.GeneratorBasedBuilder):
    """FER2013: 48x48 grayscale faces, 7 expressions (Goodfellow et al., 2013)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release, built by kerfer's tf.data parser."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Place fer2013.csv or fer2013.csv.gz (Kaggle format: emotion,pixels,Usage) in the manual "
        "directory; for the ferplus config also fer2013new.csv(.gz) from Microsoft FERPlus."
    )
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(name="fer2013", description="FER2013 labels (7 classes)."),
        tfds.core.BuilderConfig(name="ferplus", description="Adds FER+ votes (10 columns) and the majority label."),
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        features = {
            "image": tfds.features.Image(shape=(48, 48, 1), dtype=np.uint8),
            "label": tfds.features.ClassLabel(names=list(FER2013_CLASSES)),
        }
        if self.builder_config.name == "ferplus":
            features["ferplus_votes"] = tfds.features.Tensor(shape=(10,), dtype=np.int32)
            features["ferplus_label"] = tfds.features.ClassLabel(names=[*FERPLUS_CLASSES, "none"])
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(features),
            supervised_keys=("image", "label"),
            homepage="https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-challenge",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        from kerfer.data.fer2013 import read_fer2013

        manual = Path(dl_manager.manual_dir)
        table = read_fer2013(_find(manual, ("fer2013.csv.gz", "fer2013.csv"), "fer2013.csv"))
        joined = None
        if self.builder_config.name == "ferplus":
            from kerfer.data.ferplus import join_ferplus

            joined = join_ferplus(table, _find(manual, ("fer2013new.csv.gz", "fer2013new.csv"), "fer2013new.csv"))
        return {
            SPLIT_NAMES[usage]: self._generate_examples(table, table.mask(usage), joined)
            for usage in table.split_counts()
        }

    def _generate_examples(self, table, mask, joined):
        from kerfer.data.ferplus import majority_labels

        if joined is not None:
            majority = np.where(joined.matched, majority_labels(joined.votes), -1)
        for i in np.flatnonzero(mask):
            row = int(table.rows[i])
            ex = {"image": table.images[i], "label": int(table.labels[i])}
            if joined is not None:
                ex["ferplus_votes"] = joined.votes[i]
                m = int(majority[i])
                ex["ferplus_label"] = m if m >= 0 else len(FERPLUS_CLASSES)
            yield row, ex
