"""Pretrained weights: the float weights shipped with kerfer, and weights from a user's runs.

Follows the Keras ecosystem's conventions (``keras.applications`` for ``build_model(weights=...)``,
KerasHub presets for files + metadata): shipped weights travel with a JSON file that records
what rebuilds and checks them (arch and options, input shape, class names, versions, sha256);
the model is rebuilt from that metadata, not from the caller's defaults; and one function,
:func:`load_source`, reads weights for ``build_model``, ``train --init-from`` and evaluation,
so a weights name (``fer2013``, ``ferplus``; ``shipped`` is fer2013's alias) means the same thing everywhere.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kerfer.integrity import assets_dir, check_shipped, file_sha256
from kerfer.labels import canonical_emotion
from kerfer.modelio import SHIPPED

SHIPPED_WEIGHTS: dict[str, dict[str, str]] = {
    "fer2013": {"vgg": "kerfer_fer2013_vgg"},
    "ferplus": {"vgg": "kerfer_ferplus_vgg"},
}
"""weights name → arch → asset file stem in ``kerfer/assets`` (``<stem>.npz`` + ``<stem>.json``)."""

SHIPPED_NAMES = (*SHIPPED_WEIGHTS, SHIPPED)
"""``weights=``/``--init-from`` names of kerfer's shipped float weights (``shipped``: fer2013's alias)."""


@dataclasses.dataclass(frozen=True)
class WeightSource:
    """Per-layer weights plus what is known about where they come from."""

    label: str
    layers: Mapping[str, list[np.ndarray]]
    class_names: tuple[str, ...] | None = None
    arch: str | None = None
    arch_options: Mapping[str, Any] | None = None
    input_shape: tuple[int, int, int] | None = None


def list_shipped_weights() -> dict[str, list[str]]:
    """``{arch: [weights names]}`` for the weights shipped with this install."""
    out: dict[str, list[str]] = {}
    for name, by_arch in SHIPPED_WEIGHTS.items():
        for arch, stem in by_arch.items():
            if _asset(stem, ".json").exists():
                out.setdefault(arch, []).append(name)
    return out


def _asset(stem: str, suffix: str) -> Path:
    return assets_dir() / f"{stem}{suffix}"


def shipped_metadata(arch: str, name: str = "fer2013") -> dict[str, Any]:
    """The metadata of the shipped weights for ``arch``; a clear error when there are none."""
    name = "fer2013" if name == SHIPPED else name
    by_arch = SHIPPED_WEIGHTS.get(name, {})
    if arch not in by_arch:
        have = ", ".join(f"{a} ({', '.join(n)})" for a, n in sorted(list_shipped_weights().items()))
        raise ValueError(f"no pretrained '{name}' weights for architecture '{arch}'; kerfer ships weights for: {have}")
    meta_path = _asset(by_arch[arch], ".json")
    if not meta_path.exists():
        raise FileNotFoundError(f"{meta_path} is missing: damaged kerfer install, reinstall kerfer")
    check_shipped(meta_path)
    check_shipped(_asset(by_arch[arch], ".npz"))
    meta = json.loads(meta_path.read_text())
    meta["file"] = str(_asset(by_arch[arch], ".npz"))
    return meta


def _read_npz(path: Path, expected_sha256: str | None) -> dict[str, list[np.ndarray]]:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such weights file")
    if expected_sha256 and file_sha256(path) != expected_sha256:
        raise ValueError(f"{path}: checksum mismatch (damaged or modified weights file): reinstall kerfer")
    layers: dict[str, list[np.ndarray]] = {}
    with np.load(path) as z:
        for key in sorted(z.files, key=lambda k: (k.rsplit("/", 1)[0], int(k.rsplit("/", 1)[1]))):
            layer, _ = key.rsplit("/", 1)
            layers.setdefault(layer, []).append(z[key].astype(np.float32))
    return layers


def save_weights_asset(
    model,
    stem: str | os.PathLike,
    *,
    arch: str,
    arch_options: Mapping[str, Any],
    class_names: Sequence[str],
    extra: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Writes ``<stem>.npz`` (float16 weights by layer name) and ``<stem>.json`` (metadata)."""
    import keras

    from kerfer import __version__
    from kerfer.io import atomic_write_bytes, atomic_write_text

    stem = Path(stem)
    arrays = {
        f"{layer.name}/{i}": w.astype(np.float16) for layer in model.layers for i, w in enumerate(layer.get_weights())
    }
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    npz = stem.with_suffix(".npz")
    atomic_write_bytes(npz, buf.getvalue())
    meta = {
        "arch": arch,
        "arch_options": dict(arch_options),
        "input_shape": list(model.input_shape[1:]),
        "class_names": list(class_names),
        "value_range": [0.0, 255.0],
        "output": "probabilities",
        "storage": "float16",
        "params": int(model.count_params()),
        "keras_version": keras.__version__,
        "kerfer_version": __version__,
        "sha256": file_sha256(npz),
        **dict(extra or {}),
    }
    meta_path = stem.with_suffix(".json")
    atomic_write_text(meta_path, json.dumps(meta, indent=2) + "\n")
    return npz, meta_path


