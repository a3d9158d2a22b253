"""Maps ``--arch`` names to model builders.

A builder is a plain function ``(num_classes, input_shape, include_top, **cfg) -> keras.Model``.
Every model takes raw 0..255 pixels (normalisation is inside) and, with its top, returns
class probabilities (softmax, float32).
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Callable
from typing import Any

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


def bind_options(arch: str, options: dict[str, Any]) -> dict[str, Any]:
    """Checks builder options against the builder's signature before anything is built.

    Binding first means a ``TypeError`` raised *inside* a builder (a real bug) is never
    mistaken for a user's bad option.
    """
    spec = get_arch(arch)
    params = inspect.signature(spec.builder).parameters
    fixed = {"num_classes", "input_shape", "include_top"}
    allowed = [n for n in params if n not in fixed]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"bad option for architecture '{arch}': {', '.join(unknown)} (its options: {', '.join(allowed)})"
        )
    return dict(options)


def build_model(
    arch: str,
    num_classes: int | None = None,
    input_shape: tuple[int, int, int] | None = None,
    include_top: bool = True,
    weights: str | os.PathLike | None = None,
    **cfg,
) -> keras.Model:
    """Builds a ``keras.Model`` by architecture name, like ``keras.applications``.

    ``weights`` is None (random initialisation), ``"fer2013"`` or ``"ferplus"`` (the float
    weights shipped with kerfer, 7 FER2013 or 8 FER+ classes, for the architecture they belong
    to; the model is rebuilt from their recorded options) or a path (a ``.keras`` file, a run directory or a ``.weights.h5``/``.npz`` file).
    With ``include_top=False`` the model returns pooled features (the backbone), for reuse
    under another head. ``num_classes`` defaults to 7 (or the weights' class count).
    """
    if weights is not None:
        from kerfer.models.pretrained import build_pretrained

        return build_pretrained(arch, weights, num_classes, input_shape, include_top, cfg)
    spec = get_arch(arch)
    options = bind_options(arch, cfg)
    shape = tuple(input_shape) if input_shape is not None else (48, 48, 1)
    return spec.builder(
        num_classes=7 if num_classes is None else num_classes, input_shape=shape, include_top=include_top, **options
    )
