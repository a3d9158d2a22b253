"""Export: ``.keras`` → TF SavedModel and TFLite (float32, float16, dynamic-range, full int8).

Every export folder holds the model files, ``labels.json`` (the preprocessing contract the
runtime reads) and ``parity.csv``: accuracy of each file next to the Keras model, top-1
agreement with it, size and single-thread latency per face. All writes are atomic.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from kerfer.options import CALIBRATION_SAMPLES, EXPORT_TFLITE, TFLITE_KINDS


@dataclasses.dataclass(frozen=True)
class ExportResult:
    out_dir: Path
    files: dict[str, Path]  # kind ("saved_model", "tflite_int8", ...) → path
    parity: pd.DataFrame | None
    parity_split: str | None = None

    def lines(self) -> list[str]:
        """``kerfer export``'s text: each file written, then the parity table (when there is one)."""
        out = [f"wrote {path}" for kind, path in self.files.items() if kind != "keras"]
        out.append(f"wrote {self.out_dir / 'labels.json'}")
        if self.parity is not None:
            table = self.parity.drop(columns=["file"])
            out += [
                f"\nparity on {self.parity_split} (latency: 1 face, 1 thread for TFLite):",
                table.to_string(index=False, float_format=lambda v: f"{v:.4f}" if v < 1 else f"{v:.1f}"),
                f"wrote {self.out_dir / 'parity.csv'}",
            ]
        return out


def stratified_sample(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of about ``n`` rows with every class equally represented where it can be."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = max(1, n // max(len(classes), 1))
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in classes]
    idx = np.concatenate(picks) if picks else np.zeros(0, int)
    if len(idx) < n:  # rare classes ran out: top up from the rest
        rest = np.setdiff1d(np.arange(len(labels)), idx)
        idx = np.concatenate([idx, rng.permutation(rest)[: n - len(idx)]])
    return np.sort(idx[:n])


def convert_tflite(saved_model_dir: Path, kind: str, calibration: np.ndarray | None = None) -> bytes:
    """One TFLite flatbuffer from a SavedModel.

    ``int8`` is full-integer quantization with uint8 input and output, so a Raspberry Pi
    feeds raw pixels and reads probabilities with no float work at the edges.
    """
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    if kind == "float32":
        pass
    elif kind == "float16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif kind == "dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif kind == "int8":
        if calibration is None or not len(calibration):
            raise ValueError("int8 export needs calibration images: pass --csv (FER2013) or --data (image folder)")
        samples = calibration.astype(np.float32)

        def representative():
            for i in range(len(samples)):
                yield [samples[i : i + 1]]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.uint8
        conv.inference_output_type = tf.uint8
    else:
        raise ValueError(f"unknown TFLite kind '{kind}': choose from {', '.join(TFLITE_KINDS)}")
    return conv.convert()


