from __future__ import annotations

import keras
import numpy as np
import pytest

from kerfer.models import build_model, get_arch, list_architectures

ARCHS = sorted(list_architectures())


def test_registry_has_the_promised_architectures():
    assert {"cnn", "vgg", "resnet", "edge"} <= set(ARCHS)
    with pytest.raises(ValueError, match="unknown architecture 'alexnet'"):
        build_model("alexnet")
    with pytest.raises(ValueError, match="bad option for architecture 'vgg'"):
        build_model("vgg", colour="blue")


@pytest.mark.parametrize("arch", ARCHS)
def test_builds_trains_one_step_and_fits_budget(arch):
    model = build_model(arch, num_classes=5)
    assert isinstance(model, keras.Model)
    assert model.count_params() <= get_arch(arch).param_budget
    assert model.output_shape == (None, 5)
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1)).astype("float32")
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.train_on_batch(x, np.array([0, 1, 2, 4]))
    after = model.trainable_weights
    assert any(not np.allclose(b, a.numpy()) for b, a in zip(before, after))
    probs = model.predict(x, verbose=0)
    assert probs.shape == (4, 5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)  # softmax output, as documented


@pytest.mark.parametrize("arch", ["vgg", "resnet", "edge"])
def test_backbone_without_top_and_raw_pixel_input(arch):
    backbone = build_model(arch, include_top=False)
    assert len(backbone.output_shape) == 2  # pooled features
    # Normalisation is inside the model: the first layer after the input rescales 0..255.
    assert any(isinstance(layer, keras.layers.Rescaling) for layer in backbone.layers[:3])


def test_sizes_are_configurable():
    small = build_model("vgg", widths=[8, 16, 32, 64], depths=[1, 1, 1, 1])
    assert small.count_params() < build_model("vgg").count_params() / 10
    deep = build_model("resnet", blocks=[2, 2, 2, 2])
    assert deep.count_params() > build_model("resnet").count_params()


def test_saves_and_loads_in_safe_mode(tmp_path):
    model = build_model("resnet", num_classes=3)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = np.full((2, 48, 48, 1), 128, "float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5)
