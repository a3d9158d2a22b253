"""Runtime: classify face crops and run detection on images, video and cameras.

Importable without TensorFlow: with a ``.tflite`` model and ``ai-edge-litert`` installed,
nothing here loads it.
"""

from kerfer.errors import ModelError
from kerfer.modelio import default_model_path
from kerfer.runtime.classifier import Classifier

__all__ = ["Classifier", "ModelError", "default_model_path"]
