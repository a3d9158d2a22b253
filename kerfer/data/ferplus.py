"""FER+ labels (Microsoft FERPlus ``fer2013new.csv``): 10 annotator votes per FER2013 row.

FER+ has no image key: it lists every row of the full fer2013.csv in order, so rows are
joined by position, and the join is checked (Usage columns agree, labels correlate): a FER2013
copy whose rows are not in the original Kaggle order is refused with the figures, never
silently paired with the wrong votes.
"""

from __future__ import annotations

import csv
import dataclasses
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


FER2013_TO_FERPLUS = np.array([4, 5, 6, 1, 3, 2, 0])
"""FER+ class index of each FER2013 class (angry→anger, …, neutral→neutral)."""

MIN_AGREEMENT = 0.4
"""FER+ plurality votes agree with the FER2013 label on ~60 % of correctly joined rows and on
~20 % of rows joined at random; below this the two files do not describe the same images."""


@dataclasses.dataclass(frozen=True)
class FerPlusJoin:
    """FER+ votes for each row of a FER2013 table (joined by row position, checked)."""

    votes: np.ndarray  # (N, 10) int32, row i = the FER+ votes of table row i
    matched: np.ndarray  # (N,) bool: FER+ kept the image (its row has an image name)
    agreement: float  # fraction of rows whose FER+ plurality equals the FER2013 label
    note: str  # one line for the user


def plurality(votes: np.ndarray) -> np.ndarray:
    """Emotion with the most votes (first on ties), or -1 when nobody voted for an emotion."""
    emo = votes[:, : len(FERPLUS_CLASSES)]
    return np.where(emo.sum(axis=1) > 0, emo.argmax(axis=1), -1)


def _agreement(fer_labels: np.ndarray, votes: np.ndarray) -> float:
    p = plurality(votes)
    ok = p >= 0
    return float((p[ok] == FER2013_TO_FERPLUS[fer_labels[ok]]).mean()) if ok.any() else 0.0


def _position_problem(table, ferplus_csv, votes: np.ndarray, usage: np.ndarray) -> tuple[str, float]:
    """Why joining by row position is wrong ("" when it is right), and its label agreement."""
    if table.rows.max() >= len(votes):
        return f"{ferplus_csv} has {len(votes)} rows but {table.path} has at least {table.rows.max() + 1}", 0.0
    mismatch = np.flatnonzero(usage[table.rows] != table.usage)
    if len(mismatch):
        i = mismatch[0]
        return (
            f"{ferplus_csv} and {table.path} disagree on Usage at data row {table.rows[i]} "
            f"({FER2013_SPLITS[usage[table.rows[i]]]} vs {FER2013_SPLITS[table.usage[i]]}, line "
            f"{table.lines[i]}): {len(mismatch)} rows differ"
        ), 0.0
    agreement = _agreement(table.labels, votes[table.rows])
    if agreement < MIN_AGREEMENT:
        return (
            f"joined by row position, FER+ votes agree with the labels of {table.path} on only "
            f"{agreement:.0%} of rows (about 60 % when the rows match, 20 % at random)"
        ), agreement
    return "", agreement


def join_ferplus(table, ferplus_csv: str | os.PathLike) -> FerPlusJoin:
    """Matches FER+ votes to the rows of a FER2013 table by row position, and checks the match.

    The FER+ file lists the full fer2013.csv in order; the Usage columns must agree and the
    FER2013 labels must correlate with the FER+ votes (``MIN_AGREEMENT``), otherwise the two
    files do not list the same images in the same order and this is a :class:`DataError`
    with the figures.
    """
    votes, usage, has_image = read_ferplus_votes(ferplus_csv)
    problem, agreement = _position_problem(table, ferplus_csv, votes, usage)
    if problem:
        raise DataError(
            f"{problem}; the files do not list the same images in the same order (FER+ needs the "
            "FER2013 CSV in the original Kaggle row order)"
        )
    note = f"FER+ joined by row position ({agreement:.0%} label agreement)"
    return FerPlusJoin(votes[table.rows], has_image[table.rows], agreement, note)


