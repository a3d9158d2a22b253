"""Model soups: the weights of several models of one architecture, averaged into one run directory.

    python -m kerfer.models.soup fer2013 /work/runs/warm_ens --weights 0.7 0.3 \\
        --config configs/warm_ensemble.json --out /work/runs/soup

Two fine-tunings of the same start usually stay in one basin of the loss, so the mean of
their weights (BatchNorm statistics included) is often better than either (Wortsman et al.
2022, "Model soups"); it costs no training and, unlike an ensemble, nothing at inference.
``fer2013`` or ``ferplus`` (alias ``shipped`` = fer2013) is kerfer's float weights
(``build_model(arch, weights="fer2013")``); anything
else is a run directory or ``.keras`` file. The output is a run directory (``best.keras``,
``config.json``, ``labels.json``, ``soup.json`` saying what went in), so ``kerfer evaluate``,
``kerfer export`` and ``python -m tools.ship_stage`` take it as they take a trained run.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def mean_weights(weight_lists: Sequence[Sequence[np.ndarray]], shares: Sequence[float]) -> list[np.ndarray]:
    """The share-weighted mean of several models' weight lists (shares are normalised to sum 1)."""
    if len(weight_lists) != len(shares) or len(weight_lists) < 2:
        raise ValueError(f"need two or more models with one share each; got {len(weight_lists)} and {len(shares)}")
    if min(shares) <= 0:
        raise ValueError(f"shares must be positive, got {list(shares)}")
    total = float(sum(shares))
    first = weight_lists[0]
    for i, ws in enumerate(weight_lists[1:], start=2):
        shapes = [w.shape for w in ws]
        if shapes != [w.shape for w in first]:
            raise ValueError(f"model {i} has other weight shapes than model 1: the soup needs one architecture")
    return [sum(s / total * ws[k] for ws, s in zip(weight_lists, shares)) for k in range(len(first))]


def load_member(model: str | os.PathLike, config: Mapping[str, Any]):
    """One soup member as a float32 ``keras.Model``: a weights name (``fer2013``, ``ferplus``, alias
    ``shipped``) is rebuilt with the config's arch and options from those shipped float weights,
    anything else loaded as a model argument."""
    from kerfer.modelio import load_keras_model
    from kerfer.models import build_model
    from kerfer.models.pretrained import SHIPPED_NAMES

    if str(model) in SHIPPED_NAMES:
        return build_model(config["arch"], weights=str(model), **config.get("arch_options", {}))
    return load_keras_model(model, float32=True)


def make_soup(
    models: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    config: str | os.PathLike,
    shares: Sequence[float] | None = None,
) -> Path:
    """Averages ``models`` (``shares``, default equal) into the run directory ``out``; returns its
    ``best.keras``. ``config`` is the training config the models share: copied as the run's own,
    so that evaluation, export and ``--init-from`` rebuild the soup as they rebuild a run."""
    import keras

    from kerfer.contract import ModelContract
    from kerfer.io import atomic_write_text
    from kerfer.modelio import load_contract, resolve_model_path
    from kerfer.models.pretrained import SHIPPED_NAMES, shipped_metadata

    names = [str(m) for m in models]
    cfg = json.loads(Path(config).read_text())
    shares = list(shares) if shares is not None else [1.0] * len(names)
    loaded = [load_member(m, cfg) for m in names]
    soup = loaded[0]  # its architecture, given the mean of everyone's weights
    soup.set_weights(mean_weights([m.get_weights() for m in loaded], shares))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keras.saving.save_model(soup, out / "best.keras")
    atomic_write_text(out / "config.json", json.dumps(cfg, indent=2) + "\n")
    first_run = next((m for m in names if m not in SHIPPED_NAMES), None)  # its labels, or the shipped weights'
    if first_run is None:
        contract = ModelContract(class_names=tuple(shipped_metadata(cfg["arch"], names[0])["class_names"]))
    else:
        contract = load_contract(resolve_model_path(first_run), warn=False)
    contract.save(out / "labels.json")
    record = {"models": names, "shares": [s / sum(shares) for s in shares], "config": str(config)}
    atomic_write_text(out / "soup.json", json.dumps(record, indent=2) + "\n")
    return out / "best.keras"


def main(argv: list[str] | None = None) -> Path:
    """``python -m kerfer.models.soup``: the command line of :func:`make_soup`."""
    ap = argparse.ArgumentParser(
        prog="python -m kerfer.models.soup", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "models",
        nargs="+",
        help="'fer2013' or 'ferplus' (kerfer's float weights; alias 'shipped'), run directories or .keras files",
    )
    ap.add_argument("--weights", nargs="+", type=float, help="one share per model (default: equal)")
    ap.add_argument("--config", type=Path, required=True, help="the training config the models share")
    ap.add_argument("--out", type=Path, required=True, help="the run directory to write")
    args = ap.parse_args(argv)
    shares = args.weights or [1.0] * len(args.models)
    best = make_soup(args.models, args.out, args.config, shares)
    print(f"wrote {best}: " + ", ".join(f"{s:g} x {m}" for m, s in zip(args.models, shares)))
    return best


if __name__ == "__main__":
    main()
