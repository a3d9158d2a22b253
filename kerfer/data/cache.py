"""A per-user cache of parsed FER2013 CSVs, so that every run after the first starts at once.

One ``.npz`` per CSV path under ``$KERFER_CACHE_DIR`` (default ``$XDG_CACHE_HOME/kerfer`` or
``~/.cache/kerfer``) — never inside the user's data folder. An entry is valid only for the same
content: the file's size and the sha256 of all of its bytes are stored in it and compared on
read, and a CRC of the arrays is checked. Size, mtime and the first and last 64 KiB were not
enough: ``cp -p``, ``rsync -a`` and ``tar`` restore the mtime, so labels changed in the middle
of a CSV were served from the stale entry. Hashing the whole file costs a fraction of a second
(the shared 85 MB ``fer2013.csv.gz``: figure and command in docs/performance.md) against the 30 s or
more of a parse. A stale, damaged or unreadable entry is ignored (and
rewritten after the next parse); writes go to a temporary file that is renamed into place, so two
processes loading the same file at once each see a complete entry or none. ``KERFER_NO_CACHE=1``
(``--no-cache``) turns it off.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from kerfer.errors import KerferWarning

FORMAT = 2
"""Bumped whenever what the parser produces, or what identifies a file, changes: older entries
are never used (2: the whole file's sha256 instead of its first and last 64 KiB and mtime)."""
_ARRAYS = ("images", "labels", "usage", "rows", "lines")


def cache_dir() -> Path:
    """Where entries live: ``$KERFER_CACHE_DIR``, else ``$XDG_CACHE_HOME/kerfer``, else ``~/.cache/kerfer``."""
    if os.environ.get("KERFER_CACHE_DIR"):
        return Path(os.environ["KERFER_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "kerfer"


def enabled(requested: bool | None = None) -> bool:
    """``requested`` when given, else on unless ``KERFER_NO_CACHE`` is set to a true value."""
    if requested is not None:
        return requested
    return os.environ.get("KERFER_NO_CACHE", "").lower() not in ("1", "true", "yes", "on")


def fingerprint(path: str | os.PathLike) -> dict:
    """What identifies the file's content: absolute path, size and the sha256 of every byte (a
    change anywhere, whatever the mtime says, gives another fingerprint)."""
    from kerfer.integrity import file_sha256

    path = os.path.abspath(path)
    return {"format": FORMAT, "path": path, "size": os.stat(path).st_size, "sha256": file_sha256(path)}


def entry_path(path: str | os.PathLike) -> Path:
    key = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:24]
    return cache_dir() / f"fer2013-{key}.npz"


def _crc(arrays: dict[str, np.ndarray]) -> int:
    crc = 0
    for name in _ARRAYS:
        crc = zlib.crc32(np.ascontiguousarray(arrays[name]).data, crc)
    return crc


def load(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], list[tuple[int, str]]] | None:
    """The cached arrays and skipped rows of ``path``, or None (absent, stale or damaged)."""
    entry = entry_path(path)
    try:
        with np.load(entry, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            if meta.get("fingerprint") != fingerprint(path):
                return None
            arrays = {name: z[name] for name in _ARRAYS}
            skipped = [(int(line), str(problem)) for line, problem in meta["skipped"]]  # else: not ours
    except (OSError, ValueError, KeyError, TypeError, EOFError, zlib.error, UnicodeDecodeError, zipfile.BadZipFile):
        return None
    if _crc(arrays) != meta.get("crc"):
        return None
    return arrays, skipped


def save(path: str | os.PathLike, arrays: dict[str, np.ndarray], skipped: list[tuple[int, str]]) -> bool:
    """Writes the entry atomically; on failure (read-only cache, full disk) warns and returns False."""
    entry = entry_path(path)
    meta = {"fingerprint": fingerprint(path), "crc": _crc(arrays), "skipped": skipped}
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **{n: arrays[n] for n in _ARRAYS})
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(buf.getbuffer())
        os.replace(tmp, entry)
        return True
    except OSError as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        warnings.warn(
            f"cannot write the parse cache in {entry.parent} ({e.strerror or e}); parsing each time "
            "(set KERFER_CACHE_DIR to a writable folder, or --no-cache to silence this)",
            KerferWarning,
            stacklevel=3,
        )
        return False
