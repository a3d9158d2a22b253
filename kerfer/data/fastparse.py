"""A vectorised NumPy parser for well-formed FER2013 CSVs (the Kaggle file as published).

Why: the ``tf.data`` string-op parser costs ~90 ns per pixel token (74M tokens in the full
file). Here the raw bytes are viewed as a ``uint8`` array and every check and conversion is a
whole-array operation: token boundaries from digit/non-digit transitions, values from the last
three digits of each token. It accepts only the canonical layout — header
``emotion,pixels,Usage``, one-digit labels, 2,304 single-space-separated 1-3 digit pixels,
a known Usage, ``\\n`` line ends, no blank lines — and returns ``None`` for anything else, so
that the exact, line-numbered parser diagnoses every irregular file as before.
"""

from __future__ import annotations

import gzip
import zlib

import numpy as np

from kerfer.labels import FER2013_CLASSES, FER2013_SPLITS, IMAGE_SIZE

HEADER = b"emotion,pixels,Usage\n"
NUM_PIXELS = IMAGE_SIZE * IMAGE_SIZE


def read_bytes(path: str) -> bytes | None:
    """The file's bytes, gunzipped when it is gzip; None when it cannot be read whole."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error):
            return None  # truncated or corrupt: the exact parser says so with its own message
    return raw


def parse_canonical(raw: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(images (N, 48, 48, 1) uint8, labels (N,) int32, usage (N,) int8)``, or None when the
    bytes are not in the canonical layout (then nothing is guessed: the caller parses exactly).

    Checks, all exact: every row has exactly two commas, a one-digit label 0..6 and a known
    Usage; its pixel field holds only digits and single spaces (2,303 of them, none leading or
    trailing), so exactly 2,304 tokens; no token is longer than 3 digits or over 255.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if not raw.startswith(HEADER):
        return None  # quotes and \r need no check of their own: every byte below must be exact
    rows = raw[len(HEADER) :].split(b"\n")
    if rows[-1] == b"":
        rows.pop()
    if not rows:
        return None
    usage_index = {name.encode(): i for i, name in enumerate(FER2013_SPLITS)}
    labels = np.empty(len(rows), np.int32)
    usage = np.empty(len(rows), np.int8)
    fields = []
    for i, row in enumerate(rows):
        parts = row.split(b",")
        if len(parts) != 3:
            return None
        label, pixels, split = parts
        if len(label) != 1 or not 0 <= label[0] - 48 < len(FER2013_CLASSES) or split not in usage_index:
            return None
        if pixels.count(b" ") != NUM_PIXELS - 1:  # so at most 2,304 tokens: exactly, when the total is
            return None
        labels[i] = label[0] - 48
        usage[i] = usage_index[split]
        fields.append(pixels)
    text = b" ".join(fields)
    buf = np.frombuffer(text, np.uint8)
    digit = (buf - np.uint8(48)) < 10  # uint8 wrap-around: True exactly for b"0".."9"
    if not (digit | (buf == 32)).all():
        return None  # a byte other than a digit or a space
    if (digit[:-3] & digit[1:-2] & digit[2:-1] & digit[3:]).any():
        return None  # a token of 4+ digits
    values = np.fromstring(text, dtype=np.int16, sep=" ")  # text mode: C-speed integer parsing
    # A leading, trailing or double space leaves its row a token short, and no row has one over.
    if len(values) != len(rows) * NUM_PIXELS or values.max() > 255:
        return None
    images = values.astype(np.uint8).reshape(len(rows), IMAGE_SIZE, IMAGE_SIZE, 1)
    return images, labels, usage
