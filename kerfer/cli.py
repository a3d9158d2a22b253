"""The ``kerfer`` command: a thin click layer over the Python API.

Heavy imports (TensorFlow) happen inside each command, so ``kerfer --help`` is instant and
``kerfer live`` with a TFLite model never loads TensorFlow.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from kerfer.kit import (
    TRAIN_INSTALL,
    TRAINING_COMMANDS,
    MissingTrainingKit,
    as_missing_kit,
    missing_training_packages,
    require_training_kit,
)
from kerfer.options import (
    ALIGN_MIN_DEGREES,
    BLAZEFACE_MIN_SCORE,
    BLAZEFACE_SIZE,
    CROP_SIZE,
    DETECT_EVERY,
    DETECT_SIZE,
    DETECTOR,
    DETECTORS,
    HAAR_MIN_NEIGHBORS,
    HAAR_SCALE_FACTOR,
    MARGIN,
    MAX_CROP_SIZE,
    MAX_MARGIN,
    MIN_CROP_SIZE,
    MIN_DETECT_SIZE,
    MIN_FACE,
    MIN_FRAMES,
    ON_MULTIPLE,
    OVERLAY,
    OVERLAY_STYLES,
    RECONNECT_S,
    REPORT_MIN_TRACK_S,
    ROIS,
    SMOOTH,
    STALL_S,
    YUNET_MIN_SCORE,
)
from kerfer.syslibs import NATIVE_MODULES, missing_library_message

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class KerferError(click.ClickException):
    """An expected failure: printed as one clear line, exit status 1."""


def _fail_cleanly(fn):
    """Turns the errors users can cause (bad data, missing files) into one-line messages."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from kerfer.errors import DataError

        try:
            return fn(*args, **kwargs)
        except ModuleNotFoundError as e:
            missing = as_missing_kit(e, f"kerfer {fn.__name__}")
            if missing is None:
                raise
            raise KerferError(str(missing)) from e
        except ImportError as e:  # a native library the system lacks (libGL, libxcb on Pi OS Lite)
            module = (e.name or "").split(".")[0]
            message = missing_library_message(e, NATIVE_MODULES.get(module, module or "a native module"))
            if message is None:
                raise
            raise KerferError(message) from e
        except (DataError, FileNotFoundError, FileExistsError, PermissionError, ValueError, RuntimeError) as e:
            raise KerferError(str(e)) from e
        except OSError as e:
            raise KerferError(f"{e.strerror or e}: {e.filename}" if e.filename else str(e)) from e

    return wrapper


def _needs_training_kit(fn):
    """For commands that need TensorFlow: one line with the install command when it is missing."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            require_training_kit(f"kerfer {fn.__name__}")
        except MissingTrainingKit as e:
            raise KerferError(str(e)) from None
        return fn(*args, **kwargs)

    return wrapper


class KerferGroup(click.Group):
    """Lists the commands in two groups, saying whether this install can run the training ones."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        commands = [(n, c) for n in self.list_commands(ctx) if (c := self.get_command(ctx, n)) and not c.hidden]
        limit = formatter.width - 6 - max(len(n) for n, _ in commands)
        runtime = [(n, c.get_short_help_str(limit)) for n, c in commands if n not in TRAINING_COMMANDS]
        training = [(n, c.get_short_help_str(limit)) for n, c in commands if n in TRAINING_COMMANDS]
        with formatter.section("Runtime commands (any install)"):
            formatter.write_dl(runtime)
        missing = missing_training_packages()
        state = f"not in this install: {TRAIN_INSTALL}" if missing else "installed"
        with formatter.section(f"Training commands (need the training kit, TensorFlow; {state})"):
            formatter.write_dl(training)


@click.group(cls=KerferGroup, context_settings=CONTEXT)
@click.version_option(package_name="kerfer")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show the libraries' own log lines and warnings (TensorFlow's start, XNNPACK, absl, libpng, FFmpeg); "
    "hidden by default.",
)
def main(verbose: bool = False) -> None:
    """kerfer: facial expression recognition with Keras.

    \b
    Typical session:
      kerfer train --csv fer2013.csv.gz --arch vgg --epochs 30 --out runs/vgg
      kerfer evaluate runs/vgg --csv fer2013.csv.gz --split PublicTest
      kerfer export runs/vgg --tflite int8 --csv fer2013.csv.gz
      kerfer predict photo.jpg
      kerfer live --camera 0

    Run `kerfer COMMAND --help` for each command's options.
    """
    from kerfer.console import quiet_command, set_verbose
    from kerfer.console import verbose as verbose_now

    set_verbose(verbose or verbose_now())
    # TensorFlow's banner, libpng's and FFmpeg's lines, other libraries' warnings: hidden for the
    # whole command (kerfer's own lines and warnings still show), unless -v.
    click.get_current_context().with_resource(quiet_command())


def _parse_kv(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"expected KEY=VALUE, got '{pair}'", param_hint="--arch-option")
        k, v = pair.split("=", 1)
        try:
            out[k.strip().replace("-", "_")] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip().replace("-", "_")] = v
    return out


def _class_weight_power(value: str) -> float:
    names = {"none": 0.0, "sqrt": 0.5, "balanced": 1.0}
    if value in names:
        return names[value]
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(
            "use none, sqrt, balanced or a power such as 0.5", param_hint="--class-weights"
        ) from None


