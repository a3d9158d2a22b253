"""Which half of kerfer this install can run: the runtime (always) or also the training kit.

``pip install kerfer`` is the lean runtime (NumPy, OpenCV, click, LiteRT): ``predict``,
``live``, ``doctor`` and :class:`kerfer.Classifier` on ``.tflite`` models.
``pip install "kerfer[train]"`` adds TensorFlow and the rest for ``train``, ``evaluate``,
``export`` and ``archs``. The checks here never import TensorFlow (``find_spec`` only), so
asking costs nothing; a command that needs a missing package says so in one line.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from kerfer.errors import MissingTrainingKit

TRAIN_INSTALL = 'pip install "kerfer[train]"'

TRAINING_MODULES = {
    "tensorflow": "tensorflow",
    "keras": "keras",
    "pandas": "pandas",
    "matplotlib": "matplotlib",
    "tensorflow_datasets": "tensorflow-datasets",
    "importlib_resources": "importlib_resources",
}
"""Import name → pip name of everything ``kerfer[train]`` adds."""

TRAINING_COMMANDS = ("train", "evaluate", "export", "archs", "pack")

TFLITE_INSTALL = "pip install ai-edge-litert (or, where it has no wheel, tensorflow)"


def is_importable(module: str) -> bool:
    """Whether ``module`` could be imported, without importing it (an import blocker counts as missing)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_training_packages(modules: tuple[str, ...] | None = None) -> list[str]:
    """The pip names of the training kit's packages (or of ``modules`` among them) not installed."""
    wanted = modules if modules is not None else tuple(TRAINING_MODULES)
    return [TRAINING_MODULES.get(m, m) for m in wanted if not is_importable(m)]


def has_training_kit() -> bool:
    return not missing_training_packages()


def missing_kit_message(what: str, missing: list[str]) -> str:
    """One line: what needs the kit, which packages are missing, the command that adds them."""
    return f"{what} needs the training kit ({', '.join(missing)} not installed): {TRAIN_INSTALL}"


def require_training_kit(what: str, modules: tuple[str, ...] | None = None) -> None:
    """Raises :class:`MissingTrainingKit` with a one-line message when a needed package is missing."""
    missing = missing_training_packages(modules)
    if missing:
        raise MissingTrainingKit(missing_kit_message(what, missing), name=missing[0])


def as_missing_kit(error: ModuleNotFoundError, what: str) -> MissingTrainingKit | None:
    """The one-line form of an import failure of a training-kit package, else None (a real bug)."""
    if isinstance(error, MissingTrainingKit):
        return error
    root = (error.name or "").split(".")[0]
    if root not in TRAINING_MODULES:
        return None
    missing = missing_training_packages() or [TRAINING_MODULES[root]]
    return MissingTrainingKit(missing_kit_message(what, missing), name=root)


def lazy_attribute(package: str, api: dict[str, str], name: str) -> Any:
    """``package.name`` from the module ``api`` maps it to, imported now (a package ``__getattr__``).

    Shared by :mod:`kerfer` and :mod:`kerfer.data` so that both import TensorFlow only when a
    name needs it, and both turn a missing training-kit package into one line.
    """
    if name not in api:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(api[name])
    except ModuleNotFoundError as e:  # a runtime-only install asked for a training-kit feature
        raise (as_missing_kit(e, f"{package}.{name}") or e) from None
    return getattr(module, name)