def load_source(weights: str | os.PathLike, arch: str | None = None) -> WeightSource:
    """Reads weights from a shipped name (``"fer2013"``, ``"ferplus"``, alias ``"shipped"``; for ``arch``), a run
    directory, a ``.keras`` file, or a ``.npz`` written by :func:`save_weights_asset` (with its ``.json`` beside it)."""
    if str(weights) in SHIPPED_NAMES:
        meta = shipped_metadata(arch or "vgg", str(weights))
        return WeightSource(
            label=f"kerfer's shipped '{meta.get('name', 'fer2013')}' weights ({meta['arch']})",
            layers=_read_npz(Path(meta["file"]), meta.get("sha256")),
            class_names=tuple(meta["class_names"]),
            arch=meta["arch"],
            arch_options=meta["arch_options"],
            input_shape=tuple(meta["input_shape"]),
        )
    path = Path(weights)
    if path.suffix == ".npz":
        meta_path = path.with_suffix(".json")
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        return WeightSource(
            label=str(path),
            layers=_read_npz(path, meta.get("sha256")),
            class_names=tuple(meta["class_names"]) if "class_names" in meta else None,
            arch=meta.get("arch"),
            arch_options=meta.get("arch_options"),
            input_shape=tuple(meta["input_shape"]) if "input_shape" in meta else None,
        )
    from kerfer.modelio import load_contract, load_keras_model, resolve_model_path

    model_path = resolve_model_path(path)
    if model_path.suffix != ".keras":
        raise ValueError(
            f"{path}: weights come from a run directory, a .keras file or a kerfer .npz, not {model_path.name}"
        )
    model = load_keras_model(model_path)
    config_path = model_path.parent / "config.json"
    run_cfg = json.loads(config_path.read_text()) if config_path.exists() else {}
    contract_file = model_path.parent / "labels.json"
    class_names = load_contract(model_path).class_names if contract_file.exists() else None
    return WeightSource(
        label=str(model_path),
        layers={layer.name: layer.get_weights() for layer in model.layers if layer.weights},
        class_names=class_names,
        arch=run_cfg.get("arch"),
        arch_options=run_cfg.get("arch_options"),
        input_shape=tuple(model.input_shape[1:]),
    )


def _channels_hint(source: WeightSource, model) -> str:
    theirs = source.input_shape[-1] if source.input_shape else None
    mine = model.input_shape[-1]
    if theirs and theirs != mine:
        kind = {1: "grayscale", 3: "rgb"}
        return (
            f"; it takes {theirs}-channel ({kind.get(theirs, '?')}) images and this model {mine}-channel "
            f"({kind.get(mine, '?')}): use the same color mode"
        )
    return "; use the same --arch and arch options"


def head_rows(mine: Sequence[str] | None, theirs: Sequence[str] | None, n_mine: int, n_theirs: int) -> list[int | None]:
    """For each class of the new head, the row of the trained head that predicts the same class
    (matched by name, in any order, FER+ spellings included: ``happiness`` is ``happy``), or None
    for a class the weights never learnt.

    When a side's class names are unknown, only an equal count can be trusted: row for row."""
    if mine is None or theirs is None:
        return list(range(n_mine)) if n_mine == n_theirs else [None] * n_mine
    where = {_class_key(name): row for row, name in enumerate(theirs)}
    return [where.get(_class_key(name)) for name in mine]


def _class_key(name: str) -> str:
    return canonical_emotion(name)


def _head_weights(theirs: list[np.ndarray], fresh: list[np.ndarray], rows: list[int | None]) -> list[np.ndarray]:
    """The new head: the trained head's kernel column and bias of every matched class, the fresh
    initialisation for the others."""
    kernel, bias = (w.copy() for w in fresh)
    for i, row in enumerate(rows):
        if row is not None:
            kernel[:, i] = theirs[0][:, row]
            bias[i] = theirs[1][row]
    return [kernel, bias]


def _head_note(rows: list[int | None], mine: Sequence[str] | None, was: str, now: str) -> str:
    """What happened to the head, in words (empty when it was copied as it was)."""
    if all(r == i for i, r in enumerate(rows)):
        return ""
    kept = [i for i, r in enumerate(rows) if r is not None]
    if not kept:
        return f"new head for {now} (the weights were trained on {was})"
    names = list(mine) if mine else [str(i) for i in range(len(rows))]
    new = [names[i] for i, r in enumerate(rows) if r is None]
    line = f"head: the trained rows of {', '.join(names[i] for i in kept)} (matched by name)"
    return line + (f"; new rows for {', '.join(new)}" if new else "")


