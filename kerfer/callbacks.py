"""Keras callbacks kerfer adds to ``fit``."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import keras

from kerfer.io import atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from kerfer.config import TrainConfig


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


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the model to a ``.keras`` file at epoch end, atomically (temp file, then rename).

    With ``monitor`` set, only when that metric improves (the best model). A kill during a
    save leaves the previous file intact, never a truncated one.
    """

    def __init__(self, path: str | os.PathLike, monitor: str | None = None, mode: str = "max", save=None):
        """``save``: the model to write when ``fit`` trains a wrapper around it (device augmentation)."""
        super().__init__()
        self.path = Path(path)
        self.save = save
        self.monitor = monitor
        self.sign = 1.0 if mode == "max" else -1.0
        self.best: float | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        # On resume, the best so far is in history.csv beside the model.
        if self.monitor and self.best is None:
            values = read_history(self.path.parent / "history.csv").get(self.monitor, [])
            if values and self.path.exists():
                self.best = max(self.sign * v for v in values)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.monitor:
            value = (logs or {}).get(self.monitor)
            if value is None:
                return
            score = self.sign * float(value)
            if self.best is not None and score <= self.best:
                return
            self.best = score
        from kerfer.io import atomic_path

        with atomic_path(self.path, suffix=".keras") as tmp:
            (self.save or self.model).save(tmp)


def run_callbacks(cfg: TrainConfig, run_dir: Path, has_val: bool, backup: str = "backup", save=None) -> list:
    """``save``: the model the checkpoints write, when ``fit`` trains a wrapper around it."""
    monitor = "val_accuracy" if has_val else "accuracy"
    cbs: list = [
        # First, so a restored run skips the epochs it already finished.
        keras.callbacks.BackupAndRestore(str(run_dir / backup), delete_checkpoint=False),
        # Before EpochHistory: the best-so-far on resume is read from the epochs already logged.
        AtomicCheckpoint(run_dir / "best.keras", monitor=monitor, mode="max", save=save),
        AtomicCheckpoint(run_dir / "last.keras", save=save),
        EpochHistory(run_dir / "history.csv"),
        keras.callbacks.TerminateOnNaN(),
    ]
    if cfg.lr_schedule == "plateau":
        cbs.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss" if has_val else "loss",
                factor=cfg.plateau_factor,
                patience=cfg.plateau_patience,
                min_lr=cfg.learning_rate * 1e-3,
                verbose=1,
            )
        )
    if cfg.early_stopping_patience:
        cbs.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, mode="max", patience=cfg.early_stopping_patience, restore_best_weights=False
            )
        )
    if cfg.tensorboard:
        cbs.append(keras.callbacks.TensorBoard(str(run_dir / "tensorboard")))
    return cbs
