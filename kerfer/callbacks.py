"""Keras callbacks kerfer adds to ``fit``."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import keras

from kerfer.io import atomic_write_text


def read_history(path: str | os.PathLike) -> dict[str, list[float]]:
    """history.csv → ``{column: values}`` (``epoch`` is 1-based). Missing file → empty dict."""
    path = Path(path)
    if not path.exists():
        return {}
    rows = list(csv.DictReader(path.read_text().splitlines()))
    if not rows:
        return {}
    return {k: [float(r[k]) if r[k] not in ("", None) else float("nan") for r in rows] for k in rows[0]}


class EpochHistory(keras.callbacks.Callback):
    """Writes ``history.csv`` atomically after every epoch, one row per epoch number.

    Unlike CSVLogger, a resumed run that repeats an epoch replaces that epoch's row
    instead of appending a duplicate, so the file always reads 1, 2, 3, ...
    """

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = Path(path)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = dict(logs or {})
        row = {"epoch": epoch + 1}
        try:
            lr = self.model.optimizer.learning_rate
            row["learning_rate"] = float(keras.ops.convert_to_numpy(lr))
        except (AttributeError, TypeError, ValueError):
            pass
        row.update({k: float(v) for k, v in sorted(logs.items()) if k != "learning_rate"})
        old = read_history(self.path)
        kept = [
            {k: old[k][i] for k in old} for i in range(len(old.get("epoch", []))) if int(old["epoch"][i]) < row["epoch"]
        ]
        rows = kept + [row]
        fields = list(dict.fromkeys(k for r in rows for k in r))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (int(v) if k == "epoch" else v) for k, v in r.items()})
        atomic_write_text(self.path, buf.getvalue())
