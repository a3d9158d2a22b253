"""FER2013 CSV (``emotion,pixels,Usage``) → in-memory arrays → ``tf.data``.

The CSV is parsed once (no pandas, no images on disk) into a :class:`Fer2013Table` of uint8
arrays (the full file is 83 MB in memory): by a vectorised NumPy pass when the file is in the
canonical Kaggle layout, else by vectorised ``tf.data`` string ops that report every bad row
with its file and line number as an ordinary Python exception. Parsed arrays are cached per
file, and every later epoch over them is free.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import re
import warnings
import zlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from kerfer.errors import BadRow, DataError, KerferWarning
from kerfer.kit import require_training_kit
from kerfer.labels import FER2013_CLASSES, FER2013_SPLITS, IMAGE_SIZE

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf

NUM_PIXELS = IMAGE_SIZE * IMAGE_SIZE
EXPECTED_COLUMNS = ("emotion", "pixels", "Usage")
_PARSE_BATCH = 2048

# Error codes produced by the vectorised parser, in the order they are checked.
_OK, _FIELDS, _LABEL, _NONNUMERIC, _COUNT, _RANGE, _USAGE = range(7)
_DIGITS_AND_SPACES = re.compile(r"[0-9]+( +[0-9]+)*")

OnBadRow = Literal["error", "skip"]
SplitArg = str | Sequence[str] | None


def is_gzip(path: str | os.PathLike) -> bool:
    """True when the file starts with the gzip magic bytes (whatever its name)."""
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _read_header(path: str) -> tuple[str, bool]:
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, expected a FER2013 CSV file")
    gz = is_gzip(path)
    opener = gzip.open if gz else open
    try:
        with opener(path, "rb") as f:
            raw = f.readline()
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read ({e})") from e
    header = raw.decode("utf-8-sig", errors="replace").strip()
    if not header:
        raise DataError(f"{path}: the file is empty (expected a header 'emotion,pixels,Usage')")
    return header, gz


def _check_gzip(path: str) -> None:
    """TextLineDataset ends quietly at a truncated gzip: read the stream through once to be sure.

    zlib runs at several hundred MB/s, about a second for the full FER2013 file.
    """
    try:
        with gzip.open(path, "rb") as f:
            while f.read(1 << 24):
                pass
    except (EOFError, OSError, zlib.error) as e:
        raise DataError(f"{path}: the file is truncated or corrupt ({e})") from e


def _column_order(path: str, header: str) -> tuple[int, int, int]:
    names = [c.strip().strip('"') for c in header.split(",")]
    lowered = [n.lower() for n in names]
    missing = [c for c in EXPECTED_COLUMNS if c.lower() not in lowered]
    if missing:
        looks_like_data = header[:1].isdigit()
        hint = " (the first line looks like data: the header row is missing)" if looks_like_data else ""
        shown = header if len(header) <= 60 else header[:57] + "..."
        raise DataError(f"{path}, line 1: expected header 'emotion,pixels,Usage', found '{shown}'{hint}")
    if len(names) != 3:
        raise DataError(f"{path}, line 1: expected 3 columns emotion,pixels,Usage, found {len(names)}")
    return tuple(lowered.index(c.lower()) for c in EXPECTED_COLUMNS)  # type: ignore[return-value]


def _unquote(s: tf.Tensor) -> tf.Tensor:
    """Field text without its quotes and surrounding spaces, inside or outside the quotes alike."""
    import tensorflow as tf

    return tf.strings.strip(tf.strings.regex_replace(tf.strings.strip(s), r'^"(.*)"$', r"\1"))


def _make_parser(cols: tuple[int, int, int]):
    """Builds the per-batch parser; returns per-row error codes and the valid rows' data."""
    import tensorflow as tf

    c_label, c_pixels, c_usage = cols
    usage_names = tf.constant(list(FER2013_SPLITS))

    def parse(line_no: tf.Tensor, text: tf.Tensor) -> dict[str, tf.Tensor]:
        text = tf.strings.regex_replace(text, "\r$", "")
        nonblank = tf.strings.length(tf.strings.strip(text)) > 0
        line_no = tf.boolean_mask(line_no, nonblank)
        text = tf.boolean_mask(text, nonblank)

        fields = tf.strings.split(text, ",")
        n_fields = tf.cast(fields.row_lengths(), tf.int32)
        dense = fields.to_tensor(default_value="", shape=[None, 3])
        label_s = _unquote(dense[:, c_label])
        pixels_s = _unquote(dense[:, c_pixels])
        usage_s = _unquote(dense[:, c_usage])

        label_ok = tf.strings.regex_full_match(label_s, r"[0-9]{1,2}")
        label = tf.strings.to_number(tf.where(label_ok, label_s, "0"), tf.int32)
        label_ok &= label < len(FER2013_CLASSES)

        # One pass validates the format (1-3 digit tokens); rows failing it are diagnosed in Python.
        well_formed = tf.strings.regex_full_match(pixels_s, r"[0-9]{1,3}( +[0-9]{1,3})*")
        tokens = tf.strings.split(tf.where(well_formed, pixels_s, ""))
        count = tf.cast(tokens.row_lengths(), tf.int32)
        values = tokens.with_flat_values(tf.strings.to_number(tokens.flat_values, tf.int32))
        in_range = tf.math.reduce_max(values, axis=1) <= 255

        usage_match = tf.equal(usage_s[:, None], usage_names[None, :])
        usage_ok = tf.reduce_any(usage_match, axis=1)
        usage = tf.cast(tf.argmax(tf.cast(usage_match, tf.int32), axis=1), tf.int32)

        code = tf.fill(tf.shape(n_fields), _OK)
        # Later checks first, so the earliest failing check wins.
        for bad, c in (
            (~usage_ok, _USAGE),
            (~in_range, _RANGE),
            (count != NUM_PIXELS, _COUNT),
            (~well_formed, _NONNUMERIC),
            (~label_ok, _LABEL),
            (n_fields != 3, _FIELDS),
        ):
            code = tf.where(bad, c, code)
        valid = code == _OK
        images = tf.reshape(
            tf.cast(tf.ragged.boolean_mask(values, valid).flat_values, tf.uint8),
            [-1, IMAGE_SIZE, IMAGE_SIZE, 1],
        )
        return {
            "line": line_no,
            "code": code,
            "label": label,
            "usage": usage,
            "n_fields": n_fields,
            "count": count,
            "label_s": label_s,
            "usage_s": usage_s,
            "bad_pixels_s": tf.where(well_formed, "", pixels_s),
            "images": images,
        }

    return parse


