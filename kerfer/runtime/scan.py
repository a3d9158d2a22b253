"""Listing image folders without losing anything silently: ``predict``, ``crop`` and image-folder
training all list folders here.

``Path.rglob`` skips a folder it may not read without a word, and a stale mount or a vanishing
entry (``kerfer predict /`` meets ``/proc``) raises out of it and stops the whole run with nothing
processed. :func:`scan` lists a folder entry by entry with ``os.scandir`` and returns, beside the
images, every entry it could not read (a folder without permission, a broken symbolic link with
an image's name, an entry whose type cannot be read) with the reason: the caller reports each
one and goes on with the rest.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Collection
from pathlib import Path

from kerfer.options import IMAGE_EXTENSIONS

SHOWN_SKIPPED = 3
"""How many skipped file names a note shows."""


@dataclasses.dataclass(frozen=True)
class Unreadable:
    """An entry that could not be listed or read, and why (one line)."""

    path: Path
    problem: str


@dataclasses.dataclass
class Scan:
    """What a folder holds: ``images`` (sorted), ``unreadable`` entries, and the other files
    (counted, with their types and a few names, not listed: ``kerfer predict /`` meets millions)."""

    images: list[Path] = dataclasses.field(default_factory=list)
    unreadable: list[Unreadable] = dataclasses.field(default_factory=list)
    skipped: int = 0
    skipped_kinds: set[str] = dataclasses.field(default_factory=set)
    skipped_names: list[str] = dataclasses.field(default_factory=list)
    skipped_paths: list[Path] = dataclasses.field(default_factory=list)
    """Every skipped file, only when asked for (``keep_skipped``)."""
    keep_skipped: bool = False

    def skip(self, path: Path) -> None:
        self.skipped += 1
        self.skipped_kinds.add(path.suffix.lower() or "(no extension)")
        if len(self.skipped_names) < SHOWN_SKIPPED + 1:
            self.skipped_names.append(path.name)
        if self.keep_skipped:
            self.skipped_paths.append(path)


def scan(
    folder: str | os.PathLike,
    extensions: Collection[str] = IMAGE_EXTENSIONS,
    recursive: bool = True,
    hidden: bool = True,
    keep_skipped: bool = False,
) -> Scan:
    """The images under ``folder`` (all depths with ``recursive``; folder symlinks are not followed,
    so a loop cannot trap it), sorted, and every entry that could not be read.

    ``hidden=False`` skips sub-folders named ``.*`` or ``_*`` (``kerfer crop``'s ``_rejected``);
    ``keep_skipped`` lists every file of another type (else they are only counted)."""
    found = Scan(keep_skipped=keep_skipped)
    _walk(Path(folder), {e.lower() for e in extensions}, recursive, hidden, found)
    found.images.sort()
    return found


def _walk(folder: Path, extensions: set[str], recursive: bool, hidden: bool, found: Scan) -> None:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as e:
        found.unreadable.append(Unreadable(folder, f"cannot list this folder ({e.strerror or e})"))
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                if recursive and (hidden or not entry.name.startswith((".", "_"))):
                    _walk(path, extensions, recursive, hidden, found)
                continue
            image = path.suffix.lower() in extensions
            if entry.is_file():  # follows a symbolic link to its file
                (found.images.append(path) if image else found.skip(path))
            elif entry.is_symlink() and not path.exists():
                if image:
                    found.unreadable.append(Unreadable(path, f"broken symbolic link (to {os.readlink(path)})"))
                else:
                    found.skip(path)
            elif entry.is_symlink() and path.is_dir():
                continue  # a link to a folder: not followed
            elif image:
                found.unreadable.append(Unreadable(path, "not a regular file (a device, socket or pipe)"))
        except OSError as e:
            found.unreadable.append(Unreadable(path, f"cannot read ({e.strerror or e})"))


def skipped_note(found: Scan) -> str | None:
    """What ``found`` holds that is not read (other file types), in one line, or None."""
    if not found.skipped:
        return None
    names = found.skipped_names[:SHOWN_SKIPPED]
    shown = ", ".join(names) + (", ..." if found.skipped > SHOWN_SKIPPED else "")
    return (
        f"skipped {found.skipped} file(s) of unsupported type {', '.join(sorted(found.skipped_kinds))} ({shown}); "
        f"supported: {', '.join(sorted(IMAGE_EXTENSIONS))} (convert HEIC photos to JPEG first)"
    )
