"""Every knob of a training run, defined once: type, default, range and help.

``TrainConfig`` is what ``config.json`` holds, what ``kerfer train``'s flags are generated from
(:mod:`kerfer.flags`) and what :func:`kerfer.train` runs. This module imports neither TensorFlow
nor NumPy, so the CLI can build its ``--help`` from it in a runtime-only install.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Literal

Precision = Literal["auto", "float32", "mixed_float16", "mixed_bfloat16"]
AugmentOn = Literal["auto", "device", "host"]
JitCompile = Literal["auto", "on", "off"]


def knob(default: Any = dataclasses.MISSING, *, help: str, factory: Any = dataclasses.MISSING, **meta: Any) -> Any:
    """A config field with its help text (the CLI's and the docs' one source). ``meta`` may name
    the flag when it is not ``--<field-name>`` (``flag="lr"``) or mark a path that must exist
    (``file=True``)."""
    return dataclasses.field(default=default, default_factory=factory, metadata={"help": help, **meta})


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Strengths of each random transform; 0 turns one off. Shifts and zoom are fractions of the size."""

    flip: bool = True
    shift: float = 0.1
    rotation_degrees: float = 10.0
    zoom: float = 0.1
    brightness: float = 0.1
    contrast: float = 0.2
    erasing: float = 0.0
    """Probability that a random rectangle (2-33 % of the face) is filled with noise: random
    erasing, the regulariser behind most 71-74 % FER2013 results (off by default)."""

    def any(self) -> bool:
        return any(dataclasses.astuple(self))


