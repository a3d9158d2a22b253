"""A config's training data: the arrays it names, the checks that refuse what a run cannot
learn from, and the ``tf.data`` pipelines ``fit`` reads (targets, class weights, batches)."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np

from kerfer.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class Splits:
    """In-memory training data: uint8 images, int labels (or soft label rows), class names."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    class_names: tuple[str, ...]
    aux_train: np.ndarray | None = None
    """Second-head (FER+) targets of each training image, all-zero rows where there is none."""
    aux_val: np.ndarray | None = None


def load_splits(cfg: TrainConfig) -> Splits:
    """Reads the configured source once and returns train/validation arrays."""
    if cfg.csv:
        from kerfer.data.fer2013 import read_fer2013, table_arrays

        table = read_fer2013(cfg.csv, on_bad_row=cfg.on_bad_row, progress=sys.stdout.isatty(), cache=cfg.parse_cache)
        if cfg.labels == "ferplus":
            from kerfer.data.ferplus import ferplus_arrays, join_ferplus

            joined = join_ferplus(table, cfg.ferplus_csv)
            print(joined.note, file=sys.stderr)
            x_tr, y_tr, names = ferplus_arrays(table, joined, cfg.train_split, cfg.ferplus_mode)
            x_va = y_va = None
            if cfg.val_split:
                x_va, y_va, _ = ferplus_arrays(table, joined, cfg.val_split, "rule")  # as FER+ results are reported
            return Splits(x_tr, y_tr, x_va, y_va, names)
        x_tr, y_tr, names = table_arrays(table, cfg.train_split, cfg.classes)
        x_va = y_va = None
        if cfg.val_split:
            x_va, y_va, _ = table_arrays(table, cfg.val_split, cfg.classes)
        aux_tr = aux_va = None
        if cfg.ferplus_head:  # all seven classes (validate): the arrays keep every row of the split
            from kerfer.data.ferplus import aux_ferplus_targets, join_ferplus

            joined = join_ferplus(table, cfg.ferplus_csv)
            aux_tr = aux_ferplus_targets(table, joined, cfg.train_split, "distribution")
            aux_va = aux_ferplus_targets(table, joined, cfg.val_split, "rule") if cfg.val_split else None
            n_va = int(aux_va.sum()) if aux_va is not None else 0
            print(
                f"{joined.note}; FER+ head: {int((aux_tr.sum(1) > 0).sum())} training faces with votes, "
                f"{n_va} validation faces pass FERPlus' majority rule",
                file=sys.stderr,
            )
        return Splits(x_tr, y_tr, x_va, y_va, names, aux_tr, aux_va)
    from kerfer.data.folders import read_image_folder

    if isinstance(cfg.classes, dict):
        raise ValueError("--classes as a mapping (merging classes) works with --csv; for --data, move the folders")
    only = cfg.classes is not None  # --classes picks (and orders) folders; the others are left out
    x_tr, y_tr, names = read_image_folder(
        cfg.data, cfg.train_split, cfg.image_size, cfg.color_mode, class_names=cfg.classes, only=only
    )
    x_va = y_va = None
    if cfg.val_split:
        x_va, y_va, _ = read_image_folder(
            cfg.data, cfg.val_split, cfg.image_size, cfg.color_mode, class_names=names, only=only
        )
    return Splits(x_tr, y_tr, x_va, y_va, names)


def targets(y: np.ndarray, num_classes: int) -> np.ndarray:
    """One-hot rows for class indices; soft label rows pass through."""
    if y.ndim == 2:
        return y.astype("float32")
    return np.eye(num_classes, dtype="float32")[y]


def validation_batch(global_batch: int, n: int, replicas: int) -> int:
    """The validation batch size for ``n`` images: ``global_batch`` on one replica.

    With several replicas, the largest size up to ``global_batch`` that (a) the replicas
    share evenly, since Keras builds its metrics from the first batch reduced over them and
    unequal shares fail ("AddN ... must have the same size"), and (b) leaves no replica an
    empty last batch (an empty batch fails in BatchNorm on CPUs).
    """
    if replicas <= 1:
        return global_batch
    for b in range(min(global_batch, n) // replicas * replicas, 0, -replicas):
        if n % b == 0 or n % b >= replicas:
            return b
    raise ValueError(f"the validation split has {n} images, fewer than the {replicas} replicas; use a larger one")


def training_datasets(
    cfg: TrainConfig, splits: Splits, global_batch: int, host_augment: bool = True, replicas: int = 1
):
    """``(train, validation)`` datasets: targets (with a teacher's mixed in), class weights, batches."""
    import tensorflow as tf

    from kerfer.data.pipeline import class_weights, make_dataset
    from kerfer.multihead import PRIMARY

    k = len(splits.class_names)
    if cfg.teacher:
        from kerfer.distill import teacher_targets

        y, note = teacher_targets(cfg.teacher, splits, cfg.teacher_weight)
        print(note, file=sys.stderr)
    else:
        y = targets(splits.y_train, k)
    two = splits.aux_train is not None
    train = make_dataset(
        splits.x_train,
        {PRIMARY: y, "ferplus": splits.aux_train} if two else y,
        batch_size=global_batch,
        shuffle=True,
        seed=cfg.seed,
        augment=cfg.augment if host_augment and cfg.augment and cfg.augment.any() else None,
        dtype="float32",
        prefetch=False,
        # Several replicas: no last batch that leaves one of them empty (fails on CPUs).
        drop_remainder=replicas > 1 and len(splits.x_train) >= global_batch,
    )
    if cfg.class_weight_power:
        weights = class_weights(splits.y_train, k, cfg.class_weight_power)
        table = tf.constant([weights[i] for i in range(k)], tf.float32)
        if two:  # class weights are FER2013's; the FER+ head's targets carry their own balance
            train = train.map(
                lambda x, y: (
                    x,
                    y,
                    {
                        PRIMARY: tf.gather(table, tf.argmax(y[PRIMARY], axis=-1)),
                        "ferplus": tf.ones_like(y[PRIMARY][:, 0]),
                    },
                )
            )
        else:
            train = train.map(lambda x, y: (x, y, tf.gather(table, tf.argmax(y, axis=-1))))
    train = train.prefetch(tf.data.AUTOTUNE)
    val = None
    if splits.x_val is not None:
        batch = validation_batch(global_batch, len(splits.x_val), replicas)
        y_val = targets(splits.y_val, k)
        if splits.aux_val is not None:
            y_val = {PRIMARY: y_val, "ferplus": splits.aux_val}
        val = make_dataset(splits.x_val, y_val, batch_size=batch, dtype="float32")
    return train, val


def check_splits(cfg: TrainConfig, splits: Splits) -> None:
    """Refuses data a run cannot learn from: an empty training split, an empty validation split."""
    source = cfg.csv or cfg.data
    if not len(splits.x_train):
        raise ValueError(f"{source}: the training split '{cfg.train_split}' has no images of the chosen classes")
    if cfg.val_split and (splits.x_val is None or not len(splits.x_val)):
        raise ValueError(
            f"{source}: the validation split '{cfg.val_split}' has no images; name another with --val-split "
            "(e.g. PublicTest, or your folder's split) or --val-split none"
        )
    if len(splits.class_names) < 2:
        raise ValueError(f"{source}: found {len(splits.class_names)} class ({', '.join(splits.class_names)}); need 2+")
