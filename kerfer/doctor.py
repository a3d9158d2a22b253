"""``kerfer doctor``: what this machine has and what kerfer would do on it, before a bug report.

Each check is a plain function returning a :class:`Check`; none may raise, so a broken or
partial install (no TensorFlow, no LiteRT, no camera) still prints its whole table.
TensorFlow is imported lazily, inside a check.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path

from kerfer.kit import TFLITE_INSTALL, TRAIN_INSTALL, TRAINING_COMMANDS, missing_training_packages


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    """What to do about a failed check (empty when ``ok``)."""


def _version(module: str, attr: str = "__version__") -> str:
    return str(getattr(importlib.import_module(module), attr, "?"))


def _package(name: str, module: str, fix: str) -> Callable[[], Check]:
    def check() -> Check:
        try:
            return Check(name, True, _version(module))
        except Exception as e:  # noqa: BLE001 - a broken install is what doctor reports
            return Check(name, False, f"not importable ({type(e).__name__}: {str(e).splitlines()[0][:80]})", fix)

    return check


TF_FIX = (
    "needed by train, evaluate, export and .keras/SavedModel models (not by predict/live with a .tflite): "
    + TRAIN_INSTALL
)


def check_kerfer() -> Check:
    import kerfer

    return Check("kerfer", True, f"{kerfer.__version__} at {Path(kerfer.__file__).parent}")


def command_names() -> list[str]:
    """Every ``kerfer`` command, as the click group lists them (a new command is never missed)."""
    import click

    from kerfer.cli import main

    return main.list_commands(click.Context(main))


def check_commands() -> Check:
    """Which kerfer commands this install can run: all, or the runtime ones only."""
    names = command_names()
    runtime = ", ".join(n for n in names if n not in TRAINING_COMMANDS)
    training = ", ".join(n for n in names if n in TRAINING_COMMANDS)
    missing = missing_training_packages()
    if not missing:
        return Check("commands", True, f"all: {', '.join(names)}")
    return Check(
        "commands",
        False,
        f"runtime only: {runtime}; {training} need the training kit ({', '.join(missing)} missing)",
        TRAIN_INSTALL + " (not needed to run .tflite models)",
    )


def check_python() -> Check:
    ok = sys.version_info >= (3, 10)
    return Check("Python", ok, platform.python_version(), "" if ok else "kerfer needs Python 3.10 or newer")


def _tensorflow():
    """TensorFlow, or None when it cannot be imported (a runtime-only install)."""
    try:
        import tensorflow as tf

        return tf
    except Exception:  # noqa: BLE001
        return None


def check_devices() -> Check:
    tf = _tensorflow()
    if tf is None:
        return Check("devices", False, "unknown: TensorFlow is not importable", "see the TensorFlow row")
    gpus = tf.config.list_physical_devices("GPU")
    cpus = os.cpu_count() or 1
    if not gpus:
        return Check("devices", True, f"CPU only ({cpus} cores): training runs on the CPU")
    names = []
    for g in gpus:
        try:
            names.append(tf.config.experimental.get_device_details(g).get("device_name", g.name))
        except Exception:  # noqa: BLE001
            names.append(g.name)
    return Check("devices", True, f"{len(gpus)} GPU(s): {', '.join(names)}; {cpus} CPU cores")


def check_auto_choices() -> Check:
    """What ``--precision auto``, ``--augment-on auto`` and the strategy would do here."""
    tf = _tensorflow()
    if tf is None:
        return Check("auto choices", False, "unknown: TensorFlow is not importable", "see the TensorFlow row")
    from kerfer.training import choose_augment_on, choose_precision

    gpus = tf.config.list_physical_devices("GPU")
    precision = choose_precision("auto", gpus)
    augment = choose_augment_on("auto", gpus)
    strategy = "default (one device)"
    if len(gpus) > 1:
        strategy += f"; add --strategy mirrored to train on all {len(gpus)} GPUs"
    return Check("auto choices", True, f"precision {precision}, augmentation on {augment}, strategy {strategy}")


def check_blazeface() -> Check:
    try:
        import numpy as np

        from kerfer.runtime.blazeface import BlazeFaceDetector

        BlazeFaceDetector().detect(np.zeros((64, 64, 3), np.uint8))
        return Check("BlazeFace face detector", True, "loads and runs (the default --detector)")
    except Exception as e:  # noqa: BLE001
        return Check(
            "BlazeFace face detector",
            False,
            str(e).splitlines()[0][:120],
            "pip install ai-edge-litert (or use --detector haar)",
        )


def check_haar() -> Check:
    try:
        import numpy as np

        from kerfer.runtime.detect import HaarDetector

        HaarDetector().detect(np.zeros((64, 64), np.uint8))
        return Check("Haar face detector", True, "loads and runs")
    except Exception as e:  # noqa: BLE001
        return Check("Haar face detector", False, str(e).splitlines()[0][:120], "pip install 'opencv-python>=4.8,<5'")


def check_yunet() -> Check:
    try:
        import cv2

        ok = hasattr(cv2, "FaceDetectorYN")
    except Exception:  # noqa: BLE001
        ok = False
    if ok:
        return Check(
            "YuNet detector support", True, "cv2.FaceDetectorYN present (--detector yunet --yunet-model F.onnx)"
        )
    return Check(
        "YuNet detector support", False, "this OpenCV has no FaceDetectorYN", "pip install 'opencv-python>=4.8'"
    )


def check_shipped_model() -> Check:
    try:
        import numpy as np

        from kerfer.runtime import Classifier

        clf = Classifier()
        probs = clf.predict_faces(np.zeros((1, clf.input_size, clf.input_size, clf.channels), np.uint8))
        backend = type(clf.backend.interpreter).__module__.split(".")[0]
        return Check(
            "shipped model", True, f"{clf.path.name}: {len(clf.class_names)} classes, {probs.shape[1]} outputs, "
            f"runs on {backend}",
        )  # fmt: skip
    except Exception as e:  # noqa: BLE001
        return Check(
            "shipped model",
            False,
            str(e).splitlines()[0][:120],
            f"reinstall kerfer; the runtime needs a TFLite interpreter: {TFLITE_INSTALL}",
        )


def x_display_problem(display: str, timeout: float = 0.5) -> str | None:
    """Why the X server of ``DISPLAY`` cannot be reached, or None when it answers a connection.

    After an SSH reconnect ``DISPLAY`` often still names a forwarded display that is gone;
    opening a window then aborts the process inside Qt (exit 134), so ``live`` asks first.
    """
    import socket

    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return f"DISPLAY={display} is not of the form [host]:number"
    try:
        if host in ("", "unix"):
            path = f"/tmp/.X11-unix/X{number}"
            if not Path(path).exists():
                return f"DISPLAY={display} but no X server socket {path}"
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(timeout)
                s.connect(path)
        else:
            with socket.create_connection((host, 6000 + int(number)), timeout=timeout):
                pass
    except OSError as e:
        return f"DISPLAY={display} but its X server does not answer ({e.strerror or e})"
    return None


def check_display() -> Check:
    if not sys.platform.startswith("linux"):
        return Check("display", True, f"{sys.platform}: assumed present")
    if os.environ.get("WAYLAND_DISPLAY"):
        return Check("display", True, f"WAYLAND_DISPLAY={os.environ['WAYLAND_DISPLAY']}")
    display = os.environ.get("DISPLAY", "")
    if display:
        problem = x_display_problem(display)
        if problem:
            return Check("display", False, problem, "kerfer live needs --headless")
        return Check("display", True, f"DISPLAY={display}")
    return Check(
        "display", False, "DISPLAY and WAYLAND_DISPLAY are not set", "kerfer live needs --headless (with --output)"
    )


def check_camera() -> Check:
    if sys.platform.startswith("linux"):
        devices = sorted(str(p) for p in Path("/dev").glob("video*"))
        if not devices:
            return Check(
                "camera", False, "no /dev/video* device", "connect a camera, or use live --source FILE / --picamera"
            )
        return Check("camera", True, ", ".join(devices))
    try:
        import cv2

        cap = cv2.VideoCapture(0)
        ok = cap.isOpened()
        cap.release()
    except Exception:  # noqa: BLE001
        ok = False
    if ok:
        return Check("camera", True, "camera 0 opens")
    return Check("camera", False, "camera 0 does not open", "connect a camera, or use live --source FILE")


def checks() -> list[Callable[[], Check]]:
    return [
        check_kerfer,
        check_commands,
        check_python,
        _package("NumPy", "numpy", "pip install numpy"),
        _package("OpenCV", "cv2", "pip install 'opencv-python>=4.8,<5'"),
        _package("LiteRT", "ai_edge_litert", "pip install ai-edge-litert (fast TF-free .tflite runtime)"),
        _package("TensorFlow", "tensorflow", TF_FIX),
        _package("Keras", "keras", TRAIN_INSTALL),
        check_devices,
        check_auto_choices,
        check_blazeface,
        check_haar,
        check_yunet,
        check_shipped_model,
        check_display,
        check_camera,
    ]


def run_checks() -> list[Check]:
    """Every check's result; a check that raises is itself reported as failed."""
    out = []
    for fn in checks():
        try:
            out.append(fn())
        except Exception as e:  # noqa: BLE001
            out.append(Check(fn.__name__.removeprefix("check_"), False, f"check failed: {e}", "report this"))
    return out


def format_table(results: list[Check]) -> str:
    width = max(len(c.name) for c in results)
    lines = []
    for c in results:
        lines.append(f"{'✓' if c.ok else '✗'} {c.name:<{width}}  {c.detail}")
        if not c.ok and c.fix:
            lines.append(f"  {'':<{width}}  → {c.fix}")
    bad = sum(not c.ok for c in results)
    lines.append(f"{len(results) - bad} ok, {bad} to look at" if bad else f"all {len(results)} checks ok")
    return "\n".join(lines)