def _problem(code: int, row: dict, i: int) -> str:
    def s(key: str) -> str:
        v = row[key][i].decode("utf-8", errors="replace")
        return v if len(v) <= 40 else v[:37] + "..."

    if code == _FIELDS:
        return f"expected 3 comma-separated fields (emotion,pixels,Usage), found {row['n_fields'][i]}"
    if code == _LABEL:
        return f"emotion label '{s('label_s')}' is not an integer 0..{len(FER2013_CLASSES) - 1}"
    if code == _NONNUMERIC:
        if _DIGITS_AND_SPACES.fullmatch(row["bad_pixels_s"][i].decode("utf-8", errors="replace")):
            return "pixel value out of range 0..255"
        return "pixels field has a non-numeric token (expected space-separated integers 0..255)"
    if code == _RANGE:
        return "pixel value out of range 0..255"
    if code == _COUNT:
        return f"expected {NUM_PIXELS} pixel values (48x48), found {row['count'][i]}"
    if code == _USAGE:
        return f"unknown Usage '{s('usage_s')}' (expected one of {', '.join(FER2013_SPLITS)})"
    return f"bad row (code {code})"


@dataclasses.dataclass(frozen=True)
class Fer2013Table:
    """The parsed rows of a FER2013 CSV, as numpy arrays.

    ``rows`` is each row's position among the data rows of the file (0-based, header and
    blank lines not counted): the key that joins FER+ votes, which are listed in the same
    order. ``lines`` are 1-based file line numbers, for messages.
    """

    path: str
    images: np.ndarray  # (N, 48, 48, 1) uint8
    labels: np.ndarray  # (N,) int32, FER2013 emotion 0..6
    usage: np.ndarray  # (N,) int8 index into FER2013_SPLITS
    rows: np.ndarray  # (N,) int64
    lines: np.ndarray  # (N,) int64
    skipped: tuple[BadRow, ...] = ()

    def __len__(self) -> int:
        return len(self.labels)

    def split_counts(self) -> dict[str, int]:
        counts = np.bincount(self.usage, minlength=len(FER2013_SPLITS))
        return {name: int(n) for name, n in zip(FER2013_SPLITS, counts) if n}

    def mask(self, split: SplitArg) -> np.ndarray:
        """Boolean row mask for one split name, a list of them, or None (all rows)."""
        if split is None:
            return np.ones(len(self), bool)
        names = [split] if isinstance(split, str) else list(split)
        present = self.split_counts()
        out = np.zeros(len(self), bool)
        for name in names:
            if name not in FER2013_SPLITS:
                raise DataError(f"unknown split '{name}': expected one of {', '.join(FER2013_SPLITS)}")
            if name not in present:
                have = ", ".join(f"{k} ({v} rows)" for k, v in present.items()) or "none"
                raise DataError(f"split '{name}' is not in {self.path}; splits present: {have}")
            out |= self.usage == FER2013_SPLITS.index(name)
        return out

    def select(self, split: SplitArg) -> Fer2013Table:
        m = self.mask(split)
        return dataclasses.replace(
            self,
            images=self.images[m],
            labels=self.labels[m],
            usage=self.usage[m],
            rows=self.rows[m],
            lines=self.lines[m],
        )