@main.command(context_settings=CONTEXT)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="FER2013 CSV, plain or .gz (Kaggle format).")
@click.option(
    "--data", "data_dir", type=click.Path(file_okay=False), help="Image folder: DIR/<split>/<class>/*.png|jpg."
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    help="JSON config (e.g. configs/default.json); flags given here override it.",
)
@click.option("--arch", help="Architecture (see `kerfer archs`). Default: vgg.")
@click.option(
    "--arch-option",
    multiple=True,
    metavar="KEY=VALUE",
    help="Builder option, e.g. --arch-option 'widths=[32,64,128,256]'. Repeatable.",
)
@click.option("--epochs", type=int, help="Epochs to train. Default: 30.")
@click.option("--batch-size", type=int, help="Global batch size. Default: 64.")
@click.option("--optimizer", type=click.Choice(["adamw", "sgd"]), help="AdamW or SGD with Nesterov momentum.")
@click.option("--lr", "learning_rate", type=float, help="Peak learning rate. Default: 1e-3.")
@click.option(
    "--lr-schedule",
    type=click.Choice(["plateau", "cosine", "constant", "step"]),
    help="plateau = ReduceLROnPlateau (default); cosine = warmup + cosine decay to 0; step = held, then "
    "x --decay-factor every --decay-every-epochs from --decay-start-epoch (the long run's; resumable anywhere).",
)
@click.option("--warmup-epochs", type=int, help="Linear warmup epochs (cosine and step schedules).")
@click.option("--decay-start-epoch", type=int, help="Step schedule: first decay at this epoch. Default: 0.")
@click.option("--decay-every-epochs", type=int, help="Step schedule: epochs between decays. Default: 5.")
@click.option("--decay-factor", type=float, help="Step schedule: rate multiplier per decay. Default: 0.9.")
@click.option("--label-smoothing", type=float, help="Default: 0.1.")
@click.option("--class-weights", "class_weights", help="none | sqrt | balanced | a power (0..1). Lifts rare classes.")
@click.option("--no-augment", is_flag=True, default=None, help="Turn off flip/shift/rotate/zoom/brightness/contrast.")
@click.option("--classes", help="Comma-separated subset, e.g. angry,happy,sad,surprise (the 4-class model).")
@click.option("--train-split", help="Default: Training.")
@click.option("--val-split", help="Validation split. Default: PublicTest. 'none' for no validation.")
@click.option("--labels", type=click.Choice(["fer2013", "ferplus"]), help="Label source (ferplus needs --ferplus-csv).")
@click.option(
    "--ferplus-head",
    type=float,
    help="Also train an 8-class FER+ head on the same faces (their FER+ vote distributions), with this "
    "loss weight, e.g. 0.5; needs --ferplus-csv. python -m tools.ship_stage --task ferplus ships it.",
)
@click.option(
    "--ferplus-csv", type=click.Path(exists=True, dir_okay=False), help="fer2013new.csv(.gz) with FER+ votes."
)
@click.option(
    "--ferplus-mode",
    type=click.Choice(["majority", "probability"]),
    help="FER+ targets: majority label, or the vote distribution as soft targets.",
)
@click.option(
    "--precision",
    type=click.Choice(["auto", "float32", "mixed_float16", "mixed_bfloat16"]),
    help="auto = mixed_float16 on GPU, float32 on CPU.",
)
@click.option(
    "--strategy",
    type=click.Choice(["default", "mirrored", "multiworker", "tpu"]),
    help="tf.distribute strategy; multiworker reads TF_CONFIG.",
)
@click.option(
    "--augment-on",
    type=click.Choice(["auto", "device", "host"]),
    help="Where random augmentation runs: device = inside the training step on the GPU/TPU, host = the CPU "
    "tf.data pipeline; auto (default) = device when a GPU/TPU trains.",
)
@click.option(
    "--jit-compile",
    type=click.Choice(["auto", "on", "off"]),
    help="XLA-compile the training step; auto (default) lets Keras decide (on for a GPU).",
)
@click.option("--seed", type=int, help="Random seed (weights, shuffling, augmentation).")
@click.option("--early-stopping", "early_stopping_patience", type=int, help="Stop after N epochs without improvement.")
@click.option("--tensorboard", is_flag=True, default=None, help="Also write TensorBoard logs.")
@click.option(
    "--init-from",
    help="Start from these weights: 'shipped' (kerfer's own FER2013 model, --arch vgg), 'ferplus' (its FER+ "
    "model), a run directory or a .keras file of the same architecture. A head for other classes starts new: "
    "fine-tuning.",
)
@click.option(
    "--freeze-backbone-epochs",
    type=int,
    help="With --init-from: train only the new head for N epochs, then everything (schedule restarted).",
)
@click.option(
    "--teacher",
    "teachers",
    multiple=True,
    help="Distil from this model (run dir, .keras, SavedModel or .tflite; 'shipped' = kerfer's own): "
    "its flip-averaged probabilities are mixed into the targets. Repeat for an ensemble (averaged).",
)
@click.option("--teacher-weight", type=float, help="Teacher share of the targets, 0..1. Default: 0.5.")
@click.option(
    "--on-bad-row", type=click.Choice(["error", "skip"]), help="Bad CSV rows: stop (default) or skip and count."
)
@click.option(
    "--no-cache",
    "no_cache",
    is_flag=True,
    default=None,
    help="Parse the CSV afresh and do not keep it in the per-user cache (~/.cache/kerfer, or $KERFER_CACHE_DIR).",
)
@click.option(
    "--out",
    "run_dir",
    default="runs/default",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Run directory (config, best.keras, history.csv, plots).",
)
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last finished epoch.")
@click.option(
    "--from-pack",
    "from_pack",
    type=click.Path(exists=True, file_okay=False),
    help="With --resume: continue a run packed by `kerfer pack` (from another machine); it is unpacked "
    "into --out first unless --out already holds the run at that epoch or later.",
)
@_fail_cleanly
@_needs_training_kit
def train(config_file, run_dir, resume, from_pack, **flags):
    """Train a model on FER2013 (--csv) or an image folder (--data).

    \b
    Examples:
      kerfer train --csv fer2013.csv.gz --arch vgg --epochs 30 --out runs/vgg
      kerfer train --config configs/default.json --csv fer2013.csv.gz --out runs/default
      kerfer train --out runs/vgg --resume          # after an interruption
      kerfer pack runs/vgg packs/vgg                # on machine A: the resumable state, ~2 bytes/weight
      kerfer train --out runs/vgg --resume --from-pack packs/vgg --csv fer2013.csv.gz   # on machine B
      kerfer train --data my_photos/ --classes angry,happy,sad,surprise --init-from shipped \\
          --freeze-backbone-epochs 2 --epochs 8 --lr 3e-4 --out runs/mine   # fine-tune kerfer's model
    """
    import kerfer.training as t

    if from_pack:
        if not resume:
            raise click.UsageError("--from-pack continues a packed run: add --resume")
        from kerfer.portable import continue_from_pack

        click.echo(f"kerfer: {continue_from_pack(from_pack, run_dir)}", err=True)
    cfg = None
    saved = os.path.join(run_dir, "config.json")
    if not resume:
        cfg = _config_from_flags(t.TrainConfig, config_file, flags)
    elif (config_file or any(v not in (None, ()) for v in flags.values())) and os.path.exists(saved):
        # Flags with --resume: laid over the run's own config; train() refuses all but a few changes.
        cfg = _config_from_flags(t.TrainConfig, config_file, flags, start=t.TrainConfig.from_file(saved))
    try:
        t.train(cfg, run_dir, resume=resume)
    except t.TrainingInterrupted as e:
        click.echo(f"kerfer: {e}", err=True)
        sys.exit(130)


