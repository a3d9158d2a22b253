"""Maps ``--arch`` names to model builders.

A builder is a plain function ``(num_classes, input_shape, include_top, **cfg) -> keras.Model``.
Every model takes raw 0..255 pixels (normalisation is inside) and, with its top, returns
class probabilities (softmax, float32).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras

Builder = Callable[..., keras.Model]


@dataclasses.dataclass(frozen=True)
class ArchSpec:
    name: str
    builder: Builder
    summary: str
    param_budget: int
    """Upper bound on parameters at the default size (7 classes, 48x48x1); tested."""


_REGISTRY: dict[str, ArchSpec] = {}


def register(name: str, summary: str, param_budget: int) -> Callable[[Builder], Builder]:
    """Decorator adding a builder to the registry under ``name``."""

    def deco(fn: Builder) -> Builder:
        _REGISTRY[name] = ArchSpec(name, fn, summary, param_budget)
        return fn

    return deco


def _ensure_loaded() -> None:
    # Importing the modules runs their @register decorators.
    from kerfer.models import cnn, edge, resnet, vgg  # noqa: F401


def list_architectures() -> dict[str, str]:
    """``{name: one-line summary}`` of every registered architecture."""
    _ensure_loaded()
    return {name: spec.summary for name, spec in sorted(_REGISTRY.items())}


def get_arch(name: str) -> ArchSpec:
    _ensure_loaded()
    if name not in _REGISTRY:
        raise ValueError(f"unknown architecture '{name}': choose one of {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def build_model(
    arch: str,
    num_classes: int = 7,
    input_shape: tuple[int, int, int] = (48, 48, 1),
    include_top: bool = True,
    **cfg,
) -> keras.Model:
    """Builds a fresh ``keras.Model`` by architecture name.

    With ``include_top=False`` the model returns pooled features (the backbone), for reuse
    under another head.
    """
    spec = get_arch(arch)
    try:
        return spec.builder(num_classes=num_classes, input_shape=tuple(input_shape), include_top=include_top, **cfg)
    except TypeError as e:
        raise ValueError(f"bad option for architecture '{arch}': {e}") from e


def finish(inputs, features, num_classes: int, include_top: bool, dropout: float, name: str) -> keras.Model:
    """Shared tail of every builder: pool, then either return features or add the head."""
    from keras import layers

    from kerfer.models.blocks import classifier_head

    pooled = layers.GlobalAveragePooling2D(name="pool")(features)
    if not include_top:
        return keras.Model(inputs, pooled, name=f"{name}_backbone")
    return keras.Model(inputs, classifier_head(pooled, num_classes, dropout), name=name)
