"""Paths users hand kerfer: outputs that must never be inputs, and names native libraries can open.

Free of TensorFlow and OpenCV (the CLI and the edge runtime import it).

- :func:`refuse_overwriting_inputs` is the one check every command that writes makes before it
  opens anything for writing: no output may be the same file as an input (``live --source
  mine.mp4 --output mine.mp4`` would overwrite the video) or as another output.
- :func:`refuse_nested` does the same for an output folder and an input folder.
- :func:`native_path` refuses a file name OpenCV or LiteRT cannot take: on Linux a name that is
  not valid UTF-8 reaches Python with surrogate escapes, and OpenCV crashes on it (exit 139).
- :func:`shown` is how a path is printed in a one-line message: control characters (a newline
  in a file name) and undecodable bytes escaped, so one result stays one line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from kerfer.errors import SameFileError

PathArg = str | os.PathLike


def same_file(a: PathArg, b: PathArg) -> bool:
    """Whether ``a`` and ``b`` name one file: the same resolved path (symbolic links followed, so
    also for a file not written yet), or the same inode (a hard link, a bind mount)."""
    try:
        if Path(a).resolve() == Path(b).resolve():
            return True
    except (OSError, RuntimeError):  # a symlink loop: compare what exists below
        pass
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def refuse_overwriting_inputs(outputs: Mapping[str, PathArg | None], inputs: Mapping[str, PathArg | None]) -> None:
    """Raises :class:`SameFileError` when an output is the same file as an input, or two outputs
    are one file. Keys name each path in the message (``"--output"``, ``"--source"``); ``None``
    values are skipped. Call it before anything is opened for writing."""
    given_in = [(name, p) for name, p in inputs.items() if p is not None and str(p) != ""]
    given_out = [(name, p) for name, p in outputs.items() if p is not None and str(p) != ""]
    for out_name, out in given_out:
        for in_name, inp in given_in:
            if same_file(out, inp):
                raise SameFileError(
                    f"{shown(out)}: {out_name} is the same file as {in_name} ({shown(inp)}); writing it would "
                    "destroy the input: choose another output (nothing was written)"
                )
    for i, (name_a, a) in enumerate(given_out):
        for name_b, b in given_out[i + 1 :]:
            if same_file(a, b):
                raise SameFileError(
                    f"{shown(a)}: {name_a} and {name_b} are the same file; give each its own name (nothing was written)"
                )


class FileSet:
    """Files by identity: their resolved paths and (device, inode) pairs. ``path in files`` is
    :func:`same_file` against every member at once (a run's thousands of input photos)."""

    def __init__(self, paths: Iterable[PathArg] = ()):
        self._paths: set[Path] = set()
        self._inodes: set[tuple[int, int]] = set()
        for path in paths:
            self.add(path)

    def add(self, path: PathArg) -> None:
        resolved, inode = _identity(path)
        if resolved is not None:
            self._paths.add(resolved)
        if inode is not None:
            self._inodes.add(inode)

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, (str, os.PathLike)):
            return False
        resolved, inode = _identity(path)
        return resolved in self._paths or (inode is not None and inode in self._inodes)


def _identity(path: PathArg) -> tuple[Path | None, tuple[int, int] | None]:
    try:
        resolved = Path(path).resolve()
    except (OSError, RuntimeError, ValueError):
        resolved = None
    try:
        st = os.stat(path)
        inode = (st.st_dev, st.st_ino)
    except (OSError, ValueError):
        inode = None
    return resolved, inode


def inside(a: PathArg, b: PathArg) -> bool:
    """Whether ``a`` is ``b`` or lies under it, symbolic links resolved."""
    a_abs, b_abs = Path(a).resolve(), Path(b).resolve()
    return a_abs == b_abs or b_abs in a_abs.parents


def refuse_nested(
    out_dir: PathArg, in_dir: PathArg, out_name: str = "the output folder", in_name: str = "the source folder"
) -> None:
    """Raises :class:`SameFileError` when an output folder is, or lies inside, an input folder, or
    holds it: writing there would mix outputs into the input (or the reverse)."""
    if inside(out_dir, in_dir):
        raise SameFileError(f"{shown(out_dir)}: {out_name} is inside {in_name} {shown(in_dir)}: choose one outside it")
    if inside(in_dir, out_dir):
        raise SameFileError(f"{shown(out_dir)}: {out_name} contains {in_name} {shown(in_dir)}: choose another one")


def native_path(path: PathArg, what: str = "file") -> str:
    """``path`` as a string OpenCV and LiteRT can take; :class:`ValueError` (one line) for a name
    that is not valid UTF-8, which they cannot open (OpenCV crashes the process on it)."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            f"{shown(text)}: the {what} name is not valid UTF-8, and OpenCV cannot open such names: rename it"
        ) from None
    return text


def shown(path: PathArg) -> str:
    """``path`` for a one-line message: undecodable bytes as ``\\xff``, control characters (a
    newline, a tab) as escapes, everything else as it is."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if any(0xDC80 <= ord(c) <= 0xDCFF for c in text):  # bytes that were not UTF-8 (surrogate escapes)
        text = os.fsencode(text).decode("utf-8", "backslashreplace")
    if any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in text):
        text = "".join(_escape(c) for c in text)
    return text


def _escape(c: str) -> str:
    if ord(c) >= 32 and ord(c) != 127 and not 0xD800 <= ord(c) <= 0xDFFF:
        return c
    return c.encode("unicode_escape").decode("ascii") if ord(c) < 128 else f"\\u{ord(c):04x}"
