"""``kerfer export`` checks its data before writing, validates parity on the run's own split,
and never damages a good export when a later one fails."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from kerfer.cli import main


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """An untrained tiny 2-class model whose run validated on an image folder's ``val`` split."""
    import keras

    from kerfer.contract import ModelContract
    from kerfer.models import build_model

    tmp = tmp_path_factory.mktemp("folder_run")
    data = tmp / "photos"
    for split in ("train", "val"):
        for k, name in enumerate(("happy", "sad")):
            d = data / split / name
            d.mkdir(parents=True)
            for i in range(4):
                cv2.imwrite(str(d / f"{i}.png"), np.full((48, 48), 60 + 100 * k + i, np.uint8))
    keras.utils.set_random_seed(0)
    run = tmp / "run"
    run.mkdir()
    build_model("vgg", 2, widths=[4, 8, 8, 8], stem_filters=4).save(run / "best.keras")
    ModelContract(class_names=("happy", "sad")).save(run / "labels.json")
    (run / "config.json").write_text(json.dumps({"data": str(data), "train_split": "train", "val_split": "val"}))
    return run, data


def _export(*args):
    model, *rest = args
    return CliRunner().invoke(main, ["export", "--model", str(model), *map(str, rest), "--no-saved-model"])


def test_parity_defaults_to_the_runs_validation_split_and_missing_splits_write_nothing(folder_run, tmp_path):
    run, data = folder_run
    r = _export(run, "--tflite", "float32", "--data", data, "--out", tmp_path / "good")
    assert r.exit_code == 0, r.output
    assert "parity on val" in r.output and (tmp_path / "good" / "parity.csv").exists()
    r = _export(run, "--tflite", "int8", "--data", data, "--parity-split", "PublicTest", "--out", tmp_path / "bad")
    assert r.exit_code == 1 and "PublicTest: no such split folder" in r.output, r.output
    assert not (tmp_path / "bad").exists() and not list(tmp_path.glob(".bad*"))


def test_a_failed_export_leaves_a_good_one_untouched(folder_run, tmp_path, monkeypatch):
    import kerfer.exporting as ex
    from kerfer.contract import ModelContract
    from kerfer.models import build_model

    run, data = folder_run
    out = tmp_path / "e1"
    assert _export(run, "--tflite", "float32", "--data", data, "--out", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    other = tmp_path / "other.keras"  # another model (3 classes): its labels.json differs
    build_model("vgg", 3, widths=[4, 8, 8, 8], stem_filters=4).save(other)
    ModelContract(class_names=("angry", "happy", "sad")).save(tmp_path / "other.json")
    r = _export(other, "--tflite", "int8", "--out", out)  # no data for int8 calibration
    assert r.exit_code == 1 and "need data" in r.output

    def broken(*args, **kwargs):
        raise RuntimeError("converter crashed")

    monkeypatch.setattr(ex, "convert_tflite", broken)  # a failure part-way through the writing
    r = _export(other, "--tflite", "float16", "--data", data, "--parity-split", "none", "--out", out)
    assert r.exit_code == 1 and "converter crashed" in r.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not list(tmp_path.glob(".e1*"))  # no staging folder left behind
