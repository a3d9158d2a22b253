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
from kerfer.syslibs import install_line, missing_library, missing_library_message


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


OPENCV_FIX = "pip install 'opencv-python>=4.8,<5'"


def opencv_problem() -> str | None:
    """Why ``import cv2`` fails on this system (one line with the fix), or None when it imports.

    A missing system library gets its apt package: reinstalling the wheel would not help."""
    try:
        import cv2  # noqa: F401
    except ImportError as e:
        return missing_library_message(e) or f"OpenCV is not importable ({str(e).splitlines()[0][:80]}): {OPENCV_FIX}"
    return None


def check_opencv() -> Check:
    try:
        import cv2

        return Check("OpenCV", True, cv2.__version__)
    except ImportError as e:
        library = missing_library(e)
        if library is None:
            return Check("OpenCV", False, f"not importable ({str(e).splitlines()[0][:80]})", OPENCV_FIX)
        return Check(
            "OpenCV",
            False,
            f"cannot load the system library {library} (not a pip package; desktop-less systems lack it)",
            install_line(library),
        )


def _needs_opencv(name: str) -> Check | None:
    """The row of a check that needs OpenCV when OpenCV itself cannot load: points at the OpenCV row
    instead of advising a reinstall of something that is fine."""
    if opencv_problem() is None:
        return None
    return Check(name, False, "needs OpenCV, which does not import here", "see the OpenCV row")


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
    if blocked := _needs_opencv("BlazeFace face detector"):
        return blocked
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
    if blocked := _needs_opencv("Haar face detector"):
        return blocked
    try:
        import numpy as np

        from kerfer.runtime.detect import HaarDetector

        HaarDetector().detect(np.zeros((64, 64), np.uint8))
        return Check("Haar face detector", True, "loads and runs")
    except Exception as e:  # noqa: BLE001
        return Check("Haar face detector", False, str(e).splitlines()[0][:120], OPENCV_FIX)


def check_yunet() -> Check:
    if blocked := _needs_opencv("YuNet detector support"):
        return blocked
    try:
        import cv2

        ok = hasattr(cv2, "FaceDetectorYN")
    except Exception:  # noqa: BLE001
        ok = False
    if ok:
        return Check(
            "YuNet detector support", True, "cv2.FaceDetectorYN present (--detector yunet --yunet-model F.onnx)"
        )
    return Check("YuNet detector support", False, "this OpenCV has no FaceDetectorYN", OPENCV_FIX)


def check_shipped_model() -> Check:
    if blocked := _needs_opencv("shipped model"):
        return blocked
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


ARM_CORES: dict[str, str] = {
    "0xd03": "Cortex-A53 (Raspberry Pi 3, Zero 2)",
    "0xd04": "Cortex-A35",
    "0xd05": "Cortex-A55",
    "0xd07": "Cortex-A57",
    "0xd08": "Cortex-A72 (Raspberry Pi 4, 400, CM4)",
    "0xd0b": "Cortex-A76 (Raspberry Pi 5)",
    "0xd0c": "Neoverse-N1",
    "0xd40": "Neoverse-V1",
    "0xd49": "Neoverse-N2",
    "0xd4f": "Neoverse-V2",
}
"""ARM's ``CPU part`` codes in /proc/cpuinfo → core names, for the boards people run kerfer on."""

X86_SIMD = ("avx512_vnni", "avx512f", "avx2", "sse4_2")
"""x86 vector extensions worth naming, best first."""


