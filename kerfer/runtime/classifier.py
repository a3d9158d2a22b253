"""Face-crop classifier over any kerfer model file: ``.tflite``, SavedModel or ``.keras``.

A ``.tflite`` model runs on ``ai-edge-litert`` when it is installed, so this module (and
``kerfer live`` with such a model) never imports TensorFlow: start-up on a Raspberry Pi
takes a fraction of a second instead of many.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from kerfer.contract import ModelContract
from kerfer.errors import ModelError
from kerfer.kit import TFLITE_INSTALL, require_training_kit
from kerfer.modelio import contract_path_for, has_contract, load_contract, outputs_mismatch, resolve_model_path
from kerfer.paths import shown
from kerfer.runtime.quiet import native_quiet


class _TFLiteBackend:
    """A LiteRT / tf.lite interpreter. One interpreter is not thread-safe (its tensors are
    shared state, and resizing them while another call reads raises "There is at least 1
    reference to internal data"), so calls take turns under a lock."""

    def __init__(self, path: Path, num_threads: int | None):
        self.interpreter = load_interpreter(path, num_threads)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.batch = None
        self.num_classes = int(self.output["shape"][-1])
        self.input_shape = tuple(int(d) for d in self.input["shape"][1:])
        self._lock = threading.Lock()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            return self._call(x)

    def _call(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        if n != self.batch:
            self.interpreter.resize_tensor_input(self.input["index"], [n, *self.input["shape"][1:]])
            with native_quiet():  # the XNNPACK "Created delegate" line comes from here
                self.interpreter.allocate_tensors()
            self.batch = n
        dtype = self.input["dtype"]
        scale, zero = self.input["quantization"]
        if x.dtype == dtype and scale == 1.0 and zero == 0:
            pass  # uint8 pixels into a uint8 model taking raw 0..255: nothing to convert
        elif np.issubdtype(dtype, np.integer) and scale:
            info = np.iinfo(dtype)
            x = np.clip(np.round(x.astype(np.float32) / scale + zero), info.min, info.max).astype(dtype)
        else:
            x = x.astype(dtype)
        self.interpreter.set_tensor(self.input["index"], x)
        self.interpreter.invoke()
        y = self.interpreter.get_tensor(self.output["index"])
        scale, zero = self.output["quantization"]
        if np.issubdtype(y.dtype, np.integer) and scale:
            y = (y.astype(np.float32) - zero) * scale
        return y.astype(np.float32)


def check_num_threads(num_threads: object) -> None:
    """``None`` (the runtime decides) or a whole number of threads >= 1; 0 used to come back as
    "not a valid TFLite model"."""
    if num_threads is not None and (
        isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)) or num_threads < 1
    ):
        raise ValueError(f"num_threads={num_threads!r}: expected None (the runtime decides) or an integer >= 1")


def load_interpreter(path: Path, num_threads: int | None):
    """A TFLite interpreter for the model file ``path``: its bytes are read by Python (any file
    name works) and, for a shipped file, checked against the sha256 kerfer recorded for it."""
    from kerfer.errors import DamagedInstall
    from kerfer.integrity import read_checked

    check_num_threads(num_threads)
    try:
        content = read_checked(path)
    except DamagedInstall as e:
        raise ModelError(str(e)) from None
    except OSError as e:
        raise ModelError(f"{shown(path)}: cannot read the model ({e.strerror or e})") from e
    interpreter_cls = interpreter_class()
    try:
        with native_quiet():
            return interpreter_cls(model_content=content, num_threads=num_threads)
    except (ValueError, RuntimeError) as e:
        raise ModelError(f"{shown(path)}: not a valid TFLite model ({str(e).splitlines()[0]})") from e


