"""Shipped float weights, ``build_model(weights=...)`` and fine-tuning from them (``--init-from shipped``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import copy_checkout, needs_fer
from fakedata import make_images

import kerfer
from kerfer.cli import main
from kerfer.models.pretrained import list_shipped_weights, load_source, shipped_metadata


def _int8_probs(faces: np.ndarray, name: str = "fer2013") -> np.ndarray:
    from kerfer.modelio import default_model_path
    from kerfer.runtime.classifier import Classifier

    return Classifier(default_model_path(name)).predict_faces(faces)


def _smooth_faces(n: int, seed: int = 0) -> np.ndarray:
    """Blurred high-contrast noise: face-sized structure without needing the shared data."""
    rng = np.random.default_rng(seed)
    x = np.stack([cv2.GaussianBlur(i, (0, 0), 3) for i in rng.integers(0, 256, (n, 48, 48)).astype(np.uint8)])
    return np.clip((x.astype(float) - x.mean()) * 4 + 128, 0, 255).astype(np.uint8)[..., None]


@pytest.mark.parametrize("name", ["fer2013", "ferplus"])
def test_shipped_weights_match_the_shipped_int8_model_on_any_faces(name):
    model = kerfer.build_model("vgg", weights=name)
    faces = _smooth_faces(64)
    float_probs = model.predict(faces.astype("float32"), verbose=0)
    diff = np.abs(float_probs - _int8_probs(faces, name))
    assert diff.mean() < 0.02, diff.mean()  # int8 rounding, not another model
    assert (float_probs.argmax(1) == _int8_probs(faces, name).argmax(1)).mean() >= 0.85


@needs_fer
@pytest.mark.parametrize(("name", "trained"), [("fer2013", 0.6), ("ferplus", 0.8)])
def test_shipped_weights_match_the_int8_model_on_publictest(shared_table, name, trained):
    from conftest import FERPLUS_CSV

    from kerfer.data.fer2013 import table_arrays
    from kerfer.data.ferplus import ferplus_arrays

    if name == "ferplus":
        faces, labels, _ = ferplus_arrays(shared_table, FERPLUS_CSV, "PublicTest", "rule")
    else:
        faces, labels, _ = table_arrays(shared_table, "PublicTest")
    faces, labels = faces[:600], labels[:600]
    model = kerfer.build_model("vgg", weights=name)
    float_probs = model.predict(faces.astype("float32"), batch_size=200, verbose=0)
    int8_probs = _int8_probs(faces, name)
    assert (float_probs.argmax(1) == int8_probs.argmax(1)).mean() >= 0.97
    assert np.abs(float_probs - int8_probs).mean() < 0.01
    # And it is a trained model of its labels, not merely a copy of the int8 file's mistakes.
    assert (float_probs.argmax(1) == labels).mean() > trained


def test_weights_metadata_rebuilds_the_model_and_is_checked():
    meta = shipped_metadata("vgg")
    assert meta["class_names"] == list(kerfer.FER2013_CLASSES)
    assert meta["input_shape"] == [48, 48, 1] and meta["storage"] == "float16"
    assert Path(meta["file"]).stat().st_size < 4_000_000  # keeps the package small
    model = kerfer.build_model("vgg", weights="fer2013")
    assert model.count_params() == meta["params"]
    assert list_shipped_weights() == {"vgg": ["fer2013", "ferplus"]}


def test_build_model_refuses_what_the_weights_cannot_be():
    with pytest.raises(ValueError, match="no pretrained 'fer2013' weights for architecture 'resnet'.*vgg"):
        kerfer.build_model("resnet", weights="fer2013")
    with pytest.raises(ValueError, match="7-class top .*num_classes=4.*include_top=False"):
        kerfer.build_model("vgg", weights="fer2013", num_classes=4)
    with pytest.raises(ValueError, match=r"widths=\[8, 16, 16, 32\] contradicts the weights"):
        kerfer.build_model("vgg", weights="fer2013", widths=[8, 16, 16, 32])
    with pytest.raises(ValueError, match="contradicts the weights"):
        kerfer.build_model("vgg", weights="fer2013", input_shape=(48, 48, 3))
    with pytest.raises(ValueError, match="weights must be None, 'fer2013', 'ferplus' or an existing file"):
        kerfer.build_model("vgg", weights="imagenet")
    with pytest.raises(ValueError, match="bad option for architecture 'vgg': colour"):
        kerfer.build_model("vgg", weights="fer2013", colour="blue")


def test_feature_extractor_from_the_shipped_weights():
    backbone = kerfer.build_model("vgg", weights="fer2013", include_top=False, num_classes=4)
    full = kerfer.build_model("vgg", weights="fer2013")
    assert backbone.output_shape == (None, 256)
    faces = _smooth_faces(4, seed=1).astype("float32")
    import keras

    pooled = keras.Model(full.inputs, full.get_layer("pool").output)
    np.testing.assert_allclose(backbone.predict(faces, verbose=0), pooled.predict(faces, verbose=0), rtol=1e-5)


def test_damaged_weights_file_is_refused(tmp_path):
    meta = shipped_metadata("vgg")
    npz = tmp_path / "w.npz"
    data = bytearray(Path(meta["file"]).read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    shutil.copy(Path(meta["file"]).with_suffix(".json"), tmp_path / "w.json")
    with pytest.raises(ValueError, match="checksum mismatch .*reinstall"):
        load_source(npz)


def test_weights_from_a_run_directory(tmp_path):
    from kerfer.contract import ModelContract

    model = kerfer.build_model("vgg", num_classes=3, widths=[8, 16, 16, 32], stem_filters=4)
    model.save(tmp_path / "best.keras")
    ModelContract(class_names=("a", "b", "c")).save(tmp_path / "labels.json")
    (tmp_path / "config.json").write_text(
        json.dumps({"arch": "vgg", "arch_options": {"widths": [8, 16, 16, 32], "stem_filters": 4}})
    )
    again = kerfer.build_model("vgg", weights=tmp_path)
    assert again.output_shape == (None, 3)
    x = _smooth_faces(2).astype("float32")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5)
    with pytest.raises(ValueError, match="for architecture 'vgg', not 'resnet'"):
        kerfer.build_model("resnet", weights=tmp_path)


def test_head_swaps_by_class_names_not_count(tmp_path):
    from kerfer.training import init_weights

    same_count = kerfer.build_model("vgg", num_classes=7)
    note = init_weights(same_count, "shipped", ["a", "b", "c", "d", "e", "f", "g"])
    assert "new head for a, b, c, d, e, f, g (the weights were trained on angry, disgust" in note
    mine = same_count.get_layer("head_logits").get_weights()[0]
    theirs = kerfer.build_model("vgg", weights="fer2013").get_layer("head_logits").get_weights()[0]
    assert not np.allclose(mine, theirs)
    same = kerfer.build_model("vgg", num_classes=7)
    assert "new head" not in init_weights(same, "shipped", list(kerfer.FER2013_CLASSES))
    np.testing.assert_array_equal(same.get_layer("head_logits").get_weights()[0], theirs)
    rgb = kerfer.build_model("vgg", input_shape=(48, 48, 3))
    with pytest.raises(ValueError, match="1-channel \\(grayscale\\) images and this model 3-channel"):
        init_weights(rgb, "shipped")
    with pytest.raises(ValueError, match="no pretrained 'fer2013' weights for architecture 'edge'"):
        init_weights(kerfer.build_model("edge"), "shipped")


def test_the_head_keeps_the_trained_row_of_every_class_whose_name_matches():
    """`--init-from shipped` threw the trained head away for the seven FER2013 classes in another
    order (image folders sort them: validation 34.6 % where the shipped model scores 63.9 %) and
    for a subset (the 4-class folder started from zero instead of ~80 %)."""
    from kerfer.training import init_weights

    shipped = kerfer.build_model("vgg", weights="fer2013")
    kernel, bias = shipped.get_layer("head_logits").get_weights()
    names = list(kerfer.FER2013_CLASSES)
    x = _smooth_faces(6).astype("float32")
    theirs = shipped.predict(x, verbose=0)

    folder_order = sorted(names)  # angry, disgust, fear, happy, neutral, sad, surprise
    model = kerfer.build_model("vgg", num_classes=7)
    note = init_weights(model, "shipped", folder_order)
    assert "head: the trained rows of angry, disgust, fear, happy, neutral, sad, surprise (matched by name)" in note
    order = [names.index(n) for n in folder_order]
    np.testing.assert_allclose(model.predict(x, verbose=0), theirs[:, order], rtol=1e-5, atol=1e-6)

    subset = ["surprise", "angry", "happy", "sad"]
    model = kerfer.build_model("vgg", num_classes=4)
    assert "head: the trained rows of surprise, angry, happy, sad (matched by name)" in init_weights(
        model, "shipped", subset
    )
    rows = [names.index(n) for n in subset]
    np.testing.assert_array_equal(model.get_layer("head_logits").get_weights()[0], kernel[:, rows])
    # the same top class as the shipped model restricted to these four: zero-shot accuracy from the start
    np.testing.assert_array_equal(model.predict(x, verbose=0).argmax(1), theirs[:, rows].argmax(1))

    superset = ["happy", "contempt", "sad"]
    model = kerfer.build_model("vgg", num_classes=3)
    fresh = model.get_layer("head_logits").get_weights()
    note = init_weights(model, "shipped", superset)
    assert note.endswith("head: the trained rows of happy, sad (matched by name); new rows for contempt")
    k, b = model.get_layer("head_logits").get_weights()
    np.testing.assert_array_equal(k[:, [0, 2]], kernel[:, [3, 4]])
    np.testing.assert_array_equal(b[[0, 2]], bias[[3, 4]])
    np.testing.assert_array_equal(k[:, 1], fresh[0][:, 1])  # a class the weights never saw keeps its new row


def test_ferplus_spellings_keep_every_fer2013_row():
    """FER+ says happiness/sadness/anger where FER2013 says happy/sad/angry: the same emotions,
    so a FER2013 head starts a FER+ head with seven trained rows and a new one for contempt."""
    from kerfer.labels import FER2013_CLASSES, FERPLUS_CLASSES
    from kerfer.models.pretrained import head_rows

    rows = head_rows(FERPLUS_CLASSES, FER2013_CLASSES, 8, 7)
    assert [FER2013_CLASSES[r] if r is not None else None for r in rows] == [
        "neutral",
        "happy",
        "surprise",
        "sad",
        "angry",
        "disgust",
        "fear",
        None,
    ]
    assert head_rows(["Happiness", "joy"], FER2013_CLASSES, 2, 7) == [3, None]


def test_frozen_backbone_trains_only_the_head():
    import keras

    from kerfer.training import freeze_backbone

    model = kerfer.build_model("vgg", num_classes=4, widths=[8, 16, 16, 32], stem_filters=4)
    freeze_backbone(model, True)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in model.layers}
    model.train_on_batch(_smooth_faces(8).astype("float32"), np.arange(8) % 4)
    for layer in model.layers:
        for a, b in zip(before[layer.name], layer.get_weights()):
            assert np.array_equal(a, b) == (layer.name != "head_logits"), layer.name
    freeze_backbone(model, False)
    assert all(layer.trainable for layer in model.layers)


def _four_class_folder(root: Path, n: int = 48) -> Path:
    names = ["angry", "happy", "sad", "surprise"]
    for split, seed in (("train", 0), ("test", 1)):
        images, labels = make_images(n, seed=seed, num_classes=4)
        for i, (img, lab) in enumerate(zip(images, labels)):
            d = root / split / names[lab]
            d.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(d / f"{i:03d}.png"), img)
    return root


def test_fine_tune_the_shipped_model_on_a_four_class_folder(tmp_path):
    data = _four_class_folder(tmp_path / "photos")
    out = tmp_path / "run"
    args = ["train", "--data", str(data), "--train-split", "train", "--val-split", "test", "--init-from", "shipped"]
    args += ["--freeze-backbone-epochs", "1", "--epochs", "2", "--batch-size", "16", "--no-augment", "--out", str(out)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "head: the trained rows of angry, happy, sad, surprise (matched by name)" in r.output
    history = (out / "history.csv").read_text().splitlines()
    assert len(history) == 3  # header + 2 epochs across the two phases
    assert json.loads((out / "labels.json").read_text())["class_names"] == ["angry", "happy", "sad", "surprise"]
    tuned = kerfer.build_model("vgg", weights=out)
    shipped = kerfer.build_model("vgg", weights="fer2013")
    # Phase 2 trained the backbone too.
    assert not np.allclose(
        tuned.get_layer("stem_1_conv").get_weights()[0], shipped.get_layer("stem_1_conv").get_weights()[0]
    )


def test_freeze_without_init_from_is_refused(tmp_path):
    data = _four_class_folder(tmp_path / "photos", n=8)
    r = CliRunner().invoke(
        main, ["train", "--data", str(data), "--freeze-backbone-epochs", "1", "--out", str(tmp_path / "r")]
    )
    assert r.exit_code != 0 and "freeze_backbone_epochs needs init_from" in r.output


def test_float_weights_are_in_the_wheel(tmp_path):
    src = copy_checkout(tmp_path / "src")  # built from a copy: no build/ or egg-info left in the checkout
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(src),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = tmp_path.glob("kerfer-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (
        "kerfer_fer2013_vgg.npz",
        "kerfer_fer2013_vgg.json",
        "kerfer_fer2013_int8.tflite",
        "kerfer_ferplus_vgg.npz",
        "kerfer_ferplus_vgg.json",
        "kerfer_ferplus_int8.tflite",
        "kerfer_ferplus_int8.json",
    ):
        assert f"kerfer/assets/{name}" in names
