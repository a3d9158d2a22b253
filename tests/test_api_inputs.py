"""The Python API says what it accepts: `pipe(cv2.imread("missing.jpg"))` was an AttributeError,
a float64 frame a cv2.error, an empty one a ZeroDivisionError, uint16 or 0..1 float frames
silently no faces, `Classifier(num_threads=0)` "not a valid TFLite model", and
`FacePipeline("shipped")` an AttributeError; `build_model(num_classes=1)` built an always-1.0
softmax."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import needs_media

from kerfer.runtime.blazeface import BlazeFaceDetector
from kerfer.runtime.classifier import Classifier
from kerfer.runtime.pipeline import FacePipeline


@pytest.fixture(scope="module")
def pipe():
    return FacePipeline("shipped")  # a model argument is turned into its Classifier


def test_frames_the_pipeline_cannot_take_say_what_it_takes(pipe):
    assert isinstance(pipe.classifier, Classifier)
    cases = [
        (None, TypeError, "frame is None: cv2.imread returns None"),
        ([[1, 2], [3, 4]], TypeError, "expected a NumPy array of uint8 pixels"),
        (np.zeros((0, 0, 3), np.uint8), ValueError, r"shape \(0, 0, 3\): it is empty"),
        (np.zeros((8, 8, 2), np.uint8), ValueError, r"expected \(H, W\) gray, \(H, W, 3\) BGR"),
        (np.zeros((64, 64, 3)), TypeError, r"dtype float64: expected uint8 pixels 0..255.*\(frame \* 255\)"),
        (np.full((64, 64, 3), 0.5, np.float32), TypeError, "dtype float32"),
    ]
    for frame, error, message in cases:
        for call in (pipe, pipe.detect, BlazeFaceDetector().detect, lambda f: pipe.classify(f, [(1, 1, 4, 4)])):
            with pytest.raises(error, match=message):
                call(frame)


@needs_media
def test_a_16_bit_frame_is_converted_not_silently_faceless(pipe):
    from conftest import MEDIA

    frame = cv2.imread(str(MEDIA / "obama.jpg"))
    deep = frame.astype(np.uint16) * 257
    faces, deep_faces = pipe(frame), pipe(deep)
    assert len(faces) == 1 and [f.box for f in deep_faces] == [f.box for f in faces]


def test_bad_constructor_arguments_are_one_line():
    for threads in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match=f"num_threads={threads!r}: expected None"):
            Classifier(num_threads=threads)
        with pytest.raises(ValueError, match="num_threads="):
            BlazeFaceDetector(num_threads=threads)
    with pytest.raises(TypeError, match="classifier=123: expected a kerfer.Classifier or a model argument"):
        FacePipeline(123)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"num_classes": 1}, ValueError, "num_classes=1: a softmax over fewer than 2 classes always outputs 1.0"),
        ({"num_classes": True}, TypeError, "num_classes=True: expected an integer >= 2"),
        ({"num_classes": "7"}, TypeError, "num_classes='7': expected an integer >= 2"),
        ({"input_shape": (48, 48, 0)}, ValueError, r"input_shape=\(48, 48, 0\): expected \(height, width, channels\)"),
        ({"input_shape": (48, 48)}, ValueError, "input_shape="),
        ({"include_top": "no"}, TypeError, "include_top='no': expected True"),
    ],
)
def test_build_model_refuses_what_keras_would_build_wrong(kwargs, error, message):
    from kerfer.models import build_model

    for weights in (None, "fer2013"):
        with pytest.raises(error, match=message):
            build_model("vgg", weights=weights, **kwargs)


def test_each_public_name_is_listed_once_and_defined_where_it_says():
    """``kerfer``'s lazy table is the one list of public names: each resolves to its own module's object."""
    import importlib

    import kerfer
    from kerfer.runtime.detect import HaarDetector, YuNetDetector

    for name, module in kerfer._API.items():
        assert name in vars(importlib.import_module(module)), f"kerfer.{name} is not defined in {module}"
    assert kerfer.YuNetDetector is YuNetDetector and kerfer.HaarDetector is HaarDetector
    assert kerfer.__all__ == sorted(kerfer._API)
    import kerfer.data

    for name, module in kerfer.data._API.items():  # the data package's lazy table too
        assert name in vars(importlib.import_module(module)), f"kerfer.data.{name} is not defined in {module}"
        assert name in kerfer.data.__all__ and getattr(kerfer.data, name) is vars(importlib.import_module(module))[name]
