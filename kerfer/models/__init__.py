"""Model builders by ``--arch`` name: one explicit table, like ``keras.applications``' functions.

A builder is a plain function ``(num_classes, input_shape, include_top, **cfg) -> keras.Model``.
Every model takes raw 0..255 pixels (normalisation is inside) and, with its top, returns
class probabilities (softmax, float32). The table below is the only list of architectures:
adding one is a builder module and one row here (no registration by import side effect).
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from kerfer.models.cnn import build_cnn
from kerfer.models.edge import build_edge
from kerfer.models.resnet import build_resnet
from kerfer.models.vgg import build_vgg

Builder = Callable[..., keras.Model]


@dataclasses.dataclass(frozen=True)
class ArchSpec:
    name: str
    builder: Builder
    summary: str
    param_budget: int
    """Upper bound on parameters at the default size (7 classes, 48x48x1); tested."""


ARCHITECTURES: dict[str, ArchSpec] = {
    spec.name: spec
    for spec in (
        ArchSpec("cnn", build_cnn, "classic 4-conv Keras CNN with a dense head (the baseline)", 2_500_000),
        ArchSpec("edge", build_edge, "depthwise-separable inverted residuals for CPU / Raspberry Pi", 450_000),
        ArchSpec("resnet", build_resnet, "ResNet-style basic residual blocks with BatchNorm", 1_400_000),
        ArchSpec("vgg", build_vgg, "VGG-style 3x3 conv-BN stacks after a stride-2 stem (kerfer's default)", 1_700_000),
    )
}
"""``--arch`` name -> its builder, one-line summary and parameter budget."""


def list_architectures() -> dict[str, str]:
    """``{name: one-line summary}`` of every architecture, sorted by name."""
    return {name: spec.summary for name, spec in sorted(ARCHITECTURES.items())}


def architecture_lines() -> list[str]:
    """``kerfer archs``: one line per architecture, its parameter count (built to count them),
    summary and the shipped weights it has."""
    from kerfer.models.pretrained import list_shipped_weights

    shipped = list_shipped_weights()
    lines = []
    for name, summary in list_architectures().items():
        params = build_model(name).count_params()
        weights = f"  [weights: {', '.join(shipped[name])}]" if name in shipped else ""
        lines.append(f"{name:8s} {params / 1e6:5.2f}M params  {summary}{weights}")
    return lines


def get_arch(name: str) -> ArchSpec:
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture '{name}': choose one of {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[name]


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


def check_build_args(num_classes: object, input_shape: object, include_top: object) -> None:
    """Refuses what Keras would build wrong or fail on deep inside: ``num_classes=1`` (or ``True``)
    gives a softmax that always outputs 1.0, ``num_classes="7"`` fails in a Dense layer,
    ``input_shape=(48, 48, 0)`` and ``include_top="no"`` were accepted. One line each."""
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
            raise TypeError(f"num_classes={num_classes!r}: expected an integer >= 2 (the number of classes)")
        if num_classes < 2:
            raise ValueError(
                f"num_classes={num_classes}: a softmax over fewer than 2 classes always outputs 1.0; expected >= 2"
            )
    if input_shape is not None:
        dims = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else ()
        if len(dims) != 3 or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in dims):
            raise ValueError(
                f"input_shape={input_shape!r}: expected (height, width, channels), three integers >= 1, e.g. (48, 48, 1)"
            )
    if not isinstance(include_top, bool):
        raise TypeError(f"include_top={include_top!r}: expected True (with the classifier) or False (pooled features)")


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
    check_build_args(num_classes, input_shape, include_top)
    if weights is not None:
        from kerfer.models.pretrained import build_pretrained

        return build_pretrained(arch, weights, num_classes, input_shape, include_top, cfg)
    spec = get_arch(arch)
    options = bind_options(arch, cfg)
    shape = tuple(input_shape) if input_shape is not None else (48, 48, 1)
    return spec.builder(
        num_classes=7 if num_classes is None else num_classes, input_shape=shape, include_top=include_top, **options
    )


__all__ = [
    "ARCHITECTURES",
    "ArchSpec",
    "bind_options",
    "build_model",
    "check_build_args",
    "get_arch",
    "list_architectures",
]
