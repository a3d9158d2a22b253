"""Face-crop classifier over any kerfer model file: ``.tflite``, SavedModel or ``.keras``.

A ``.tflite`` model runs on ``ai-edge-litert`` when it is installed, so this module (and
``kerfer live`` with such a model) never imports TensorFlow: start-up on a Raspberry Pi
takes a fraction of a second instead of many.
"""

from __future__ import annotations

import importlib.resources
import os
import warnings
from pathlib import Path

import numpy as np

from kerfer.contract import ModelContract

DEFAULT_MODEL_NAME = "kerfer_fer2013_int8.tflite"


class ModelError(ValueError):
    """A model file that cannot be used (missing, truncated, wrong format, wrong labels)."""


def default_model_path() -> Path:
    """The int8 TFLite model shipped inside the package (found via importlib.resources)."""
    ref = importlib.resources.files("kerfer") / "assets" / DEFAULT_MODEL_NAME
    path = Path(str(ref))
    if not path.exists():
        raise ModelError(f"no model is shipped with this kerfer install ({path} is missing); pass --model")
    return path


def contract_path_for(model_path: Path) -> Path:
    """``model.tflite`` → ``model.json`` if present, else ``labels.json`` in the same folder
    (a SavedModel directory: its own ``labels.json`` or its parent's)."""
    candidates = [model_path.with_suffix(".json")] if model_path.suffix else []
    if model_path.is_dir():
        candidates.append(model_path / "labels.json")
    candidates.append(model_path.parent / "labels.json")
    for c in candidates:
        if c.exists():
            return c
    return candidates[-1]


def load_contract(model_path: Path) -> ModelContract:
    path = contract_path_for(model_path)
    if path.exists():
        try:
            return ModelContract.load(path)
        except ValueError as e:
            raise ModelError(str(e)) from e
    warnings.warn(f"{model_path}: no labels file found ({path.name}); assuming the 7 FER2013 classes", stacklevel=3)
    return ModelContract()


class _TFLiteBackend:
    def __init__(self, path: Path, num_threads: int | None):
        interpreter_cls = _interpreter_class()
        try:
            self.interpreter = interpreter_cls(model_path=str(path), num_threads=num_threads)
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"{path}: not a valid TFLite model ({str(e).splitlines()[0]})") from e
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.batch = None
        self.num_classes = int(self.output["shape"][-1])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        if n != self.batch:
            self.interpreter.resize_tensor_input(self.input["index"], [n, *self.input["shape"][1:]])
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


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    except ImportError:
        import tensorflow as tf

        return tf.lite.Interpreter


class _KerasBackend:
    def __init__(self, path: Path, unsafe: bool):
        import tensorflow as tf

        from kerfer.modelio import load_keras_model

        self.model = load_keras_model(path, unsafe=unsafe)
        self.num_classes = int(self.model.output_shape[-1])
        # A traced function: eager Keras calls cost tens of ms per batch in Python overhead.
        self._fn = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._fn(x.astype(np.float32)), dtype=np.float32)


class _SavedModelBackend:
    def __init__(self, path: Path):
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
        self.num_classes = int(self.fn.structured_outputs[self.output_key].shape[-1])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        out = self.fn(**{self.input_name: tf.constant(x.astype(self.input_dtype.as_numpy_dtype))})
        return out[self.output_key].numpy().astype(np.float32)


class Classifier:
    """Classifies face crops with any kerfer model file.

    ``predict_faces`` takes crops already at the model's input size, ``(N, H, W[, C])``
    with values 0..255, and returns ``(N, num_classes)`` probabilities.
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        *,
        num_threads: int | None = None,
        unsafe: bool = False,
    ):
        path = Path(model_path) if model_path is not None else default_model_path()
        if not path.exists():
            raise ModelError(f"{path}: no such model file")
        self.path = path
        self.contract = load_contract(path)
        if path.suffix == ".tflite":
            self.backend = _TFLiteBackend(path, num_threads)
            self.format = "tflite"
        elif path.suffix in (".keras", ".h5"):
            self.backend = _KerasBackend(path, unsafe)
            self.format = "keras"
        elif path.is_dir() and (path / "saved_model.pb").exists():
            self.backend = _SavedModelBackend(path)
            self.format = "saved_model"
        else:
            raise ModelError(f"{path}: unknown model format (expected .tflite, .keras or a SavedModel directory)")
        if self.backend.num_classes != len(self.contract.class_names):
            raise ModelError(
                f"{path}: the model has {self.backend.num_classes} outputs but its labels file lists "
                f"{len(self.contract.class_names)} classes; refusing to guess which is right"
            )

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.contract.class_names

    @property
    def input_size(self) -> int:
        return self.contract.input_size

    @property
    def channels(self) -> int:
        return self.contract.channels

    def predict_faces(self, faces: np.ndarray) -> np.ndarray:
        faces = np.asarray(faces)
        if faces.ndim == 3:
            faces = faces[..., None]
        if len(faces) == 0:
            return np.zeros((0, len(self.class_names)), np.float32)
        return self.backend(faces)