def read_fer2013(
    path: str | os.PathLike,
    *,
    on_bad_row: OnBadRow = "error",
    progress: bool = False,
    cache: bool | None = None,
) -> Fer2013Table:
    """Parses a FER2013 CSV (plain or gzip) into a :class:`Fer2013Table`.

    A well-formed file (the Kaggle file as published) is parsed by a vectorised NumPy pass
    over its bytes; anything irregular by the exact ``tf.data`` parser, which raises
    :class:`DataError` naming the file and line of the first bad row, or with
    ``on_bad_row="skip"`` drops bad rows, lists them in ``table.skipped`` and warns with the
    count. The parsed arrays are cached per file (:mod:`kerfer.data.cache`; ``cache=False``
    or ``KERFER_NO_CACHE=1`` turns that off), so later loads take well under a second.
    """
    from kerfer.data import cache as parse_cache

    if on_bad_row not in ("error", "skip"):
        raise ValueError(f"on_bad_row must be 'error' or 'skip', not {on_bad_row!r}")
    path = os.fspath(path)
    header, gz = _read_header(path)
    use_cache = parse_cache.enabled(cache)
    hit = parse_cache.load(path) if use_cache else None
    if hit is not None:
        arrays, skipped = hit
    else:
        arrays, skipped = _parse(path, header, gz, on_bad_row, progress)
        if use_cache:
            parse_cache.save(path, arrays, skipped)
    bad = tuple(BadRow(line, problem) for line, problem in skipped)
    if bad and on_bad_row == "error":
        raise DataError(f"{path}, line {bad[0].line}: {bad[0].problem}")
    if not len(arrays["labels"]):
        if bad:
            raise DataError(
                f"{path}: no valid rows ({len(bad)} bad rows skipped; first: line {bad[0].line}: {bad[0].problem})"
            )
        raise DataError(f"{path}: has a header but no data rows")
    if bad:
        warnings.warn(
            f"{path}: skipped {len(bad)} bad rows (first: line {bad[0].line}: {bad[0].problem})",
            KerferWarning,
            stacklevel=2,
        )
    return Fer2013Table(path=path, skipped=bad, **arrays)


def _parse(path: str, header: str, gz: bool, on_bad_row: OnBadRow, progress: bool):
    """``(arrays, skipped rows)``: the NumPy fast path when the file is canonical, else the exact parser."""
    from kerfer.data.fastparse import parse_canonical, read_bytes

    raw = read_bytes(path) if header == "emotion,pixels,Usage" else None
    fast = parse_canonical(raw) if raw is not None else None
    del raw
    if fast is not None:
        images, labels, usage = fast
        n = len(labels)
        rows = np.arange(n, dtype=np.int64)
        return {"images": images, "labels": labels, "usage": usage, "rows": rows, "lines": rows + 2}, []
    return _parse_exact(path, header, gz, on_bad_row, progress)


def _parse_exact(path: str, header: str, gz: bool, on_bad_row: OnBadRow, progress: bool):
    """The line-numbered ``tf.data`` parser: every check, every irregular layout, exact messages."""
    require_training_kit(f"parsing {path} (not in the canonical Kaggle layout)", ("tensorflow",))
    import tensorflow as tf

    cols = _column_order(path, header)
    lines = tf.data.TextLineDataset(path, compression_type="GZIP" if gz else None)
    ds = (
        lines.enumerate(start=1)
        .skip(1)
        .batch(_PARSE_BATCH)
        .map(_make_parser(cols), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(2)
    )
    images, labels, usage, line_nos = [], [], [], []
    skipped: list[BadRow] = []
    bar = _progress_bar(path, gz) if progress else None
    if gz:
        _check_gzip(path)  # before parsing: a truncated file's last row would look like a bad row
    try:
        for batch in ds.as_numpy_iterator():
            code = batch["code"]
            for i in np.flatnonzero(code != _OK):
                problem = _problem(int(code[i]), batch, int(i))
                if on_bad_row == "error":
                    raise DataError(f"{path}, line {batch['line'][i]}: {problem}")
                skipped.append(BadRow(int(batch["line"][i]), problem))
            ok = code == _OK
            images.append(batch["images"])
            labels.append(batch["label"][ok])
            usage.append(batch["usage"][ok])
            line_nos.append(batch["line"][ok])
            if bar is not None:
                bar.add(len(code))
    except (tf.errors.DataLossError, tf.errors.OutOfRangeError) as e:
        raise DataError(f"{path}: the file is truncated or corrupt ({e.message.splitlines()[0]})") from e
    except tf.errors.OpError as e:
        raise DataError(f"{path}: cannot be parsed ({e.message.splitlines()[0]})") from e
    if not labels:
        empty = np.zeros(0, np.int64)
        arrays = {
            "images": np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 1), np.uint8),
            "labels": empty.astype(np.int32),
            "usage": empty.astype(np.int8),
            "rows": empty,
            "lines": empty,
        }
        return arrays, [(b.line, b.problem) for b in skipped]
    all_lines = np.concatenate(line_nos).astype(np.int64)
    arrays = {
        "images": np.concatenate(images),
        "labels": np.concatenate(labels).astype(np.int32),
        "usage": np.concatenate(usage).astype(np.int8),
        "rows": _data_row_positions(all_lines, skipped),
        "lines": all_lines,
    }
    return arrays, [(b.line, b.problem) for b in skipped]


