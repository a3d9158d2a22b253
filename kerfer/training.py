"""Training: config → data → model → ``fit`` with the callbacks a long CPU run needs.

Everything a run needs to be repeated or resumed lives in its run directory:
``config.json``, ``best.keras`` (best validation accuracy), ``last.keras``, ``history.csv``,
``backup/`` (BackupAndRestore state), and the plots and metrics written at the end.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from kerfer.data.augment import AugmentConfig

Precision = Literal["auto", "float32", "mixed_float16", "mixed_bfloat16"]
AugmentOn = Literal["auto", "device", "host"]
JitCompile = Literal["auto", "on", "off"]


@dataclasses.dataclass
class TrainConfig:
    """Every knob of a training run; saved as ``config.json`` in the run directory."""

    csv: str | None = None
    """FER2013 CSV (plain or .gz). Exactly one of ``csv`` and ``data`` is given."""
    data: str | None = None
    """Image-folder root: ``root/<split>/<class>/*.png|jpg``."""
    arch: str = "vgg"
    arch_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    classes: list[str] | dict[str, str] | None = None
    train_split: str = "Training"
    val_split: str | None = "PublicTest"
    labels: Literal["fer2013", "ferplus"] = "fer2013"
    ferplus_csv: str | None = None
    ferplus_mode: Literal["majority", "probability"] = "majority"
    epochs: int = 30
    batch_size: int = 64
    optimizer: Literal["adamw", "sgd"] = "adamw"
    learning_rate: float = 1e-3
    weight_decay: float = 0.05
    lr_schedule: Literal["plateau", "cosine", "constant", "step"] = "plateau"
    """``step``: the learning rate is held, then multiplied by ``decay_factor`` every
    ``decay_every_epochs`` from ``decay_start_epoch`` on; a function of the step count alone,
    so a resumed or moved run continues exactly where it was (plateau's counters are not saved)."""
    warmup_epochs: int = 0
    decay_start_epoch: int = 0
    decay_every_epochs: int = 5
    decay_factor: float = 0.9
    plateau_patience: int = 3
    plateau_factor: float = 0.5
    label_smoothing: float = 0.1
    class_weight_power: float = 0.0
    """0 = no class weights, 1 = fully balanced, 0.5 = square-root balanced."""
    augment: AugmentConfig | None = dataclasses.field(default_factory=AugmentConfig)
    early_stopping_patience: int | None = None
    seed: int = 1337
    precision: Precision = "auto"
    strategy: Literal["default", "mirrored", "multiworker", "tpu"] = "default"
    augment_on: AugmentOn = "auto"
    """Where random augmentation runs: ``device`` = inside the training step on the GPU/TPU
    (Keras preprocessing layers, never saved or exported), ``host`` = the CPU tf.data map,
    ``auto`` = device when a GPU or TPU trains, else host."""
    jit_compile: JitCompile = "auto"
    """XLA-compile the training step: ``auto`` = Keras' choice (on for a GPU when the model allows)."""
    tensorboard: bool = False
    image_size: int = 48
    color_mode: Literal["grayscale", "rgb"] = "grayscale"
    on_bad_row: Literal["error", "skip"] = "error"
    parse_cache: bool = True
    """Reuse (and keep) the parsed CSV in the per-user cache (``kerfer.data.cache``)."""
    init_from: str | None = None
    """Start from these weights: "shipped" (kerfer's float FER2013 weights), a run directory or a
    .keras file of the same architecture. A head for other classes starts new: fine-tuning."""
    freeze_backbone_epochs: int = 0
    """With ``init_from``: train only the new head for this many epochs (backbone frozen), then
    everything for the rest, with the learning-rate schedule restarted."""
    teacher: str | list[str] | None = None
    """Distillation: any model kerfer can load (run dir, .keras, SavedModel, .tflite; "shipped"), or a
    list of them (averaged). Flip-averaged probabilities on the training images are mixed into the targets."""
    teacher_weight: float = 0.5
    """Share of the teacher in the targets: ``(1 - w) * labels + w * teacher``. Class weights
    follow each target's top class, which stays the label for ``w <= 0.5``."""
    ferplus_head: float = 0.0
    """Loss weight of a second, 8-class FER+ head trained beside the FER2013 head on the same
    images, from their FER+ vote distributions (0 = no second head). Needs ``csv``, FER2013
    labels, all seven classes and ``ferplus_csv``; the run validates it with FERPlus' majority
    rule (``val_ferplus_accuracy``) and ``tools/split_heads.py`` cuts out each head's model."""

    def __post_init__(self) -> None:
        # pathlib paths are welcome from Python; config.json and the type checks see strings.
        for key in ("csv", "data", "ferplus_csv", "init_from"):
            if isinstance(getattr(self, key), os.PathLike):
                setattr(self, key, os.fspath(getattr(self, key)))
        if isinstance(self.teacher, os.PathLike):
            self.teacher = os.fspath(self.teacher)
        elif isinstance(self.teacher, (list, tuple)):
            self.teacher = [os.fspath(t) if isinstance(t, os.PathLike) else t for t in self.teacher]

    def validate(self) -> None:
        """Every check that needs no data or TensorFlow: types, ranges, combinations."""
        from kerfer.schema import check_fields

        check_fields(self)
        if self.augment is not None:
            check_fields(self.augment, "config key 'augment'")
            if not 0.0 <= self.augment.erasing <= 1.0:
                raise ValueError(
                    f"config key 'augment' key 'erasing': got {self.augment.erasing!r}, expected a probability 0..1"
                )
        if (self.csv is None) == (self.data is None):
            raise ValueError("give exactly one data source: a FER2013 CSV (--csv) or an image folder (--data)")
        for key, (low, inclusive), high in _RANGES:
            value = getattr(self, key)
            if value is None:
                continue
            above = value >= low if inclusive else value > low
            if not above or (high is not None and value > high):
                bound = ("at least " if inclusive else "more than ") + f"{low:g}"
                bound += f" and at most {high:g}" if high is not None else ""
                raise ValueError(f"config key '{key}': got {value!r}, expected a value {bound}")
        if self.classes is not None and len(set(self.classes)) < 2 and not isinstance(self.classes, dict):
            raise ValueError(f"--classes needs at least 2 classes, got {', '.join(self.classes) or 'none'}")
        if isinstance(self.classes, dict) and len(set(self.classes.values())) < 2:
            raise ValueError("--classes must map to at least 2 classes")
        if self.labels == "ferplus" and not self.ferplus_csv:
            raise ValueError("--labels ferplus needs --ferplus-csv (fer2013new.csv or .csv.gz)")
        from kerfer.models.pretrained import SHIPPED_NAMES, shipped_metadata

        if self.init_from in SHIPPED_NAMES:
            shipped_metadata(self.arch)  # a clear error now, before any data is read
        if self.freeze_backbone_epochs < 0 or self.freeze_backbone_epochs >= self.epochs:
            raise ValueError(
                f"freeze_backbone_epochs must be in 0..epochs-1 ({self.epochs - 1}), got {self.freeze_backbone_epochs}"
            )
        if self.freeze_backbone_epochs and not self.init_from:
            raise ValueError(
                "freeze_backbone_epochs needs init_from (--init-from): a random backbone is not worth freezing"
            )
        if self.freeze_backbone_epochs and self.strategy == "multiworker":
            raise ValueError("freeze_backbone_epochs is not supported with --strategy multiworker")
        if not 0.0 < self.teacher_weight <= 1.0:
            raise ValueError(f"teacher weight must be in (0, 1], got {self.teacher_weight}")
        if self.ferplus_head:
            if not self.csv or self.labels != "fer2013" or self.classes is not None:
                raise ValueError(
                    "ferplus_head trains a FER+ head beside FER2013's: it needs --csv with the FER2013 "
                    "labels and all seven classes (no --labels ferplus, no --classes)"
                )
            if not self.ferplus_csv:
                raise ValueError("ferplus_head needs ferplus_csv (fer2013new.csv or .csv.gz)")
            if self.strategy == "multiworker":
                raise ValueError("ferplus_head is not supported with --strategy multiworker")
        if self.lr_schedule == "step" and self.warmup_epochs > self.decay_start_epoch:
            raise ValueError(
                f"warmup_epochs ({self.warmup_epochs}) must end before decay_start_epoch ({self.decay_start_epoch})"
            )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        if not isinstance(d, dict):
            raise ValueError(f"a config must be a JSON object {{...}}, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        d = dict(d)
        if isinstance(d.get("augment"), dict):
            from kerfer.schema import build

            d["augment"] = build(AugmentConfig, d["augment"], "config key 'augment'")
        elif d.get("augment") is False:
            d["augment"] = None
        cfg = cls(**d)
        from kerfer.schema import check_fields

        check_fields(cfg)
        return cfg

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> TrainConfig:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e})") from e


# (key, (lowest, lowest allowed?), highest or None): ranges of the numeric config values.
_RANGES: tuple[tuple[str, tuple[float, bool], float | None], ...] = (
    ("epochs", (1, True), None),
    ("batch_size", (1, True), None),
    ("learning_rate", (0, True), None),
    ("weight_decay", (0, True), None),
    ("warmup_epochs", (0, True), None),
    ("plateau_patience", (0, True), None),
    ("plateau_factor", (0, False), 1.0),
    ("label_smoothing", (0, True), 0.99),
    ("class_weight_power", (0, True), 1.0),
    ("early_stopping_patience", (1, True), None),
    ("image_size", (8, True), None),
    ("decay_start_epoch", (0, True), None),
    ("decay_every_epochs", (1, True), None),
    ("decay_factor", (0, False), 1.0),
    ("ferplus_head", (0, True), None),
)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training: every finished epoch is saved and the run can be resumed."""


@dataclasses.dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    best_model: Path
    history: dict[str, list[float]]
    best_val_accuracy: float | None
    epochs_run: int
    seconds: float


def choose_precision(requested: Precision, gpus: Sequence[Any]) -> str:
    """``auto`` → ``mixed_float16`` when a GPU is present, else ``float32`` (CPUs gain nothing)."""
    if requested == "auto":
        return "mixed_float16" if len(gpus) else "float32"
    return requested


def choose_augment_on(requested: AugmentOn, accelerators: Sequence[Any]) -> str:
    """``auto`` → ``device`` when an accelerator trains (the host's CPU cores cannot feed it
    augmented images fast enough, see benchmarks/input_pipeline.py), else ``host``."""
    if requested == "auto":
        return "device" if len(accelerators) else "host"
    if requested not in ("device", "host"):
        raise ValueError(f"unknown augment_on '{requested}': choose auto, device or host")
    return requested


def jit_compile_arg(requested: JitCompile) -> bool | str:
    """``--jit-compile auto|on|off`` → Keras' ``compile(jit_compile=...)``."""
    choices: dict[str, bool | str] = {"auto": "auto", "on": True, "off": False}
    if requested not in choices:
        raise ValueError(f"unknown jit_compile '{requested}': choose auto, on or off")
    return choices[requested]


def _strategy(name: str):
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "--strategy multiworker needs TF_CONFIG (the cluster's workers and this one's index); "
                "see docs/scaling.md"
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown strategy '{name}'")


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


def _targets(y: np.ndarray, num_classes: int) -> np.ndarray:
    """One-hot rows for class indices; soft label rows pass through."""
    if y.ndim == 2:
        return y.astype("float32")
    return np.eye(num_classes, dtype="float32")[y]


def teacher_targets(
    teacher: str | os.PathLike | Sequence[str | os.PathLike], splits: Splits, weight: float
) -> tuple[np.ndarray, str]:
    """Training targets ``(1 - weight) * labels + weight * teacher``, and a line describing them.

    Each teacher scores every training image once, mean over the image and its mirror (flip
    TTA is worth about a point on FER2013, and the student trains with flips anyway), so
    distillation costs one pass per teacher, not one per epoch. Several teachers are
    averaged: an ensemble is a better teacher than any of its members.
    """
    teachers = [teacher] if isinstance(teacher, (str, os.PathLike)) else list(teacher)
    k = len(splits.class_names)
    labels = _targets(splits.y_train, k)
    truth = labels.argmax(1)
    probs = np.zeros_like(labels)
    parts = []
    for t in teachers:
        p = _teacher_probs(t, splits)
        parts.append(f"{t}: {np.mean(p.argmax(1) == truth):.2%}")
        probs += p / len(teachers)
    agree = float(np.mean(probs.argmax(1) == truth))
    who = f"teacher {teachers[0]}" if len(teachers) == 1 else f"mean of {len(teachers)} teachers ({'; '.join(parts)})"
    note = (
        f"{who}: {agree:.2%} top-1 agreement with the training labels (flip-averaged); "
        f"targets = {1 - weight:g} x labels + {weight:g} x teacher"
    )
    return ((1.0 - weight) * labels + weight * probs).astype("float32"), note


def _teacher_probs(teacher: str | os.PathLike, splits: Splits) -> np.ndarray:
    """One teacher's flip-averaged probabilities on the training images, rows summing to 1."""
    from kerfer.evaluation import predict_batches
    from kerfer.runtime import Classifier

    clf = Classifier(teacher)  # any model argument: run dir, .keras, SavedModel, .tflite, "shipped"
    path = clf.path
    if tuple(clf.class_names) != tuple(splits.class_names):
        raise ValueError(
            f"--teacher {path}: it predicts {', '.join(clf.class_names)} but the training data has "
            f"{', '.join(splits.class_names)}; a teacher must use the same classes in the same order"
        )
    shape = splits.x_train.shape[1:3]
    if (clf.input_size, clf.input_size) != tuple(shape):
        raise ValueError(f"--teacher {path}: it takes {clf.input_size}px faces, the training images are {shape}")
    probs = predict_batches(clf.predict_faces, splits.x_train, tta=True)
    return probs / probs.sum(axis=1, keepdims=True)  # int8 outputs sum to 1 only within 1/256 per class


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


def _datasets(cfg: TrainConfig, splits: Splits, global_batch: int, host_augment: bool = True, replicas: int = 1):
    import tensorflow as tf

    from kerfer.data.pipeline import class_weights, make_dataset
    from kerfer.multihead import PRIMARY

    k = len(splits.class_names)
    if cfg.teacher:
        targets, note = teacher_targets(cfg.teacher, splits, cfg.teacher_weight)
        print(note, file=sys.stderr)
    else:
        targets = _targets(splits.y_train, k)
    two = splits.aux_train is not None
    train = make_dataset(
        splits.x_train,
        {PRIMARY: targets, "ferplus": splits.aux_train} if two else targets,
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
        y_val = _targets(splits.y_val, k)
        if splits.aux_val is not None:
            y_val = {PRIMARY: y_val, "ferplus": splits.aux_val}
        val = make_dataset(splits.x_val, y_val, batch_size=batch, dtype="float32")
    return train, val


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


def _learning_rate(cfg: TrainConfig, steps_per_epoch: int):
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


def _optimizer(cfg: TrainConfig, steps_per_epoch: int):
    import keras

    lr = _learning_rate(cfg, steps_per_epoch)
    if cfg.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate=lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer '{cfg.optimizer}': choose adamw or sgd")


def _callbacks(cfg: TrainConfig, run_dir: Path, has_val: bool, backup: str = "backup", save=None) -> list:
    """``save``: the model the checkpoints write, when ``fit`` trains a wrapper around it."""
    import keras

    from kerfer.callbacks import AtomicCheckpoint, EpochHistory

    monitor = "val_accuracy" if has_val else "accuracy"
    cbs: list = [
        # First, so a restored run skips the epochs it already finished.
        keras.callbacks.BackupAndRestore(str(run_dir / backup), delete_checkpoint=False),
        # Before EpochHistory: the best-so-far on resume is read from the epochs already logged.
        AtomicCheckpoint(run_dir / "best.keras", monitor=monitor, mode="max", save=save),
        AtomicCheckpoint(run_dir / "last.keras", save=save),
        EpochHistory(run_dir / "history.csv"),
        keras.callbacks.TerminateOnNaN(),
    ]
    if cfg.lr_schedule == "plateau":
        cbs.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss" if has_val else "loss",
                factor=cfg.plateau_factor,
                patience=cfg.plateau_patience,
                min_lr=cfg.learning_rate * 1e-3,
                verbose=1,
            )
        )
    if cfg.early_stopping_patience:
        cbs.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, mode="max", patience=cfg.early_stopping_patience, restore_best_weights=False
            )
        )
    if cfg.tensorboard:
        cbs.append(keras.callbacks.TensorBoard(str(run_dir / "tensorboard")))
    return cbs


# What a resume may change: more epochs, where the data now lives, and when the step schedule
# decays from here on (the manual form of a plateau: a long run whose loss turns upward at its
# peak rate starts decaying earlier; epochs already trained keep the rates they had).
RESUMABLE = (
    "epochs",
    "csv",
    "data",
    "ferplus_csv",
    "parse_cache",
    "decay_start_epoch",
    "decay_every_epochs",
    "decay_factor",
)


def resolve_run_config(run_dir: str | os.PathLike, cfg: TrainConfig | None, resume: bool) -> TrainConfig:
    """The config a run uses; reads nothing but ``config.json`` and writes nothing.

    A new run refuses a run directory that already holds one. A resume uses the saved config;
    a ``cfg`` given with it may change only :data:`RESUMABLE` keys (extend the epochs, point
    at moved data); any other difference is refused, naming the keys.
    """
    run_dir = Path(run_dir)
    saved = run_dir / "config.json"
    if resume:
        if not saved.exists():
            raise FileNotFoundError(f"{run_dir}: no config.json to resume from (start the run without --resume)")
        old = TrainConfig.from_file(saved)
        if cfg is None:
            return old
        # `auto` means "what this run chose at its start" (config.json records the choice).
        cfg = dataclasses.replace(
            cfg, **{k: getattr(old, k) for k in ("precision", "augment_on") if getattr(cfg, k) == "auto"}
        )
        changed = [
            f.name
            for f in dataclasses.fields(TrainConfig)
            if f.name not in RESUMABLE and getattr(cfg, f.name) != getattr(old, f.name)
        ]
        if changed:
            raise ValueError(
                f"--resume continues {run_dir} as configured; it can only change "
                f"{', '.join(RESUMABLE)}, not {', '.join(changed)} (start a new run with another --out)"
            )
        from kerfer.callbacks import read_history

        done = len(read_history(run_dir / "history.csv").get("epoch", []))
        if cfg.epochs < done:
            raise ValueError(f"--epochs {cfg.epochs}: {run_dir} has already trained {done} epochs")
        return _absolute_paths(cfg)
    if cfg is None:
        raise ValueError("a TrainConfig is needed to start a new run")
    if saved.exists():
        raise FileExistsError(f"{run_dir} already holds a run: add --resume to continue it, or choose another --out")
    return _absolute_paths(cfg)


RUN_FILES = ("config.json", "labels.json", "best.keras", "last.keras", "history.csv", "curves.png")
"""The files a run writes into its directory (besides its backup and TensorBoard folders)."""


def check_run_outputs(run_dir: Path, cfg: TrainConfig) -> None:
    """No file a run writes may be one it reads: ``--init-from runs/a/best.keras --out runs/a``
    would train over the weights it started from, ``--csv runs/a/history.csv`` over its data."""
    from kerfer.modelio import SHIPPED, resolve_model_path
    from kerfer.paths import refuse_overwriting_inputs

    def model(arg) -> Path | None:
        if arg is None or str(arg) in (SHIPPED, "fer2013") or not Path(arg).exists():
            return None
        try:
            return resolve_model_path(arg)
        except ValueError:
            return Path(arg)  # a .npz of weights

    teachers = [cfg.teacher] if isinstance(cfg.teacher, str) else list(cfg.teacher or [])
    inputs = {"--csv": cfg.csv, "--ferplus-csv": cfg.ferplus_csv, "--init-from": model(cfg.init_from)}
    inputs.update({f"--teacher {t}": model(t) for t in teachers})
    refuse_overwriting_inputs({f"--out's {name}": run_dir / name for name in RUN_FILES}, inputs)


def _absolute_paths(cfg: TrainConfig) -> TrainConfig:
    """Data paths made absolute, so that a resume from another directory finds them."""
    paths = {k: str(Path(v).absolute()) for k in ("csv", "data", "ferplus_csv") if (v := getattr(cfg, k))}
    return dataclasses.replace(cfg, **paths)


def write_run_config(run_dir: str | os.PathLike, cfg: TrainConfig) -> None:
    """Creates the run directory and writes its ``config.json`` (atomically)."""
    from kerfer.io import atomic_write_text

    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "config.json", cfg.to_json())
    except OSError as e:
        raise OSError(f"cannot write the run directory {run_dir}: {e.strerror or e}") from e


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


def init_weights(model, source: str | os.PathLike, class_names: Sequence[str] | None = None) -> str:
    """Copies weights layer by layer from ``source``: ``"shipped"`` (kerfer's float FER2013
    weights), a run directory, a ``.keras`` file or a kerfer ``.npz``.

    Every layer must match by name and shape. The classifier head (``head_logits``) keeps the
    trained row of every class whose name matches, in any order (image folders sort their
    classes alphabetically; a 4-class folder of FER2013 classes starts at the shipped model's
    accuracy on those four), and gets new rows only for classes the weights never learnt (FER+'s
    ``happiness`` is not FER2013's ``happy``). Returns one line saying what was copied.
    """
    from kerfer.models.pretrained import SHIPPED_NAMES, load_source, transfer

    source = load_source(source, getattr(model, "name", None) if str(source) in SHIPPED_NAMES else None)
    try:
        return "init-from: " + transfer(model, source, class_names)
    except ValueError as e:
        raise ValueError(f"--init-from {e}") from e


def freeze_backbone(model, frozen: bool) -> None:
    """Freezes every layer but the classifier head (frozen BatchNorm runs in inference mode,
    as the Keras transfer-learning guide recommends), or unfreezes them all."""
    for layer in model.layers:
        layer.trainable = (not frozen) or layer.name == "head_logits" or layer.name.endswith("_logits")


def _keeps_dtype_policy(fn):
    """Restores Keras' global dtype policy after ``fn``: ``train(precision="mixed_float16")``
    must not leave every model the caller builds afterwards in mixed precision."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import keras

        policy = keras.mixed_precision.global_policy()
        try:
            return fn(*args, **kwargs)
        finally:
            keras.mixed_precision.set_global_policy(policy)

    return wrapper


@_keeps_dtype_policy
def train(
    config: TrainConfig | None = None,
    run_dir: str | os.PathLike = "runs/default",
    *,
    resume: bool = False,
    verbose: int | str = "auto",
) -> TrainResult:
    """Trains a model and writes a complete run directory; returns where things are.

    With ``resume=True`` the run's own ``config.json`` is used and training continues from
    the last finished epoch (BackupAndRestore), so a killed run loses at most one epoch's work.
    """
    import keras
    import tensorflow as tf

    from kerfer.models import build_model

    run_dir = Path(run_dir)
    # Nothing is written into run_dir until everything that can be checked has been: a failed
    # start must leave no config.json behind to refuse the corrected retry.
    cfg = resolve_run_config(run_dir, config, resume)
    cfg.validate()
    check_run_outputs(run_dir, cfg)
    # First: multi-worker collectives must be set up before TensorFlow runs any op.
    strategy = _strategy(cfg.strategy)
    from kerfer.callbacks import read_history

    done_epochs = len(read_history(run_dir / "history.csv").get("epoch", [])) if resume else 0
    # A resumed run draws new shuffles and augmentations (seed + epochs done) instead of
    # replaying epoch 1's: a run split over several starts sees the data as a single one would.
    seed = cfg.seed + done_epochs
    keras.utils.set_random_seed(seed)
    gpus = tf.config.list_physical_devices("GPU")
    accelerators = [*gpus, *(["tpu"] if cfg.strategy == "tpu" else [])]
    if not resume and "auto" in (cfg.precision, cfg.augment_on):
        # config.json records what `auto` chose: a resume on another machine must make the same
        # choice, since the checkpoint's variables depend on it (loss scaling, augmentation layers).
        cfg = dataclasses.replace(
            cfg,
            precision=choose_precision(cfg.precision, gpus),
            augment_on=choose_augment_on(cfg.augment_on, accelerators),
        )
    keras.mixed_precision.set_global_policy(choose_precision(cfg.precision, gpus))
    augmenting = cfg.augment is not None and cfg.augment.any()
    on_device = augmenting and choose_augment_on(cfg.augment_on, accelerators) == "device"

    from kerfer.models import bind_options

    bind_options(cfg.arch, cfg.arch_options)  # a misspelt --arch fails before the data is read
    splits = load_splits(cfg)
    check_splits(cfg, splits)
    num_classes = len(splits.class_names)
    global_batch = cfg.batch_size
    steps_per_epoch = math.ceil(len(splits.x_train) / global_batch)
    train_ds, val_ds = _datasets(
        dataclasses.replace(cfg, seed=seed),
        splits,
        global_batch,
        host_augment=not on_device,
        replicas=strategy.num_replicas_in_sync,
    )

    shape = (cfg.image_size, cfg.image_size, 1 if cfg.color_mode == "grayscale" else 3)
    with strategy.scope():
        model = build_model(cfg.arch, num_classes, shape, **cfg.arch_options)
        if cfg.init_from:
            print(init_weights(model, cfg.init_from, splits.class_names))
        if cfg.ferplus_head:
            from kerfer.labels import FERPLUS_CLASSES
            from kerfer.multihead import add_head

            model = add_head(model, len(FERPLUS_CLASSES), "ferplus", cfg.arch_options.get("dropout", 0.4))
        fit_model = model
        if on_device:
            from kerfer.data.augment import with_device_augmentation

            fit_model = with_device_augmentation(model, cfg.augment, seed=seed)
    write_run_config(run_dir, cfg)
    _write_labels(run_dir, splits.class_names, shape)

    def compile_for(phase_cfg: TrainConfig, frozen: bool) -> None:
        with strategy.scope():
            freeze_backbone(model, frozen)  # the layers are shared with fit_model
            fit_model.compile(
                optimizer=_optimizer(phase_cfg, steps_per_epoch),
                jit_compile=jit_compile_arg(cfg.jit_compile),
                **_loss_and_metrics(cfg),
            )
        if cfg.jit_compile == "on" and not fit_model.jit_compile:
            print(
                "kerfer: XLA is off: Keras' augmentation layers cannot be XLA-compiled; "
                "--augment-on host keeps --jit-compile on",
                file=sys.stderr,
            )

    # (first epoch, end epoch, backbone frozen, backup folder, config of the phase's schedule).
    # Phase 1 trains the new head alone at a constant rate, with its own backup folder so that a
    # resumed phase 2 never restores phase-1 optimizer state; phase 2 restarts the schedule.
    head_epochs = cfg.freeze_backbone_epochs
    phases = []
    if head_epochs and done_epochs < head_epochs:
        phases.append((0, head_epochs, True, "backup_head", dataclasses.replace(cfg, lr_schedule="constant")))
    if head_epochs:
        rest = dataclasses.replace(cfg, epochs=cfg.epochs - head_epochs, warmup_epochs=0)
        phases.append((head_epochs, cfg.epochs, False, "backup", rest))
    else:
        phases.append((0, cfg.epochs, False, "backup", cfg))

    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    start = time.time()
    try:
        for first, until, frozen, backup, phase_cfg in phases:
            compile_for(phase_cfg, frozen)
            callbacks = _callbacks(cfg, run_dir, val_ds is not None, backup, save=model)
            if cfg.ferplus_head:
                from kerfer.multihead import PrimaryHeadLogs

                callbacks.insert(0, PrimaryHeadLogs())  # before anything reads `val_accuracy`
            if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
                from kerfer.multiworker import fit_multiworker

                # Keras 3's fit fails under this strategy (keras-team/keras#20585).
                fit_multiworker(
                    fit_model,
                    strategy,
                    train_ds,
                    val_ds,
                    epochs=until,
                    steps_per_epoch=steps_per_epoch,
                    callbacks=callbacks,
                    label_smoothing=cfg.label_smoothing,
                    verbose=verbose,
                )
            else:
                fit_model.fit(
                    train_ds,
                    validation_data=val_ds,
                    epochs=until,
                    initial_epoch=first,
                    callbacks=callbacks,
                    verbose=verbose,
                    shuffle=False,  # the dataset shuffles itself; Keras warns on its default True
                )
    except KeyboardInterrupt:
        from kerfer.callbacks import read_history

        done = len(read_history(run_dir / "history.csv").get("epoch", []))
        raise TrainingInterrupted(
            f"interrupted: {done} finished epochs are saved in {run_dir}; continue with "
            f"`kerfer train --out {run_dir} --resume`"
        ) from None
    seconds = time.time() - start

    from kerfer.callbacks import read_history

    history = read_history(run_dir / "history.csv")
    best = max(history.get("val_accuracy", []), default=None)
    result = TrainResult(
        run_dir=run_dir,
        best_model=run_dir / "best.keras",
        history=history,
        best_val_accuracy=best,
        epochs_run=len(history.get("epoch", [])),
        seconds=seconds,
    )
    _finish_report(result)
    return result


def _loss_and_metrics(cfg: TrainConfig) -> dict[str, Any]:
    """``compile`` arguments: one cross-entropy, or one per head with the FER+ head weighted
    by ``ferplus_head``. Both heads get ``label_smoothing``: FER+ targets are vote distributions,
    but a unanimous vote is one-hot, and without smoothing those faces pushed the FER+ head's
    weights up without bound (x1.9 in five epochs of the long run's second start) until the
    shared features and both losses drifted upward at a constant learning rate."""
    import keras

    loss = keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)
    if not cfg.ferplus_head:
        return {"loss": loss, "metrics": ["accuracy"]}
    from kerfer.multihead import PRIMARY, LabelledAccuracy

    return {
        "loss": {PRIMARY: loss, "ferplus": keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)},
        "loss_weights": {PRIMARY: 1.0, "ferplus": cfg.ferplus_head},
        "metrics": {PRIMARY: ["accuracy"], "ferplus": [LabelledAccuracy()]},
    }


def _write_labels(run_dir: Path, class_names: Sequence[str], shape: tuple[int, int, int]) -> None:
    from kerfer.contract import ModelContract

    ModelContract(class_names=tuple(class_names), input_size=shape[0], channels=shape[2]).save(run_dir / "labels.json")


def _finish_report(result: TrainResult) -> None:
    """Plots the curves and prints the one-line summary."""
    from kerfer.plots import plot_history

    try:
        plot_history(result.history, result.run_dir / "curves.png")
    except Exception as e:  # a missing plot must not cost a finished run
        print(f"kerfer: could not draw training curves: {e}", file=sys.stderr)
    acc = f"{result.best_val_accuracy:.2%}" if result.best_val_accuracy is not None else "n/a"
    print(
        f"kerfer: trained {result.epochs_run} epochs in {result.seconds / 60:.1f} min; "
        f"best val accuracy {acc}; model {result.best_model}"
    )
