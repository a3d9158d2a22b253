"""Where augmentation runs (--augment-on) and XLA (--jit-compile), on this CPU."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from fakedata import tiny_fer_csv

from kerfer.cli import main
from kerfer.data.augment import AugmentConfig, with_device_augmentation
from kerfer.models import build_model
from kerfer.training import TrainConfig, choose_augment_on, jit_compile_arg

TINY_ARCH = ["--arch", "vgg", "--arch-option", "widths=[4,4,4,8]", "--arch-option", "stem_filters=4"]


def test_augmentation_goes_where_the_compute_is():
    assert choose_augment_on("auto", []) == "host"
    assert choose_augment_on("auto", ["/physical_device:GPU:0"]) == "device"
    assert choose_augment_on("host", ["gpu"]) == "host"
    assert choose_augment_on("device", []) == "device"
    with pytest.raises(ValueError, match="config key 'augment_on': got 'gpu', expected one of auto, device, host"):
        TrainConfig(csv="x.csv", augment_on="gpu").validate()
    assert [jit_compile_arg(v) for v in ("auto", "on", "off")] == ["auto", True, False]
    with pytest.raises(ValueError, match="config key 'jit_compile': got 'yes', expected one of auto, on, off"):
        TrainConfig(csv="x.csv", jit_compile="yes").validate()


def test_device_augmentation_is_active_in_training_only():
    model = build_model("vgg", widths=[4, 4, 4, 8], stem_filters=4, dropout=0.0)
    wrapped = with_device_augmentation(model, AugmentConfig(), seed=0)
    x = np.random.default_rng(0).integers(0, 256, (8, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(wrapped(x, training=False), model(x, training=False), atol=1e-6)
    # In training calls the layers transform the images (BatchNorm aside, the outputs move).
    aug = wrapped.get_layer("augment")
    assert not np.allclose(aug(x, training=True), x)
    assert {id(w) for w in model.weights} <= {id(w) for w in wrapped.weights}, "the wrapper shares the weights"


def _spy(monkeypatch):
    """Records where augmentation went: the tf.data map (host) or the model wrapper (device)."""
    import kerfer.data.augment as aug
    import kerfer.data.pipeline as pipeline

    seen = {"host": [], "device": 0, "jit": []}
    make_dataset, wrap = pipeline.make_dataset, aug.with_device_augmentation

    def spy_dataset(*a, **kw):
        seen["host"].append(kw.get("augment") is not None)
        return make_dataset(*a, **kw)

    def spy_wrap(*a, **kw):
        seen["device"] += 1
        return wrap(*a, **kw)

    compile_ = keras.Model.compile

    def spy_compile(self, *a, **kw):
        out = compile_(self, *a, **kw)
        seen["jit"].append((kw.get("jit_compile"), self.jit_compile))
        return out

    monkeypatch.setattr(pipeline, "make_dataset", spy_dataset)
    monkeypatch.setattr(aug, "with_device_augmentation", spy_wrap)
    monkeypatch.setattr(keras.Model, "compile", spy_compile)
    return seen


@pytest.mark.parametrize("where,jit", [("device", "on"), ("host", "on"), ("auto", "off")])
def test_train_augments_on_the_chosen_side(tmp_path, monkeypatch, where, jit):
    seen = _spy(monkeypatch)
    csv, *_ = tiny_fer_csv(tmp_path / "fer.csv", n=140)
    run = tmp_path / "run"
    args = ["train", "--csv", str(csv), "--epochs", "1", "--batch-size", "32", "--out", str(run), *TINY_ARCH]
    r = CliRunner().invoke(main, [*args, "--augment-on", where, "--jit-compile", jit])
    assert r.exit_code == 0, r.output
    on_device = where == "device"  # auto on this CPU-only machine = host
    assert seen["device"] == int(on_device)
    assert seen["host"][0] is (not on_device), "the training dataset is augmented on the host only"
    assert not any(seen["host"][1:]), "validation is never augmented"
    # XLA is on only when asked for and the model allows it: Keras' augmentation layers do not.
    assert seen["jit"] == [(jit_compile_arg(jit), jit == "on" and not on_device)]
    assert ("XLA is off" in r.output) is (jit == "on" and on_device)
    saved = keras.saving.load_model(run / "best.keras")
    assert not any(layer.name == "augment" or "random" in layer.name for layer in saved.layers), (
        "augmentation must never be saved with the model"
    )
    assert [layer.name for layer in saved.layers] == [
        layer.name for layer in build_model("vgg", widths=[4, 4, 4, 8], stem_filters=4).layers
    ]
    # config.json records what `auto` chose, so a resume on another machine makes the same choice
    # (the checkpoint's variables depend on it).
    saved = json.loads((run / "config.json").read_text())
    assert saved["augment_on"] == ("device" if on_device else "host")
    assert saved["precision"] == "float32"


def test_random_erasing_blanks_a_patch_in_training_only_and_is_checked():
    from kerfer.data.augment import make_augmenter

    x = np.full((16, 48, 48, 1), 128.0, "float32")
    only_erase = AugmentConfig(flip=False, shift=0, rotation_degrees=0, zoom=0, brightness=0, contrast=0, erasing=1.0)
    assert only_erase.any() and not AugmentConfig(**{**only_erase.__dict__, "erasing": 0.0}).any()
    aug = make_augmenter(only_erase, seed=3)
    assert [type(layer).__name__ for layer in aug.layers] == ["RandomErasing"]
    out = np.asarray(aug(x, training=True))
    changed = (out != 128.0).reshape(16, -1).mean(1)
    assert (changed > 0).all() and (changed < 0.5).all()  # every image loses a patch, never most of it
    x = np.full((400, 48, 48, 1), 128.0, "float32")
    half = make_augmenter(AugmentConfig(**{**only_erase.__dict__, "erasing": 0.5}), seed=4)
    erased = ((np.asarray(half(x, training=True)) != 128.0).reshape(400, -1).mean(1) > 0).mean()
    assert 0.4 < erased < 0.6  # the probability per image is the one asked for (not half of it)
    np.testing.assert_array_equal(np.asarray(aug(x, training=False)), x)
    assert "RandomErasing" not in [type(layer).__name__ for layer in make_augmenter(AugmentConfig()).layers]
    with pytest.raises(ValueError, match="'erasing': got 1.5, expected a value at least 0 and at most 1"):
        TrainConfig(csv="x.csv", augment=AugmentConfig(erasing=1.5)).validate()
    cfg = TrainConfig.from_dict({"csv": "x.csv", "augment": {"erasing": 0.5}})
    assert cfg.augment.erasing == 0.5
