"""VGG-style network: stacks of 3x3 conv-BN-ReLU, max-pool between stages."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from kerfer.models.blocks import check_stages, conv_bn_act, finish, stem


def build_vgg(
    num_classes: int = 7,
    input_shape: tuple[int, int, int] = (48, 48, 1),
    include_top: bool = True,
    widths: Sequence[int] = (32, 64, 192, 256),
    depths: Sequence[int] = (1, 2, 2, 2),
    stem_filters: int = 16,
    dropout: float = 0.4,
    stem_depth: int = 1,
) -> keras.Model:
    """Stage i has ``depths[i]`` convs of ``widths[i]`` filters at 24, 12, 6, 3 pixels, after
    ``stem_depth`` convs of ``stem_filters`` at full resolution."""
    check_stages(widths, depths, "depths")
    inputs = keras.Input(input_shape, name="image")
    x = stem(inputs, stem_filters, widths[0], depth=stem_depth)
    for s, (w, d) in enumerate(zip(widths, depths)):
        if s:
            x = layers.MaxPooling2D(name=f"stage{s}_pool")(x)
        for j in range(d):
            x = conv_bn_act(x, w, name=f"stage{s}_conv{j}")
    return finish(inputs, x, num_classes, include_top, dropout, name="vgg")
