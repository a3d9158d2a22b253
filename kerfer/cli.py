"""The ``kerfer`` command: a thin click layer over the Python API.

Heavy imports (TensorFlow) happen inside each command, so ``kerfer --help`` is instant and
``kerfer live`` with a TFLite model never loads TensorFlow.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click

from kerfer import kit
from kerfer import options as opts
from kerfer.flags import data_options, train_options, train_overrides, typed_command, with_options

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _shown(flag: str, default, type=None, help: str = "", **kw):
    """An option whose default (the API's, from kerfer.options) --help shows."""
    return click.option(flag, default=default, show_default=True, type=type, help=help, **kw)


class KerferError(click.ClickException):
    """An expected failure: printed as one clear line, exit status 1."""


def _fail_cleanly(fn):
    """Turns the errors users can cause (bad data, missing files) into one-line messages, and
    options that do not fit together into usage errors on the flag at fault."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from kerfer.console import user_error
        from kerfer.errors import OptionError

        try:
            return fn(*args, **kwargs)
        except OptionError as e:
            if e.option is None:
                raise click.UsageError(e.message) from None
            raise click.BadParameter(e.message, param_hint="--" + e.option.replace("_", "-")) from e
        except Exception as e:
            message = user_error(e, f"kerfer {fn.__name__}")
            if message is None:
                raise
            raise KerferError(message) from e

    return wrapper


def _needs_training_kit(fn):
    """For commands that need TensorFlow: one line with the install command when it is missing."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            kit.require_training_kit(f"kerfer {fn.__name__}")
        except kit.MissingTrainingKit as e:
            raise KerferError(str(e)) from None
        return fn(*args, **kwargs)

    return wrapper


class KerferGroup(click.Group):
    """Lists the commands in two groups, saying whether this install can run the training ones."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        commands = [(n, c) for n in self.list_commands(ctx) if (c := self.get_command(ctx, n)) and not c.hidden]
        limit = formatter.width - 6 - max(len(n) for n, _ in commands)
        runtime = [(n, c.get_short_help_str(limit)) for n, c in commands if n not in kit.TRAINING_COMMANDS]
        training = [(n, c.get_short_help_str(limit)) for n, c in commands if n in kit.TRAINING_COMMANDS]
        with formatter.section("Runtime commands (any install)"):
            formatter.write_dl(runtime)
        missing = kit.missing_training_packages()
        state = f"not in this install: {kit.TRAIN_INSTALL}" if missing else "installed"
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
      kerfer evaluate --model runs/vgg --csv fer2013.csv.gz --split PublicTest
      kerfer export --model runs/vgg --tflite int8 --csv fer2013.csv.gz
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


def command(kit: bool = False, clean: bool = True, **settings):
    """A ``kerfer`` subcommand: (``clean``) the errors a user can cause as one line, (``kit``) the
    training kit checked first. Put it above the command's options, as ``main.command``."""

    def decorate(fn):
        if kit:
            fn = _needs_training_kit(fn)
        return main.command(context_settings=CONTEXT, **settings)(_fail_cleanly(fn) if clean else fn)

    return decorate


unsafe_option = click.option(
    "--unsafe", is_flag=True, help="Allow .keras files with Lambda layers (only for files you trust)."
)

MODEL_HELP = (
    "Run directory (its best.keras), .keras, .tflite or SavedModel directory, or a shipped model: 'fer2013' "
    "(FER2013's 7 emotions, the default; alias 'shipped') or 'ferplus' (FER+'s 8, with contempt)."
)


def model_option(help: str = MODEL_HELP, exists: bool = False, old_argument: bool = False):
    """``--model``, the one way every command names its model. ``old_argument``: the MODEL
    argument the command once took still works, with a one-line deprecation message."""

    def decorate(fn):
        fn = click.option("--model", "model", type=click.Path(exists=exists), help=help)(fn)
        if not old_argument:
            return fn
        fn = click.argument("old_model", required=False, metavar="", type=click.Path(exists=exists))(fn)

        @functools.wraps(fn)
        def wrapper(*args, old_model=None, model=None, **kwargs):
            if old_model is not None:
                if model is not None:
                    raise click.UsageError(f"give the model once: --model {model} or {old_model}, not both")
                click.echo(f"kerfer: the MODEL argument is deprecated: use --model {old_model}", err=True)
            return fn(*args, model=model or old_model, **kwargs)

        return wrapper

    return decorate


@command(kit=True)
@train_options
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
def train(config_file, run_dir, resume, from_pack, csv_path, data_dir, no_cache, no_augment, **flags):
    """Train a model on FER2013 (--csv) or an image folder (--data).

    Every option is a key of the JSON config (`--lr` is learning_rate, `--class-weights`
    class_weight_power); `--resume` can change only the epochs, the data paths and the step decay.

    \b
    Examples:
      kerfer train --csv fer2013.csv.gz --arch vgg --epochs 30 --out runs/vgg
      kerfer train --config configs/default.json --csv fer2013.csv.gz --out runs/default
      kerfer train --out runs/vgg --resume          # after an interruption
      kerfer pack runs/vgg packs/vgg                # on machine A: the resumable state, ~2 bytes/weight
      kerfer train --out runs/vgg --resume --from-pack packs/vgg --csv fer2013.csv.gz   # on machine B
      kerfer train --data my_photos/ --classes angry,happy,sad,surprise --init-from fer2013 \\
          --freeze-backbone-epochs 2 --epochs 8 --lr 3e-4 --out runs/mine   # fine-tune kerfer's model
    """
    import kerfer.training as t

    if from_pack:
        if not resume:
            raise click.UsageError("--from-pack continues a packed run: add --resume")
        from kerfer.portable import continue_from_pack

        click.echo(f"kerfer: {continue_from_pack(from_pack, run_dir)}", err=True)
    overrides = train_overrides({**flags, "csv": csv_path, "data": data_dir}, no_cache, no_augment)
    try:
        t.train(config_file, run_dir, resume=resume, overrides=overrides)
    except t.TrainingInterrupted as e:
        click.echo(f"kerfer: {e}", err=True)
        sys.exit(130)


@command(kit=True)
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
@_shown(
    "--dtype",
    opts.STORE_DTYPES[0],
    click.Choice(opts.STORE_DTYPES),
    "How the weights and optimizer state are stored: float16 halves the size (a rounding "
    "far below one training step's noise).",
)
def pack(run_dir, out_dir, dtype):
    """Pack a run's resumable state (last finished epoch, optimizer state, step count, best
    weights, config and history) into OUT_DIR, small enough to commit or copy; a previous pack
    there is replaced. Another machine continues it with
    `kerfer train --out RUN --resume --from-pack OUT_DIR`. Safe while the run is training.

    \b
    Example:
      kerfer pack runs/long packs/long
    """
    from kerfer.portable import pack_run

    click.echo(pack_run(run_dir, out_dir, dtype=dtype).line(run_dir))


@command(kit=True)
@model_option(old_argument=True)
@data_options()
@_shown("--split", opts.EVAL_SPLIT, help="Split to evaluate on.")
@click.option("--tta", is_flag=True, help="Also report test-time augmentation (mean of image and its mirror).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Where to write metrics CSV/JSON and the confusion PNG (default: the run directory).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@unsafe_option
def evaluate(model, csv_path, data_dir, split, tta, out_dir, as_json, unsafe, no_cache):
    """Evaluate a model: accuracy, per-class precision/recall/F1, confusion matrix.

    --model 'ferplus' (kerfer's FER+ model) is evaluated on FER+ labels from fer2013new.csv(.gz)
    beside --csv, by FERPlus' majority rule.

    \b
    Examples:
      kerfer evaluate --csv fer2013.csv.gz                      # the shipped model
      kerfer evaluate --model runs/vgg --csv fer2013.csv.gz --tta
      kerfer evaluate --model ferplus --csv fer2013.csv.gz      # the shipped FER+ model
      kerfer evaluate --model exports/vgg/model_int8.tflite --csv fer2013.csv.gz --json
    """
    from kerfer.evaluation import evaluate as run_eval

    result = run_eval(
        model,
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
    for line in result.lines():
        click.echo(line)


@command(kit=True)
@model_option("Run directory (its best.keras) or .keras file to export.", exists=True, old_argument=True)
@_shown("--saved-model/--no-saved-model", True, help="Write a TF SavedModel.")
@click.option(
    "--tflite",
    "tflite_kinds",
    multiple=True,
    type=click.Choice(opts.TFLITE_KINDS),
    help=f"TFLite variant(s) to write; repeatable. Default: {', '.join(opts.EXPORT_TFLITE)}.",
)
@data_options(purpose=" For int8 calibration images (Training) and the parity split.")
@_shown(
    "--calibration-samples",
    opts.CALIBRATION_SAMPLES,
    help="int8 calibration images from the run's training split, stratified by class (at least 1).",
)
@_shown(
    "--parity-split",
    "auto",
    help="Split for the parity report: auto = the run's validation split (PublicTest for a CSV, val for a "
    "folder, without a run), or 'none' to skip.",
)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder. Default: exports/<run name>.")
@unsafe_option
def export(
    model, saved_model, tflite_kinds, csv_path, data_dir, calibration_samples, parity_split, out_dir, unsafe, no_cache
):
    """Export a trained model to SavedModel and TFLite, with a parity report.

    The report compares each file's accuracy with the Keras model's, their top-1 agreement, size and 1-thread latency.

    \b
    Examples:
      kerfer export --model runs/vgg --tflite int8 --csv fer2013.csv.gz
      kerfer export --model runs/vgg --tflite float32 --tflite float16 --tflite dynamic --tflite int8 --csv fer2013.csv.gz
    """
    from kerfer.exporting import export as run_export

    if model is None:
        raise click.UsageError("Missing option '--model': the run directory or .keras file to export")
    split = None if parity_split.lower() == "none" or (csv_path is None and data_dir is None) else parity_split
    result = run_export(
        model,
        out_dir,
        saved_model=saved_model,
        tflite=tflite_kinds or opts.EXPORT_TFLITE,
        csv=csv_path,
        data=data_dir,
        calibration_samples=calibration_samples,
        parity_split=split,
        unsafe=unsafe,
        parse_cache=False if no_cache else None,
    )
    for line in result.lines():
        click.echo(line)


def _check_detect_size(ctx, param, value: int) -> int:
    """--detect-size is 0 (full size) or a usable longest side."""
    if value != 0 and value < opts.MIN_DETECT_SIZE:
        raise click.BadParameter(f"{value} is not 0 (full size) or >= {opts.MIN_DETECT_SIZE}", ctx, param)
    return value


def _finder_options() -> list:
    """How faces are found and cropped: the options ``predict``, ``live`` and ``crop`` share."""
    return [
        _shown(
            "--detector",
            opts.DETECTOR,
            click.Choice(opts.DETECTORS),
            "Face detector: BlazeFace (learned, shipped; finds tilted and small faces, gives the eyes and "
            "mouth), OpenCV's Haar cascade (the seed projects' detector; no keypoints), or YuNet (needs --yunet-model).",
        ),
        click.option("--yunet-model", type=click.Path(exists=True, dir_okay=False), help="YuNet ONNX file (.onnx)."),
        click.option(
            "--min-score",
            type=click.FloatRange(min=0.0, max=1.0, min_open=True, max_open=True),
            help=f"BlazeFace/YuNet: face probability to keep a detection (default {opts.BLAZEFACE_MIN_SCORE:g} / "
            f"{opts.YUNET_MIN_SCORE:g}); higher = fewer false faces.",
        ),
        _shown(
            "--align/--no-align",
            True,
            help=f"Turn faces tilted past {opts.ALIGN_MIN_DEGREES:g} degrees upright by their eye line before cropping "
            "(BlazeFace/YuNet).",
        ),
        _shown(
            "--min-face",
            opts.MIN_FACE,
            click.IntRange(min=1),
            "Smallest face (px; Haar: in the downscaled detection image, BlazeFace: in the frame).",
        ),
        _shown(
            "--margin",
            opts.MARGIN,
            click.FloatRange(min=0.0, max=opts.MAX_MARGIN),
            f"Padding around each face crop (fraction of the box, 0 to {opts.MAX_MARGIN:g}).",
        ),
    ]


def finder_options(fn):
    """The shared face-finding options alone (``crop``)."""
    return with_options(fn, _finder_options())


def detector_options(tta_default: bool):
    """The detector, crop and model options of ``predict`` and ``live``; ``tta_default`` is the command's --tta."""
    return lambda fn: with_options(
        fn,
        [
            *_finder_options(),
            _shown(
                "--scale-factor",
                opts.HAAR_SCALE_FACTOR,
                click.FloatRange(min=1.0, min_open=True),
                "Haar: image pyramid step (> 1.0).",
            ),
            _shown(
                "--min-neighbors", opts.HAAR_MIN_NEIGHBORS, click.IntRange(min=0), "Haar: higher = fewer false faces."
            ),
            click.option(
                "--detect-size",
                default=opts.DETECT_SIZE,
                show_default=True,
                callback=_check_detect_size,
                help="Haar/YuNet: downscale frames to this longest side before detecting "
                f"(0 = full size, else >= {opts.MIN_DETECT_SIZE}; BlazeFace always sees {opts.BLAZEFACE_SIZE}x{opts.BLAZEFACE_SIZE}).",
            ),
            model_option(),
            unsafe_option,
            _shown(
                "--tta/--no-tta",
                tta_default,
                help="Flip test-time augmentation: average each face with its mirror image (one batch).",
            ),
        ],
    )


def _overlay_option(where: str):
    return _shown(
        "--overlay",
        opts.OVERLAY,
        click.Choice(opts.OVERLAY_STYLES),
        f"How each face is drawn {where}: bars = box, label and a probability bar per class; "
        "label = box and label only; emoji = box, label and an emoji of the top expression beside the face.",
    )


@command()
@click.argument("images", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image (JSON lines).")
@click.option("--save-annotated", type=click.Path(file_okay=False), help="Write images with boxes and labels here.")
@_overlay_option("in the --save-annotated images")
@detector_options(tta_default=opts.PREDICT_TTA)
def predict(images, as_json, save_annotated, overlay, model, unsafe, margin, **det):
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
    from kerfer.runtime.pipeline import make_pipeline
    from kerfer.runtime.predict import predict_images, scan_inputs

    pipe = make_pipeline(model, unsafe=unsafe, margin=margin, **det)
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
            click.echo(json.dumps(r.to_dict(names)))
        else:
            for line in r.lines(names):
                click.echo(line, err=bool(r.error))
    if failed or not done:
        sys.exit(1)


@command()
@click.option("--camera", type=click.IntRange(min=0), help="Camera index (default 0).")
@click.option("--source", help="Video file or stream URL instead of a camera.")
@click.option("--picamera", is_flag=True, help="Raspberry Pi camera through picamera2.")
@_shown(
    "--smooth",
    opts.SMOOTH,
    click.IntRange(min=opts.MIN_FRAMES),
    "Average each face's probabilities over N frames (1 = no smoothing).",
)
@_shown(
    "--detect-every",
    opts.DETECT_EVERY,
    click.IntRange(min=opts.MIN_FRAMES),
    "Detect faces every k-th frame, carrying boxes in between (faces are classified every frame).",
)
@click.option("--mirror/--no-mirror", default=None, help="Selfie view (default: on for cameras, off for files).")
@click.option("--headless", is_flag=True, help="No window: log results (--output) and print a summary.")
@click.option("--output", type=click.Path(dir_okay=False), help="Per-frame results: .jsonl (JSON lines) or .csv.")
@click.option("--save-video", type=click.Path(dir_okay=False), help="Write the annotated video (.mp4).")
@click.option("--max-frames", type=click.IntRange(min=opts.MIN_FRAMES), help="Stop after N frames (1 or more).")
@click.option(
    "--realtime",
    is_flag=True,
    help="Play --source FILE at its own frame rate, as a camera would give it: frames that arrive while one "
    "is processed are dropped and counted, latency is measured. Without it every frame of a file is processed.",
)
@click.option(
    "--reconnect",
    is_flag=True,
    help=f"A camera or stream that goes (unplugged, network) is reopened every {opts.RECONNECT_S:g} s; "
    f"without it the run ends with one line and its summary (also after {opts.STALL_S:g} s without a frame).",
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
@detector_options(tta_default=opts.LIVE_TTA)
def live(camera, source, picamera, width, height, fps, realtime, **options):
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
    from kerfer.runtime.live import live_session
    from kerfer.runtime.video import CameraRequest, check_source

    try:
        check_source(camera, source, picamera, names={n: f"--{n}" for n in ("camera", "source", "picamera")})
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    request = CameraRequest(width, height, fps)
    if request and source is not None:
        raise click.UsageError("--width/--height/--fps ask a camera for a mode: a --source video has its own")
    if realtime and source is None:
        raise click.UsageError("--realtime plays a --source FILE like a camera: a camera is real time already")
    live_session(
        camera=camera,
        source=source,
        picamera=picamera,
        request=request,
        realtime=realtime,
        write_report=_write_report,
        echo=click.echo,
        **options,
    )


def _write_report(log, out_dir, video=None) -> None:
    """``report`` and ``live --report``: the files, then one line naming the page."""
    from kerfer.report import read_records, write_report

    records = read_records(log)
    result = write_report(
        records,
        out_dir,
        video=video,
        command=typed_command(click.get_current_context()),
        inputs={"the results log": log},
    )
    click.echo(result.line())
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


@command(help=_REPORT_HELP.format(min_s=opts.REPORT_MIN_TRACK_S))
@click.argument("log", type=click.Path(dir_okay=False))
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the report's files."
)
@click.option("--video", type=click.Path(dir_okay=False), help="The video the log came from: adds face thumbnails.")
def report(log, out_dir, video):
    """A thin layer over :func:`kerfer.report.write_report` (help: ``_REPORT_HELP``)."""
    _write_report(log, out_dir, video=video)


@command(clean=False)
def doctor() -> None:
    """Check this install before opening a bug: versions, devices, what `auto` picks, detectors,
    the shipped model, display and camera; each with ✓/✗ and what to do about a ✗."""
    from kerfer.doctor import format_table, run_checks

    click.echo(format_table(run_checks()))


@command(kit=True, clean=False)
def archs() -> None:
    """List the model architectures, their parameter counts and shipped pretrained weights."""
    from kerfer.models import architecture_lines

    for line in architecture_lines():
        click.echo(line)


@command()
@click.argument("src", type=click.Path(file_okay=False, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@_shown(
    "--roi",
    opts.ROIS[0],
    click.Choice(opts.ROIS),
    "Region to crop: the whole face (as predict sees it), the mouth, or the eyes.",
)
@_shown("--size", opts.CROP_SIZE, click.IntRange(min=opts.MIN_CROP_SIZE, max=opts.MAX_CROP_SIZE), "Crop side (px).")
@_shown("--grayscale/--color", True, help="Write 1-channel or 3-channel crops.")
@_shown(
    "--on-multiple",
    opts.ON_MULTIPLE[0],
    click.Choice(opts.ON_MULTIPLE),
    "A photo with several faces: set it aside under OUT/_rejected, or crop its largest face.",
)
@finder_options
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr (shown only on a terminal).")
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
    from kerfer.runtime.cropping import crop_dataset
    from kerfer.runtime.detect import make_detector

    det = make_detector(detector, yunet_model=yunet_model, min_face=min_face, min_score=min_score)
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
    for line in report.summary_lines():
        click.echo(line)
    if not report.cropped:
        click.echo("kerfer: no face was cropped: nothing to train on", err=True)
        sys.exit(1)
    empty = [g for g, n in report.per_class.items() if not n]
    if empty:
        click.echo(f"warning: no crops for {', '.join(empty)}", err=True)
    click.echo(f"next: {report.train_command()}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
