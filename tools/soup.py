"""Averages the weights of models of one architecture (a "model soup") into a run directory.

    python tools/soup.py shipped /work/runs/warm_ens --weights 0.7 0.3 \\
        --config configs/warm_ensemble.json --out /work/runs/soup

Two fine-tunings of the same start usually stay in one basin of the loss, so the mean of
their weights (BatchNorm statistics included) is often better than either (Wortsman et al.
2022, "Model soups"); it costs no training and, unlike an ensemble, nothing at inference.
``shipped`` is kerfer's float weights (``build_model(arch, weights="fer2013")``); anything
else is a run directory or ``.keras`` file. The output is a run directory (``best.keras``,
``config.json``, ``labels.json``, ``soup.json`` saying what went in), so ``kerfer evaluate``,
``kerfer export`` and ``tools/ship_stage.py`` take it as they take a trained run.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

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


def load(model: str, config: dict):
    from kerfer.modelio import load_keras_model
    from kerfer.models import build_model

    if model == "shipped":
        return build_model(config["arch"], weights="fer2013", **config.get("arch_options", {}))
    return load_keras_model(model, float32=True)


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="'shipped', run directories or .keras files")
    ap.add_argument("--weights", nargs="+", type=float, help="one share per model (default: equal)")
    ap.add_argument("--config", type=Path, required=True, help="the training config the models share")
    ap.add_argument("--out", type=Path, required=True, help="the run directory to write")
    args = ap.parse_args(argv)

    import keras

    from kerfer.contract import ModelContract
    from kerfer.modelio import load_contract, resolve_model_path

    config = json.loads(args.config.read_text())
    shares = args.weights or [1.0] * len(args.models)
    models = [load(m, config) for m in args.models]
    soup = models[0]  # its architecture, given the mean of everyone's weights
    soup.set_weights(mean_weights([m.get_weights() for m in models], shares))
    args.out.mkdir(parents=True, exist_ok=True)
    keras.saving.save_model(soup, args.out / "best.keras")
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    contract = ModelContract()  # the shipped weights' seven classes, or the first run's own labels
    for m in args.models:
        if m != "shipped":
            contract = load_contract(resolve_model_path(m), warn=False)
            break
    contract.save(args.out / "labels.json")
    record = {"models": args.models, "shares": [s / sum(shares) for s in shares], "config": str(args.config)}
    (args.out / "soup.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out / 'best.keras'}: " + ", ".join(f"{s:g} x {m}" for m, s in zip(args.models, shares)))
    return args.out / "best.keras"


if __name__ == "__main__":
    main()
