"""Edge model: MobileNetV2-style inverted residuals, a few hundred thousand parameters."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kerfer.models.blocks import check_stages, conv_bn_act, finish, inverted_residual, stem


def build_edge(
    num_classes: int = 7,
    input_shape: tuple[int, int, int] = (48, 48, 1),
    include_top: bool = True,
    widths: Sequence[int] = (24, 40, 80, 128),
    blocks: Sequence[int] = (1, 2, 3, 2),
    expansion: int = 4,
    stem_filters: int = 16,
    head_filters: int = 256,
    dropout: float = 0.2,
) -> keras.Model:
    """``blocks[i]`` inverted residuals of ``widths[i]`` channels at 24, 12, 6, 3 pixels."""
    check_stages(widths, blocks, "blocks")
    inputs = keras.Input(input_shape, name="image")
    x = stem(inputs, stem_filters, widths[0])
    for s, (w, n) in enumerate(zip(widths, blocks)):
        for j in range(n):
            x = inverted_residual(x, w, strides=2 if (s and not j) else 1, expansion=expansion, name=f"stage{s}_ir{j}")
    x = conv_bn_act(x, head_filters, kernel_size=1, activation="relu6", name="head_conv")
    return finish(inputs, x, num_classes, include_top, dropout, name="edge")