def ferplus_arrays(
    table,
    ferplus: str | os.PathLike | FerPlusJoin,
    split,
    mode: Literal["majority", "probability", "rule"] = "majority",
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Images of ``split`` with FER+ targets: int majority labels, (N, 8) vote distributions,
    or int labels by FERPlus' own majority rule (``rule``: how FER+ accuracy is reported).

    ``ferplus`` is the FER+ CSV or the result of :func:`join_ferplus` (to join once for
    several splits). Rows FER+ dropped, rows whose votes have no majority
    emotion, and rows where "not a face" or "unknown" wins are left out (for ``rule``: every
    row the rule rejects, see :func:`ferplus_rule_labels`). Splits are the FER2013 file's Usage.
    """
    if mode not in ("majority", "probability", "rule"):
        raise ValueError(f"mode must be 'majority', 'probability' or 'rule', not {mode!r}")
    joined = ferplus if isinstance(ferplus, FerPlusJoin) else join_ferplus(table, ferplus)
    m = table.mask(split)
    v = joined.votes[m]
    if mode == "rule":
        labels = ferplus_rule_labels(v)
        keep = joined.matched[m] & (labels >= 0)
        return table.images[m][keep], labels[keep].astype(np.int32), FERPLUS_CLASSES
    majority = majority_labels(v)
    keep = joined.matched[m] & (majority >= 0)
    images = table.images[m][keep]
    if mode == "majority":
        return images, majority[keep].astype(np.int32), FERPLUS_CLASSES
    emo = v[keep, : len(FERPLUS_CLASSES)].astype(np.float32)
    return images, emo / emo.sum(axis=1, keepdims=True), FERPLUS_CLASSES


FERPLUS_RULE = (
    "FER+ labels by FERPlus' majority rule (single votes dropped as outliers, then the top emotion "
    "must hold more than half of the remaining votes)"
)
"""What every FER+ accuracy kerfer prints is measured on; :func:`ferplus_rule_labels`."""


def ferplus_rule_labels(votes: np.ndarray) -> np.ndarray:
    """FERPlus' own majority rule (Barsoum et al. 2016, the FER+ paper's test protocol).

    Single votes are dropped as outliers; the face keeps the emotion with the most remaining
    votes only when that emotion holds more than half of them (unknown and not-a-face votes
    count in the total), otherwise -1. About 88 % of the faces FER+ kept pass. This is the rule
    FER+ accuracies in the literature use; :func:`majority_labels` is the looser plurality.
    """
    v = np.where(votes <= 1, 0, votes).astype(np.int64)
    total = v.sum(axis=1)
    top = v.argmax(axis=1)
    top_votes = v.max(axis=1)
    ok = (top < len(FERPLUS_CLASSES)) & (top_votes * 2 > total) & (total > 0)
    return np.where(ok, top, -1)


def vote_distributions(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(targets (N, 8) float32, usable (N,) bool)``: each face's emotion votes after dropping
    single (outlier) votes, as a distribution; usable when emotions hold more than half of the
    remaining votes (not mostly "unknown" or "not a face"). Unusable rows are all zeros, so a
    cross-entropy on them is 0: they train nothing."""
    v = np.where(votes <= 1, 0, votes).astype(np.float32)
    k = len(FERPLUS_CLASSES)
    emo = v[:, :k]
    usable = emo.sum(axis=1) * 2 > v.sum(axis=1)
    dist = np.where(usable[:, None], emo / np.maximum(emo.sum(axis=1, keepdims=True), 1.0), 0.0)
    return dist.astype(np.float32), usable


def aux_ferplus_targets(table, joined: FerPlusJoin, split, mode: Literal["distribution", "rule"]) -> np.ndarray:
    """FER+ targets for *every* row of ``split`` (same order as the FER2013 arrays), for a
    second head trained beside the FER2013 one: vote distributions (``distribution``, for
    training) or one-hot FERPlus-rule labels (``rule``, for validation). Rows without a usable
    FER+ label are all zeros (they add nothing to the loss and are left out of its accuracy)."""
    m = table.mask(split)
    votes = joined.votes[m]
    matched = joined.matched[m]
    k = len(FERPLUS_CLASSES)
    if mode == "distribution":
        dist, usable = vote_distributions(votes)
        return np.where((usable & matched)[:, None], dist, 0.0).astype(np.float32)
    if mode == "rule":
        labels = np.where(matched, ferplus_rule_labels(votes), -1)
        out = np.zeros((len(labels), k), np.float32)
        rows = np.flatnonzero(labels >= 0)
        out[rows, labels[rows]] = 1.0
        return out
    raise ValueError(f"mode must be 'distribution' or 'rule', not {mode!r}")
