from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from fakedata import ferplus_votes, tiny_fer_csv, write_ferplus

from kerfer.callbacks import read_history
from kerfer.cli import main
from kerfer.training import TrainConfig, choose_precision

TINY_ARCH = ["--arch", "vgg", "--arch-option", "widths=[8,16,16,32]", "--arch-option", "stem_filters=4"]


def test_precision_policy_without_a_gpu():
    assert choose_precision("auto", []) == "float32"
    assert choose_precision("auto", ["/physical_device:GPU:0"]) == "mixed_float16"
    assert choose_precision("float32", ["gpu"]) == "float32"
    assert choose_precision("mixed_bfloat16", []) == "mixed_bfloat16"


def test_config_round_trip_and_validation(tmp_path):
    cfg = TrainConfig(csv="x.csv", epochs=3, arch_options={"widths": [8, 16]})
    path = tmp_path / "c.json"
    path.write_text(cfg.to_json())
    assert TrainConfig.from_file(path) == cfg
    with pytest.raises(ValueError, match="unknown config keys: colour"):
        TrainConfig.from_dict({"colour": 1})
    with pytest.raises(ValueError, match="exactly one data source"):
        TrainConfig().validate()


def test_train_then_evaluate_end_to_end(tmp_path):
    csv, *_ = tiny_fer_csv(tmp_path / "fer.csv.gz", n=210, gz=True)
    run = tmp_path / "run"
    r = CliRunner().invoke(
        main,
        [
            "train",
            "--csv",
            str(csv),
            "--epochs",
            "2",
            "--batch-size",
            "32",
            "--class-weights",
            "sqrt",
            "--out",
            str(run),
            *TINY_ARCH,
        ],
    )
    assert r.exit_code == 0, r.output
    assert "kerfer: trained 2 epochs" in r.output
    for name in ("config.json", "best.keras", "last.keras", "history.csv", "labels.json", "curves.png"):
        assert (run / name).exists(), name
    hist = read_history(run / "history.csv")
    assert hist["epoch"] == [1.0, 2.0] and "val_accuracy" in hist
    assert json.loads((run / "config.json").read_text())["class_weight_power"] == 0.5

    again = CliRunner().invoke(main, ["train", "--csv", str(csv), "--out", str(run)])
    assert again.exit_code == 1 and "already holds a run" in again.output

    r = CliRunner().invoke(main, ["evaluate", "--model", str(run), "--csv", str(csv), "--split", "PublicTest", "--tta"])
    assert r.exit_code == 0, r.output
    assert "precision" in r.output and "recall" in r.output and "with flip TTA" in r.output
    for name in ("metrics_PublicTest.csv", "confusion_PublicTest.png", "metrics_PublicTest.json"):
        assert (run / name).exists(), name
    r = CliRunner().invoke(main, ["evaluate", "--model", str(run), "--csv", str(csv), "--json"])
    out = json.loads(r.output)
    assert 0.0 <= out["accuracy"] <= 1.0 and set(out["report"]["per_class"]) == {
        "angry",
        "disgust",
        "fear",
        "happy",
        "sad",
        "surprise",
        "neutral",
    }


def test_bad_csv_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("emotion,pixels,Usage\n3,1 2 3,Training\n")
    r = CliRunner().invoke(main, ["train", "--csv", str(bad), "--out", str(tmp_path / "r")])
    assert r.exit_code == 1
    assert "bad.csv, line 2: expected 2304 pixel values (48x48), found 3" in r.output
    assert "Traceback" not in r.output


def _train_cmd(csv, run, epochs, resume=False):
    cmd = [sys.executable, "-m", "kerfer.cli", "train", "--out", str(run)]
    if resume:
        return cmd + ["--resume"]
    return cmd + ["--csv", str(csv), "--epochs", str(epochs), "--batch-size", "16", "--no-augment", *TINY_ARCH]


