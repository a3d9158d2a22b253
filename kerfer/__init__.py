"""kerfer: facial expression recognition with Keras 3 on TensorFlow.

The public API is imported lazily, so ``import kerfer`` (and the TFLite edge runtime)
does not pay for TensorFlow until something that needs it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API = {
    "load_fer2013": "kerfer.data",
    "read_fer2013": "kerfer.data",
    "load_image_folder": "kerfer.data",
    "AugmentConfig": "kerfer.config",
    "DataError": "kerfer.errors",
    "build_model": "kerfer.models",
    "list_architectures": "kerfer.models",
    "TrainConfig": "kerfer.config",
    "train": "kerfer.training",
    "evaluate": "kerfer.evaluation",
    "export": "kerfer.exporting",
    "Classifier": "kerfer.runtime",
    "FacePipeline": "kerfer.runtime.pipeline",
    "BlazeFaceDetector": "kerfer.runtime.blazeface",
    "HaarDetector": "kerfer.runtime.detect",
    "crop_dataset": "kerfer.runtime.cropping",
    "FER2013_CLASSES": "kerfer.labels",
    "analyze_video": "kerfer.report",
    "timeline": "kerfer.report",
    "read_records": "kerfer.report",
}

__all__ = sorted(_API)

if TYPE_CHECKING:  # pragma: no cover
    from kerfer.config import AugmentConfig, TrainConfig  # noqa: F401
    from kerfer.data import load_fer2013, load_image_folder, read_fer2013  # noqa: F401
    from kerfer.errors import DataError  # noqa: F401
    from kerfer.evaluation import evaluate  # noqa: F401
    from kerfer.exporting import export  # noqa: F401
    from kerfer.labels import FER2013_CLASSES  # noqa: F401
    from kerfer.models import build_model, list_architectures  # noqa: F401
    from kerfer.report import analyze_video, read_records, timeline  # noqa: F401
    from kerfer.runtime import Classifier  # noqa: F401
    from kerfer.runtime.blazeface import BlazeFaceDetector  # noqa: F401
    from kerfer.runtime.cropping import crop_dataset  # noqa: F401
    from kerfer.runtime.detect import HaarDetector  # noqa: F401
    from kerfer.runtime.pipeline import FacePipeline  # noqa: F401
    from kerfer.training import train  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _API:
        try:
            module = importlib.import_module(_API[name])
        except ModuleNotFoundError as e:  # a runtime-only install asked for a training-kit feature
            from kerfer.kit import as_missing_kit

            raise (as_missing_kit(e, f"kerfer.{name}") or e) from None
        return getattr(module, name)
    raise AttributeError(f"module 'kerfer' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