def transfer(
    model,
    source: WeightSource,
    class_names: Sequence[str] | None = None,
    *,
    strict_head: bool = False,
) -> str:
    """Copies ``source``'s weights into ``model`` layer by layer (by name and shape).

    The head (``head_logits``) keeps what the weights learnt for every class whose name matches,
    in any order: its row of the trained head is copied, and only classes the weights never saw
    get new rows (the seven FER2013 classes in another order keep all seven; a 4-class subset
    starts at the restricted zero-shot accuracy instead of from zero). With a side's names
    unknown, the head is copied when the counts agree. ``strict_head`` turns anything but the
    same classes in the same order into an error instead. Returns one line saying what happened.
    """
    copied, notes = 0, []
    for layer in model.layers:
        if not layer.weights:
            continue
        theirs = source.layers.get(layer.name)
        mine = [tuple(w.shape) for w in layer.weights]
        if layer.name == "head_logits":
            note = _transfer_head(layer, theirs, source, class_names, strict_head)
            copied += not note.startswith("new head")
            notes += [note] if note else []
            continue
        if theirs is None:
            raise ValueError(f"{source.label}: it has no layer {layer.name!r}{_channels_hint(source, model)}")
        if [w.shape for w in theirs] != mine:
            raise ValueError(
                f"{source.label}: layer {layer.name!r} has shapes {[w.shape for w in theirs]}, this model needs "
                f"{mine}{_channels_hint(source, model)}"
            )
        layer.set_weights(theirs)
        copied += 1
    note = f"; {'; '.join(notes)}" if notes else ""
    return f"weights from {source.label}: copied {copied} layers{note}"


def _transfer_head(layer, theirs, source: WeightSource, class_names, strict_head: bool) -> str:
    """Fills the new head from the trained one (see :func:`transfer`); returns the note to print."""
    fresh = layer.get_weights()
    n_mine = fresh[0].shape[-1]
    n_theirs = theirs[0].shape[-1] if theirs else 0
    was = ", ".join(source.class_names) if source.class_names else f"{n_theirs or '?'} classes"
    now = ", ".join(class_names) if class_names else f"{n_mine} classes"
    same_features = theirs is not None and len(theirs) == 2 and theirs[0].shape[0] == fresh[0].shape[0]
    rows = head_rows(class_names, source.class_names, n_mine, n_theirs) if same_features else [None] * n_mine
    if strict_head and rows != list(range(n_mine)):
        raise ValueError(f"{source.label}: the weights' head predicts {was}, not {now}")
    if any(r is not None for r in rows):
        layer.set_weights(_head_weights(theirs, fresh, rows))
    return _head_note(rows, class_names, was, now)


def build_pretrained(
    arch: str,
    weights: str | os.PathLike,
    num_classes: int | None,
    input_shape: Sequence[int] | None,
    include_top: bool,
    options: Mapping[str, Any],
):
    """``build_model(arch, weights=...)``: arguments checked first, model rebuilt from the weights' metadata."""
    from kerfer.models import bind_options, get_arch

    get_arch(arch)
    options = bind_options(arch, dict(options))
    if str(weights) not in SHIPPED_NAMES and not Path(weights).exists():
        names = ", ".join(repr(n) for n in SHIPPED_WEIGHTS)
        raise ValueError(f"weights must be None, {names} or an existing file; got {weights!r}")
    source = load_source(weights, arch)
    if source.arch is not None and source.arch != arch:
        raise ValueError(f"{source.label}: these weights are for architecture '{source.arch}', not '{arch}'")
    built_options = dict(source.arch_options or {})
    for key, value in options.items():
        if key in built_options and _norm(built_options[key]) != _norm(value):
            raise ValueError(
                f"{key}={value!r} contradicts the weights ({source.label} were trained with {key}={built_options[key]!r})"
            )
        built_options[key] = value
    shape = tuple(input_shape) if input_shape is not None else (source.input_shape or (48, 48, 1))
    if source.input_shape is not None and tuple(shape) != tuple(source.input_shape):
        raise ValueError(f"input_shape={tuple(shape)} contradicts the weights (trained on {tuple(source.input_shape)})")
    trained_classes = len(source.class_names) if source.class_names else None
    if include_top and num_classes is not None and trained_classes is not None and num_classes != trained_classes:
        raise ValueError(
            f"weights={str(weights)!r} come with a {trained_classes}-class top ({', '.join(source.class_names)}); "
            f"got num_classes={num_classes}. Pass include_top=False for a feature extractor under your own head, "
            "or leave num_classes unset"
        )
    n = num_classes if num_classes is not None else (trained_classes or 7)
    model = get_arch(arch).builder(num_classes=n, input_shape=shape, include_top=include_top, **built_options)
    transfer(model, source, strict_head=True)
    return model


def _norm(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value
