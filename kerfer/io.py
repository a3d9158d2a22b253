"""Atomic file writes: write a temporary file beside the target, then rename over it.

An interrupted write leaves the old file (or none), never a truncated one that looks valid.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from kerfer.errors import LockedError


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yields a temporary path in the target's directory; renames it onto ``target`` on success.

    A failure to create the temporary file or to rename it is an ``OSError`` naming ``target``,
    never the temporary name the user has never heard of."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=suffix or target.suffix or ".tmp", dir=target.parent
        )
    except OSError as e:
        raise _naming(e, target) from e
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the result should look like any written file
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            with open(tmp_path, "rb+") as f:
                os.fsync(f.fileno())
        try:
            os.replace(tmp_path, target)
        except OSError as e:
            raise _naming(e, target) from e
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _naming(error: OSError, target: Path) -> OSError:
    """``error`` with ``target`` as its file name (``Is a directory: .../crop_report.csv``)."""
    what = "is a folder, not a file" if target.is_dir() else (error.strerror or str(error))
    return type(error)(error.errno, what, str(target))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike) -> Iterator[Path]:
    """Holds an exclusive lock on the file ``path`` (created if absent) for the block.

    The lock belongs to the open file, so the operating system releases it when the process
    ends in any way (a kill included): a stale lock file never blocks the next run. A second
    holder gets :class:`LockedError` at once. The file itself stays (empty) after the block:
    deleting a lock file races with a process about to lock it."""
    path = Path(path)
    f = open(path, "a+b")
    try:
        try:
            _lock(f)
        except OSError as e:
            raise LockedError(e.errno, "held by another process", str(path)) from e
        yield path
    finally:
        f.close()  # closing releases the lock


def _lock(f) -> None:
    if os.name == "nt":  # pragma: no cover - Windows
        import msvcrt

        msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
        return
    import fcntl

    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
