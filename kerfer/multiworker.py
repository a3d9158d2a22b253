"""Training under ``MultiWorkerMirroredStrategy``, which Keras 3's ``model.fit`` cannot do.

``model.fit`` fails under that strategy in two places inside Keras (keras-team/keras#20585;
docs/scaling.md has the details). This loop does fit's job with TensorFlow's own pieces:
``strategy.run`` on each worker's share of the global batch, ``tf.nn.compute_average_loss``,
the optimizer's cross-replica gradient all-reduce, and ``strategy.reduce`` for the metrics.
It drives the same Keras callbacks (BackupAndRestore, checkpoints, history, LR callbacks,
early stopping), so the run directory is the same as one written by ``fit``.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np


def fit_multiworker(
    model,
    strategy,
    train_ds,
    val_ds,
    *,
    epochs: int,
    steps_per_epoch: int,
    callbacks: list,
    label_smoothing: float = 0.0,
    verbose: int = 2,
) -> None:
    """Trains a compiled ``model`` (built in ``strategy.scope()``) for ``epochs`` epochs.

    ``train_ds`` yields global batches ``(x, y)`` or ``(x, y, sample_weight)`` with one-hot or
    soft ``y``; every worker must build the same dataset (same seed). Each epoch runs exactly
    ``steps_per_epoch`` steps on every worker, so the workers' collectives always pair up.
    """
    import keras
    import tensorflow as tf

    cbs = keras.callbacks.CallbackList(callbacks, model=model, add_history=True, epochs=epochs)
    train_iter = iter(strategy.experimental_distribute_dataset(train_ds.repeat()))
    dist_val = strategy.experimental_distribute_dataset(val_ds) if val_ds is not None else None

    def sums(y, p, w):
        """Per-replica sums: weighted loss, correct predictions, examples."""
        per_example = keras.losses.categorical_crossentropy(y, p, label_smoothing=label_smoothing)
        correct = tf.cast(tf.equal(tf.argmax(p, axis=-1), tf.argmax(y, axis=-1)), tf.float32)
        return per_example * w, tf.reduce_sum(correct), tf.cast(tf.shape(y)[0], tf.float32)

    def train_replica(batch):
        x, y = batch[0], batch[1]
        w = batch[2] if len(batch) == 3 else tf.ones(tf.shape(y)[:1])
        with tf.GradientTape() as tape:
            p = model(x, training=True)
            weighted, correct, n = sums(y, tf.cast(p, tf.float32), w)
            loss = tf.nn.compute_average_loss(weighted)  # / global batch: the all-reduce sums gradients
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        grads = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return tf.reduce_sum(weighted), correct, n

    def val_replica(batch):
        p = tf.cast(model(batch[0], training=False), tf.float32)
        weighted, correct, n = sums(batch[1], p, tf.ones(tf.shape(batch[1])[:1]))
        return tf.reduce_sum(weighted), correct, n

    @tf.function
    def train_step(iterator):
        out = strategy.run(train_replica, args=(next(iterator),))
        return [strategy.reduce("SUM", v, axis=None) for v in out]

    @tf.function
    def val_step(batch):
        out = strategy.run(val_replica, args=(batch,))
        return [strategy.reduce("SUM", v, axis=None) for v in out]

    cbs.on_train_begin()
    # BackupAndRestore sets this on resume, as it does for fit.
    first = getattr(model, "_initial_epoch", None) or 0
    logs: dict = {}
    for epoch in range(first, epochs):
        cbs.on_epoch_begin(epoch)
        start = time.time()
        total = np.zeros(3)
        for step in range(steps_per_epoch):
            cbs.on_train_batch_begin(step)
            total += [float(v) for v in train_step(train_iter)]
            cbs.on_train_batch_end(step, {"loss": _means(total)[0]})
        logs = dict(zip(("loss", "accuracy"), _means(total)))
        if dist_val is not None:
            total = np.zeros(3)
            for batch in dist_val:
                total += [float(v) for v in val_step(batch)]
            logs.update(zip(("val_loss", "val_accuracy"), _means(total)))
        cbs.on_epoch_end(epoch, logs)
        if verbose:
            shown = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items() if not math.isnan(v))
            print(f"Epoch {epoch + 1}/{epochs} - {time.time() - start:.0f}s - {shown}", file=sys.stdout, flush=True)
        if getattr(model, "stop_training", False):  # EarlyStopping, TerminateOnNaN
            break
    model.optimizer.finalize_variable_values(model.trainable_variables)
    cbs.on_train_end(logs)


def _means(total: np.ndarray) -> tuple[float, float]:
    """(mean loss, accuracy) from summed (loss, correct, examples)."""
    n = max(total[2], 1.0)
    return float(total[0] / n), float(total[1] / n)
