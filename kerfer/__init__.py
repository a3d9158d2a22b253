"""kerfer: facial expression recognition with Keras 3 on TensorFlow.

The public API is imported lazily, so ``import kerfer`` (and the TFLite edge runtime)
does not pay for TensorFlow until something that needs it is used.
"""

from __future__ import annotations

from typing import Any

from kerfer.kit import lazy_attribute

__version__ = "0.1.0"

_API = {
    # data and training (the training kit)
    "AugmentConfig": "kerfer.config",
    "TrainConfig": "kerfer.config",
    "DataError": "kerfer.errors",
    "FER2013_CLASSES": "kerfer.labels",
    "load_fer2013": "kerfer.data.fer2013",
    "read_fer2013": "kerfer.data.fer2013",
    "load_image_folder": "kerfer.data.folders",
    "build_model": "kerfer.models",
    "list_architectures": "kerfer.models",
    "train": "kerfer.training",
    "evaluate": "kerfer.evaluation",
    "export": "kerfer.exporting",
    # runtime (no TensorFlow with a .tflite model)
    "Classifier": "kerfer.runtime.classifier",
    "FacePipeline": "kerfer.runtime.pipeline",
    "BlazeFaceDetector": "kerfer.runtime.blazeface",
    "HaarDetector": "kerfer.runtime.detect",
    "YuNetDetector": "kerfer.runtime.detect",
    "crop_dataset": "kerfer.runtime.cropping",
    "analyze_video": "kerfer.report",
    "timeline": "kerfer.report",
    "read_records": "kerfer.report",
}
"""Each public name, once: name → the module that defines it (imported on first use)."""

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    return lazy_attribute("kerfer", _API, name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
