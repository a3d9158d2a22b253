"""Detector options are checked up front (one line naming the option and what is allowed),
and predict/live keep the TFLite runtime's native log lines off the terminal unless -v."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import MEDIA, needs_media

from kerfer.cli import main
from kerfer.runtime.detect import HaarDetector, YuNetDetector
from kerfer.runtime.pipeline import FacePipeline


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "grey.png"
    cv2.imwrite(str(path), np.full((64, 64), 128, np.uint8))
    return path


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--scale-factor", "1.0"], "'--scale-factor': 1.0 is not in the range x>1.0"),
        (["--margin", "-1"], "'--margin': -1.0 is not in the range 0.0<=x<=2.0"),
        (["--detect-size", "-5"], "'--detect-size': -5 is not 0 (full size) or >= 32"),
        (["--detect-size", "5"], "'--detect-size': 5 is not 0 (full size) or >= 32"),
        (["--min-face", "0"], "'--min-face': 0 is not in the range x>=1"),
        (["--min-neighbors", "-1"], "'--min-neighbors': -1 is not in the range x>=0"),
    ],
)
@pytest.mark.parametrize("command", ["predict", "live"])
def test_bad_detector_option_is_one_line_naming_it(command, args, says, photo):
    where = [str(photo)] if command == "predict" else ["--source", str(photo), "--headless"]
    r = CliRunner().invoke(main, [command, *where, *args])
    assert r.exit_code == 2, r.output
    assert says in r.output and "Traceback" not in r.output and "cv2.error" not in r.output


def test_yunet_model_that_is_not_onnx_is_refused(photo, tmp_path):
    csv = tmp_path / "small.csv"
    csv.write_text("a,b\n1,2\n")
    fake = tmp_path / "fake.onnx"
    fake.write_text("a,b\n1,2\n")
    cases = {
        ("--detector", "yunet", "--yunet-model", str(csv)): "--yunet-model: expected a YuNet .onnx file",
        ("--detector", "yunet", "--yunet-model", str(fake)): "--yunet-model: OpenCV cannot load it",
        ("--yunet-model", str(fake)): "is used only with --detector yunet",
    }
    for args, says in cases.items():
        r = CliRunner().invoke(main, ["predict", str(photo), *args])
        assert r.exit_code == 2 and says in r.output and "Traceback" not in r.output, r.output


def test_python_api_checks_the_same_options(tmp_path):
    for kwargs, name in [
        ({"scale_factor": 1.0}, "scale_factor=1.0"),
        ({"min_neighbors": -1}, "min_neighbors=-1"),
        ({"min_face": 0}, "min_face=0"),
        ({"max_side": 5}, "max_side=5"),
    ]:
        with pytest.raises(ValueError, match=name):
            HaarDetector(**kwargs)
    assert HaarDetector(max_side=None).detect(np.zeros((40, 40), np.uint8)) == []
    bad = tmp_path / "m.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(ValueError, match="cannot load it as a YuNet ONNX model"):
        YuNetDetector(str(bad))
    with pytest.raises(ValueError, match="margin=-1"):
        FacePipeline(None, HaarDetector(), margin=-1)  # type: ignore[arg-type]


def test_one_factory_builds_the_detectors_for_cli_and_python(tmp_path):
    """``make_detector`` is what ``predict``, ``live`` and ``crop`` build their detector with:
    options that do not fit the detector name the one at fault, for the CLI's flag."""
    from kerfer.errors import OptionError
    from kerfer.runtime.blazeface import BlazeFaceDetector
    from kerfer.runtime.detect import make_detector
    from kerfer.runtime.pipeline import make_pipeline

    assert isinstance(make_detector(), BlazeFaceDetector)
    haar = make_detector("haar", min_neighbors=6, detect_size=0)
    assert isinstance(haar, HaarDetector) and haar.min_neighbors == 6 and haar.max_side is None
    for kwargs, option in [
        ({"name": "haar", "min_score": 0.5}, "min_score"),
        ({"name": "yunet"}, "detector"),
        ({"name": "blazeface", "yunet_model": "m.onnx"}, "yunet_model"),
        ({"name": "nope"}, "detector"),
    ]:
        with pytest.raises(OptionError) as e:
            make_detector(**kwargs)
        assert e.value.option == option and str(e.value).startswith(f"{option}: ")
    pipe = make_pipeline(detector="haar", margin=0.2, tta=True)
    assert isinstance(pipe.detector, HaarDetector) and pipe.margin == 0.2 and pipe.tta


def _python(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("KERFER_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    return subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True, env=env, timeout=120)


CLI = "import sys; from kerfer.cli import main; sys.exit(main())"


@needs_media
def test_predict_is_quiet_by_default_and_verbose_with_v():
    photo = str(MEDIA / "obama.jpg")
    quiet = _python(CLI, "predict", photo)
    assert quiet.returncode == 0, quiet.stderr
    assert "face 1" in quiet.stdout  # the classifier ran (its interpreter is what logs)
    assert quiet.stderr.strip() == "", quiet.stderr  # no XNNPACK / absl lines
    loud = _python(CLI, "-v", "predict", photo)
    assert loud.returncode == 0 and "XNNPACK" in loud.stderr, loud.stderr
    assert loud.stdout == quiet.stdout


def test_classifier_is_quiet_unless_kerfer_verbose():
    code = "import numpy as np; from kerfer.runtime import Classifier; Classifier().predict_faces(np.zeros((1, 48, 48, 1), np.uint8)); print('ok')"
    quiet = _python(code)
    assert quiet.stdout == "ok\n" and quiet.stderr.strip() == "", quiet.stderr
    env_loud = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "KERFER_VERBOSE": "1"},
        timeout=120,
    )
    assert "XNNPACK" in env_loud.stderr, env_loud.stderr
