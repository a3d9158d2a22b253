"""The shipped files are checked before they are trusted: ``kerfer/assets/SHA256SUMS`` records the
sha256 of every file kerfer ships (the int8 classifier, its labels, the float weights, BlazeFace),
and each is compared with it the first time a process loads it.

A damaged install (a truncated download, flipped bytes on a bad disk, a file edited by hand)
used to "predict" silently wrong; now it is one line naming the file and saying "reinstall
kerfer". The verdict is kept for the rest of the process (a file's size and mtime key it), so a
second load costs nothing. Files outside the assets folder (a user's own models) are not
checked here: their own format checks apply. Free of TensorFlow and OpenCV.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import os
from pathlib import Path

from kerfer.errors import DamagedInstall

MANIFEST = "SHA256SUMS"
"""In the assets folder: ``<sha256>  <file name>`` per line, as ``sha256sum`` writes and checks it."""


def assets_dir() -> Path:
    """The folder of the shipped files (``kerfer/assets``): the one way kerfer finds them, through
    importlib.resources, so a zip or vendored install finds them as well as a source tree does."""
    return Path(str(importlib.resources.files("kerfer") / "assets"))


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(assets: Path) -> dict[str, str]:
    """``{file name: sha256}`` from ``assets/SHA256SUMS`` (empty when it is missing)."""
    path = assets / MANIFEST
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        digest, _, name = line.strip().partition("  ")
        if digest and name:
            out[name.lstrip("*")] = digest
    return out


def write_manifest(assets: Path | None = None) -> Path:
    """Records the sha256 of every file in ``assets`` (the tools that ship new files call it)."""
    from kerfer.io import atomic_write_text

    assets = assets or assets_dir()
    names = sorted(
        p.name for p in assets.iterdir() if p.is_file() and p.name != MANIFEST and not p.name.startswith(".")
    )
    text = "".join(f"{file_sha256(assets / n)}  {n}\n" for n in names)
    atomic_write_text(assets / MANIFEST, text)
    return assets / MANIFEST


def check_shipped(path: str | os.PathLike, assets: Path | None = None) -> None:
    """Raises :class:`DamagedInstall` when ``path`` is a shipped file (in ``assets``) whose bytes
    are not the recorded ones; does nothing for any other file. Checked once per process."""
    assets = (assets or assets_dir()).resolve()
    try:
        resolved = Path(path).resolve()
        st = resolved.stat()
    except OSError:
        return  # a missing file: the loader says so in its own words
    if resolved.parent != assets:
        return
    problem = _verdict(str(resolved), st.st_size, st.st_mtime_ns, str(assets))
    if problem:
        raise DamagedInstall(f"{path}: damaged kerfer install ({problem}): reinstall kerfer")


@functools.cache
def _verdict(path: str, size: int, mtime_ns: int, assets: str) -> str | None:
    """Why the shipped file ``path`` cannot be trusted, or None; memoised per file state."""
    expected = read_manifest(Path(assets))
    name = Path(path).name
    if name not in expected:
        return f"{name} is not in {MANIFEST}, the list of files kerfer shipped"
    if file_sha256(path) != expected[name]:
        return f"its sha256 is not the one kerfer shipped for {name}: the file is truncated or modified"
    return None


def read_checked(path: str | os.PathLike, assets: Path | None = None) -> bytes:
    """The bytes of a model file, checked against :data:`MANIFEST` when it is a shipped one.

    Reading through Python (then handing the bytes to the interpreter) also serves file names
    that are not valid UTF-8, which LiteRT's own file loading refuses with a ``TypeError``."""
    check_shipped(path, assets)
    return Path(path).read_bytes()