@main.command(context_settings=CONTEXT)
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option(
    "--dtype",
    type=click.Choice(["float16", "float32"]),
    default="float16",
    show_default=True,
    help="How the weights and optimizer state are stored: float16 halves the size (a rounding "
    "far below one training step's noise).",
)
@_fail_cleanly
@_needs_training_kit
def pack(run_dir, out_dir, dtype):
    """Pack a run's resumable state (last finished epoch, optimizer state, step count, best
    weights, config and history) into OUT_DIR, small enough to commit or copy; a previous pack
    there is replaced. Another machine continues it with
    `kerfer train --out RUN --resume --from-pack OUT_DIR`. Safe while the run is training.

    \b
    Example:
      kerfer pack runs/long training/long
    """
    from kerfer.portable import pack_run

    info = pack_run(run_dir, out_dir, dtype=dtype)
    best = ", best weights" if info.has_best else ""
    click.echo(
        f"packed {run_dir} at epoch {info.epoch} (step {info.iterations}{best}) into {out_dir}: {info.bytes / 1e6:.1f} MB"
    )


def _config_from_flags(config_cls, config_file: str | None, flags: dict[str, Any], start=None):
    """The JSON config (if any), overridden by every flag given on the command line; all of it
    laid over ``start`` (the saved config of a run being resumed) when given."""
    import dataclasses

    base: dict[str, Any] = dataclasses.asdict(start) if start is not None else {}
    if config_file:
        try:
            loaded = json.loads(open(config_file).read())
        except json.JSONDecodeError as e:
            raise KerferError(f"{config_file}: not valid JSON ({e})") from e
        if not isinstance(loaded, dict):
            raise KerferError(f"{config_file}: a config must be a JSON object {{...}}, got {type(loaded).__name__}")
        base = {**base, **loaded}
    csv_path, data_dir = flags.pop("csv_path"), flags.pop("data_dir")
    arch_option, classes = flags.pop("arch_option"), flags.pop("classes")
    class_weights, no_augment, val_split = flags.pop("class_weights"), flags.pop("no_augment"), flags.pop("val_split")
    teachers = flags.pop("teachers", ())
    if flags.pop("no_cache", None):
        flags["parse_cache"] = False
    updates = {k: v for k, v in flags.items() if v is not None}
    if csv_path:
        updates["csv"] = csv_path
    if data_dir:
        updates["data"] = data_dir
    if arch_option:
        updates["arch_options"] = {**base.get("arch_options", {}), **_parse_kv(arch_option)}
    if classes:
        updates["classes"] = [c.strip() for c in classes.split(",") if c.strip()]
    if class_weights is not None:
        updates["class_weight_power"] = _class_weight_power(class_weights)
    if no_augment:
        updates["augment"] = None
    if val_split is not None:
        updates["val_split"] = None if val_split.lower() == "none" else val_split
    if teachers:
        updates["teacher"] = teachers[0] if len(teachers) == 1 else list(teachers)
    cfg = config_cls.from_dict({**base, **updates})
    cfg.validate()
    return cfg


