"""Starting and resuming a run: nothing is written before everything is checked, config values
are type- and range-checked, and --resume takes only the flags it can honour."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fakedata import make_images, tiny_fer_csv, write_csv

import kerfer
from kerfer.cli import main
from kerfer.training import TrainConfig

TINY = ["--arch-option", "widths=[8,16,16,32]", "--arch-option", "stem_filters=4", "--batch-size", "32"]


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory):
    path, *_ = tiny_fer_csv(tmp_path_factory.mktemp("data") / "fer.csv", n=140)
    return path


def _train(*args):
    return CliRunner().invoke(main, ["train", *map(str, args)])


@pytest.mark.parametrize(
    "bad, message",
    [
        (["--arch", "vggg"], "vggg"),
        (["--classes", "happy,nope"], "unknown class 'nope'"),
        (["--classes", "happy"], "at least 2 classes"),
        (["--val-split", "Nope"], "unknown split 'Nope'"),
        (["--arch-option", "bogus=1"], "bogus"),
        (["--init-from", "no/such/run"], "no/such/run"),
        (["--lr", "-0.1"], "config key 'learning_rate': got -0.1"),
    ],
)
def test_a_failed_start_writes_nothing(tmp_path, tiny_csv, bad, message):
    run = tmp_path / "run"
    r = _train("--csv", tiny_csv, "--epochs", 1, *TINY, *bad, "--out", run)
    assert r.exit_code == 1 and message in r.output, r.output
    assert not (run / "config.json").exists()


def test_missing_data_and_missing_val_split_write_nothing(tmp_path):
    run = tmp_path / "run"
    r = _train("--csv", tmp_path / "nope.csv", "--out", run)
    assert r.exit_code == 1 and "nope.csv" in r.output
    images, labels = make_images(60, 0)
    only_train = tmp_path / "train_only.csv"
    write_csv(only_train, images, labels, ["Training"] * 60)
    r = _train("--csv", only_train, *TINY, "--out", run)  # validation defaults to PublicTest
    assert r.exit_code == 1 and "split 'PublicTest' is not in" in r.output, r.output
    assert not run.exists()
    with pytest.raises(ValueError, match="exactly one data source"):
        kerfer.train(TrainConfig(csv=None), tmp_path / "api")
    assert not (tmp_path / "api").exists()


@pytest.mark.parametrize(
    "config, message",
    [
        ({"epochs": "3"}, "config key 'epochs': got '3', expected an integer"),
        ({"augment": True}, "config key 'augment': got True, expected an object with keys flip"),
        ({"batch_size": 32.5}, "config key 'batch_size': got 32.5, expected an integer"),
        ({"augment": {"flipp": True}}, "unknown keys flipp; allowed: flip, shift"),
        ({"learning_rate": -0.1}, "config key 'learning_rate': got -0.1, expected a value at least 0"),
        ({"optimizer": "adam"}, "config key 'optimizer': got 'adam', expected one of adamw, sgd"),
        ({"label_smoothing": 1.5}, "config key 'label_smoothing'"),
        ([1, 2], "a config must be a JSON object"),
    ],
)
def test_config_values_are_type_and_range_checked(tmp_path, tiny_csv, config, message):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    r = _train("--config", path, "--csv", tiny_csv, "--out", tmp_path / "run")
    assert r.exit_code == 1 and message in r.output, r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_resume_extends_epochs_takes_moved_data_and_refuses_other_flags(tmp_path, tiny_csv, monkeypatch):
    import shutil

    data = tmp_path / "data"
    data.mkdir()
    csv = shutil.copy(tiny_csv, data / "fer.csv")
    monkeypatch.chdir(tmp_path)
    r = _train("--csv", "data/fer.csv", "--epochs", 1, "--no-augment", *TINY, "--out", "run")
    assert r.exit_code == 0, r.output
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["csv"] == str(tmp_path / "data" / "fer.csv")  # absolute: a resume from elsewhere finds it

    r = _train("--out", "run", "--resume", "--epochs", 3, "--lr", 0.01, "--seed", 2)
    assert r.exit_code == 1 and "not learning_rate, seed" in r.output, r.output

    moved = tmp_path / "moved.csv"
    shutil.move(csv, moved)
    r = _train("--out", "run", "--resume", "--epochs", 2, "--csv", moved)
    assert r.exit_code == 0, r.output
    assert "trained 2 epochs" in r.output
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["epochs"] == 2 and saved["csv"] == str(moved)
    r = _train("--out", "run", "--resume", "--epochs", 1)
    assert r.exit_code == 1 and "already trained 2 epochs" in r.output
    r = _train(
        "--out", "run", "--resume", "--epochs", 2, "--no-cache"
    )  # where the parse cache is kept is not the run's
    assert r.exit_code == 0, r.output


def test_image_folder_honours_classes_and_skips_empty_folders(tmp_path):
    import cv2
    import numpy as np

    from kerfer.data.splits import load_splits
    from kerfer.errors import DataError

    for split in ("train", "val"):
        for k, name in enumerate(("angry", "happy", "sad")):
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(k + 2):
                cv2.imwrite(str(tmp_path / split / name / f"{i}.png"), np.full((48, 48), 50 * k, np.uint8))
        (tmp_path / split / "contempt").mkdir()  # no images: not a class
    base = {"data": str(tmp_path), "train_split": "train", "val_split": "val"}
    every = load_splits(TrainConfig(**base))
    assert every.class_names == ("angry", "happy", "sad") and len(every.x_train) == 2 + 3 + 4
    two = load_splits(TrainConfig(**base, classes=["sad", "happy"]))
    assert two.class_names == ("sad", "happy") and len(two.x_train) == 4 + 3 and len(two.x_val) == 4 + 3
    assert sorted(np.bincount(two.y_train)) == [3, 4]
    with pytest.raises(DataError, match=r"no images for the chosen classes \['contempt'\]"):
        load_splits(TrainConfig(**base, classes=["happy", "contempt"]))


def test_pathlib_paths_are_accepted_from_python(tmp_path):
    cfg = TrainConfig(csv=tmp_path / "fer.csv", init_from=tmp_path / "run", teacher=[tmp_path / "t"])
    cfg.validate()  # the type checks see strings, and so does config.json
    assert cfg.csv == str(tmp_path / "fer.csv") and cfg.teacher == [str(tmp_path / "t")]


def test_the_phase_plan_and_the_epochs_done(tmp_path):
    """A frozen-backbone run is two fit calls (the head at a constant rate, then everything with
    the schedule restarted over the remaining epochs); a resume past the head skips the first."""
    from kerfer.training import Phase, epochs_done, phase_plan

    cfg = TrainConfig(csv="f.csv", epochs=10, warmup_epochs=1, lr_schedule="cosine")
    assert phase_plan(cfg) == [Phase(0, 10, False, "backup", cfg)]
    fine = TrainConfig(csv="f.csv", epochs=10, warmup_epochs=1, freeze_backbone_epochs=3, init_from="x")
    head, rest = phase_plan(fine, done=2)
    assert (head.first, head.until, head.frozen, head.backup, head.schedule.lr_schedule) == (
        0,
        3,
        True,
        "backup_head",
        "constant",
    )
    assert (rest.first, rest.until, rest.frozen, rest.backup) == (3, 10, False, "backup")
    assert (rest.schedule.epochs, rest.schedule.warmup_epochs) == (7, 0)
    assert phase_plan(fine, done=3) == [rest]
    assert epochs_done(tmp_path) == 0
    (tmp_path / "history.csv").write_text("epoch,loss\n1,2.0\n2,1.5\n")
    assert epochs_done(tmp_path) == 2


def test_resolve_auto_records_what_this_machine_chose():
    from kerfer.training import resolve_auto

    cfg = TrainConfig(csv="f.csv")
    assert (resolve_auto(cfg, []).precision, resolve_auto(cfg, []).augment_on) == ("float32", "host")
    assert (resolve_auto(cfg, ["gpu"]).precision, resolve_auto(cfg, ["gpu"]).augment_on) == ("mixed_float16", "device")
    tpu = TrainConfig(csv="f.csv", strategy="tpu", precision="float32")
    assert (resolve_auto(tpu, []).precision, resolve_auto(tpu, []).augment_on) == ("float32", "device")