def _data_row_positions(good_lines: np.ndarray, skipped: list[BadRow]) -> np.ndarray:
    """Position of each good row among all data rows (good and bad, blank lines excluded)."""
    if not skipped:
        return np.arange(len(good_lines), dtype=np.int64)
    bad_lines = np.sort(np.array([b.line for b in skipped], dtype=np.int64))
    return np.arange(len(good_lines), dtype=np.int64) + np.searchsorted(bad_lines, good_lines)


def _progress_bar(path: str, gz: bool):
    import keras

    # Rows are ~9.4 KB of text each; a good-enough estimate for a progress bar.
    size = os.path.getsize(path) * (3.6 if gz else 1.0)
    return keras.utils.Progbar(int(size / 9400) or None, unit_name="row")


def resolve_classes(
    classes: Sequence[str | int] | Mapping[str, str] | None,
    source: Sequence[str] = FER2013_CLASSES,
) -> tuple[tuple[str, ...], np.ndarray]:
    """Turns a class selection into (new class names, lookup from source index to new index or -1).

    ``classes`` may be a list of source names/indices (a subset, in the new order) or a
    mapping from source name to new name (to merge classes, e.g. ``{"angry": "negative",
    "sad": "negative", "happy": "positive"}``).
    """
    if classes is None:
        return tuple(source), np.arange(len(source))
    if isinstance(classes, Mapping):
        pairs = list(classes.items())
    else:
        pairs = []
        for c in classes:
            name = source[c] if isinstance(c, int) else c
            pairs.append((name, name))
    names: list[str] = []
    lookup = np.full(len(source), -1)
    for src, dst in pairs:
        if src not in source:
            raise DataError(f"unknown class '{src}': expected one of {', '.join(source)}")
        if dst not in names:
            names.append(dst)
        lookup[source.index(src)] = names.index(dst)
    return tuple(names), lookup


def table_arrays(
    table: Fer2013Table,
    split: SplitArg,
    classes: Sequence[str | int] | Mapping[str, str] | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Images and remapped labels of one split (or several), plus the class names."""
    sub = table.select(split)
    names, lookup = resolve_classes(classes)
    new = lookup[sub.labels]
    keep = new >= 0
    return sub.images[keep], new[keep].astype(np.int32), names


def load_fer2013(
    path: str | os.PathLike,
    split: SplitArg = "Training",
    *,
    classes: Sequence[str | int] | Mapping[str, str] | None = None,
    batch_size: int | None = 64,
    shuffle: bool = False,
    seed: int | None = None,
    cache: bool = True,
    prefetch: bool = True,
    augment=None,
    dtype: str = "uint8",
    on_bad_row: OnBadRow = "error",
    parse_cache: bool | None = None,
) -> tf.data.Dataset:
    """FER2013 CSV → ``tf.data.Dataset`` of ``(image (48, 48, 1), label)``.

    ``split`` is ``"Training"``, ``"PublicTest"``, ``"PrivateTest"``, a list of them, or
    None for all rows. ``classes`` selects and reorders classes (``["angry", "happy",
    "sad", "surprise"]`` → labels 0..3) or merges them (a mapping old → new name).
    ``augment`` (True or an :class:`~kerfer.data.augment.AugmentConfig`) randomly
    transforms each training batch. Labels are int32 class indices.
    """
    require_training_kit("kerfer.load_fer2013", ("tensorflow", "keras"))  # what make_dataset imports, not matplotlib
    from kerfer.data.pipeline import make_dataset

    table = read_fer2013(path, on_bad_row=on_bad_row, cache=parse_cache)
    images, labels, _ = table_arrays(table, split, classes)
    return make_dataset(
        images,
        labels,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        augment=augment,
        dtype=dtype,
        cache=cache,
        prefetch=prefetch,
    )
