"""Small user mistakes, each one clear line: calibration size 0, an empty split, spaces inside quotes."""

from __future__ import annotations

import cv2
import pytest
from click.testing import CliRunner
from fakedata import make_images, make_two_class_run

from kerfer.cli import main


@pytest.fixture(scope="module")
def two_class_run(tmp_path_factory):
    """A run directory with an untrained 2-class (angry, happy) model: enough to reach the checks."""
    return make_two_class_run(tmp_path_factory.mktemp("run"), [0, 3, 1, 1])


def test_calibration_samples_zero_names_the_real_flag(two_class_run, tmp_path):
    run, csv = two_class_run
    out = tmp_path / "o"
    r = CliRunner().invoke(
        main, ["export", "--model", str(run), "--csv", str(csv), "--calibration-samples", "0", "--out", str(out)]
    )
    assert r.exit_code == 1 and "--calibration-samples must be at least 1 for an int8 export, got 0" in r.output
    assert "--calibration-csv" not in r.output and not out.exists()


def test_evaluating_an_empty_split_is_one_clear_line(two_class_run):
    run, csv = two_class_run  # PublicTest holds only disgust rows: none of the model's classes
    r = CliRunner().invoke(main, ["evaluate", "--model", str(run), "--csv", str(csv), "--split", "PublicTest"])
    assert r.exit_code == 1 and "Traceback" not in r.output and "argmax" not in r.output
    assert "split 'PublicTest' of" in r.output and "has no images of the model's classes (angry, happy)" in r.output


@pytest.mark.parametrize("usage", ['"Training "', "Training ", ' " Training" '])
def test_usage_with_spaces_quoted_or_not_is_accepted(tmp_path, usage):
    from kerfer.data import read_fer2013

    images, labels = make_images(2)
    lines = [f"{lab},{' '.join(map(str, img.reshape(-1)))},{usage}" for img, lab in zip(images, labels)]
    path = tmp_path / "f.csv"
    path.write_text("emotion,pixels,Usage\n" + "\n".join(lines) + "\n")
    assert len(read_fer2013(path, cache=False).select("Training").labels) == 2


def test_export_refuses_a_folder_without_every_class_of_the_model(two_class_run, tmp_path):
    """A 7-class model exported with a 3-class --data was calibrated and measured on 3 classes without a word."""
    run, _ = two_class_run
    images, _ = make_images(4)
    for split in ("train", "val"):
        (tmp_path / "photos" / split / "angry").mkdir(parents=True)
        for i, img in enumerate(images):
            ok, data = cv2.imencode(".png", img)
            (tmp_path / "photos" / split / "angry" / f"{i}.png").write_bytes(data.tobytes())
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["export", "--model", str(run), "--data", str(tmp_path / "photos"), "--out", str(out)])
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    assert "its class folders are angry but the model predicts angry, happy (no images of happy)" in r.output
    assert not out.exists()


def test_a_model_without_a_labels_file_is_not_said_to_have_one(two_class_run, tmp_path):
    """A 2-output model without labels was refused as `its labels file lists 7 classes`."""
    from kerfer.runtime import Classifier, ModelError

    run, _ = two_class_run
    lone = tmp_path / "lone.keras"
    lone.write_bytes((run / "best.keras").read_bytes())
    with pytest.warns(UserWarning, match="no labels file found"), pytest.raises(ModelError) as e:
        Classifier(lone)
    assert "the model has 2 outputs and no labels file (labels.json beside it)" in str(e.value)
    assert "its labels file lists" not in str(e.value)


def test_a_broken_link_in_a_class_folder_is_named_not_dropped(tmp_path):
    from kerfer.data.folders import read_image_folder
    from kerfer.errors import DataError

    folder = tmp_path / "train" / "happy"
    folder.mkdir(parents=True)
    ok, data = cv2.imencode(".png", make_images(1)[0][0])
    (folder / "a.png").write_bytes(data.tobytes())
    (folder / "gone.png").symlink_to(tmp_path / "deleted.png")
    with pytest.raises(DataError, match=r"gone\.png: cannot read"):
        read_image_folder(tmp_path, "train")
    images, _, _ = read_image_folder(tmp_path, "train", on_bad_file="skip")
    assert len(images) == 1
