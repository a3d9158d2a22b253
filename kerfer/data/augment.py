"""Training-time augmentation of whole batches: in the host's tf.data pipeline, or on the
accelerator inside the training step (:func:`with_device_augmentation`)."""

from __future__ import annotations

import keras
from keras import layers

from kerfer.config import AugmentConfig


def make_augmenter(cfg: AugmentConfig | None = None, seed: int | None = None) -> keras.Sequential:
    """Keras preprocessing layers in one Sequential, acting on float 0..255 batches.

    Faces are roughly aligned in FER2013, so only small geometric changes keep the
    expression intact; a horizontal flip never changes it. The layers compute in float32
    whatever the global dtype policy: 0..255 pixels lose precision in float16.
    """
    cfg = cfg or AugmentConfig()
    f32 = {"seed": seed, "dtype": "float32"}
    steps: list[layers.Layer] = []
    if cfg.flip:
        steps.append(layers.RandomFlip("horizontal", **f32))
    if cfg.rotation_degrees:
        steps.append(layers.RandomRotation(cfg.rotation_degrees / 360.0, fill_mode="reflect", **f32))
    if cfg.zoom:
        steps.append(layers.RandomZoom((-cfg.zoom, cfg.zoom), fill_mode="reflect", **f32))
    if cfg.shift:
        steps.append(layers.RandomTranslation(cfg.shift, cfg.shift, fill_mode="reflect", **f32))
    if cfg.brightness:
        steps.append(layers.RandomBrightness(cfg.brightness, value_range=(0, 255), **f32))
    if cfg.contrast:
        steps.append(layers.RandomContrast(cfg.contrast, value_range=(0, 255), **f32))
    if cfg.erasing:
        # factor=(p, p): a single number f would draw each image's probability from U(0, f), i.e. f/2.
        steps.append(layers.RandomErasing(factor=(cfg.erasing, cfg.erasing), value_range=(0, 255), **f32))
    return keras.Sequential(steps, name="augment")


def with_device_augmentation(model: keras.Model, cfg: AugmentConfig, seed: int | None = None) -> keras.Model:
    """``model`` behind the augmentation layers, for ``fit`` to train on an accelerator.

    The random layers act only in training calls (Keras' preprocessing layers are identities
    at inference), so they run inside the compiled training step on the device, next to the
    model, instead of in the host's tf.data map. The returned model shares ``model``'s
    weights; save and export ``model`` itself, which never holds the augmentation.
    """
    inputs = keras.Input(model.input_shape[1:], name="image", dtype="float32")
    augmented = make_augmenter(cfg, seed=seed)(inputs)
    return keras.Model(inputs, model(augmented), name=f"{model.name}_device_augment")
