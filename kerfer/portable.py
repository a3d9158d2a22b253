"""Portable training state: a run packed small enough to commit, continued on another machine.

A run directory's resumable state is Keras' ``backup/latest.weights.h5`` (model and optimizer
variables after the last finished epoch, with the step count that drives the learning-rate
schedule) plus ``config.json``, ``labels.json`` and ``history.csv``. :func:`pack_run` copies
those into one folder, the float arrays stored as float16 (half the bytes; a rounding of
about 5e-4 of each value, far below one SGD step's noise), together with the best
checkpoint's weights. :func:`unpack_run` writes them back as a run directory that
``kerfer train --resume`` continues at the same epoch and learning-rate position.

The weights files are copied dataset by dataset (HDF5 paths, shapes and attributes kept), so
a pack needs neither TensorFlow nor the model's code to be written or read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from kerfer.io import atomic_write_bytes, atomic_write_text
from kerfer.options import STORE_DTYPES

PACK_FORMAT = 1
MANIFEST = "pack.json"
STATE = "state.npz"
RUN_FILES = ("config.json", "labels.json", "history.csv")
"""Small text files of a run that a pack carries as they are."""


@dataclasses.dataclass(frozen=True)
class PackInfo:
    """What a pack holds: the epoch it continues after, and its size."""

    path: Path
    epoch: int
    iterations: int
    bytes: int
    has_best: bool

    def line(self, run_dir: str | Path) -> str:
        """``kerfer pack``'s line: what was packed from ``run_dir``, where, and its size."""
        best = ", best weights" if self.has_best else ""
        return f"packed {run_dir} at epoch {self.epoch} (step {self.iterations}{best}) into {self.path}: {self.bytes / 1e6:.1f} MB"


def _h5_arrays(path: Path, skip: tuple[str, ...] = ()) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """Every dataset of an HDF5 file by path, and every group's attributes."""
    import h5py

    arrays: dict[str, np.ndarray] = {}
    attrs: dict[str, dict] = {}
    with h5py.File(path, "r") as f:
        attrs[""] = {k: _jsonable(v) for k, v in f.attrs.items()}

        def visit(name: str, obj) -> None:
            if any(name == s or name.startswith(s + "/") for s in skip):
                return
            if isinstance(obj, h5py.Dataset):
                arrays[name] = obj[()]
            else:
                attrs[name] = {k: _jsonable(v) for k, v in obj.attrs.items()}

        f.visititems(visit)
    return arrays, attrs


def _jsonable(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _write_h5(path: Path, arrays: dict[str, np.ndarray], attrs: dict[str, dict]) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        for name in sorted(attrs, key=len):
            group = f if name == "" else f.require_group(name)
            for k, v in attrs[name].items():
                group.attrs[k] = v
        for name, value in arrays.items():
            f.create_dataset(name, data=value)


def _stored(value: np.ndarray, dtype: str) -> np.ndarray:
    """Floats in the pack's dtype; integers (the step count) exactly as they are."""
    return value.astype(dtype) if np.issubdtype(value.dtype, np.floating) else value


def _read_backup(run_dir: Path, retries: int = 5) -> tuple[dict, dict[str, np.ndarray], dict[str, dict]]:
    """The backup's metadata and arrays, read as one consistent snapshot: a training process
    may rewrite the backup at any epoch's end, so the read is retried until the epoch in the
    metadata is the same before and after it."""
    meta_path = run_dir / "backup" / "training_metadata.json"
    weights = run_dir / "backup" / "latest.weights.h5"
    if not meta_path.exists() or not weights.exists():
        raise FileNotFoundError(f"{run_dir}: no finished epoch to pack (no backup/latest.weights.h5)")
    last_error: Exception | None = None
    for _ in range(retries):
        try:
            before = json.loads(meta_path.read_text())
            arrays, attrs = _h5_arrays(weights)
            if json.loads(meta_path.read_text()) == before:
                return before, arrays, attrs
        except (OSError, ValueError) as e:  # caught mid-write
            last_error = e
        time.sleep(2.0)
    raise RuntimeError(f"{weights}: changed while it was read {retries} times ({last_error or 'epoch moved on'})")


def pack_run(run_dir: str | Path, out_dir: str | Path, dtype: str = STORE_DTYPES[0]) -> PackInfo:
    """Writes the resumable state of ``run_dir`` into ``out_dir``, replacing a previous pack there.

    ``out_dir`` holds ``pack.json`` (epoch, step count, checksums), ``state.npz`` (the latest
    model and optimizer variables and the best checkpoint's weights) and the run's
    ``config.json``, ``labels.json`` and ``history.csv``. The training may keep running: the
    pack is a consistent snapshot of one finished epoch.
    """
    if dtype not in STORE_DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(STORE_DTYPES)}, got {dtype!r}")
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if out_dir.resolve() == run_dir.resolve() or run_dir.resolve() in out_dir.resolve().parents:
        raise ValueError(f"{out_dir}: a pack must be written outside the run directory {run_dir}")
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).exists():
        raise FileExistsError(f"{out_dir} exists and is not a kerfer pack: choose an empty or new folder")
    meta, latest, latest_attrs = _read_backup(run_dir)
    state = {f"latest/{k}": _stored(v, dtype) for k, v in latest.items()}
    manifest: dict = {
        "format": PACK_FORMAT,
        "epoch": int(meta["epoch"]),
        "batch": int(meta.get("batch", 0)),
        "dtype": dtype,
        "latest_attrs": latest_attrs,
        "latest_dtypes": {k: str(v.dtype) for k, v in latest.items()},
    }
    best = run_dir / "best.keras"
    if best.exists():
        with zipfile.ZipFile(best) as z, tempfile.TemporaryDirectory() as tmp:
            z.extract("model.weights.h5", tmp)
            # The best model is for shipping, not resuming: its optimizer slots are left out.
            arrays, attrs = _h5_arrays(Path(tmp) / "model.weights.h5", skip=("optimizer",))
            manifest["best_config"] = z.read("config.json").decode("utf-8")
            manifest["best_metadata"] = z.read("metadata.json").decode("utf-8")
        state.update({f"best/{k}": _stored(v, dtype) for k, v in arrays.items()})
        manifest["best_attrs"] = attrs
        manifest["best_dtypes"] = {k: str(v.dtype) for k, v in arrays.items()}
    steps = latest.get("optimizer/vars/0")
    manifest["iterations"] = int(steps) if steps is not None and np.ndim(steps) == 0 else None
    buf = io.BytesIO()
    np.savez_compressed(buf, **state)
    data = buf.getvalue()
    manifest["sha256"] = {STATE: hashlib.sha256(data).hexdigest()}
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out_dir / STATE, data)
    for name in RUN_FILES:
        if (run_dir / name).exists():
            atomic_write_text(out_dir / name, (run_dir / name).read_text())
    atomic_write_text(out_dir / MANIFEST, json.dumps(manifest, indent=1))  # last: a pack is whole once this exists
    size = sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file())
    return PackInfo(out_dir, manifest["epoch"], manifest["iterations"] or 0, size, best.exists())