def cpu_summary(cpuinfo: str, machine: str) -> tuple[str, str]:
    """(the CPU, its vector unit) from /proc/cpuinfo's text and ``platform.machine()``.

    On ARM the vector unit is NEON (every aarch64 core has it; 32-bit boards list ``neon``).
    QEMU's user mode shows the host's /proc/cpuinfo to an emulated ARM program; that is said
    rather than passed off as the ARM CPU."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in fields:
            fields[key.strip()] = value.strip()
    arm = machine.lower().startswith(("aarch64", "arm"))
    if arm:
        if "CPU part" not in fields:
            return f"{machine}, but /proc/cpuinfo describes another CPU (an emulator?)", "NEON (every aarch64 core)"
        core = ARM_CORES.get(fields["CPU part"].lower(), f"ARM core {fields['CPU part']}")
        board = fields.get("Model", "")
        features = fields.get("Features", "").split()
        neon = machine == "aarch64" or "neon" in features or "asimd" in features
        return (f"{board}: {core}" if board else core), ("NEON" if neon else "no NEON (slow: no vector unit)")
    flags = set(fields.get("flags", "").split())
    simd = next((f for f in X86_SIMD if f in flags), "none of " + ", ".join(X86_SIMD))
    return fields.get("model name", machine or "unknown CPU"), simd.upper().replace("_", "-")


def check_cpu() -> Check:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        cpuinfo = ""
    cpu, simd = cpu_summary(cpuinfo, platform.machine())
    return Check("CPU", True, f"{cpu}; {os.cpu_count() or 1} cores; {platform.machine()}; vector unit: {simd}")


def delegated(content: bytes) -> bool:
    """Whether LiteRT hands part of the model ``content`` to a delegate when it prepares it. On a
    CPU its one default delegate is XNNPACK; the graph then holds a DELEGATE node. (LiteRT prints
    its delegate only once per process and says it nowhere in its public API.)"""
    from kerfer.runtime.classifier import interpreter_class

    interpreter = interpreter_class()(model_content=content, num_threads=1)
    interpreter.allocate_tensors()
    return any(op["op_name"] == "DELEGATE" for op in interpreter._get_ops_details())


def check_xnnpack() -> Check:
    """Whether LiteRT runs kerfer's int8 model through XNNPACK (its NEON/AVX kernels) or the slow
    reference kernels."""
    try:
        from kerfer.modelio import default_model_path

        on = delegated(default_model_path().read_bytes())
    except Exception as e:  # noqa: BLE001
        return Check("XNNPACK", False, f"unknown: {str(e).splitlines()[0][:100]}", "see the shipped model row")
    if on:
        return Check("XNNPACK", True, "LiteRT runs the shipped model through XNNPACK (vectorised CPU kernels)")
    return Check(
        "XNNPACK",
        False,
        "LiteRT applied no XNNPACK delegate: the model runs on reference kernels (slower)",
        "pip install -U ai-edge-litert",
    )


def detect_every_advice(detect_ms: float, classify_ms: float, fps: float = 30.0, faces: int = 1) -> str:
    """The smallest ``--detect-every`` that keeps ``faces`` faces at the camera's ``fps``, from the
    measured per-call costs: a frame costs every face's classification plus 1/k of a detection."""
    period = 1000.0 / fps
    for k in range(1, 11):
        frame_ms = faces * classify_ms + detect_ms / k
        if frame_ms <= period:
            return (
                f"--detect-every {k} keeps {faces} face at {fps:.0f} fps (~{frame_ms:.1f} ms of {period:.0f} per frame)"
            )
    frame_ms = faces * classify_ms + detect_ms / 4
    return f"this CPU cannot keep {fps:.0f} fps; --detect-every 4 gives ~{1000 / frame_ms:.2g} fps at {faces} face"


def check_pipeline_speed(seconds: float = 2.0) -> Check:
    """A 2-second self-timing of the live pipeline's two models on this machine (BlazeFace on a
    640x480 frame, the shipped classifier on one face), and the ``--detect-every`` it suggests."""
    import time

    if blocked := _needs_opencv("pipeline speed"):
        return blocked
    try:
        import numpy as np

        from kerfer.runtime import Classifier
        from kerfer.runtime.blazeface import BlazeFaceDetector

        detector, clf = BlazeFaceDetector(), Classifier()
        frame = np.zeros((480, 640, 3), np.uint8)
        face = np.zeros((1, clf.input_size, clf.input_size, clf.channels), np.uint8)
        detector.detect(frame), clf.predict_faces(face)  # first calls allocate
        detect, classify = [], []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end or not detect:
            t0 = time.perf_counter()
            detector.detect(frame)
            t1 = time.perf_counter()
            clf.predict_faces(face)
            detect.append(t1 - t0)
            classify.append(time.perf_counter() - t1)
    except Exception as e:  # noqa: BLE001
        return Check("pipeline speed", False, f"not measured: {str(e).splitlines()[0][:100]}", "see the rows above")
    d, c = 1000 * float(np.median(detect)), 1000 * float(np.median(classify))
    return Check(
        "pipeline speed", True, f"detect {d:.1f} ms, classify {c:.2f} ms per face: {detect_every_advice(d, c)}"
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
        check_cpu,
        _package("NumPy", "numpy", "pip install numpy"),
        check_opencv,
        _package("LiteRT", "ai_edge_litert", "pip install ai-edge-litert (fast TF-free .tflite runtime)"),
        _package("TensorFlow", "tensorflow", TF_FIX),
        _package("Keras", "keras", TRAIN_INSTALL),
        check_devices,
        check_auto_choices,
        check_blazeface,
        check_haar,
        check_yunet,
        check_shipped_model,
        check_xnnpack,
        check_pipeline_speed,
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