def test_sigkill_then_resume_loses_and_repeats_no_epoch(tmp_path):
    csv, *_ = tiny_fer_csv(tmp_path / "fer.csv", n=1400)
    run = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(_train_cmd(csv, run, 4), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 240
    while time.time() < deadline and len(read_history(run / "history.csv").get("epoch", [])) < 1:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = read_history(run / "history.csv")["epoch"]
    assert 1 <= len(done) < 4, "the run must be killed part-way"
    out = subprocess.run(_train_cmd(csv, run, 4, resume=True), env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Epoch 1/4" not in out.stdout  # restored, not restarted
    assert read_history(run / "history.csv")["epoch"] == [1.0, 2.0, 3.0, 4.0]


def test_best_checkpoint_is_atomic_and_keeps_the_best(tmp_path):
    import keras
    import numpy as np

    from kerfer.callbacks import AtomicCheckpoint

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    cb = AtomicCheckpoint(tmp_path / "best.keras", monitor="val_accuracy")
    cb.set_model(model)
    cb.on_train_begin()
    cb.on_epoch_end(0, {"val_accuracy": 0.5})
    first = (tmp_path / "best.keras").read_bytes()
    model.layers[0].kernel.assign(np.ones((2, 1)))
    cb.on_epoch_end(1, {"val_accuracy": 0.4})  # worse: not saved
    assert (tmp_path / "best.keras").read_bytes() == first
    cb.on_epoch_end(2, {"val_accuracy": 0.6})
    assert (tmp_path / "best.keras").read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.keras"]  # no temp files left


def test_ferplus_training_with_soft_targets_and_evaluation(tmp_path):
    from kerfer.labels import FERPLUS_CLASSES

    csv, _, labels, usages = tiny_fer_csv(tmp_path / "fer2013.csv", n=140)
    fp = write_ferplus(tmp_path / "fer2013new.csv.gz", usages, ferplus_votes(labels))
    run = tmp_path / "run"
    r = CliRunner().invoke(
        main,
        [
            "train",
            "--csv",
            str(csv),
            "--labels",
            "ferplus",
            "--ferplus-csv",
            str(fp),
            "--ferplus-mode",
            "probability",
            "--epochs",
            "1",
            "--out",
            str(run),
            *TINY_ARCH,
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads((run / "labels.json").read_text())["class_names"] == list(FERPLUS_CLASSES)
    r = CliRunner().invoke(main, ["evaluate", "--model", str(run), "--csv", str(csv), "--json"])
    assert r.exit_code == 0, r.output
    assert set(json.loads(r.output)["report"]["per_class"]) == set(FERPLUS_CLASSES)


def test_init_from_a_previous_run(tmp_path):
    import keras
    import numpy as np

    csv, *_ = tiny_fer_csv(tmp_path / "fer.csv", n=140)
    first, second = tmp_path / "a", tmp_path / "b"
    base = ["train", "--csv", str(csv), "--batch-size", "32", "--no-augment", *TINY_ARCH]
    assert CliRunner().invoke(main, [*base, "--epochs", "1", "--out", str(first)]).exit_code == 0
    r = CliRunner().invoke(
        main,
        [
            *base,
            "--epochs",
            "1",
            "--lr",
            "0",
            "--lr-schedule",
            "constant",
            "--init-from",
            str(first),
            "--out",
            str(second),
        ],
    )
    assert r.exit_code == 0, r.output
    a = keras.saving.load_model(first / "best.keras")
    b = keras.saving.load_model(second / "last.keras")
    # With a zero learning rate (AdamW's decay is scaled by it too) no trainable weight moves:
    # the second run ends with exactly the first run's kernels, biases and BatchNorm scales.
    # Only the BatchNorm moving statistics, which are not trained, may change.
    assert len(a.trainable_weights) == len(b.trainable_weights) > 10
    for wa, wb in zip(a.trainable_weights, b.trainable_weights):
        assert wa.path == wb.path
        np.testing.assert_array_equal(np.asarray(wa), np.asarray(wb), err_msg=wa.path)


def test_atomic_writes_have_normal_permissions(tmp_path):
    import os

    from kerfer.io import atomic_write_text

    atomic_write_text(tmp_path / "a.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~mask


def test_init_weights_transfers_the_backbone_to_a_new_head(tmp_path):
    import numpy as np

    from kerfer.models import build_model
    from kerfer.training import init_weights

    opts = {"widths": [8, 16, 16, 32], "stem_filters": 4}
    source = build_model("vgg", 7, **opts)
    source.save(tmp_path / "best.keras")
    target = build_model("vgg", 8, **opts)
    note = init_weights(target, tmp_path)
    assert "new head for 8 classes (the weights were trained on 7 classes)" in note
    src_layer, dst_layer = source.get_layer("stage3_conv1_conv"), target.get_layer("stage3_conv1_conv")
    for a, b in zip(src_layer.get_weights(), dst_layer.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert target.get_layer("head_logits").get_weights()[0].shape == (32, 8)

    with pytest.raises(ValueError, match="same --arch"):
        init_weights(build_model("vgg", 7, widths=[8, 16, 16, 64], stem_filters=4), tmp_path)
    with pytest.raises(ValueError, match="has no layer"):
        init_weights(build_model("vgg", 7, depths=[1, 2, 2, 3], **opts), tmp_path)


def _splits(images, labels, names=None):
    from kerfer.data.fer2013 import FER2013_CLASSES
    from kerfer.data.splits import Splits

    return Splits(images[..., None], labels, None, None, tuple(names or FER2013_CLASSES))


def test_teacher_targets_mix_labels_with_flip_averaged_teacher(tmp_path):
    import numpy as np
    from fakedata import make_images

    from kerfer.distill import teacher_targets
    from kerfer.evaluation import predict_batches
    from kerfer.runtime import Classifier

    images, labels = make_images(40, seed=3)
    targets, note = teacher_targets("shipped", _splits(images, labels), weight=0.25)
    teacher = predict_batches(Classifier().predict_faces, images[..., None], tta=True)
    teacher /= teacher.sum(1, keepdims=True)
    expected = 0.75 * np.eye(7)[labels] + 0.25 * teacher
    np.testing.assert_allclose(targets, expected, atol=1e-6)
    np.testing.assert_allclose(targets.sum(1), 1.0, atol=1e-5)
    assert (targets.argmax(1) == labels).all()  # weight <= 0.5 keeps the label on top
    assert "agreement with the training labels" in note and "0.75 x labels + 0.25 x teacher" in note
    # Mirrored images get the same teacher share: the teacher's half is flip-averaged.
    mirrored, _ = teacher_targets("shipped", _splits(images[:, :, ::-1].copy(), labels), weight=1.0)
    np.testing.assert_allclose(mirrored, teacher, atol=1e-6)


def test_teacher_with_other_classes_is_refused():
    from fakedata import make_images

    from kerfer.distill import teacher_targets

    images, labels = make_images(10, seed=1, num_classes=4)
    with pytest.raises(ValueError, match="same classes in the same order"):
        teacher_targets("shipped", _splits(images, labels, ["angry", "happy", "sad", "surprise"]), weight=0.5)


def test_train_with_a_teacher_from_the_cli(tmp_path):
    csv, *_ = tiny_fer_csv(tmp_path / "fer.csv", n=140)
    out = tmp_path / "student"
    args = ["train", "--csv", str(csv), "--epochs", "1", "--batch-size", "32", "--no-augment", *TINY_ARCH]
    r = CliRunner().invoke(main, [*args, "--teacher", "shipped", "--teacher-weight", "0.7", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "targets = 0.3 x labels + 0.7 x teacher" in r.output
    saved = json.loads((out / "config.json").read_text())
    assert saved["teacher"] == "shipped" and saved["teacher_weight"] == 0.7
    two = CliRunner().invoke(main, [*args, "--teacher", "shipped", "--teacher", "shipped", "--out", str(out) + "2"])
    assert two.exit_code == 0, two.output
    assert "mean of 2 teachers" in two.output
    assert json.loads((tmp_path / "student2" / "config.json").read_text())["teacher"] == ["shipped", "shipped"]
    bad = CliRunner().invoke(main, [*args, "--teacher", "shipped", "--teacher-weight", "1.5", "--out", str(out) + "3"])
    assert (
        bad.exit_code != 0
        and "config key 'teacher_weight': got 1.5, expected a value more than 0 and at most 1" in bad.output
    )


def test_several_teachers_are_averaged(tmp_path):
    import numpy as np
    from fakedata import make_images

    from kerfer.distill import _teacher_probs, teacher_targets
    from kerfer.models import build_model

    other = tmp_path / "other.keras"
    build_model("vgg", 7, (48, 48, 1), widths=[8, 16, 16, 32], stem_filters=4).save(other)
    images, labels = make_images(30, seed=5)
    splits = _splits(images, labels)
    with pytest.warns(UserWarning, match="no labels file"):
        targets, note = teacher_targets(["shipped", str(other)], splits, weight=1.0)
        expected = (_teacher_probs("shipped", splits) + _teacher_probs(str(other), splits)) / 2
    np.testing.assert_allclose(targets, expected, atol=1e-6)
    assert not np.allclose(targets, _teacher_probs("shipped", splits), atol=1e-3)
    assert note.startswith("mean of 2 teachers (shipped: ")
