"""The ``kerfer`` command: a thin click layer over the Python API.

Heavy imports (TensorFlow) happen inside each command, so ``kerfer --help`` is instant and
``kerfer live`` with a TFLite model never loads TensorFlow.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class KerferError(click.ClickException):
    """An expected failure: printed as one clear line, exit status 1."""


def _fail_cleanly(fn):
    """Turns the errors users can cause (bad data, missing files) into one-line messages."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from kerfer.data.errors import DataError

        try:
            return fn(*args, **kwargs)
        except (DataError, FileNotFoundError, FileExistsError, PermissionError, ValueError) as e:
            raise KerferError(str(e)) from e
        except OSError as e:
            raise KerferError(f"{e.strerror or e}: {e.filename}" if e.filename else str(e)) from e

    return wrapper


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="kerfer")
def main() -> None:
    """kerfer: facial expression recognition with Keras.

    \b
    Typical session:
      kerfer train --csv fer2013.csv.gz --arch vgg --epochs 30 --out runs/vgg
      kerfer evaluate runs/vgg --csv fer2013.csv.gz --split PublicTest
      kerfer export runs/vgg --saved-model --tflite int8
      kerfer predict photo.jpg
      kerfer live --camera 0

    Run `kerfer COMMAND --help` for each command's options.
    """


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
    type=click.Choice(["plateau", "cosine", "constant"]),
    help="plateau = ReduceLROnPlateau (default); cosine = warmup + cosine decay to 0.",
)
@click.option("--warmup-epochs", type=int, help="Linear warmup epochs (cosine schedule).")
@click.option("--label-smoothing", type=float, help="Default: 0.1.")
@click.option("--class-weights", "class_weights", help="none | sqrt | balanced | a power (0..1). Lifts rare classes.")
@click.option("--no-augment", is_flag=True, default=None, help="Turn off flip/shift/rotate/zoom/brightness/contrast.")
@click.option("--classes", help="Comma-separated subset, e.g. angry,happy,sad,surprise (the 4-class model).")
@click.option("--train-split", help="Default: Training.")
@click.option("--val-split", help="Validation split. Default: PublicTest. 'none' for no validation.")
@click.option("--labels", type=click.Choice(["fer2013", "ferplus"]), help="Label source (ferplus needs --ferplus-csv).")
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
@click.option("--seed", type=int, help="Random seed (weights, shuffling, augmentation).")
@click.option("--early-stopping", "early_stopping_patience", type=int, help="Stop after N epochs without improvement.")
@click.option("--tensorboard", is_flag=True, default=None, help="Also write TensorBoard logs.")
@click.option(
    "--on-bad-row", type=click.Choice(["error", "skip"]), help="Bad CSV rows: stop (default) or skip and count."
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
@_fail_cleanly
def train(
    csv_path,
    data_dir,
    config_file,
    arch_option,
    classes,
    class_weights,
    no_augment,
    val_split,
    run_dir,
    resume,
    **flags,
):
    """Train a model on FER2013 (--csv) or an image folder (--data).

    \b
    Examples:
      kerfer train --csv fer2013.csv.gz --arch vgg --epochs 30 --out runs/vgg
      kerfer train --config configs/default.json --csv fer2013.csv.gz --out runs/default
      kerfer train --out runs/vgg --resume          # after an interruption
    """
    import kerfer.train as t

    if resume:
        result = t.train(None, run_dir, resume=True)
        return result
    base: dict[str, Any] = {}
    if config_file:
        base = json.loads(open(config_file).read())
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
    cfg = t.TrainConfig.from_dict({**base, **updates})
    cfg.validate()
    t.train(cfg, run_dir)


@main.command(context_settings=CONTEXT)
@click.argument("model", required=False, type=click.Path(exists=True))
@click.option("--model", "model_opt", type=click.Path(exists=True), help="Same as the MODEL argument.")
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
@_fail_cleanly
def evaluate(model, model_opt, csv_path, data_dir, split, tta, out_dir, as_json, unsafe):
    """Evaluate a model: accuracy, per-class precision/recall/F1, confusion matrix.

    MODEL is a run directory (its best.keras), a .keras file, a SavedModel directory or a
    .tflite file; without it, the model shipped with kerfer is evaluated.

    \b
    Examples:
      kerfer evaluate --csv fer2013.csv.gz                      # the shipped model
      kerfer evaluate runs/vgg --csv fer2013.csv.gz --tta
      kerfer evaluate exports/vgg/model_int8.tflite --csv fer2013.csv.gz --json
    """
    from kerfer.evaluate import evaluate as run_eval

    result = run_eval(
        model or model_opt, csv=csv_path, data=data_dir, split=split, tta=tta, out_dir=out_dir, unsafe=unsafe
    )
    if as_json:
        click.echo(json.dumps(result.to_dict()))
        return
    click.echo(f"model: {result.model}")
    click.echo(f"split: {split}  ({int(result.plain.per_class['support'].sum())} images)")
    click.echo(result.plain.per_class.to_string(float_format=lambda v: f"{v:.3f}"))
    line = f"accuracy: {result.plain.accuracy:.2%}"
    if result.tta:
        line += f"   with flip TTA: {result.tta.accuracy:.2%}"
    click.echo(line)
    for path in result.files.values():
        click.echo(f"wrote {path}")


@main.command(context_settings=CONTEXT)
def archs() -> None:
    """List the model architectures with their parameter counts."""
    from kerfer.models import build_model, list_architectures

    for name, summary in list_architectures().items():
        params = build_model(name).count_params()
        click.echo(f"{name:8s} {params / 1e6:5.2f}M params  {summary}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