@main.command(context_settings=CONTEXT)
@click.argument("model", required=False, type=click.Path())
@click.option("--model", "model_opt", type=click.Path(), help="Same as the MODEL argument.")
@click.option("--csv", "csv_path", type=click.Path(exists=True, dir_okay=False), help="FER2013 CSV (plain or .gz).")
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False), help="Image folder root.")
@click.option("--split", default="PublicTest", show_default=True, help="Split to evaluate on.")
@click.option("--tta", is_flag=True, help="Also report test-time augmentation (mean of image and its mirror).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Where to write metrics CSV/JSON and the confusion PNG (default: the run directory).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--unsafe", is_flag=True, help="Allow .keras files with Lambda layers (only for files you trust).")
@click.option(
    "--no-cache",
    "no_cache",
    is_flag=True,
    default=None,
    help="Parse the CSV afresh and do not keep it in the per-user cache (~/.cache/kerfer, or $KERFER_CACHE_DIR).",
)
@_fail_cleanly
@_needs_training_kit
def evaluate(model, model_opt, csv_path, data_dir, split, tta, out_dir, as_json, unsafe, no_cache):
    """Evaluate a model: accuracy, per-class precision/recall/F1, confusion matrix.

    MODEL is a run directory (its best.keras), a .keras file, a SavedModel directory, a
    .tflite file, 'shipped' (kerfer's FER2013 model, the default) or 'ferplus' (kerfer's FER+
    model: evaluated on FER+ labels from fer2013new.csv(.gz) beside --csv, by FERPlus' majority rule).

    \b
    Examples:
      kerfer evaluate --csv fer2013.csv.gz                      # the shipped model
      kerfer evaluate runs/vgg --csv fer2013.csv.gz --tta
      kerfer evaluate ferplus --csv fer2013.csv.gz              # the shipped FER+ model
      kerfer evaluate exports/vgg/model_int8.tflite --csv fer2013.csv.gz --json
    """
    from kerfer.evaluation import evaluate as run_eval

    result = run_eval(
        model or model_opt,
        csv=csv_path,
        data=data_dir,
        split=split,
        tta=tta,
        out_dir=out_dir,
        unsafe=unsafe,
        parse_cache=False if no_cache else None,
    )
    if as_json:
        click.echo(json.dumps(result.to_dict()))
        return
    click.echo(f"model: {result.model}")
    click.echo(f"split: {split}  ({int(result.plain.per_class['support'].sum())} images)")
    if result.labels:
        click.echo(f"labels: {result.labels}")
    click.echo(result.plain.per_class.to_string(float_format=lambda v: f"{v:.3f}"))
    line = f"accuracy: {result.plain.accuracy:.2%}"
    if result.tta:
        line += f"   with flip TTA: {result.tta.accuracy:.2%}"
    click.echo(line)
    for path in result.files.values():
        click.echo(f"wrote {path}")


@main.command(context_settings=CONTEXT)
@click.argument("model", type=click.Path(exists=True))
@click.option("--saved-model/--no-saved-model", default=True, show_default=True, help="Write a TF SavedModel.")
@click.option(
    "--tflite",
    "tflite_kinds",
    multiple=True,
    type=click.Choice(["float32", "float16", "dynamic", "int8"]),
    help="TFLite variant(s) to write; repeatable. Default: int8.",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(exists=True, dir_okay=False),
    help="FER2013 CSV: int8 calibration images (Training) and the parity split.",
)
@click.option(
    "--data", "data_dir", type=click.Path(exists=True, file_okay=False), help="Image folder instead of --csv."
)
@click.option(
    "--calibration-samples",
    default=300,
    show_default=True,
    help="int8 calibration images from the run's training split, stratified by class (at least 1).",
)
@click.option(
    "--parity-split",
    default="auto",
    show_default=True,
    help="Split for the parity report: auto = the run's validation split (PublicTest for a CSV, val for a "
    "folder, without a run), or 'none' to skip.",
)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder. Default: exports/<run name>.")
@click.option("--unsafe", is_flag=True, help="Allow .keras files with Lambda layers (only for files you trust).")
@click.option(
    "--no-cache",
    "no_cache",
    is_flag=True,
    default=None,
    help="Parse the CSV afresh and do not keep it in the per-user cache (~/.cache/kerfer, or $KERFER_CACHE_DIR).",
)
@_fail_cleanly
@_needs_training_kit
def export(
    model, saved_model, tflite_kinds, csv_path, data_dir, calibration_samples, parity_split, out_dir, unsafe, no_cache
):
    """Export a trained model to SavedModel and TFLite, with a parity report.

    MODEL is a run directory (its best.keras) or a .keras file. The report compares each
    file's accuracy with the Keras model's, their top-1 agreement, size and 1-thread latency.

    \b
    Examples:
      kerfer export runs/vgg --tflite int8 --csv fer2013.csv.gz
      kerfer export runs/vgg --tflite float32 --tflite float16 --tflite dynamic --tflite int8 --csv fer2013.csv.gz
    """
    from kerfer.exporting import export as run_export

    split = None if parity_split.lower() == "none" or (csv_path is None and data_dir is None) else parity_split
    result = run_export(
        model,
        out_dir,
        saved_model=saved_model,
        tflite=tflite_kinds or ("int8",),
        csv=csv_path,
        data=data_dir,
        calibration_samples=calibration_samples,
        parity_split=split,
        unsafe=unsafe,
        parse_cache=False if no_cache else None,
    )
    for kind, path in result.files.items():
        if kind != "keras":
            click.echo(f"wrote {path}")
    click.echo(f"wrote {result.out_dir / 'labels.json'}")
    if result.parity is not None:
        click.echo(f"\nparity on {result.parity_split} (latency: 1 face, 1 thread for TFLite):")
        table = result.parity.drop(columns=["file"])
        click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4f}" if v < 1 else f"{v:.1f}"))
        click.echo(f"wrote {result.out_dir / 'parity.csv'}")


def _detector(
    detector: str,
    yunet_model: str | None,
    scale_factor: float,
    min_neighbors: int,
    min_face: int,
    detect_size: int,
    min_score: float | None,
):
    from kerfer.runtime.detect import HaarDetector, YuNetDetector

    if yunet_model and detector != "yunet":
        raise click.BadParameter(
            f"{yunet_model} is used only with --detector yunet: add it", param_hint="--yunet-model"
        )
    if min_score is not None and detector == "haar":
        raise click.BadParameter(
            "the Haar cascade has no score: use --min-neighbors, or --detector blazeface", param_hint="--min-score"
        )
    if detector == "yunet":
        if not yunet_model:
            raise click.BadParameter("--detector yunet needs --yunet-model FILE.onnx", param_hint="--detector")
        try:
            return YuNetDetector(
                yunet_model, score_threshold=min_score or YUNET_MIN_SCORE, max_side=detect_size or None
            )
        except ValueError as e:
            raise click.BadParameter(str(e).split(": ", 1)[-1], param_hint="--yunet-model") from e
    if detector == "blazeface":
        from kerfer.runtime.blazeface import BlazeFaceDetector

        return BlazeFaceDetector(score_threshold=min_score or BLAZEFACE_MIN_SCORE, min_face=min_face)
    return HaarDetector(
        scale_factor=scale_factor, min_neighbors=min_neighbors, min_face=min_face, max_side=detect_size or None
    )


