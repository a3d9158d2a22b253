"""Several runs' curves on one figure: FER2013 train loss and PublicTest accuracy per epoch.

    python -m tools.plot_runs "third start=docs/model/history_long3.csv" "fifth start=/work/runs/long" \
        --out docs/model/curves_long.png

Each argument is ``LABEL=RUN_DIR`` (or a ``history.csv``). A two-head run's FER2013 loss is its
``probabilities_loss`` (its ``loss`` adds the FER+ head's), so one-head and two-head runs are
compared on the same quantity. The long run's starts are drawn this way in docs/model_card.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def fer2013_curves(history: pd.DataFrame) -> pd.DataFrame:
    """``epoch``, ``train_loss`` (the FER2013 head's) and ``val_accuracy`` of one run's history."""
    loss = "probabilities_loss" if "probabilities_loss" in history else "loss"
    out = pd.DataFrame({"epoch": history["epoch"], "train_loss": history[loss]})
    if "val_accuracy" in history:
        out["val_accuracy"] = history["val_accuracy"]
    return out


def read_history(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    csv = path / "history.csv" if path.is_dir() else path
    if not csv.exists():
        raise SystemExit(f"{csv}: no history.csv there")
    return pd.read_csv(csv)


def plot_runs(runs: dict[str, pd.DataFrame], out: str | Path) -> None:
    from kerfer.plots import _pyplot, _save

    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for label, history in runs.items():
        c = fer2013_curves(history)
        left.plot(c["epoch"], c["train_loss"], label=label)
        if "val_accuracy" in c:
            right.plot(c["epoch"], 100 * c["val_accuracy"], label=label)
    left.set_title("FER2013 head: train loss (augmented)")
    right.set_title("FER2013 PublicTest accuracy (%)")
    for ax in (left, right):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    _save(fig, out)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", metavar="LABEL=RUN_DIR", help="a run directory or history.csv, labelled")
    ap.add_argument("--out", required=True, type=Path, help="PNG to write")
    args = ap.parse_args(argv)
    runs = {}
    for item in args.runs:
        label, sep, path = item.partition("=")
        if not sep:
            ap.error(f"expected LABEL=RUN_DIR, got '{item}'")
        runs[label] = read_history(path)
    plot_runs(runs, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
