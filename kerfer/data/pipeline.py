"""Arrays → batched ``tf.data.Dataset``, the one place batching, shuffling and augmentation happen."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kerfer.data.augment import AugmentConfig, make_augmenter


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray | dict[str, np.ndarray],
    *,
    batch_size: int | None = 64,
    shuffle: bool = False,
    seed: int | None = None,
    augment: AugmentConfig | bool | None = None,
    dtype: str = "uint8",
    cache: bool = True,
    prefetch: bool = True,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Builds the ``(image, label)`` dataset every kerfer loader returns.

    Images stay uint8 in memory (a quarter of float32) and are cast per batch; augmented
    batches are float32. ``batch_size=None`` yields single examples, unaugmented.
    ``cache`` keeps decoded examples in memory (a no-op for in-memory arrays, where every
    epoch after the first already costs nothing).
    """
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    options = tf.data.Options()
    # In-memory arrays: shard by element, never by file.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    ds = ds.with_options(options)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    if batch_size is None:
        return ds.map(lambda x, y: (tf.cast(x, dtype), y)) if dtype != "uint8" else ds
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if augment:
        cfg = augment if isinstance(augment, AugmentConfig) else AugmentConfig()
        augmenter = make_augmenter(cfg, seed=seed)
        ds = ds.map(
            lambda x, y: (augmenter(tf.cast(x, "float32"), training=True), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    elif dtype != "uint8":
        ds = ds.map(lambda x, y: (tf.cast(x, dtype), y), num_parallel_calls=tf.data.AUTOTUNE)
    if prefetch:
        ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds


def class_weights(labels: np.ndarray, num_classes: int | None = None, power: float = 1.0) -> dict[int, float]:
    """Inverse-frequency class weights ``(n / (k * count_c)) ** power``, normalised to mean 1 over samples.

    ``power=1`` is sklearn's "balanced"; ``power=0.5`` is a softer compromise that lifts
    rare classes (FER2013's disgust) without giving up much overall accuracy.
    """
    labels = np.asarray(labels)
    if labels.ndim == 2:  # soft labels
        counts = labels.sum(axis=0)
    else:
        counts = np.bincount(labels, minlength=num_classes or 0).astype(float)
    k = len(counts)
    raw = np.where(counts > 0, (counts.sum() / (k * np.maximum(counts, 1))) ** power, 0.0)
    mean = (raw * counts).sum() / counts.sum()
    return {i: float(w / mean) for i, w in enumerate(raw)}