PREDICT_TTA = True
"""Flip TTA on by default in ``predict``: +1.2 points on PublicTest for 0.7 % more time per photo
(reading and detecting dominate). Off in ``live``: it costs 18-37 % of the frame rate there, over
the 10 % kerfer allows a default (``benchmarks/tta_cost.py``; figures in docs/model_card.md)."""
LIVE_TTA = False


def _check_detect_size(ctx, param, value: int) -> int:
    """--detect-size is 0 (full size) or a usable longest side."""
    if value != 0 and value < MIN_DETECT_SIZE:
        raise click.BadParameter(f"{value} is not 0 (full size) or >= {MIN_DETECT_SIZE}", ctx, param)
    return value


def detector_options(tta_default: bool):
    """The detector, crop and model options of ``predict`` and ``live``; ``tta_default`` is the command's --tta."""
    return lambda fn: _add_detector_options(fn, tta_default)


def _finder_options() -> list:
    """How faces are found and cropped: the options ``predict``, ``live`` and ``crop`` share."""
    return [
        click.option(
            "--detector",
            type=click.Choice(DETECTORS),
            default=DETECTOR,
            show_default=True,
            help="Face detector: BlazeFace (learned, shipped; finds tilted and small faces, gives the eyes and "
            "mouth), OpenCV's Haar cascade (the seed projects' detector; no keypoints), or YuNet (needs --yunet-model).",
        ),
        click.option("--yunet-model", type=click.Path(exists=True, dir_okay=False), help="YuNet ONNX file (.onnx)."),
        click.option(
            "--min-score",
            type=click.FloatRange(min=0.0, max=1.0, min_open=True, max_open=True),
            help=f"BlazeFace/YuNet: face probability to keep a detection (default {BLAZEFACE_MIN_SCORE:g} / "
            f"{YUNET_MIN_SCORE:g}); higher = fewer false faces.",
        ),
        click.option(
            "--align/--no-align",
            default=True,
            show_default=True,
            help=f"Turn faces tilted past {ALIGN_MIN_DEGREES:g} degrees upright by their eye line before cropping "
            "(BlazeFace/YuNet).",
        ),
        click.option(
            "--min-face",
            default=MIN_FACE,
            show_default=True,
            type=click.IntRange(min=1),
            help="Smallest face (px; Haar: in the downscaled detection image, BlazeFace: in the frame).",
        ),
        click.option(
            "--margin",
            default=MARGIN,
            show_default=True,
            type=click.FloatRange(min=0.0, max=MAX_MARGIN),
            help=f"Padding around each face crop (fraction of the box, 0 to {MAX_MARGIN:g}).",
        ),
    ]


def _with_options(fn, opts: list):
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def finder_options(fn):
    """The shared face-finding options alone (``crop``)."""
    return _with_options(fn, _finder_options())


def _add_detector_options(fn, tta_default: bool):
    return _with_options(
        fn,
        [
            *_finder_options(),
            click.option(
                "--scale-factor",
                default=HAAR_SCALE_FACTOR,
                show_default=True,
                type=click.FloatRange(min=1.0, min_open=True),
                help="Haar: image pyramid step (> 1.0).",
            ),
            click.option(
                "--min-neighbors",
                default=HAAR_MIN_NEIGHBORS,
                show_default=True,
                type=click.IntRange(min=0),
                help="Haar: higher = fewer false faces.",
            ),
            click.option(
                "--detect-size",
                default=DETECT_SIZE,
                show_default=True,
                callback=_check_detect_size,
                help="Haar/YuNet: downscale frames to this longest side before detecting "
                f"(0 = full size, else >= {MIN_DETECT_SIZE}; BlazeFace always sees {BLAZEFACE_SIZE}x{BLAZEFACE_SIZE}).",
            ),
            click.option(
                "--model",
                "model_path",
                type=click.Path(),
                help="Run directory, .keras, .tflite or SavedModel directory, or a shipped model: 'shipped' "
                "(FER2013's 7 emotions, the default) or 'ferplus' (FER+'s 8, with contempt).",
            ),
            click.option("--unsafe", is_flag=True, help="Allow .keras files with Lambda layers (only if trusted)."),
            click.option(
                "--tta/--no-tta",
                default=tta_default,
                show_default=True,
                help="Flip test-time augmentation: average each face with its mirror image (one batch).",
            ),
        ],
    )


def _pipeline(model_path, unsafe, margin, tta, align=True, **det):
    from kerfer.runtime.classifier import Classifier
    from kerfer.runtime.pipeline import FacePipeline

    return FacePipeline(Classifier(model_path, unsafe=unsafe), _detector(**det), margin=margin, tta=tta, align=align)


def _overlay_option(where: str):
    return click.option(
        "--overlay",
        type=click.Choice(OVERLAY_STYLES),
        default=OVERLAY,
        show_default=True,
        help=f"How each face is drawn {where}: bars = box, label and a probability bar per class; "
        "label = box and label only; emoji = box, label and an emoji of the top expression beside the face.",
    )


