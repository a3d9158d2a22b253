"""Small reusable functional blocks (KerasHub style: one function, one idea)."""

from __future__ import annotations

import keras
from keras import layers


def conv_bn_act(
    x: keras.KerasTensor,
    filters: int,
    kernel_size: int = 3,
    strides: int = 1,
    activation: str | None = "relu",
    name: str | None = None,
) -> keras.KerasTensor:
    """Conv (no bias: BatchNorm has one) → BatchNorm → activation."""
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=f"{name}_conv" if name else None,
    )(x)
    x = layers.BatchNormalization(name=f"{name}_bn" if name else None)(x)
    if activation:
        x = layers.Activation(activation, name=f"{name}_act" if name else None)(x)
    return x


def residual_block(x: keras.KerasTensor, filters: int, strides: int = 1, name: str = "res") -> keras.KerasTensor:
    """ResNet basic block (two 3x3 convs) with a 1x1 projection when the shape changes."""
    shortcut = x
    y = conv_bn_act(x, filters, strides=strides, name=f"{name}_a")
    y = conv_bn_act(y, filters, activation=None, name=f"{name}_b")
    if strides != 1 or x.shape[-1] != filters:
        shortcut = conv_bn_act(x, filters, kernel_size=1, strides=strides, activation=None, name=f"{name}_proj")
    return layers.Activation("relu", name=f"{name}_out")(layers.Add(name=f"{name}_add")([y, shortcut]))


def inverted_residual(
    x: keras.KerasTensor, filters: int, strides: int = 1, expansion: int = 4, name: str = "ir"
) -> keras.KerasTensor:
    """MobileNetV2 inverted residual: 1x1 expand → 3x3 depthwise → 1x1 linear project.

    Cheap in multiply-adds and parameters, and int8-friendly (ReLU6 bounds activations).
    """
    inp = x
    ch = x.shape[-1]
    if expansion != 1:
        x = conv_bn_act(x, ch * expansion, kernel_size=1, activation="relu6", name=f"{name}_expand")
    x = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(name=f"{name}_dw_bn")(x)
    x = layers.Activation("relu6", name=f"{name}_dw_act")(x)
    x = conv_bn_act(x, filters, kernel_size=1, activation=None, name=f"{name}_project")
    if strides == 1 and ch == filters:
        x = layers.Add(name=f"{name}_add")([inp, x])
    return x


def stem(
    inputs: keras.KerasTensor, stem_filters: int, filters: int, name: str = "stem", depth: int = 1
) -> keras.KerasTensor:
    """Raw 0..255 pixels → [0, 1] → ``depth`` thin full-resolution convs → stride-2 conv.

    Convolutions at 48x48 dominate training cost on a CPU, so only thin ones run there and
    everything after works at 24x24 or below. A second full-resolution conv (``depth=2``)
    sees 5x5 pixels before the first downsampling, where FER's fine cues (eyelids, lip
    corners) still are; the first conv keeps its name so ``depth=1`` weights load as before.
    """
    if depth < 1:
        raise ValueError(f"stem depth must be at least 1, got {depth}")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    x = conv_bn_act(x, stem_filters, name=f"{name}_1")
    for i in range(1, depth):
        x = conv_bn_act(x, stem_filters, name=f"{name}_1_{i + 1}")
    return conv_bn_act(x, filters, strides=2, name=f"{name}_2")


def classifier_head(
    features: keras.KerasTensor, num_classes: int, dropout: float, name: str = "head"
) -> keras.KerasTensor:
    """Dropout → Dense → softmax in float32 (stable under mixed precision)."""
    x = layers.Dropout(dropout, name=f"{name}_dropout")(features) if dropout else features
    x = layers.Dense(num_classes, name=f"{name}_logits")(x)
    return layers.Activation("softmax", dtype="float32", name="probabilities")(x)


def check_stages(widths, depths, depth_name: str = "depths") -> None:
    """Every stage needs a width and a depth: one check for every staged builder."""
    if len(widths) != len(depths):
        raise ValueError(f"widths and {depth_name} must have the same length (got {len(widths)} and {len(depths)})")


def finish(inputs, features, num_classes: int, include_top: bool, dropout: float, name: str) -> keras.Model:
    """Shared tail of every builder: global-average-pool, then either return the pooled
    features (the backbone) or add the classifier head."""
    pooled = layers.GlobalAveragePooling2D(name="pool")(features)
    if not include_top:
        return keras.Model(inputs, pooled, name=f"{name}_backbone")
    return keras.Model(inputs, classifier_head(pooled, num_classes, dropout), name=name)
