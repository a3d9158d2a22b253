"""The classic 4-conv Keras CNN most FER2013 projects start from (the baseline)."""

from __future__ import annotations

import keras
from keras import layers

from kerfer.models.blocks import classifier_head


def build_cnn(
    num_classes: int = 7,
    input_shape: tuple[int, int, int] = (48, 48, 1),
    include_top: bool = True,
    filters: tuple[int, int, int, int] = (32, 64, 128, 128),
    dense_units: int = 1024,
    dropout: float = 0.5,
) -> keras.Model:
    """Conv32-Conv64-pool, Conv128-pool, Conv128-pool, Flatten, Dense 1024 (no BatchNorm).

    ``include_top=False`` gives globally pooled features (not the Flatten vector) so that a new
    head does not depend on the input size.
    """
    inputs = keras.Input(input_shape, name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    f1, f2, f3, f4 = filters
    x = layers.Conv2D(f1, 3, activation="relu", name="conv1")(x)
    x = layers.Conv2D(f2, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Dropout(0.25, name="drop1")(x)
    x = layers.Conv2D(f3, 3, activation="relu", name="conv3")(x)
    x = layers.MaxPooling2D(name="pool2")(x)
    x = layers.Conv2D(f4, 3, activation="relu", name="conv4")(x)
    x = layers.MaxPooling2D(name="pool3")(x)
    x = layers.Dropout(0.25, name="drop2")(x)
    if not include_top:
        # Pooled features, like every other backbone: independent of the input size.
        return keras.Model(inputs, layers.GlobalAveragePooling2D(name="pool")(x), name="cnn_backbone")
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    return keras.Model(inputs, classifier_head(x, num_classes, dropout), name="cnn")