@main.command(context_settings=CONTEXT)
@click.argument("images", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image (JSON lines).")
@click.option("--save-annotated", type=click.Path(file_okay=False), help="Write images with boxes and labels here.")
@_overlay_option("in the --save-annotated images")
@detector_options(tta_default=PREDICT_TTA)
@_fail_cleanly
def predict(images, as_json, save_annotated, overlay, model_path, unsafe, margin, **det):
    """Find faces in photos and name their expressions.

    IMAGES are files or folders. Each face gets its box and class probabilities; an image
    with no face says so. Unreadable files are reported and skipped; the exit status is 1
    if any file failed.

    \b
    Examples:
      kerfer predict photo.jpg
      kerfer predict photos/ --json > faces.jsonl
      kerfer predict group.jpg --save-annotated out/
      kerfer predict group.jpg --save-annotated out/ --overlay emoji
    """
    from kerfer.paths import shown
    from kerfer.runtime.predict import predict_images, scan_inputs

    pipe = _pipeline(model_path, unsafe, margin, **det)
    names = pipe.class_names
    inputs = scan_inputs(images)
    for folder, note in inputs.notes:
        click.echo(f"{shown(folder)}: {note}", err=True)
    failed = done = 0
    for r in predict_images(inputs, pipe, save_annotated, overlay=overlay):
        if r.error:
            failed += 1
        else:
            done += 1
        if as_json:
            click.echo(json.dumps(_predict_record(r, names)))
            continue
        path = shown(r.path)  # a newline in a file name must not split the line
        if r.error:
            click.echo(f"{path}: ERROR {r.error}", err=True)
            continue
        if not r.faces:
            click.echo(f"{path}: no face found")
        for i, f in enumerate(r.faces):
            top = sorted(zip(names, f.probs), key=lambda t: -t[1])[:3]
            rest = "  ".join(f"{n} {p:.0%}" for n, p in top[1:])
            x, y, w, h = f.box
            click.echo(f"{path}: face {i + 1} at ({x},{y},{w}x{h}): {top[0][0]} {top[0][1]:.0%}   ({rest})")
    if failed or not done:
        sys.exit(1)


def _predict_record(r, names) -> dict[str, Any]:
    """One ``predict --json`` line."""
    rec = {
        "file": r.path,
        "error": r.error,
        "faces": [
            {
                "box": list(f.box),
                "label": f.label(names),
                "probs": {n: round(float(p), 4) for n, p in zip(names, f.probs)},
            }
            for f in r.faces
        ],
    }
    if r.annotated:
        rec["annotated"] = r.annotated
    return rec


@main.command(context_settings=CONTEXT)
@click.option("--camera", type=click.IntRange(min=0), help="Camera index (default 0).")
@click.option("--source", help="Video file or stream URL instead of a camera.")
@click.option("--picamera", is_flag=True, help="Raspberry Pi camera through picamera2.")
@click.option(
    "--smooth",
    default=SMOOTH,
    show_default=True,
    type=click.IntRange(min=MIN_FRAMES),
    help="Average each face's probabilities over N frames (1 = no smoothing).",
)
@click.option(
    "--detect-every",
    default=DETECT_EVERY,
    show_default=True,
    type=click.IntRange(min=MIN_FRAMES),
    help="Detect faces every k-th frame, carrying boxes in between (faces are classified every frame).",
)
@click.option("--mirror/--no-mirror", default=None, help="Selfie view (default: on for cameras, off for files).")
@click.option("--headless", is_flag=True, help="No window: log results (--output) and print a summary.")
@click.option("--output", type=click.Path(dir_okay=False), help="Per-frame results: .jsonl (JSON lines) or .csv.")
@click.option("--save-video", type=click.Path(dir_okay=False), help="Write the annotated video (.mp4).")
@click.option("--max-frames", type=click.IntRange(min=MIN_FRAMES), help="Stop after N frames (1 or more).")
@click.option(
    "--realtime",
    is_flag=True,
    help="Play --source FILE at its own frame rate, as a camera would give it: frames that arrive while one "
    "is processed are dropped and counted, latency is measured. Without it every frame of a file is processed.",
)
@click.option(
    "--reconnect",
    is_flag=True,
    help=f"A camera or stream that goes (unplugged, network) is reopened every {RECONNECT_S:g} s; "
    f"without it the run ends with one line and its summary (also after {STALL_S:g} s without a frame).",
)
@click.option("--width", type=click.IntRange(min=1), help="Ask the camera for this frame width (it says what it gave).")
@click.option("--height", type=click.IntRange(min=1), help="Ask the camera for this frame height.")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), help="Ask the camera for this frame rate.")
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False),
    help="Also write the emotion timeline report (timeline.png, summary.csv, report.html) into this folder.",
)
@_overlay_option("in the window and the --save-video file")
@detector_options(tta_default=LIVE_TTA)
@_fail_cleanly
def live(
    camera,
    source,
    picamera,
    smooth,
    detect_every,
    mirror,
    headless,
    output,
    save_video,
    max_frames,
    realtime,
    reconnect,
    width,
    height,
    fps,
    report_dir,
    overlay,
    model_path,
    unsafe,
    margin,
    **det,
):
    """Run on a webcam, video or Raspberry Pi camera: boxes, labels, probability bars, FPS.

    q or Esc quits the window. --headless runs without a screen and prints a summary.

    Cameras and streams are read in their own thread and only the newest frame is processed, so
    the picture never lags behind the camera; the summary says how many frames were captured,
    processed and dropped, and the latency from capture to result (also in --output).

    \b
    Examples:
      kerfer live                                  # webcam 0, shipped model
      kerfer live --picamera --detect-every 3      # Raspberry Pi
      kerfer live --source clip.mp4 --headless --output faces.jsonl --save-video out.mp4
      kerfer live --overlay emoji                  # an emoji beside each face
      kerfer live --width 1280 --height 720 --fps 30 --reconnect
      kerfer live --source clip.mp4 --headless --realtime   # as if the clip were a camera
      kerfer live --source clip.mp4 --headless --output faces.csv --report report/
    """
    from kerfer.paths import shown
    from kerfer.runtime.live import run_live
    from kerfer.runtime.video import CameraRequest, SourceError, check_source, open_source

    try:
        check_source(camera, source, picamera, names={n: f"--{n}" for n in ("camera", "source", "picamera")})
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    request = CameraRequest(width, height, fps)
    if request and source is not None:
        raise click.UsageError("--width/--height/--fps ask a camera for a mode: a --source video has its own")
    if realtime and source is None:
        raise click.UsageError("--realtime plays a --source FILE like a camera: a camera is real time already")
    if not headless:
        from kerfer.doctor import check_display

        display = check_display()  # before any window: an unreachable X server aborts inside Qt
        if not display.ok:
            raise KerferError(
                f"no display to show a window on ({display.detail}): add --headless, with --output or --save-video"
            )
    if report_dir is not None:
        from kerfer.paths import refuse_overwriting_inputs
        from kerfer.report import REPORT_FILES

        refuse_overwriting_inputs(  # before the run, not after it
            {f"the report's {v}": Path(report_dir) / v for v in REPORT_FILES.values()},
            {"the video (--source)": source, "the results log (--output)": output},
        )
    pipe = _pipeline(model_path, unsafe, margin, **det)
    try:
        frames, fps, name = open_source(
            camera, source, picamera, request=request, realtime=realtime, reconnect=reconnect
        )
    except SourceError as e:
        raise KerferError(str(e)) from e
    if mirror is None:
        mirror = source is None
    log = output
    tmp = None
    if report_dir is not None and output is None:  # the report reads the results log: keep one aside
        import tempfile

        tmp = tempfile.TemporaryDirectory(prefix="kerfer-live-")
        log = os.path.join(tmp.name, "faces.jsonl")
    summary = run_live(
        frames,
        pipe,
        smooth=smooth,
        detect_every=detect_every,
        mirror=mirror,
        show=not headless,
        output=log,
        save_video=save_video,
        video_fps=fps,
        max_frames=max_frames,
        overlay=overlay,
        progress=headless and source is not None and not realtime and not _is_stream(source),
    )
    d = summary.to_dict()
    if not d["frames"]:
        raise KerferError(
            summary.ended
            or f"{shown(name)}: no frame could be read ({d['failed_frames']} failed): "
            "the video is empty, or none of its frames decodes"
        )
    click.echo(
        f"{shown(name)}: {d['frames']} frames in {d['seconds']:.1f} s = {d['fps']:.1f} fps; "
        f"{d['faces']} faces ({d['faces_per_frame']:.2f}/frame); failed frames {d['failed_frames']}"
    )
    if summary.captured is not None:
        click.echo(
            f"captured {d['captured']}, processed {d['frames']}, dropped {d['dropped']} ({d['drop_rate']:.0%}); "
            f"latency capture→result median {d['latency_ms_median']:.0f} ms, p95 {d['latency_ms_p95']:.0f} ms"
            + (f"; reconnected {d['reconnects']}x" if d["reconnects"] else "")
        )
    if d["labels"]:
        click.echo("labels: " + ", ".join(f"{k} {v}" for k, v in d["labels"].items()))
    if report_dir is not None:
        try:
            _write_report(log, report_dir, video=source)
        finally:
            if tmp is not None:
                tmp.cleanup()
    if summary.ended:
        raise KerferError(summary.ended)


