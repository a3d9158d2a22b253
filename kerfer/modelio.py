"""The one home of model files: what a model argument means, its labels contract, and ``.keras`` loading.

Every command that takes a model (``predict``, ``live``, ``evaluate``, ``export``,
``--teacher``, ``--init-from``) resolves it here, so a run directory, a ``.keras`` file, a
SavedModel directory, a ``.tflite`` file and a shipped model's name (``fer2013``, ``ferplus``) mean
the same thing everywhere.
Importing this module costs no TensorFlow: only :func:`load_keras_model` imports Keras, so the
TFLite runtime stays TensorFlow-free.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path

from kerfer.contract import ModelContract
from kerfer.errors import KerferWarning, ModelError
from kerfer.integrity import assets_dir

DEFAULT_MODEL = "fer2013"
"""The model kerfer uses when none is named: its own, trained on FER2013's 7 emotions."""
SHIPPED = "shipped"
"""An alias of ``fer2013`` for model and weights arguments; the data set's name says which one."""
SHIPPED_MODELS: dict[str, str] = {
    DEFAULT_MODEL: "kerfer_fer2013_int8.tflite",
    "ferplus": "kerfer_ferplus_int8.tflite",
    SHIPPED: "kerfer_fer2013_int8.tflite",
}
"""Model arguments that name an int8 model shipped in ``kerfer/assets`` → its file, named by the
data set it learnt, like keras.applications' ``weights="imagenet"`` (a folder of the same name
is reached as ``./ferplus``)."""
KERAS_SUFFIXES = (".keras", ".h5")


def default_model_path(name: str = DEFAULT_MODEL) -> Path:
    """An int8 TFLite model shipped inside the package (found in :func:`kerfer.integrity.assets_dir`):
    ``fer2013`` (the default, FER2013's 7 classes; ``shipped`` is its alias) or ``ferplus`` (FER+'s 8)."""
    if name not in SHIPPED_MODELS:
        raise ModelError(f"no shipped model is called {name!r}; kerfer ships: {', '.join(SHIPPED_MODELS)}")
    path = assets_dir() / SHIPPED_MODELS[name]
    if not path.exists():
        raise ModelError(f"no {name!r} model is shipped with this kerfer install ({path} is missing); pass --model")
    return path


def model_format(path: Path) -> str | None:
    """``"tflite"``, ``"keras"``, ``"saved_model"`` or ``"run"`` for a path that exists, else None."""
    if path.is_dir():
        if (path / "saved_model.pb").exists():
            return "saved_model"
        if (path / "best.keras").exists() or (path / "config.json").exists():
            return "run"
        return None
    if path.suffix == ".tflite":
        return "tflite"
    if path.suffix in KERAS_SUFFIXES:
        return "keras"
    return None


def resolve_model_path(model: str | os.PathLike | None) -> Path:
    """The model file a model argument names.

    ``None``, ``"fer2013"`` or ``"ferplus"`` → that shipped int8 ``.tflite``; a run directory → its
    ``best.keras``; a ``.keras``/``.h5`` file, a SavedModel directory or a ``.tflite`` file →
    itself. Anything else is a :class:`ModelError` saying what is accepted.
    """
    if model is None or str(model) in SHIPPED_MODELS:
        return default_model_path(DEFAULT_MODEL if model is None else str(model))
    path = Path(model)
    if not path.exists():
        raise ModelError(f"{path}: no such model file or run directory")
    kind = model_format(path)
    if kind == "run":
        best = path / "best.keras"
        if not best.exists():
            raise ModelError(
                f"{path}: this run has no best.keras yet (no epoch finished); train it (--resume) or pick another model"
            )
        return best
    if kind is None:
        raise ModelError(
            f"{path}: unknown model format (expected a run directory, .keras, .tflite, a SavedModel "
            f"directory or one of the shipped models: {', '.join(SHIPPED_MODELS)})"
        )
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


def has_contract(model_path: Path) -> bool:
    return contract_path_for(model_path).exists()


