"""One model resolver and loader (kerfer.modelio) and the Classifier's model checks."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from kerfer.modelio import ModelError, as_float32, compute_dtypes, default_model_path, resolve_model_path
from kerfer.runtime import Classifier

TINY_VGG = {"widths": [4, 4, 4, 4], "stem_filters": 4}


def _save(path, *, shape=(48, 48, 1), policy="float32"):
    import keras

    from kerfer.models import build_model

    old = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = build_model("vgg", 7, shape, **TINY_VGG)
    finally:
        keras.mixed_precision.set_global_policy(old)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return model


def test_resolution_is_importable_without_tensorflow():
    code = (
        "import sys, kerfer.modelio, kerfer.runtime.classifier;"
        "print(kerfer.modelio.resolve_model_path('shipped'));"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith(".tflite")


def test_one_resolver_for_every_model_argument(tmp_path):
    run = tmp_path / "run"
    _save(run / "best.keras")
    assert resolve_model_path(run) == run / "best.keras"
    assert resolve_model_path(run / "best.keras") == run / "best.keras"
    assert resolve_model_path(None) == resolve_model_path("shipped") == default_model_path()
    empty_run = tmp_path / "empty"
    empty_run.mkdir()
    (empty_run / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="empty: this run has no best.keras yet"):
        resolve_model_path(empty_run)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ModelError, match="notes.txt: unknown model format .*run directory"):
        resolve_model_path(tmp_path / "notes.txt")
    with pytest.raises(ModelError, match="nope: no such model file or run directory"):
        resolve_model_path(tmp_path / "nope")
    # One home: the old re-exports are gone (0.1.0 is the first release).
    import kerfer.evaluation
    import kerfer.runtime.classifier

    assert not hasattr(kerfer.evaluation, "resolve_model_path")
    assert not hasattr(kerfer.runtime.classifier, "default_model_path")


def test_predict_accepts_a_run_directory(tmp_path):
    """Issue 15 item 14: `predict --model RUN_DIR` was refused ("unknown model format")."""
    from click.testing import CliRunner

    from kerfer.cli import main

    run = tmp_path / "run"
    _save(run / "best.keras")
    img = tmp_path / "blank.png"
    import cv2

    cv2.imwrite(str(img), np.full((64, 64, 3), 128, np.uint8))
    res = CliRunner().invoke(main, ["predict", str(img), "--model", str(run)])
    assert res.exit_code == 0, res.output
    assert "no face found" in res.output
    res = CliRunner().invoke(main, ["predict", str(img), "--model", str(tmp_path / "nothing")])
    assert res.exit_code == 1 and "nothing: no such model file or run directory" in res.output
    assert "Traceback" not in res.output


def test_classifier_takes_input_size_and_channels_from_the_model(tmp_path):
    """A 64 px .keras was fed 48 px crops; an RGB .keras gave a multi-line TensorFlow dump."""
    big = tmp_path / "big.keras"
    _save(big, shape=(64, 64, 1))
    with pytest.warns(UserWarning, match="no labels file"):
        clf = Classifier(big)
    assert (clf.input_size, clf.channels) == (64, 1)
    assert clf.predict_faces(np.zeros((2, 64, 64, 1), np.uint8)).shape == (2, 7)

    rgb = tmp_path / "rgb" / "model.keras"
    _save(rgb, shape=(48, 48, 3))
    with pytest.warns(UserWarning):
        clf = Classifier(rgb)
    assert clf.channels == 3
    with pytest.raises(ModelError) as e:
        clf.predict_faces(np.zeros((1, 48, 48, 1), np.uint8))
    assert str(e.value).count("\n") == 0 and "expects face crops of shape (N, 48, 48, 3)" in str(e.value)

    from kerfer.contract import ModelContract

    ModelContract(input_size=48, channels=3).save(tmp_path / "labels.json")
    with pytest.raises(ModelError, match="takes 64x64x1 images but labels.json says 48x48x3"):
        Classifier(big)


def test_tflite_classifier_is_thread_safe():
    """Issue 15 item 4: 4 threads on one Classifier failed 398 of 400 calls."""
    clf = Classifier()
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, 256, (1 + i % 3, 48, 48, 1), dtype=np.uint8) for i in range(12)]
    expected = [clf.predict_faces(b) for b in batches]
    errors: list[BaseException] = []
    mismatches = []

    def work(k: int) -> None:
        for j in range(60):
            i = (j + k) % len(batches)
            try:
                got = clf.predict_faces(batches[i])
            except BaseException as e:  # noqa: BLE001 - any failure is the bug
                errors.append(e)
                continue
            if not np.allclose(got, expected[i]):
                mismatches.append(i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert not mismatches


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_model_loads_as_float32(tmp_path, policy):
    from kerfer.modelio import load_keras_model

    path = tmp_path / "m.keras"
    model = _save(path, policy=policy)
    assert compute_dtypes(model) > {"float32"}
    loaded = load_keras_model(path, float32=True)
    assert compute_dtypes(loaded) == {"float32"}
    x = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(loaded(x), model(x), atol=0.02)
    assert as_float32(loaded) is loaded