def export(
    model: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    *,
    saved_model: bool = True,
    tflite: Sequence[str] = EXPORT_TFLITE,
    csv: str | os.PathLike | None = None,
    data: str | os.PathLike | None = None,
    calibration_split: str | None = None,
    calibration_samples: int = CALIBRATION_SAMPLES,
    parity_split: str | None = None,
    latency_runs: int = 200,
    unsafe: bool = False,
    parse_cache: bool | None = None,
) -> ExportResult:
    """Exports a trained model (a run directory or ``.keras`` file) into ``out_dir``.

    ``csv``/``data`` supply calibration images for int8 (stratified by class, from the
    training split) and, when ``parity_split`` is set, the split for the parity report.
    ``out_dir`` defaults to ``exports/<run or model name>``. ``parity_split="auto"`` is the
    split the run validated on (from its ``config.json``). Nothing in ``out_dir`` changes unless
    the whole export succeeds.
    """
    from kerfer.contract import ModelContract
    from kerfer.evaluation import split_loader
    from kerfer.io import atomic_write_bytes, atomic_write_text
    from kerfer.modelio import contract_path_for, load_contract, load_keras_model, outputs_mismatch, resolve_model_path
    from kerfer.paths import refuse_overwriting_inputs

    model_path = resolve_model_path(model)
    if model_path.suffix != ".keras":
        raise ValueError(f"{model_path}: export starts from a .keras model (or a run directory)")
    # Always float32, whatever policy the model trained under: float16 ops break the TFLite converter.
    keras_model = load_keras_model(model_path, unsafe=unsafe, float32=True)
    contract = load_contract(model_path)
    mismatch = outputs_mismatch(model_path, int(keras_model.output_shape[-1]), contract)
    if mismatch:
        raise ValueError(mismatch)
    name = model_path.parent.name if model_path.name == "best.keras" else model_path.stem
    out = Path(out_dir) if out_dir is not None else Path("exports") / name
    refuse_overwriting_inputs(
        {f"--out's {f}": out / f for f in export_files(saved_model, tflite)},
        {"the model": model_path, "its labels file": contract_path_for(model_path), "--csv": csv, "--data": data},
    )
    contract = ModelContract(
        class_names=contract.class_names,
        input_size=int(keras_model.input_shape[1]),
        channels=int(keras_model.input_shape[-1]),
    )
    files: dict[str, Path] = {"keras": model_path}

    kinds = [k for k in tflite]
    for k in kinds:
        if k not in TFLITE_KINDS:
            raise ValueError(f"unknown TFLite kind '{k}': choose from {', '.join(TFLITE_KINDS)}")
    if "int8" in kinds and calibration_samples < 1:
        raise ValueError(f"--calibration-samples must be at least 1 for an int8 export, got {calibration_samples}")
    run_train, run_val = run_splits(model_path, csv, data)
    if parity_split == "auto":  # the split the run validated on: it exists in this data
        parity_split = run_val
    # Every image is read before anything is written: a missing split fails here, not at the end.
    load = None
    if "int8" in kinds or parity_split:
        if csv is None and data is None:
            raise ValueError("calibration and parity need data: pass --csv (FER2013) or --data (image folder)")
        # parses a CSV once for both; a folder must hold every class of the model (a 3-class folder
        # calibrated and measured a 7-class model on 3 classes without a word)
        load = split_loader(csv, data if csv is None else None, contract, parse_cache, every_class=True)
    calib = None
    if "int8" in kinds:
        x, y = load(calibration_split or run_train)
        calib = x[stratified_sample(y, calibration_samples)]
    parity_data = load(parity_split) if parity_split else None

    # Everything is written into a staging folder beside ``out`` and moved in only when all of it
    # succeeded: a failed export leaves a good export in the same folder as it was.
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging.", dir=out.parent))
    try:
        contract.save(stage / "labels.json")
        staged: dict[str, Path] = {}
        with tempfile.TemporaryDirectory() as tmp:
            sm_tmp = Path(tmp) / "saved_model"
            keras_model.export(str(sm_tmp), format="tf_saved_model", verbose=False)
            if saved_model:
                shutil.copytree(sm_tmp, stage / "saved_model")
                atomic_write_text(stage / "saved_model" / "labels.json", (stage / "labels.json").read_text())
                staged["saved_model"] = stage / "saved_model"
            for k in kinds:
                path = stage / f"model_{k}.tflite"
                atomic_write_bytes(path, convert_tflite(sm_tmp, k, calib))
                staged[f"tflite_{k}"] = path

        parity = None
        if parity_data is not None:
            parity = parity_report({**files, **staged}, *parity_data, latency_runs=latency_runs, unsafe=unsafe)
            parity["file"] = [str(out / Path(f).name) if Path(f).parent == stage else f for f in parity["file"]]
            atomic_write_text(stage / "parity.csv", parity.to_csv(index=False, float_format="%.4f"))
        _move_into(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    files.update({kind: out / path.name for kind, path in staged.items()})
    return ExportResult(out, files, parity, parity_split if parity is not None else None)


def export_files(saved_model: bool, tflite: Sequence[str]) -> list[str]:
    """The names an export writes into its folder (each replaces a file of that name there)."""
    return [
        *(["saved_model"] if saved_model else []),
        *(f"model_{k}.tflite" for k in tflite),
        "labels.json",
        "parity.csv",
    ]


def _move_into(stage: Path, out: Path) -> None:
    """Moves every entry of ``stage`` into ``out`` (renames on one file system), replacing what is
    there; a folder (the SavedModel) is swapped whole. Other files in ``out`` stay."""
    out.mkdir(parents=True, exist_ok=True)
    for entry in sorted(stage.iterdir(), key=lambda p: p.name == "labels.json"):  # the contract last
        target = out / entry.name
        if entry.is_dir() and target.exists():
            old = out / f".{entry.name}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(entry, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(entry, target)


def run_splits(model_path: Path, csv, data) -> tuple[str, str | None]:
    """(training split, validation split) of the run that made ``model_path``, from its
    ``config.json`` when it trained on the same kind of data; else the usual names."""
    import json

    config = model_path.parent / "config.json"
    if config.exists():
        try:
            cfg = json.loads(config.read_text())
        except (OSError, ValueError):
            cfg = {}
        if isinstance(cfg, dict) and bool(cfg.get("csv")) == (csv is not None) and cfg.get("train_split"):
            return str(cfg["train_split"]), cfg.get("val_split")
    return _default_train_split(csv, data), "PublicTest" if csv is not None else "val"


def _default_train_split(csv, data) -> str:
    return "Training" if csv is not None else "train"


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def call_times(predict, face: np.ndarray, runs: int = 200, warmup: int = 10) -> list[float]:
    """Seconds of each of ``runs`` calls classifying one face, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        predict(face)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        predict(face)
        times.append(time.perf_counter() - t)
    return times


def latency_ms(predict, face: np.ndarray, runs: int = 200) -> float:
    """Median milliseconds to classify one face (batch of 1)."""
    return float(np.median(call_times(predict, face, runs)) * 1000)


def parity_report(
    files: dict[str, Path], x: np.ndarray, y: np.ndarray, *, latency_runs: int = 200, unsafe: bool = False
) -> pd.DataFrame:
    """Accuracy, agreement with the Keras model, size and 1-thread latency for each file."""
    from kerfer.evaluation import predict_batches
    from kerfer.runtime.classifier import Classifier

    rows = []
    reference = None
    for kind, path in files.items():
        clf = Classifier(path, num_threads=1, unsafe=unsafe)
        pred = predict_batches(clf.predict_faces, x).argmax(axis=1)
        if reference is None:
            reference = pred
        rows.append(
            {
                "format": kind,
                "file": str(path),
                "accuracy": float((pred == y).mean()),
                "agreement_with_keras": float((pred == reference).mean()),
                "size_kb": _size(path) / 1024,
                "latency_ms_per_face": latency_ms(clf.predict_faces, x[:1], latency_runs),
            }
        )
    return pd.DataFrame(rows)
