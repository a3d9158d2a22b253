"""FER+ labels (Microsoft FERPlus ``fer2013new.csv``): 10 annotator votes per FER2013 row.

Rows are joined to the FER2013 table by position (FER+ lists every row of the full
fer2013.csv in order), and the two files' Usage columns must agree.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from pathlib import Path
from typing import Literal

import numpy as np

from kerfer.errors import DataError
from kerfer.labels import FER2013_SPLITS, FERPLUS_CLASSES

VOTE_COLUMNS = (*FERPLUS_CLASSES, "unknown", "NF")


def ferplus_csv_beside(fer_csv: str | os.PathLike) -> Path:
    """``fer2013new.csv(.gz)`` in the same folder as the FER2013 CSV."""
    folder = Path(fer_csv).parent
    for name in ("fer2013new.csv.gz", "fer2013new.csv"):
        if (folder / name).exists():
            return folder / name
    raise DataError(f"no fer2013new.csv(.gz) beside {fer_csv}: FER+ models are evaluated with FER+ labels")


def read_ferplus_votes(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns ``(votes (N, 10) int, usage index (N,), has_image (N,) bool)`` in file order."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise DataError(f"{path}: the file is truncated or corrupt ({e})") from e
    reader = csv.reader(io.StringIO(raw.decode("utf-8-sig")))
    header = next(reader, None)
    if not header:
        raise DataError(f"{path}: the file is empty")
    header = [h.strip() for h in header]
    try:
        cols = [header.index(c) for c in ("Usage", "Image name", *VOTE_COLUMNS)]
    except ValueError:
        raise DataError(f"{path}, line 1: expected FER+ header Usage,Image name,{','.join(VOTE_COLUMNS)}") from None
    votes, usage, has_image = [], [], []
    for line_no, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            u = FER2013_SPLITS.index(row[cols[0]].strip())
            v = [int(row[c]) for c in cols[2:]]
        except (ValueError, IndexError):
            raise DataError(f"{path}, line {line_no}: expected a Usage name and 10 integer vote counts") from None
        votes.append(v)
        usage.append(u)
        has_image.append(bool(row[cols[1]].strip()))
    return np.asarray(votes, np.int32), np.asarray(usage, np.int8), np.asarray(has_image, bool)


def majority_labels(votes: np.ndarray) -> np.ndarray:
    """Index of the emotion with the most votes, or -1 when tied or outvoted by unknown/NF."""
    emo = votes[:, : len(FERPLUS_CLASSES)]
    top = emo.max(axis=1)
    unique = (emo == top[:, None]).sum(axis=1) == 1
    beats_other = top > votes[:, len(FERPLUS_CLASSES) :].max(axis=1)
    return np.where(unique & beats_other & (top > 0), emo.argmax(axis=1), -1)


def ferplus_arrays(
    table,
    ferplus_csv: str | os.PathLike,
    split,
    mode: Literal["majority", "probability"] = "majority",
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Images of ``split`` with FER+ targets: int majority labels, or (N, 8) vote distributions.

    Rows FER+ dropped (no image name), rows whose votes have no majority emotion, and rows
    where "not a face" or "unknown" wins are left out.
    """
    votes, usage, has_image = read_ferplus_votes(ferplus_csv)
    if table.rows.max() >= len(votes):
        raise DataError(f"{ferplus_csv} has {len(votes)} rows but {table.path} has at least {table.rows.max() + 1}")
    mismatch = np.flatnonzero(usage[table.rows] != table.usage)
    if len(mismatch):
        i = mismatch[0]
        raise DataError(
            f"{ferplus_csv} and {table.path} disagree on Usage at data row {table.rows[i]} "
            f"({FER2013_SPLITS[usage[table.rows[i]]]} vs {FER2013_SPLITS[table.usage[i]]}, line {table.lines[i]}): "
            f"{len(mismatch)} rows differ; are they from the same release?"
        )
    sub = table.select(split)
    v = votes[sub.rows]
    majority = majority_labels(v)
    keep = has_image[sub.rows] & (majority >= 0)
    if mode == "majority":
        return sub.images[keep], majority[keep].astype(np.int32), FERPLUS_CLASSES
    if mode == "probability":
        emo = v[keep, : len(FERPLUS_CLASSES)].astype(np.float32)
        return sub.images[keep], emo / emo.sum(axis=1, keepdims=True), FERPLUS_CLASSES
    raise ValueError(f"mode must be 'majority' or 'probability', not {mode!r}")
