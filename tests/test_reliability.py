"""Bad files, bad images, missing cameras and interruptions: each ends in one clear message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import cv2
import keras
import numpy as np
import pytest
from click.testing import CliRunner
from fakedata import tiny_fer_csv

from kerfer.callbacks import read_history
from kerfer.cli import main
from kerfer.contract import ModelContract
from kerfer.data.folders import read_image_folder
from kerfer.runtime import Classifier, ModelError
from kerfer.runtime.images import read_image


def test_truncated_keras_file_is_refused(exported, tmp_path):
    result, *_ = exported
    cut = tmp_path / "cut.keras"
    data = result.files["keras"].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="cut.keras: not a valid .keras file"):
        Classifier(cut)
    r = CliRunner().invoke(main, ["predict", "--model", str(cut), "x.jpg"])
    assert r.exit_code == 1 and "not a valid .keras file" in r.output and "Traceback" not in r.output


def test_corrupt_tflite_is_refused(tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 64)
    ModelContract().save(tmp_path / "bad.json")
    with pytest.raises(ModelError, match="bad.tflite: not a valid TFLite model"):
        Classifier(bad)


def test_lambda_layer_needs_unsafe(tmp_path):
    inp = keras.Input((48, 48, 1))
    x = keras.layers.Lambda(lambda t: t / 255.0)(inp)
    out = keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(x))
    path = tmp_path / "lambda.keras"
    keras.Model(inp, out).save(path)
    with pytest.raises(ModelError, match="Lambda layer.*--unsafe"):
        Classifier(path)
    assert Classifier(path, unsafe=True).predict_faces(np.zeros((1, 48, 48, 1), np.uint8)).shape == (1, 7)


def test_odd_images_16bit_rgba_tiny_huge(exported, tmp_path):
    result, *_ = exported
    img16 = (np.arange(60 * 80, dtype=np.uint16).reshape(60, 80) * 13).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), img16)
    np.testing.assert_array_equal(read_image(tmp_path / "deep.png", gray=True), (img16 // 257).astype(np.uint8))
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., 3] = 255
    cv2.imwrite(str(tmp_path / "alpha.png"), rgba)
    assert read_image(tmp_path / "alpha.png").shape == (40, 40, 3)
    cv2.imwrite(str(tmp_path / "tiny.png"), np.zeros((2, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "huge.jpg"), np.full((4000, 6000, 3), 90, np.uint8))
    r = CliRunner().invoke(main, ["predict", "--model", str(result.files["tflite_int8"]), str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert r.output.count("no face found") == 4


def test_16bit_png_in_image_folder(tmp_path):
    d = tmp_path / "train" / "happy"
    d.mkdir(parents=True)
    img = np.full((48, 48), 257 * 100, np.uint16)
    cv2.imwrite(str(d / "a.png"), img)
    x, _, _ = read_image_folder(tmp_path, "train")
    assert x.shape == (1, 48, 48, 1) and int(x.max()) == 100


def test_missing_camera_is_one_line(exported):
    result, *_ = exported
    r = CliRunner().invoke(main, ["live", "--model", str(result.files["tflite_int8"]), "--camera", "57", "--headless"])
    assert r.exit_code == 1 and "camera 57: cannot open it" in r.output


def test_picamera_without_picamera2_says_how_to_install(exported):
    result, *_ = exported
    r = CliRunner().invoke(main, ["live", "--model", str(result.files["tflite_int8"]), "--picamera", "--headless"])
    assert r.exit_code == 1 and "picamera2" in r.output


def test_run_dir_that_cannot_be_created(tmp_path):
    csv, *_ = tiny_fer_csv(tmp_path / "f.csv")
    blocker = tmp_path / "file"
    blocker.write_text("I am a file")
    r = CliRunner().invoke(main, ["train", "--csv", str(csv), "--out", str(blocker / "run")])
    assert r.exit_code == 1 and "cannot write the run directory" in r.output and "Traceback" not in r.output


def test_invalid_config_file(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text("{not json")
    r = CliRunner().invoke(main, ["train", "--config", str(cfg), "--csv", "x.csv"])
    assert r.exit_code == 1 and "c.json: not valid JSON" in r.output
    cfg.write_text('{"epochz": 3}')
    r = CliRunner().invoke(main, ["train", "--config", str(cfg), "--csv", "x.csv"])
    assert r.exit_code == 1 and "unknown config keys: epochz" in r.output


def test_resume_without_a_run(tmp_path):
    r = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "none"), "--resume"])
    assert r.exit_code == 1 and "no config.json to resume from" in r.output


def test_sigint_stops_cleanly_and_resumes(tmp_path):
    csv, *_ = tiny_fer_csv(tmp_path / "fer.csv", n=1400)
    run = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    base = [sys.executable, "-m", "kerfer.cli", "train", "--out", str(run)]
    args = [
        "--csv",
        str(csv),
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--no-augment",
        "--arch-option",
        "widths=[8,16,16,32]",
        "--arch-option",
        "stem_filters=4",
    ]
    proc = subprocess.Popen(base + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and not read_history(run / "history.csv"):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    epochs = read_history(run / "history.csv")["epoch"]
    if len(epochs) < 3:  # interrupted part-way (the usual case)
        assert proc.returncode == 130, err[-2000:]
        assert "finished epochs are saved" in err and "--resume" in err
        assert "Traceback" not in err
    out = subprocess.run(base + ["--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert read_history(run / "history.csv")["epoch"] == [1.0, 2.0, 3.0]


def test_live_skips_and_counts_frames_that_fail_to_decode(exported):
    from kerfer.runtime.live import run_live
    from kerfer.runtime.pipeline import FacePipeline

    result, *_ = exported
    pipe = FacePipeline(Classifier(result.files["tflite_int8"]))
    frame = np.full((120, 160, 3), 80, np.uint8)
    summary = run_live(iter([frame, None, frame, None, None, frame]), pipe, show=False)
    assert summary.frames == 3 and summary.failed_frames == 3 and summary.faces == 0


def test_live_window_without_a_display_says_use_headless(exported, monkeypatch):
    result, *_ = exported
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    r = CliRunner().invoke(main, ["live", "--model", str(result.files["tflite_int8"]), "--source", "x.mp4"])
    assert r.exit_code == 1 and "add --headless" in r.output