def _is_stream(source: str | None) -> bool:
    return source is not None and "://" in source


def _command_line() -> str:
    """The command as it was given (the options typed, in their canonical spelling), for the report
    to say what made it; built from click's parse, so it is right however kerfer was started."""
    import shlex

    ctx = click.get_current_context()
    words = ["kerfer", ctx.info_name or ""]
    for param in ctx.command.params:
        if ctx.get_parameter_source(param.name) != click.core.ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[param.name]
        if isinstance(param, click.Argument):
            words += [str(v) for v in (value if isinstance(value, (tuple, list)) else [value])]
        elif getattr(param, "is_flag", False):
            flag = param.opts[0] if value else (param.secondary_opts or param.opts)[0]
            words.append(flag)
        else:
            words += [param.opts[0], str(value)]
    return " ".join(shlex.quote(w) for w in words)


def _write_report(log, out_dir, video=None) -> None:
    """``report`` and ``live --report``: the files, then one line naming the page."""
    from kerfer.paths import shown
    from kerfer.report import read_records, write_report

    records = read_records(log)
    result = write_report(records, out_dir, video=video, command=_command_line(), inputs={"the results log": log})
    kept = len(result.tracks)
    click.echo(
        f"report: {shown(result.files['html'])} ({kept} track{'s' if kept != 1 else ''}"
        + (f", {result.left_out} short ones left out" if result.left_out else "")
        + ")"
    )
    if result.missing:
        click.echo(result.missing, err=True)


_REPORT_HELP = """Emotion timeline report from a `kerfer live --output` log (.csv or .jsonl).

    Writes timeline.png (each tracked face's emotions over video time, with its top emotion and,
    with --video, its thumbnail), summary.csv (per track: first/last time, frames, share of time
    and mean probability per emotion, dominant emotion) and report.html (one self-contained page).
    Tracks seen for less than {min_s:g} s are flicker: left out and counted.

    \b
    Examples:
      kerfer live --source talk.mp4 --headless --output faces.csv
      kerfer report faces.csv --video talk.mp4 --out report/
"""


