"""What a config compiles with: the optimizer, its learning-rate schedule, the loss and metrics."""

from __future__ import annotations

from typing import Any

from kerfer.config import TrainConfig


def step_schedule_values(cfg: TrainConfig) -> tuple[list[int], list[float]]:
    """``(boundary epochs, rates)`` of the ``step`` schedule up to ``cfg.epochs``: a per-epoch
    ramp over ``warmup_epochs``, the base rate until ``decay_start_epoch``, then one decay by
    ``decay_factor`` every ``decay_every_epochs``."""
    w = cfg.warmup_epochs
    bounds = list(range(1, w + 1))
    rates = [cfg.learning_rate * (i + 1) / (w + 1) for i in range(w)] + [cfg.learning_rate]
    e, rate = cfg.decay_start_epoch, cfg.learning_rate
    while e < cfg.epochs:
        rate *= cfg.decay_factor
        if e == (bounds[-1] if bounds else 0):  # the decay starts where the warmup (or the run) does
            rates[-1] = rate
        else:
            bounds.append(e)
            rates.append(rate)
        e += cfg.decay_every_epochs
    return bounds, rates


def learning_rate(cfg: TrainConfig, steps_per_epoch: int):
    import keras

    if cfg.lr_schedule == "step":
        bounds, rates = step_schedule_values(cfg)
        if not bounds:
            return cfg.learning_rate
        return keras.optimizers.schedules.PiecewiseConstantDecay([b * steps_per_epoch for b in bounds], rates)
    if cfg.lr_schedule != "cosine":
        return cfg.learning_rate
    warmup = cfg.warmup_epochs * steps_per_epoch
    total = cfg.epochs * steps_per_epoch
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.learning_rate if not warmup else cfg.learning_rate * 0.05,
        decay_steps=max(1, total - warmup),
        alpha=0.0,
        warmup_target=cfg.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


def make_optimizer(cfg: TrainConfig, steps_per_epoch: int):
    import keras

    lr = learning_rate(cfg, steps_per_epoch)
    if cfg.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate=lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer '{cfg.optimizer}': choose adamw or sgd")


def loss_and_metrics(cfg: TrainConfig) -> dict[str, Any]:
    """``compile`` arguments: one cross-entropy, or one per head with the FER+ head weighted
    by ``ferplus_head``. Both heads get ``label_smoothing``: FER+ targets are vote distributions,
    but a unanimous vote is one-hot, and without smoothing those faces pushed the FER+ head's
    weights up without bound (x1.9 in five epochs of the long run's second start) until the
    shared features and both losses drifted upward at a constant learning rate. The FER+ head's
    loss skips faces without a FER+ label (:class:`~kerfer.multihead.LabelledCrossentropy`)."""
    import keras

    loss = keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)
    if not cfg.ferplus_head:
        return {"loss": loss, "metrics": ["accuracy"]}
    from kerfer.multihead import PRIMARY, LabelledAccuracy, LabelledCrossentropy

    return {
        "loss": {PRIMARY: loss, "ferplus": LabelledCrossentropy(label_smoothing=cfg.label_smoothing)},
        "loss_weights": {PRIMARY: 1.0, "ferplus": cfg.ferplus_head},
        "metrics": {PRIMARY: ["accuracy"], "ferplus": [LabelledAccuracy()]},
    }
