"""Evaluation: accuracy, per-class precision/recall/F1, confusion matrix, optional flip TTA.

Works on any model the runtime can load (``.keras``, SavedModel, ``.tflite``) or a run
directory (its ``best.keras``), so exported files are measured exactly like trained ones.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kerfer.options import EVAL_SPLIT

Predict = Callable[..., np.ndarray]
"""``Classifier.predict_faces``: ``(faces, tta=False) -> probabilities``."""


@dataclasses.dataclass(frozen=True)
class Report:
    """Metrics of one set of predictions against true labels."""

    accuracy: float
    per_class: pd.DataFrame  # index: class name; columns precision, recall, f1, support
    confusion: np.ndarray  # (C, C), rows true, columns predicted
    class_names: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "per_class": {
                name: {k: (int(v) if k == "support" else float(v)) for k, v in row.items()}
                for name, row in self.per_class.to_dict(orient="index").items()
            },
            "confusion": self.confusion.tolist(),
            "class_names": list(self.class_names),
        }


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den``, and 0 where ``den`` is 0: a class never predicted (or never true) scores
    0, not NaN, and no 0/0 is computed on the way."""
    safe = np.where(den > 0, den, 1)
    return np.where(den > 0, num / safe, 0.0)


def classification_report(y_true: np.ndarray, probs: np.ndarray, class_names: Sequence[str]) -> Report:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix."""
    y_true = np.asarray(y_true)
    if y_true.ndim == 2:
        y_true = y_true.argmax(axis=1)
    k = len(class_names)
    y_pred = np.asarray(probs).argmax(axis=1)
    confusion = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    tp = np.diag(confusion).astype(float)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    table = pd.DataFrame(
        {"precision": precision, "recall": recall, "f1": f1, "support": support},
        index=pd.Index(list(class_names), name="class"),
    )
    return Report(float(tp.sum() / max(len(y_true), 1)), table, confusion, tuple(class_names))


def predict_batches(predict: Predict, images: np.ndarray, batch_size: int = 256, tta: bool = False) -> np.ndarray:
    """Class probabilities for every image; with ``tta`` the mean over the image and its mirror
    (the classifier's own flip TTA, one call per batch)."""
    out = []
    for i in range(0, len(images), batch_size):
        batch = images[i : i + batch_size]
        out.append(predict(batch, tta=True) if tta else predict(batch))
    return np.concatenate(out) if out else np.zeros((0, 0))


@dataclasses.dataclass(frozen=True)
class EvalResult:
    model: str
    split: str
    plain: Report
    tta: Report | None
    files: dict[str, str]
    labels: str = ""
    """What the labels are when that is not obvious (FER+: the majority rule applied)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "split": self.split,
            "labels": self.labels,
            "accuracy": self.plain.accuracy,
            "accuracy_tta": self.tta.accuracy if self.tta else None,
            "report": self.plain.to_dict(),
            "report_tta": self.tta.to_dict() if self.tta else None,
            "files": self.files,
        }

    def lines(self) -> list[str]:
        """``kerfer evaluate``'s text: the model, split and labels, the per-class table, the
        accuracy (with flip TTA's beside it) and the files written."""
        out = [f"model: {self.model}", f"split: {self.split}  ({int(self.plain.per_class['support'].sum())} images)"]
        if self.labels:
            out.append(f"labels: {self.labels}")
        out.append(self.plain.per_class.to_string(float_format=lambda v: f"{v:.3f}"))
        tta = f"   with flip TTA: {self.tta.accuracy:.2%}" if self.tta else ""
        return [*out, f"accuracy: {self.plain.accuracy:.2%}{tta}", *(f"wrote {p}" for p in self.files.values())]


def evaluate(
    model: str | os.PathLike | None = None,
    *,
    csv: str | os.PathLike | None = None,
    data: str | os.PathLike | None = None,
    split: str = EVAL_SPLIT,
    tta: bool = False,
    out_dir: str | os.PathLike | None = None,
    batch_size: int = 256,
    unsafe: bool = False,
    parse_cache: bool | None = None,
) -> EvalResult:
    """Evaluates a model on a FER2013 split (``csv``) or an image-folder split (``data``).

    Writes ``metrics_<split>.csv``, ``confusion_<split>.png`` and ``metrics_<split>.json``
    into ``out_dir`` (default: the run directory for a run, else nothing is written), and
    ``curves.png`` when the run has a ``history.csv``.
    """
    from kerfer.modelio import resolve_model_path
    from kerfer.runtime.classifier import Classifier

    model_path = resolve_model_path(model)
    if out_dir is None and model_path.name == "best.keras" and Path(model).is_dir():
        out_dir = model
    if out_dir is not None:
        check_outputs(Path(out_dir), split, model_path, csv, data)
    clf = Classifier(model_path, unsafe=unsafe)
    images, labels = split_loader(csv, data, clf.contract, parse_cache)(split)
    predict = clf.predict_faces
    plain = classification_report(labels, predict_batches(predict, images, batch_size), clf.class_names)
    tta_report = None
    if tta:
        tta_report = classification_report(
            labels, predict_batches(predict, images, batch_size, tta=True), clf.class_names
        )

    files: dict[str, str] = {}
    if out_dir is not None:
        files = _write_outputs(Path(out_dir), split, plain, tta_report, model_path)
    return EvalResult(str(model_path), split, plain, tta_report, files, _labels_note(clf.class_names, csv))


def _labels_note(class_names, csv) -> str:
    from kerfer.labels import FERPLUS_CLASSES

    if csv is not None and tuple(class_names) == FERPLUS_CLASSES:
        from kerfer.data.ferplus import FERPLUS_RULE

        return FERPLUS_RULE
    return ""


def split_loader(
    csv, data, contract, parse_cache: bool | None = None, every_class: bool = False
) -> Callable[[str], tuple[np.ndarray, np.ndarray]]:
    """``split name → (images, labels)`` in the model's classes; a CSV is parsed only once.

    FER2013 CSVs give FER2013 labels, or FER+ majority labels (from ``fer2013new.csv`` beside
    the CSV) for a FER+ model; image folders are read at the model's input size. A split with
    no images of the model's classes is one clear error, for evaluation, calibration and parity.
    With ``every_class`` (export: int8 calibration and parity) a folder split must hold a class
    folder for each of the model's classes; the refusal names both lists.
    """
    load = _split_loader(csv, data, contract, parse_cache)

    def checked(split: str) -> tuple[np.ndarray, np.ndarray]:
        if every_class and data is not None and csv is None:
            _check_every_class(Path(data), split, contract.class_names)
        images, labels = load(split)
        if not len(images):  # would end in "attempt to get argmax of an empty sequence"
            raise ValueError(
                f"split {split!r} of {csv or data} has no images of the model's classes "
                f"({', '.join(contract.class_names)}); choose another split"
            )
        return images, labels

    return checked


def _check_every_class(data: Path, split: str, class_names: Sequence[str]) -> None:
    from kerfer.runtime.scan import class_folders

    if not (data / split).is_dir():
        return  # the loader names a missing split folder, and the splits there are
    found = class_folders(data / split)
    missing = [c for c in class_names if c not in found]
    if missing:
        raise ValueError(
            f"{data / split}: its class folders are {', '.join(found) or 'none'} but the model predicts "
            f"{', '.join(class_names)} (no images of {', '.join(missing)}): calibration and parity need every "
            "class the model predicts"
        )


def _split_loader(csv, data, contract, parse_cache: bool | None) -> Callable[[str], tuple[np.ndarray, np.ndarray]]:
    names = list(contract.class_names)
    if (csv is None) == (data is None):
        raise ValueError("give exactly one of a FER2013 CSV (--csv) or an image folder (--data)")
    if csv is not None:
        from kerfer.data.fer2013 import read_fer2013, table_arrays
        from kerfer.data.ferplus import FERPLUS_CLASSES, ferplus_arrays, ferplus_csv_beside, join_ferplus
        from kerfer.labels import FER2013_CLASSES

        table = read_fer2013(csv, cache=parse_cache)
        if set(names) <= set(FER2013_CLASSES):
            return lambda split: table_arrays(table, split, names)[:2]
        if tuple(names) == FERPLUS_CLASSES:
            joined = join_ferplus(table, ferplus_csv_beside(csv))
            return lambda split: ferplus_arrays(table, joined, split, "rule")[:2]
        raise ValueError(f"the model's classes {names} are not FER2013 classes; evaluate it on an image folder")
    from kerfer.data.folders import read_image_folder

    mode = "grayscale" if contract.channels == 1 else "rgb"
    return lambda split: read_image_folder(data, split, contract.input_size, mode, class_names=names)[:2]


def output_names(split: str) -> dict[str, str]:
    """What ``evaluate`` writes into its folder, by kind."""
    return {
        "metrics_csv": f"metrics_{split}.csv",
        "confusion_png": f"confusion_{split}.png",
        "metrics_json": f"metrics_{split}.json",
        "curves_png": "curves.png",
    }


def check_outputs(out: Path, split: str, model_path: Path, csv, data) -> None:
    """Before anything is read or written: no output may be the model, its labels file or the data."""
    from kerfer.modelio import contract_path_for
    from kerfer.paths import refuse_overwriting_inputs

    refuse_overwriting_inputs(
        {f"--out's {name}": out / name for name in output_names(split).values()},
        {"the model": model_path, "its labels file": contract_path_for(model_path), "--csv": csv, "--data": data},
    )


def _write_outputs(out: Path, split: str, plain: Report, tta: Report | None, model_path: Path) -> dict[str, str]:
    from kerfer.io import atomic_write_text
    from kerfer.plots import plot_confusion, plot_history

    out.mkdir(parents=True, exist_ok=True)
    names = output_names(split)
    files = {kind: str(out / names[kind]) for kind in ("metrics_csv", "confusion_png", "metrics_json")}
    atomic_write_text(files["metrics_csv"], plain.per_class.to_csv(float_format="%.4f"))
    plot_confusion(
        plain.confusion,
        plain.class_names,
        files["confusion_png"],
        title=f"{model_path.name} on {split}: {plain.accuracy:.2%}",
    )
    summary = {"accuracy": plain.accuracy, "accuracy_tta": tta.accuracy if tta else None, "report": plain.to_dict()}
    atomic_write_text(files["metrics_json"], json.dumps(summary, indent=2))
    history = out / "history.csv"
    if history.exists():
        from kerfer.callbacks import read_history

        files["curves_png"] = str(out / names["curves_png"])
        plot_history(read_history(history), files["curves_png"])
    return files
