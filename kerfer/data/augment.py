"""Training-time augmentation, applied to whole batches inside the tf.data pipeline."""

from __future__ import annotations

import dataclasses

import keras
from keras import layers


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Strengths of each random transform; 0 turns one off. Shifts and zoom are fractions of the size."""

    flip: bool = True
    shift: float = 0.1
    rotation_degrees: float = 10.0
    zoom: float = 0.1
    brightness: float = 0.1
    contrast: float = 0.2

    def any(self) -> bool:
        return bool(self.flip or self.shift or self.rotation_degrees or self.zoom or self.brightness or self.contrast)


def make_augmenter(cfg: AugmentConfig | None = None, seed: int | None = None) -> keras.Sequential:
    """Keras preprocessing layers in one Sequential, acting on float 0..255 batches.

    Faces are roughly aligned in FER2013, so only small geometric changes keep the
    expression intact; a horizontal flip never changes it.
    """
    cfg = cfg or AugmentConfig()
    steps: list[layers.Layer] = []
    if cfg.flip:
        steps.append(layers.RandomFlip("horizontal", seed=seed))
    if cfg.rotation_degrees:
        steps.append(layers.RandomRotation(cfg.rotation_degrees / 360.0, fill_mode="reflect", seed=seed))
    if cfg.zoom:
        steps.append(layers.RandomZoom((-cfg.zoom, cfg.zoom), fill_mode="reflect", seed=seed))
    if cfg.shift:
        steps.append(layers.RandomTranslation(cfg.shift, cfg.shift, fill_mode="reflect", seed=seed))
    if cfg.brightness:
        steps.append(layers.RandomBrightness(cfg.brightness, value_range=(0, 255), seed=seed))
    if cfg.contrast:
        steps.append(layers.RandomContrast(cfg.contrast, value_range=(0, 255), seed=seed))
    return keras.Sequential(steps, name="augment")