def read_manifest(pack_dir: str | Path) -> dict:
    pack_dir = Path(pack_dir)
    path = pack_dir / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{pack_dir}: not a kerfer pack (no {MANIFEST}; make one with `kerfer pack RUN DIR`)")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != PACK_FORMAT:
        raise ValueError(f"{path}: pack format {manifest.get('format')!r}, this kerfer reads format {PACK_FORMAT}")
    return manifest


def unpack_run(pack_dir: str | Path, run_dir: str | Path) -> PackInfo:
    """Writes a pack back as a run directory that ``kerfer train --resume`` continues.

    Refuses a ``run_dir`` that already holds a run: a pack never overwrites training state.
    Floats go back to their original dtypes (float32); the step count is exact, so the
    learning-rate schedule continues where it was.
    """
    pack_dir, run_dir = Path(pack_dir), Path(run_dir)
    manifest = read_manifest(pack_dir)
    data = (pack_dir / STATE).read_bytes()
    if hashlib.sha256(data).hexdigest() != manifest["sha256"][STATE]:
        raise ValueError(f"{pack_dir / STATE}: checksum mismatch (damaged or partly copied pack)")
    if (run_dir / "config.json").exists():
        raise FileExistsError(f"{run_dir} already holds a run: unpack into a new folder")
    state = np.load(io.BytesIO(data))

    def arrays(prefix: str, dtypes: dict[str, str]) -> dict[str, np.ndarray]:
        return {k: state[f"{prefix}/{k}"].astype(dt) for k, dt in dtypes.items()}

    stage = Path(
        tempfile.mkdtemp(prefix=f".{run_dir.name}.unpack.", dir=run_dir.parent if run_dir.parent.exists() else None)
    )
    try:
        (stage / "backup").mkdir()
        _write_h5(
            stage / "backup" / "latest.weights.h5",
            arrays("latest", manifest["latest_dtypes"]),
            manifest["latest_attrs"],
        )
        meta = {"epoch": manifest["epoch"], "batch": manifest.get("batch", 0)}
        (stage / "backup" / "training_metadata.json").write_text(json.dumps(meta))
        if "best_dtypes" in manifest:
            h5 = stage / "model.weights.h5"
            _write_h5(h5, arrays("best", manifest["best_dtypes"]), manifest["best_attrs"])
            with zipfile.ZipFile(stage / "best.keras", "w") as z:
                z.writestr("metadata.json", manifest["best_metadata"])
                z.writestr("config.json", manifest["best_config"])
                z.write(h5, "model.weights.h5")
            h5.unlink()
        for name in RUN_FILES:
            if (pack_dir / name).exists():
                shutil.copyfile(pack_dir / name, stage / name)
        run_dir.mkdir(parents=True, exist_ok=True)
        # config.json last: a folder with it is a run, so a failed unpack must not leave one.
        for entry in sorted(stage.iterdir(), key=lambda p: p.name == "config.json"):
            shutil.move(str(entry), run_dir / entry.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return PackInfo(run_dir, manifest["epoch"], manifest.get("iterations") or 0, len(data), "best_dtypes" in manifest)


def continue_from_pack(pack_dir: str | Path, run_dir: str | Path) -> str:
    """Makes ``run_dir`` ready for ``train(resume=True)`` from a pack, and says what it did.

    An empty or missing ``run_dir`` gets the pack unpacked into it. A ``run_dir`` that already
    holds the run at the pack's epoch or later (the same machine came back) is used as it is;
    one that is behind the pack is refused rather than overwritten.
    """
    from kerfer.callbacks import read_history

    pack_dir, run_dir = Path(pack_dir), Path(run_dir)
    manifest = read_manifest(pack_dir)
    if (run_dir / "config.json").exists():
        done = len(read_history(run_dir / "history.csv").get("epoch", []))
        if done >= manifest["epoch"]:
            return f"{run_dir} is at epoch {done}, the pack {pack_dir} at {manifest['epoch']}: continuing {run_dir}"
        raise FileExistsError(
            f"{run_dir} holds the run at epoch {done}, behind the pack {pack_dir} (epoch {manifest['epoch']}); "
            "continue from the pack in a new --out, or drop --from-pack to continue the folder"
        )
    info = unpack_run(pack_dir, run_dir)
    return f"unpacked {pack_dir} (epoch {info.epoch}, step {info.iterations}) into {run_dir}"
