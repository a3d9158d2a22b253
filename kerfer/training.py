"""Training: config → data → model → ``fit`` with the callbacks a long CPU run needs.

Everything a run needs to be repeated or resumed lives in its run directory:
``config.json``, ``best.keras`` (best validation accuracy), ``last.keras``, ``history.csv``,
``backup/`` (BackupAndRestore state), and the plots and metrics written at the end.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from kerfer.callbacks import run_callbacks
from kerfer.config import AugmentOn, JitCompile, Precision, TrainConfig
from kerfer.data.splits import Splits, check_splits, load_splits, training_datasets
from kerfer.optim import loss_and_metrics, make_optimizer


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


def epochs_done(run_dir: str | os.PathLike) -> int:
    """Finished epochs of a run: the rows of its ``history.csv`` (0 before the first)."""
    from kerfer.callbacks import read_history

    return len(read_history(Path(run_dir) / "history.csv").get("epoch", []))


def resolve_run_config(
    run_dir: str | os.PathLike,
    config: TrainConfig | str | os.PathLike | None = None,
    resume: bool = False,
    overrides: dict[str, Any] | None = None,
) -> TrainConfig:
    """The config a run uses; reads nothing but config files and writes nothing.

    ``config`` is a :class:`TrainConfig` or a JSON config file; ``overrides`` (the command
    line's flags) are laid over it. A new run starts from the defaults where ``config`` is None
    and refuses a run directory that already holds one. A resume starts from the run's own
    ``config.json`` (a JSON file's keys and the overrides laid over it) and may change only
    :data:`RESUMABLE` keys (extend the epochs, point at moved data); any other difference is
    refused, naming the keys.
    """
    run_dir = Path(run_dir)
    saved = run_dir / "config.json"
    overrides = overrides or {}
    if not resume:
        if saved.exists():
            raise FileExistsError(
                f"{run_dir} already holds a run: add --resume to continue it, or choose another --out"
            )
        cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_file(config) if config else TrainConfig()
        return _absolute_paths(cfg.with_overrides(overrides))
    if not saved.exists():
        raise FileNotFoundError(f"{run_dir}: no config.json to resume from (start the run without --resume)")
    old = TrainConfig.from_file(saved)
    if config is None and not overrides:
        return old
    if not isinstance(config, TrainConfig):
        config = TrainConfig.from_file(config, base=old) if config else old
    cfg = config.with_overrides(overrides)
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
    done = epochs_done(run_dir)
    if cfg.epochs < done:
        raise ValueError(f"--epochs {cfg.epochs}: {run_dir} has already trained {done} epochs")
    return _absolute_paths(cfg)


RUN_FILES = ("config.json", "labels.json", "best.keras", "last.keras", "history.csv", "curves.png")
"""The files a run writes into its directory (besides its backup and TensorBoard folders)."""


def check_run_outputs(run_dir: Path, cfg: TrainConfig) -> None:
    """No file a run writes may be one it reads: ``--init-from runs/a/best.keras --out runs/a``
    would train over the weights it started from, ``--csv runs/a/history.csv`` over its data."""
    from kerfer.modelio import SHIPPED_MODELS, resolve_model_path
    from kerfer.paths import refuse_overwriting_inputs

    def model(arg) -> Path | None:
        if arg is None or str(arg) in SHIPPED_MODELS or not Path(arg).exists():
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


def init_weights(model, source: str | os.PathLike, class_names: Sequence[str] | None = None) -> str:
    """Copies weights layer by layer from ``source``: ``"fer2013"``/``"ferplus"`` (kerfer's float
    weights; ``"shipped"`` = fer2013), a run directory, a ``.keras`` file or a kerfer ``.npz``.

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


def resolve_auto(cfg: TrainConfig, gpus: Sequence[Any]) -> TrainConfig:
    """``cfg`` with its ``auto`` precision and augmentation placement chosen for this machine,
    once. config.json records the choice: a resume on another machine must make the same one,
    since the checkpoint's variables depend on it (loss scaling, augmentation layers)."""
    accelerators = [*gpus, *(["tpu"] if cfg.strategy == "tpu" else [])]
    return dataclasses.replace(
        cfg,
        precision=choose_precision(cfg.precision, gpus),
        augment_on=choose_augment_on(cfg.augment_on, accelerators),
    )


class Phase(NamedTuple):
    """One ``fit`` call: epochs ``first`` up to ``until``, the backbone ``frozen`` or not, its
    BackupAndRestore folder and the config its learning-rate schedule is built from."""

    first: int
    until: int
    frozen: bool
    backup: str
    schedule: TrainConfig


def phase_plan(cfg: TrainConfig, done: int = 0) -> list[Phase]:
    """The ``fit`` calls a run still needs after ``done`` finished epochs. With
    ``freeze_backbone_epochs``, phase 1 trains the new head alone at a constant rate, with its own
    backup folder so that a resumed phase 2 never restores phase-1 optimizer state; phase 2
    restarts the schedule over the remaining epochs."""
    head = cfg.freeze_backbone_epochs
    if not head:
        return [Phase(0, cfg.epochs, False, "backup", cfg)]
    rest = Phase(head, cfg.epochs, False, "backup", dataclasses.replace(cfg, epochs=cfg.epochs - head, warmup_epochs=0))
    if done >= head:
        return [rest]
    return [Phase(0, head, True, "backup_head", dataclasses.replace(cfg, lr_schedule="constant")), rest]


@dataclasses.dataclass(frozen=True)
class _Run:
    """What every phase of one run shares: the model, what ``fit`` trains (the model behind the
    device augmentation, or the model itself) and the data."""

    cfg: TrainConfig
    run_dir: Path
    strategy: Any
    model: Any
    fit_model: Any
    train_ds: Any
    val_ds: Any
    steps_per_epoch: int


def _build_models(cfg: TrainConfig, splits: Splits, strategy, seed: int) -> tuple[Any, Any]:
    """``(model, fit_model)``: the model (with its starting weights and heads) and what ``fit``
    trains: the model behind the augmentation layers when augmentation runs on the device."""
    from kerfer.models import build_model

    with strategy.scope():
        model = build_model(cfg.arch, len(splits.class_names), _input_shape(cfg), **cfg.arch_options)
        if cfg.init_from:
            print(init_weights(model, cfg.init_from, splits.class_names))
        if cfg.ferplus_head:
            from kerfer.labels import FERPLUS_CLASSES
            from kerfer.multihead import add_head

            model = add_head(model, len(FERPLUS_CLASSES), "ferplus", cfg.arch_options.get("dropout", 0.4))
        if not _augments_on_device(cfg):
            return model, model
        from kerfer.data.augment import with_device_augmentation

        return model, with_device_augmentation(model, cfg.augment, seed=seed)


def _input_shape(cfg: TrainConfig) -> tuple[int, int, int]:
    return (cfg.image_size, cfg.image_size, 1 if cfg.color_mode == "grayscale" else 3)


def _augments_on_device(cfg: TrainConfig) -> bool:
    return cfg.augment is not None and cfg.augment.any() and cfg.augment_on == "device"


def _fit_phase(run: _Run, phase: Phase, verbose: int) -> None:
    """Compiles for ``phase`` (its backbone frozen or not, its schedule) and fits its epochs."""
    import tensorflow as tf

    cfg = run.cfg
    with run.strategy.scope():
        freeze_backbone(run.model, phase.frozen)  # the layers are shared with fit_model
        run.fit_model.compile(
            optimizer=make_optimizer(phase.schedule, run.steps_per_epoch),
            jit_compile=jit_compile_arg(cfg.jit_compile),
            **loss_and_metrics(cfg),
        )
    if cfg.jit_compile == "on" and not run.fit_model.jit_compile:
        print(
            "kerfer: XLA is off: Keras' augmentation layers cannot be XLA-compiled; "
            "--augment-on host keeps --jit-compile on",
            file=sys.stderr,
        )
    callbacks = run_callbacks(cfg, run.run_dir, run.val_ds is not None, phase.backup, save=run.model)
    if cfg.ferplus_head:
        from kerfer.multihead import PrimaryHeadLogs

        callbacks.insert(0, PrimaryHeadLogs())  # before anything reads `val_accuracy`
    if isinstance(run.strategy, tf.distribute.MultiWorkerMirroredStrategy):
        from kerfer.multiworker import fit_multiworker

        # Keras 3's fit fails under this strategy (keras-team/keras#20585).
        fit_multiworker(
            run.fit_model,
            run.strategy,
            run.train_ds,
            run.val_ds,
            epochs=phase.until,
            steps_per_epoch=run.steps_per_epoch,
            callbacks=callbacks,
            label_smoothing=cfg.label_smoothing,
            verbose=verbose,
        )
        return
    run.fit_model.fit(
        run.train_ds,
        validation_data=run.val_ds,
        epochs=phase.until,
        initial_epoch=phase.first,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # the dataset shuffles itself; Keras warns on its default True
    )


@_keeps_dtype_policy
def train(
    config: TrainConfig | str | os.PathLike | None = None,
    run_dir: str | os.PathLike = "runs/default",
    *,
    resume: bool = False,
    overrides: dict[str, Any] | None = None,
    verbose: int | str = "auto",
) -> TrainResult:
    """Trains a model and writes a complete run directory; returns where things are.

    ``config`` is a :class:`TrainConfig` or a JSON config file, ``overrides`` values laid over it
    (see :func:`resolve_run_config`). With ``resume=True`` the run's own ``config.json`` is used
    and training continues from the last finished epoch (BackupAndRestore), so a killed run
    loses at most one epoch's work.
    """
    import keras
    import tensorflow as tf

    run_dir = Path(run_dir)
    # Nothing is written into run_dir until everything that can be checked has been: a failed
    # start must leave no config.json behind to refuse the corrected retry.
    cfg = resolve_run_config(run_dir, config, resume, overrides)
    cfg.validate()
    check_run_outputs(run_dir, cfg)
    strategy = _strategy(cfg.strategy)  # first: multi-worker collectives need it before any op
    done = epochs_done(run_dir) if resume else 0
    # A resumed run draws new shuffles and augmentations (seed + epochs done) instead of
    # replaying epoch 1's: a run split over several starts sees the data as a single one would.
    seed = cfg.seed + done
    keras.utils.set_random_seed(seed)
    cfg = resolve_auto(cfg, tf.config.list_physical_devices("GPU"))
    keras.mixed_precision.set_global_policy(cfg.precision)

    from kerfer.models import bind_options

    bind_options(cfg.arch, cfg.arch_options)  # a misspelt --arch fails before the data is read
    splits = load_splits(cfg)
    check_splits(cfg, splits)
    train_ds, val_ds = training_datasets(
        dataclasses.replace(cfg, seed=seed),
        splits,
        cfg.batch_size,
        host_augment=not _augments_on_device(cfg),
        replicas=strategy.num_replicas_in_sync,
    )
    model, fit_model = _build_models(cfg, splits, strategy, seed)
    write_run_config(run_dir, cfg)
    _write_labels(run_dir, splits.class_names, _input_shape(cfg))
    steps_per_epoch = math.ceil(len(splits.x_train) / cfg.batch_size)
    run = _Run(cfg, run_dir, strategy, model, fit_model, train_ds, val_ds, steps_per_epoch)
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    start = time.time()
    try:
        for phase in phase_plan(cfg, done):
            _fit_phase(run, phase, verbose)
    except KeyboardInterrupt:
        raise TrainingInterrupted(
            f"interrupted: {epochs_done(run_dir)} finished epochs are saved in {run_dir}; continue with "
            f"`kerfer train --out {run_dir} --resume`"
        ) from None
    return _finish_report(run_dir, time.time() - start)


def _write_labels(run_dir: Path, class_names: Sequence[str], shape: tuple[int, int, int]) -> None:
    from kerfer.contract import ModelContract

    ModelContract(class_names=tuple(class_names), input_size=shape[0], channels=shape[2]).save(run_dir / "labels.json")


def _finish_report(run_dir: Path, seconds: float) -> TrainResult:
    """The run's result from its history; plots the curves and prints the one-line summary."""
    from kerfer.callbacks import read_history
    from kerfer.plots import plot_history

    history = read_history(run_dir / "history.csv")
    result = TrainResult(
        run_dir=run_dir,
        best_model=run_dir / "best.keras",
        history=history,
        best_val_accuracy=max(history.get("val_accuracy", []), default=None),
        epochs_run=len(history.get("epoch", [])),
        seconds=seconds,
    )
    try:
        plot_history(result.history, result.run_dir / "curves.png")
    except Exception as e:  # a missing plot must not cost a finished run
        print(f"kerfer: could not draw training curves: {e}", file=sys.stderr)
    acc = f"{result.best_val_accuracy:.2%}" if result.best_val_accuracy is not None else "n/a"
    print(
        f"kerfer: trained {result.epochs_run} epochs in {result.seconds / 60:.1f} min; "
        f"best val accuracy {acc}; model {result.best_model}"
    )
    return result
