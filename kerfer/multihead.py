"""One backbone, two heads: FER2013's 7 classes and FER+'s 8, trained together on the same faces.

The FER+ votes are a second, cleaner opinion on every training face; a head trained on them
shares the backbone's features, so one long run makes both shipped models. Training sees a
model with two named outputs; everything downstream (export, runtime, evaluation) sees plain
one-head models again, cut out by :func:`single_head`.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
from keras import layers

PRIMARY = "probabilities"
"""The first head's output name: the one every one-head kerfer model has."""


def add_head(model: keras.Model, num_classes: int, name: str, dropout: float = 0.4) -> keras.Model:
    """``model`` (a one-head kerfer model) with a second classifier on its pooled features.

    The result's outputs are a dict ``{"probabilities": ..., name: ...}``; the new head's layers
    are ``{name}_dropout``, ``{name}_logits`` and the softmax ``name`` (float32).
    """
    pooled = model.get_layer("pool").output
    x = layers.Dropout(dropout, name=f"{name}_dropout")(pooled) if dropout else pooled
    x = layers.Dense(num_classes, name=f"{name}_logits")(x)
    extra = layers.Activation("softmax", dtype="float32", name=name)(x)
    return keras.Model(model.inputs, {PRIMARY: model.output, name: extra}, name=model.name)


def head_names(model: keras.Model) -> list[str]:
    """Output names of a model built by :func:`add_head` (``[]`` for a one-head model)."""
    return list(model.output.keys()) if isinstance(model.output, dict) else []


def single_head(model: keras.Model, head: str, build) -> keras.Model:
    """A plain one-head model whose output is ``model``'s ``head``.

    ``build(num_classes)`` makes a fresh one-head model of the same architecture; every layer
    is copied by name, and the chosen head's dense layer becomes ``head_logits``, so the
    result is indistinguishable from a model trained with one head (export, ``Classifier``,
    ``init_from`` and the shipped-weights format all work on it unchanged).
    """
    names = head_names(model)
    if head not in names:
        raise ValueError(f"the model has no head '{head}' (its heads: {', '.join(names) or 'one, unnamed'})")
    logits = "head_logits" if head == PRIMARY else f"{head}_logits"
    num_classes = int(model.get_layer(logits).units)
    out = build(num_classes)
    for layer in out.layers:
        source = logits if layer.name == "head_logits" else layer.name
        weights = model.get_layer(source).get_weights()
        if weights:
            layer.set_weights(weights)
    return out


def _has_label(y_true, dtype):
    """1 for each target row that holds a label, 0 for an all-zero row (a face FER+ says nothing of)."""
    ops = keras.ops
    return ops.cast(ops.sum(y_true, axis=-1) > 0, dtype)


@keras.saving.register_keras_serializable(package="kerfer")
class LabelledAccuracy(keras.metrics.Metric):
    """Top-1 accuracy over the rows that have a label: all-zero target rows are skipped.

    A second head's targets are zeros where its labels say nothing (a face FER+ dropped or
    could not agree on), so those rows must not count as errors.
    """

    def __init__(self, name: str = "accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras.ops
        has = _has_label(y_true, "float32")
        hit = ops.cast(ops.argmax(y_true, axis=-1) == ops.argmax(y_pred, axis=-1), "float32")
        self.correct.assign_add(ops.sum(hit * has))
        self.count.assign_add(ops.sum(has))

    def result(self):
        return keras.ops.divide_no_nan(self.correct, self.count)

    def reset_state(self):
        self.correct.assign(0.0)
        self.count.assign(0.0)


@keras.saving.register_keras_serializable(package="kerfer")
class LabelledCrossentropy(keras.losses.Loss):
    """Categorical cross-entropy that is 0 on all-zero target rows (faces without a FER+ label).

    Keras' cross-entropy smooths a zero row into a uniform target, so with label smoothing the
    ~1 % of training faces FER+ dropped (and the ~12 % of validation faces the FERPlus rule
    rejects) would pull the head toward uniform instead of adding nothing. Labelled rows get
    exactly Keras' smoothed cross-entropy; the batch mean still divides by every row.
    """

    def __init__(self, label_smoothing: float = 0.0, name: str = "labelled_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        ops = keras.ops
        y_true = ops.cast(y_true, y_pred.dtype)
        has = _has_label(y_true, y_pred.dtype)
        per_row = keras.losses.categorical_crossentropy(y_true, y_pred, label_smoothing=self.label_smoothing)
        return per_row * has

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


class PrimaryHeadLogs(keras.callbacks.Callback):
    """Copies the first head's ``probabilities_accuracy`` to ``accuracy`` (and ``val_...``)
    in each epoch's logs, before the other callbacks read them: a two-head run's
    ``history.csv``, best checkpoint and reports keep the names every one-head run has."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        for prefix in ("", "val_"):
            key = f"{prefix}{PRIMARY}_accuracy"
            if key in logs:
                logs[f"{prefix}accuracy"] = logs.pop(key)


def split_run(run_dir: str | os.PathLike, head: str, out_dir: str | os.PathLike) -> Path:
    """Writes one head of a two-head run as a plain one-head run directory in ``out_dir``:
    ``best.keras``, ``labels.json``, ``config.json`` (the run's, as a one-head run of that
    head's labels) and ``history.csv`` (that head's accuracy as ``accuracy``/``val_accuracy``).
    Export, evaluation, ``python -m tools.ship_stage`` and ``--init-from`` take the result as they
    take any run."""
    import dataclasses
    import io

    import pandas as pd

    from kerfer.contract import ModelContract
    from kerfer.io import atomic_path, atomic_write_text
    from kerfer.labels import FER2013_CLASSES, FERPLUS_CLASSES
    from kerfer.modelio import load_keras_model
    from kerfer.models import build_model
    from kerfer.training import TrainConfig

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    cfg = TrainConfig.from_file(run_dir / "config.json")
    shape = (cfg.image_size, cfg.image_size, 1 if cfg.color_mode == "grayscale" else 3)
    model = load_keras_model(run_dir / "best.keras")
    one = single_head(model, head, lambda n: build_model(cfg.arch, n, shape, **cfg.arch_options))
    if head == PRIMARY:
        names, one_cfg = FER2013_CLASSES, dataclasses.replace(cfg, ferplus_head=0.0)
    else:
        names = FERPLUS_CLASSES
        one_cfg = dataclasses.replace(cfg, ferplus_head=0.0, labels="ferplus", ferplus_mode="probability")
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "best.keras", suffix=".keras") as tmp:
        one.save(tmp)
    ModelContract(class_names=tuple(names), input_size=shape[0], channels=shape[2]).save(out_dir / "labels.json")
    atomic_write_text(out_dir / "config.json", one_cfg.to_json())
    if (run_dir / "history.csv").exists():
        h = pd.read_csv(run_dir / "history.csv")
        if head != PRIMARY:
            h = h.drop(columns=[c for c in ("accuracy", "val_accuracy") if c in h])
            h = h.rename(columns={f"{head}_accuracy": "accuracy", f"val_{head}_accuracy": "val_accuracy"})
        buf = io.StringIO()
        h.to_csv(buf, index=False)
        atomic_write_text(out_dir / "history.csv", buf.getvalue())
    return out_dir