def load_contract(model_path: Path, *, warn: bool = True) -> ModelContract:
    """The labels contract beside a model; the 7 FER2013 classes (with a warning) when there is none."""
    from kerfer.integrity import check_shipped

    path = contract_path_for(model_path)
    if path.exists():
        try:
            check_shipped(path)  # the shipped model's labels are a shipped file too
            return ModelContract.load(path)
        except ValueError as e:
            raise ModelError(str(e)) from e
    if warn:
        warnings.warn(
            f"{model_path}: no labels file found ({path.name}); assuming the 7 FER2013 classes",
            KerferWarning,
            stacklevel=3,
        )
    return ModelContract()


def outputs_mismatch(model_path: Path, outputs: int, contract: ModelContract) -> str | None:
    """The one-line refusal of a model whose outputs and classes disagree, or None when they
    agree. Without a labels file the 7 classes are kerfer's assumption, and the line says so
    (it used to report "its labels file lists 7 classes" for a file that does not exist)."""
    n = len(contract.class_names)
    if outputs == n:
        return None
    labels = contract_path_for(model_path)
    if labels.exists():
        return (
            f"{model_path}: the model has {outputs} outputs but its labels file lists {n} classes ({labels.name}); "
            "refusing to guess which is right"
        )
    return (
        f"{model_path}: the model has {outputs} outputs and no labels file ({labels.name} beside it); without one "
        f"kerfer assumes the {n} FER2013 classes: write a labels file naming its {outputs} classes"
    )


def load_keras_model(path: str | os.PathLike, *, unsafe: bool = False, compile: bool = False, float32: bool = False):
    """Loads a ``.keras`` model (a run directory: its ``best.keras``) in Keras ``safe_mode``.

    ``unsafe=True`` lifts safe mode (no arbitrary code from Lambda layers otherwise): only for
    files you trust. ``float32=True`` returns the model rebuilt in float32 whatever dtype policy
    it was trained under (see :func:`as_float32`): what inference, export and distillation need.
    """
    import keras

    path = resolve_model_path(path) if Path(path).is_dir() else Path(path)
    if not path.exists():
        raise ModelError(f"{path}: no such model file")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise ModelError(f"{path}: not a valid .keras file (truncated or not a zip archive)")
    try:
        model = keras.saving.load_model(path, compile=compile, safe_mode=not unsafe)
    except ValueError as e:
        msg = str(e)
        if "safe_mode" in msg or "Lambda" in msg:
            raise ModelError(
                f"{path}: the model contains code (a Lambda layer) that kerfer will not run from an untrusted "
                f"file; pass --unsafe (unsafe=True) only if you trust its source"
            ) from e
        raise ModelError(f"{path}: cannot load the model ({msg.splitlines()[0] if msg else type(e).__name__})") from e
    except (OSError, KeyError, zipfile.BadZipFile, TypeError) as e:
        raise ModelError(f"{path}: cannot load the model ({e})") from e
    return as_float32(model) if float32 else model


def compute_dtypes(model) -> set[str]:
    """The compute dtypes of a model's layers (``{"float32"}`` for a float32 model)."""
    return {layer.dtype_policy.compute_dtype for layer in _all_layers(model)}


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):  # nested Sequential / functional models
            yield from _all_layers(layer)


def as_float32(model):
    """The same model computing in float32, with the same weights (``model`` itself if it already does).

    A model trained under ``mixed_float16`` or ``mixed_bfloat16`` keeps float32 variables but
    computes in 16 bits; its traced graph (SavedModel, TFLite) then holds float16 ops that the
    TFLite converter and CPUs handle badly or not at all. Cloning each layer with a float32
    dtype policy and copying the weights gives the float32 model inference needs.
    """
    import keras

    if compute_dtypes(model) == {"float32"}:
        return model

    def clone(layer):
        config = layer.get_config()
        if "dtype" in config:
            config["dtype"] = "float32"
        return layer.__class__.from_config(config)

    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        twin = keras.models.clone_model(model, clone_function=clone)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    twin.set_weights(model.get_weights())
    return twin
