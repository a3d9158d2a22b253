"""ResNet-style network: basic residual blocks, stride-2 stages."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from kerfer.models.blocks import check_stages, finish, residual_block, stem


def build_resnet(
    num_classes: int = 7,
    input_shape: tuple[int, int, int] = (48, 48, 1),
    include_top: bool = True,
    widths: Sequence[int] = (32, 64, 128, 256),
    blocks: Sequence[int] = (1, 1, 1, 1),
    stem_filters: int = 16,
    dropout: float = 0.3,
) -> keras.Model:
    """``blocks[i]`` residual blocks of ``widths[i]`` filters at 24, 12, 6, 3 pixels.

    ``widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2)`` is ResNet-18's shape (about 11M
    parameters and ~30x slower to train on a CPU).
    """
    check_stages(widths, blocks, "blocks")
    inputs = keras.Input(input_shape, name="image")
    x = stem(inputs, stem_filters, widths[0])
    for s, (w, n) in enumerate(zip(widths, blocks)):
        for j in range(n):
            x = residual_block(x, w, strides=2 if (s and not j) else 1, name=f"stage{s}_block{j}")
    return finish(inputs, x, num_classes, include_top, dropout, name="resnet")