@main.command(context_settings=CONTEXT, help=_REPORT_HELP.format(min_s=REPORT_MIN_TRACK_S))
@click.argument("log", type=click.Path(dir_okay=False))
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the report's files."
)
@click.option("--video", type=click.Path(dir_okay=False), help="The video the log came from: adds face thumbnails.")
@_fail_cleanly
def report(log, out_dir, video):
    """A thin layer over :func:`kerfer.report.write_report` (help: ``_REPORT_HELP``)."""
    _write_report(log, out_dir, video=video)


@main.command(context_settings=CONTEXT)
def doctor() -> None:
    """Check this install before opening a bug: versions, devices, what `auto` picks, detectors,
    the shipped model, display and camera; each with ✓/✗ and what to do about a ✗."""
    from kerfer.doctor import format_table, run_checks

    click.echo(format_table(run_checks()))


@main.command(context_settings=CONTEXT)
@_needs_training_kit
def archs() -> None:
    """List the model architectures, their parameter counts and shipped pretrained weights."""
    from kerfer.models import build_model, list_architectures
    from kerfer.models.pretrained import list_shipped_weights

    shipped = list_shipped_weights()
    for name, summary in list_architectures().items():
        params = build_model(name).count_params()
        weights = f"  [weights: {', '.join(shipped[name])}]" if name in shipped else ""
        click.echo(f"{name:8s} {params / 1e6:5.2f}M params  {summary}{weights}")


@main.command(context_settings=CONTEXT)
@click.argument("src", type=click.Path(file_okay=False, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--roi",
    type=click.Choice(ROIS),
    default=ROIS[0],
    show_default=True,
    help="Region to crop: the whole face (as predict sees it), the mouth, or the eyes.",
)
@click.option(
    "--size",
    default=CROP_SIZE,
    show_default=True,
    type=click.IntRange(min=MIN_CROP_SIZE, max=MAX_CROP_SIZE),
    help="Crop side (px).",
)
@click.option("--grayscale/--color", default=True, show_default=True, help="Write 1-channel or 3-channel crops.")
@click.option(
    "--on-multiple",
    type=click.Choice(ON_MULTIPLE),
    default=ON_MULTIPLE[0],
    show_default=True,
    help="A photo with several faces: set it aside under OUT/_rejected, or crop its largest face.",
)
@finder_options
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr (shown only on a terminal).")
@_fail_cleanly
def crop(
    src, out, roi, size, grayscale, on_multiple, detector, yunet_model, min_score, min_face, align, margin, progress
):
    """Build a training image folder from photos: detect, align and crop every face.

    SRC holds SRC/<class>/*.jpg or SRC/<split>/<class>/*.jpg; OUT gets the same layout with one
    SIZE x SIZE PNG per photo, ready for `kerfer train --data`. Photos with no face, with several
    faces (unless --on-multiple largest) or that cannot be read are copied to OUT/_rejected/ (which
    train ignores), and every photo has a row in OUT/crop_report.csv. Re-running into the same OUT
    overwrites nothing but each photo's own crop. Exit status 1 if nothing was cropped.

    \b
    Examples:
      kerfer crop photos/ data/faces                     # photos/train/happy/*.jpg -> data/faces/train/happy/*.png
      kerfer crop photos/ data/mouths --roi mouth --size 64
      kerfer crop photos/ data/faces --color --on-multiple largest
      kerfer train --data data/faces --train-split train --val-split test --out runs/faces
    """
    from kerfer.runtime.cropping import REJECTED, crop_dataset

    det = _detector(
        detector=detector,
        yunet_model=yunet_model,
        scale_factor=HAAR_SCALE_FACTOR,
        min_neighbors=HAAR_MIN_NEIGHBORS,
        min_face=min_face,
        detect_size=DETECT_SIZE,
        min_score=min_score,
    )
    report = crop_dataset(
        src,
        out,
        roi=roi,
        size=size,
        grayscale=grayscale,
        detector=det,
        progress=progress,
        on_multiple=on_multiple,
        align=align,
        margin=margin,
    )
    colour = "grayscale" if grayscale else "colour"
    click.echo(
        f"cropped {report.cropped} of {len(report.rows)} photos ({roi}, {size}x{size} {colour}) into {out} "
        f"in {report.seconds:.1f} s:"
    )
    for group, n in report.per_class.items():
        click.echo(f"  {group}: {n}")
    for status, what in (("no_face", "no face"), ("multiple_faces", "several faces"), ("unreadable", "unreadable")):
        n = report.count(status)
        if not n:
            continue
        if status == "multiple_faces" and on_multiple == "largest":
            click.echo(f"{what}: {n} (cropped the largest face of each)")
        else:
            hint = "; --on-multiple largest crops the largest face" if status == "multiple_faces" else ""
            copied = sum(r.status == status and r.output.startswith(f"{REJECTED}/") for r in report.rows)
            if copied < n:
                hint += f"; {n - copied} could not be read at all: see the report"
            click.echo(f"{what}: {n} (copied to {Path(out) / REJECTED / status}{hint})")
    if report.ignored:
        shown = ", ".join(str(p.relative_to(src)) for p in report.ignored[:3])
        more = ", ..." if len(report.ignored) > 3 else ""
        click.echo(f"not read: {len(report.ignored)} file(s) outside class folders or of other types ({shown}{more})")
    click.echo(f"report: {report.report_path}")
    if not report.cropped:
        click.echo("kerfer: no face was cropped: nothing to train on", err=True)
        sys.exit(1)
    empty = [g for g, n in report.per_class.items() if not n]
    if empty:
        click.echo(f"warning: no crops for {', '.join(empty)}", err=True)
    click.echo(f"next: {report.train_command()}")
    if size != 48 or not grayscale:
        settings = json.dumps({"image_size": size, "color_mode": "grayscale" if grayscale else "rgb"})
        click.echo(f"      (train reads 48x48 grayscale unless a --config JSON sets {settings})")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