@dataclasses.dataclass
class TrainConfig:
    """Every knob of a training run; saved as ``config.json`` in the run directory."""

    csv: str | None = knob(None, help="FER2013 CSV, plain or .gz (Kaggle format). Exactly one of csv and data.")
    data: str | None = knob(None, help="Image folder: DIR/<split>/<class>/*.png|jpg.")
    arch: str = knob("vgg", help="Architecture (see `kerfer archs`).")
    arch_options: dict[str, Any] = knob(
        factory=dict, flag="arch-option", help="Builder option, e.g. 'widths=[32,64,128,256]'. Repeatable."
    )
    classes: list[str] | dict[str, str] | None = knob(
        None, help="A subset of the classes (a list), or a mapping that merges them (CSV only)."
    )
    train_split: str = knob("Training", help="Training split.")
    val_split: str | None = knob("PublicTest", help="Validation split; 'none' for no validation.")
    labels: Literal["fer2013", "ferplus"] = knob("fer2013", help="Label source (ferplus needs ferplus_csv).")
    ferplus_csv: str | None = knob(None, file=True, help="fer2013new.csv(.gz) with FER+ votes.")
    ferplus_mode: Literal["majority", "probability"] = knob(
        "majority", help="FER+ targets: the majority label, or the vote distribution as soft targets."
    )
    epochs: int = knob(30, help="Epochs to train.")
    batch_size: int = knob(64, help="Global batch size.")
    optimizer: Literal["adamw", "sgd"] = knob("adamw", help="AdamW, or SGD with Nesterov momentum.")
    learning_rate: float = knob(1e-3, flag="lr", help="Peak learning rate.")
    weight_decay: float = knob(0.05, help="Decoupled weight decay of the optimizer.")
    lr_schedule: Literal["plateau", "cosine", "constant", "step"] = knob(
        "plateau",
        help="plateau = ReduceLROnPlateau; cosine = warmup + cosine decay to 0; step = held, then x decay_factor "
        "every decay_every_epochs from decay_start_epoch (a function of the step count alone, so a resumed or "
        "moved run continues exactly where it was; plateau's counters are not saved).",
    )
    warmup_epochs: int = knob(0, help="Linear warmup epochs (cosine and step schedules).")
    decay_start_epoch: int = knob(0, help="Step schedule: first decay at this epoch.")
    decay_every_epochs: int = knob(5, help="Step schedule: epochs between decays.")
    decay_factor: float = knob(0.9, help="Step schedule: rate multiplier per decay.")
    plateau_patience: int = knob(3, help="Plateau schedule: epochs without a better val_loss before the rate drops.")
    plateau_factor: float = knob(0.5, help="Plateau schedule: rate multiplier per drop.")
    label_smoothing: float = knob(0.1, help="Label smoothing of the cross-entropy (every head).")
    class_weight_power: float = knob(0.0, help="Class weights: 0 = none, 1 = fully balanced, 0.5 = square root.")
    augment: AugmentConfig | None = knob(
        factory=AugmentConfig,
        flag="augment-option",
        help="Augmentation strength, e.g. 'erasing=0.25' (keys: "
        + ", ".join(f.name for f in dataclasses.fields(AugmentConfig))
        + "). Repeatable.",
    )
    early_stopping_patience: int | None = knob(
        None, flag="early-stopping", help="Stop after N epochs without a better val accuracy."
    )
    seed: int = knob(1337, help="Random seed (weights, shuffling, augmentation).")
    precision: Precision = knob("auto", help="auto = mixed_float16 on GPU, float32 on CPU.")
    strategy: Literal["default", "mirrored", "multiworker", "tpu"] = knob(
        "default", help="tf.distribute strategy; multiworker reads TF_CONFIG."
    )
    augment_on: AugmentOn = knob(
        "auto",
        help="Where random augmentation runs: device = inside the training step on the GPU/TPU (never saved or "
        "exported), host = the CPU tf.data pipeline; auto = device when a GPU/TPU trains.",
    )
    jit_compile: JitCompile = knob("auto", help="XLA-compile the training step; auto lets Keras decide (on for a GPU).")
    tensorboard: bool = knob(False, help="Also write TensorBoard logs.")
    image_size: int = knob(48, help="Side of the square training images (px).")
    color_mode: Literal["grayscale", "rgb"] = knob("grayscale", help="1-channel or 3-channel training images.")
    on_bad_row: Literal["error", "skip"] = knob("error", help="Bad CSV rows: stop, or skip and count them.")
    parse_cache: bool = knob(
        True, help="Reuse (and keep) the parsed CSV in the per-user cache (kerfer.data.cache; --no-cache: off)."
    )
    init_from: str | None = knob(
        None,
        help="Start from these weights: 'fer2013' (kerfer's own FER2013 model, arch vgg; alias 'shipped'), "
        "'ferplus' (its FER+ model), a run directory or a .keras file of the same architecture. A head for other classes starts new: "
        "fine-tuning.",
    )
    freeze_backbone_epochs: int = knob(
        0, help="With init_from: train only the new head for N epochs, then everything (schedule restarted)."
    )
    teacher: str | list[str] | None = knob(
        None,
        help="Distil from this model (run dir, .keras, SavedModel or .tflite; 'fer2013' or 'ferplus' = kerfer's own): its "
        "flip-averaged probabilities are mixed into the targets. Repeat for an ensemble (averaged).",
    )
    teacher_weight: float = knob(
        0.5,
        help="Teacher share of the targets, (1 - w) x labels + w x teacher; class weights follow each target's "
        "top class, which stays the label for w <= 0.5.",
    )
    ferplus_head: float = knob(
        0.0,
        help="Also train an 8-class FER+ head on the same faces (their FER+ vote distributions), with this loss "
        "weight, e.g. 0.5 (0 = none); needs csv, FER2013 labels, all seven classes and ferplus_csv. "
        "python -m tools.ship_stage --task ferplus ships it.",
    )

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
            check_range(self.augment, "erasing", "config key 'augment' key 'erasing'")
        if (self.csv is None) == (self.data is None):
            raise ValueError("give exactly one data source: a FER2013 CSV (--csv) or an image folder (--data)")
        for key in RANGES.keys() - {"erasing"}:
            check_range(self, key)
        if self.classes is not None and len(set(self.classes)) < 2 and not isinstance(self.classes, dict):
            raise ValueError(f"--classes needs at least 2 classes, got {', '.join(self.classes) or 'none'}")
        if isinstance(self.classes, dict) and len(set(self.classes.values())) < 2:
            raise ValueError("--classes must map to at least 2 classes")
        if self.labels == "ferplus" and not self.ferplus_csv:
            raise ValueError("--labels ferplus needs --ferplus-csv (fer2013new.csv or .csv.gz)")
        from kerfer.models.pretrained import SHIPPED_NAMES, shipped_metadata

        if self.init_from in SHIPPED_NAMES:
            shipped_metadata(self.arch)  # a clear error now, before any data is read
        if self.freeze_backbone_epochs >= self.epochs:
            raise ValueError(
                f"freeze_backbone_epochs must be in 0..epochs-1 ({self.epochs - 1}), got {self.freeze_backbone_epochs}"
            )
        if self.freeze_backbone_epochs and not self.init_from:
            raise ValueError(
                "freeze_backbone_epochs needs init_from (--init-from): a random backbone is not worth freezing"
            )
        if self.freeze_backbone_epochs and self.strategy == "multiworker":
            raise ValueError("freeze_backbone_epochs is not supported with --strategy multiworker")
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
    def from_dict(cls, d: dict[str, Any], base: TrainConfig | None = None) -> TrainConfig:
        """The config ``d`` describes (a JSON object), its missing keys taken from ``base`` (else
        the defaults); types are checked, ranges and combinations by :meth:`validate`."""
        if not isinstance(d, dict):
            raise ValueError(f"a config must be a JSON object {{...}}, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        d = {**(dataclasses.asdict(base) if base is not None else {}), **d}
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
    def from_file(cls, path: str | os.PathLike, base: TrainConfig | None = None) -> TrainConfig:
        """A ``config.json`` (a run's, or one of ``configs/``), over ``base`` like :meth:`from_dict`."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text()), base)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e})") from e

    def with_overrides(self, overrides: dict[str, Any]) -> TrainConfig:
        """This config with ``overrides`` laid over it (the command line over a JSON config). A
        mapping given for ``arch_options`` or ``augment`` changes only the keys it names."""
        changes = dict(overrides)
        for key in ("arch_options", "augment"):
            if isinstance(changes.get(key), dict):
                current = getattr(self, key)
                if dataclasses.is_dataclass(current):
                    current = dataclasses.asdict(current)
                changes[key] = {**(current or {}), **changes[key]}
        return TrainConfig.from_dict(changes, base=self)


RANGES: dict[str, tuple[float, bool, float | None]] = {
    # key: (lowest, lowest allowed?, highest or None): the ranges of the numeric config values.
    "epochs": (1, True, None),
    "batch_size": (1, True, None),
    "learning_rate": (0, True, None),
    "weight_decay": (0, True, None),
    "warmup_epochs": (0, True, None),
    "plateau_patience": (0, True, None),
    "plateau_factor": (0, False, 1.0),
    "label_smoothing": (0, True, 0.99),
    "class_weight_power": (0, True, 1.0),
    "early_stopping_patience": (1, True, None),
    "image_size": (8, True, None),
    "decay_start_epoch": (0, True, None),
    "decay_every_epochs": (1, True, None),
    "decay_factor": (0, False, 1.0),
    "ferplus_head": (0, True, None),
    "freeze_backbone_epochs": (0, True, None),
    "teacher_weight": (0, False, 1.0),
    "erasing": (0, True, 1.0),  # AugmentConfig's
}


CLASS_WEIGHT_NAMES: dict[str, float] = {"none": 0.0, "sqrt": 0.5, "balanced": 1.0}
"""``--class-weights`` by name: the ``class_weight_power`` each means."""


def range_text(key: str) -> str | None:
    """``at least 1``, ``more than 0 and at most 1``...: the range of ``key``, for errors and help."""
    if key not in RANGES:
        return None
    low, inclusive, high = RANGES[key]
    text = ("at least " if inclusive else "more than ") + f"{low:g}"
    return text + (f" and at most {high:g}" if high is not None else "")


def check_range(obj: Any, key: str, where: str | None = None) -> None:
    """Raises ``ValueError`` when ``obj.key`` is outside :data:`RANGES` (None is always allowed)."""
    value = getattr(obj, key)
    if value is None:
        return
    low, inclusive, high = RANGES[key]
    if not (value >= low if inclusive else value > low) or (high is not None and value > high):
        raise ValueError(f"{where or f'config key {key!r}'}: got {value!r}, expected a value {range_text(key)}")