def interpreter_class():
    """LiteRT's interpreter; where it has no wheel, tflite-runtime's or TensorFlow's (same API)."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter
    except ImportError:
        pass
    try:
        import tensorflow as tf
    except ImportError:
        raise ModelError(
            f"running a .tflite model needs a TFLite interpreter and none is installed: {TFLITE_INSTALL}"
        ) from None
    return tf.lite.Interpreter


class _KerasBackend:
    def __init__(self, path: Path, unsafe: bool):
        require_training_kit(f"{path}: a .keras model", ("tensorflow", "keras"))
        import tensorflow as tf

        from kerfer.modelio import load_keras_model

        # float32: a mixed-precision run's model would otherwise compute in 16 bits here.
        self.model = load_keras_model(path, unsafe=unsafe, float32=True)
        self.num_classes = int(self.model.output_shape[-1])
        self.input_shape = tuple(self.model.input_shape[1:])
        # A traced function: eager Keras calls cost tens of ms per batch in Python overhead.
        self._fn = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._fn(x.astype(np.float32)), dtype=np.float32)


class _SavedModelBackend:
    def __init__(self, path: Path):
        require_training_kit(f"{path}: a SavedModel", ("tensorflow",))
        import tensorflow as tf

        try:
            loaded = tf.saved_model.load(str(path))
        except (OSError, ValueError, tf.errors.OpError) as e:
            raise ModelError(f"{path}: not a valid SavedModel ({str(e).splitlines()[0]})") from e
        self._keep = loaded
        self.fn = loaded.signatures["serving_default"]
        self.output_key = next(iter(self.fn.structured_outputs))
        spec = next(iter(self.fn.structured_input_signature[1].values()))
        self.input_name = next(iter(self.fn.structured_input_signature[1]))
        self.input_dtype = spec.dtype
        self.input_shape = tuple(spec.shape[1:])
        self.num_classes = int(self.fn.structured_outputs[self.output_key].shape[-1])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        out = self.fn(**{self.input_name: tf.constant(x.astype(self.input_dtype.as_numpy_dtype))})
        return out[self.output_key].numpy().astype(np.float32)


class Classifier:
    """Classifies face crops with any kerfer model: a run directory, ``.keras``, SavedModel,
    ``.tflite``, or ``None``/``"fer2013"``/``"ferplus"`` for a model shipped with kerfer.

    ``predict_faces`` takes crops already at the model's input size, ``(N, H, W[, C])``
    with values 0..255, and returns ``(N, num_classes)`` probabilities.

    Thread safety: ``predict_faces`` may be called from several threads at once (a web
    server's workers). On the TFLite backend the calls take turns on one interpreter; for
    parallel throughput give each thread its own ``Classifier``.
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        *,
        num_threads: int | None = None,
        unsafe: bool = False,
    ):
        from kerfer.modelio import model_format

        check_num_threads(num_threads)
        path = resolve_model_path(model_path)
        self.path = path
        labelled = has_contract(path)
        contract = load_contract(path)
        kind = model_format(path)
        if kind == "tflite":
            self.backend = _TFLiteBackend(path, num_threads)
        elif kind == "keras":
            self.backend = _KerasBackend(path, unsafe)
        else:
            self.backend = _SavedModelBackend(path)
        self.format = kind
        self.contract = _checked_contract(path, contract, labelled, self.backend.input_shape)
        mismatch = outputs_mismatch(path, self.backend.num_classes, self.contract)
        if mismatch:
            raise ModelError(mismatch)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.contract.class_names

    @property
    def input_size(self) -> int:
        return self.contract.input_size

    @property
    def channels(self) -> int:
        return self.contract.channels

    def predict_faces(self, faces: np.ndarray, tta: bool = False) -> np.ndarray:
        """Probabilities for each face; with ``tta`` the mean of each face and its mirror image,
        computed in one batch (faces and mirrors together) rather than two calls."""
        faces = np.asarray(faces)
        if faces.ndim == 3:
            faces = faces[..., None]
        if len(faces) == 0:
            return np.zeros((0, len(self.class_names)), np.float32)
        want = (self.input_size, self.input_size, self.channels)
        if faces.ndim != 4 or tuple(faces.shape[1:]) != want:
            raise ModelError(
                f"{self.path}: expects face crops of shape (N, {want[0]}, {want[1]}, {want[2]}), got {faces.shape}"
            )
        if not tta:
            return self.backend(faces)
        n = len(faces)
        probs = self.backend(np.concatenate([faces, faces[:, :, ::-1]]))
        return (probs[:n] + probs[n:]) / 2.0


def _checked_contract(path: Path, contract: ModelContract, labelled: bool, input_shape: tuple) -> ModelContract:
    """The contract, with input size and channels taken from the model itself.

    A labels file that disagrees with the model is refused (a 64 px model must not be fed
    48 px crops); with no labels file the model's own input shape is used.
    """
    import dataclasses

    if len(input_shape) != 3 or input_shape[0] is None or input_shape[0] != input_shape[1]:
        raise ModelError(f"{path}: the model takes inputs of shape {input_shape}; kerfer needs square (H, W, C) images")
    size, channels = int(input_shape[0]), int(input_shape[2])
    if channels not in (1, 3):
        raise ModelError(f"{path}: the model takes {channels}-channel images; kerfer supports 1 (grey) or 3 (RGB)")
    if labelled and (contract.input_size, contract.channels) != (size, channels):
        raise ModelError(
            f"{path}: the model takes {size}x{size}x{channels} images but {contract_path_for(path).name} says "
            f"{contract.input_size}x{contract.input_size}x{contract.channels}; fix or remove the labels file"
        )
    return dataclasses.replace(contract, input_size=size, channels=channels)
