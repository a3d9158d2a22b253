"""Listing image folders without losing anything silently: ``predict``, ``crop`` and image-folder
training all list folders here, and share one rule for what a class folder is (:func:`class_folders`).

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

from kerfer.errors import DataError
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


# --------------------------------------------------------------------------- dataset folders


def visible(name: str) -> bool:
    """Whether a folder counts at all: ``.*`` and ``_*`` ones (``kerfer crop``'s ``_rejected``) never do."""
    return not name.startswith((".", "_"))


def sub_folders(folder: str | os.PathLike) -> list[Path]:
    """The visible sub-folders of ``folder``, sorted (a link to a folder counts as one)."""
    with os.scandir(folder) as it:
        return sorted(Path(e.path) for e in it if e.is_dir() and visible(e.name))


def class_images(folder: str | os.PathLike) -> list[Path]:
    """The images directly inside a class folder, sorted, with the entries that carry an image's
    name but cannot be read (a broken link, a pipe): listed so that reading them names them
    instead of dropping them without a word. Raises ``DataError`` when ``folder`` cannot be listed."""
    found = scan(folder, recursive=False)
    if found.unreadable and found.unreadable[0].path == Path(folder):
        raise DataError(f"{folder}: {found.unreadable[0].problem}")
    named = [u.path for u in found.unreadable if u.path.suffix.lower() in IMAGE_EXTENSIONS]
    return sorted([*found.images, *named])


def class_folders(split_dir: str | os.PathLike) -> list[str]:
    """The class folders of a split (sorted names): visible sub-folders with images directly inside.

    The one rule ``kerfer train --data`` (:mod:`kerfer.data.folders`) and ``kerfer crop``
    (:func:`find_sources`) share: a folder without images is not a class (an empty ``contempt/``
    must not become an output), nor is a hidden or ``_``-prefixed one."""
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        return []
    return [p.name for p in sub_folders(split_dir) if _has_images(p)]


def _has_images(folder: Path) -> bool:
    try:
        return bool(class_images(folder))
    except DataError:
        return False


@dataclasses.dataclass(frozen=True)
class SourceLayout:
    """What :func:`find_sources` found: ``layout`` is ``"classes"`` (``SRC/<class>/img``) or
    ``"splits"`` (``SRC/<split>/<class>/img``); ``groups`` maps each class folder, relative to SRC
    (``happy`` or ``train/happy``), to its images; ``unreadable`` lists the folders and entries
    that could not be read (each gets a report row); ``ignored`` lists the files not read."""

    layout: str
    groups: dict[str, list[Path]]
    ignored: list[Path]
    unreadable: list[Unreadable] = dataclasses.field(default_factory=list)


def find_sources(src: str | os.PathLike) -> SourceLayout:
    """The class folders of ``src`` and their images (only the images directly inside a class
    folder, as ``kerfer train`` reads them; folders named ``.*`` or ``_*`` are skipped).

    A folder or entry that cannot be read (no permission, a stale mount, a broken link with an
    image's name) does not stop the listing: it is returned in ``unreadable``. Raises
    ``FileNotFoundError`` for a missing ``src`` and ``DataError`` for images lying directly in it,
    for a folder holding both images and class folders, for mixed layouts and for no images.
    """
    src = Path(src)
    if not src.exists():
        raise FileNotFoundError(f"{src}: no such folder")
    if not src.is_dir():
        raise DataError(f"{src}: not a folder (expected {src}/<class>/*.jpg or {src}/<split>/<class>/*.jpg)")
    top = scan(src, recursive=False)
    if top.unreadable and top.unreadable[0].path == src:
        raise DataError(f"{src}: {top.unreadable[0].problem}")
    if top.images:
        loose = top.images
        shown_names = ", ".join(f.name for f in loose[:3]) + (", ..." if len(loose) > 3 else "")
        raise DataError(
            f"{src}: {len(loose)} image(s) directly in this folder ({shown_names}): put them in class folders, "
            f"{src}/<class>/*.jpg (or {src}/<split>/<class>/*.jpg); the folder names are the labels"
        )
    unreadable = list(top.unreadable)
    classes: dict[Path, Scan] = {}
    splits: dict[Path, dict[Path, Scan]] = {}
    for folder in sub_folders(src):
        direct = scan(folder, recursive=False)
        if direct.unreadable and direct.unreadable[0].path == folder:
            unreadable.append(direct.unreadable[0])  # cannot tell a class from a split: reported, skipped
            continue
        subs, sub_problems = _class_scans(folder)
        if direct.images and subs:
            raise DataError(
                f"{folder}: holds images and class folders with images ({', '.join(s.name for s in list(subs)[:3])}); "
                "a folder is either a class (images inside) or a split (class folders inside)"
            )
        if direct.images or (direct.unreadable and not subs and not sub_problems):
            classes[folder] = direct
        elif subs or sub_problems:
            splits[folder] = subs
            unreadable.extend([*direct.unreadable, *sub_problems])
    if classes and splits:
        raise DataError(
            f"{src}: mixes class folders ({', '.join(p.name for p in list(classes)[:3])}) with split folders "
            f"({', '.join(p.name for p in list(splits)[:3])}); use {src}/<class>/*.jpg or {src}/<split>/<class>/*.jpg"
        )
    if not classes and not splits and not unreadable:
        raise DataError(
            f"{src}: no class folders with images inside (expected {src}/<class>/*.jpg or "
            f"{src}/<split>/<class>/*.jpg; image types {', '.join(sorted(IMAGE_EXTENSIONS))})"
        )
    groups: dict[str, list[Path]] = {}
    found = classes.items() if classes else [(c, f) for subs in splits.values() for c, f in subs.items()]
    for folder, contents in found:
        groups[folder.relative_to(src).as_posix()] = contents.images
        unreadable.extend(contents.unreadable)
    return SourceLayout("classes" if classes else "splits", groups, _ignored(src, groups), unreadable)


def _class_scans(folder: Path) -> tuple[dict[Path, Scan], list[Unreadable]]:
    """The class folders inside a split folder (those with images, or with entries that could not
    be read), and the sub-folders that could not be listed."""
    subs: dict[Path, Scan] = {}
    problems: list[Unreadable] = []
    try:
        folders = sub_folders(folder)
    except OSError:
        return subs, problems
    for sub in folders:
        contents = scan(sub, recursive=False)
        if contents.unreadable and contents.unreadable[0].path == sub:
            problems.append(contents.unreadable[0])
        elif contents.images or contents.unreadable:
            subs[sub] = contents
    return subs, problems


def _ignored(src: Path, groups: dict[str, list[Path]]) -> list[Path]:
    """The files under ``src`` (outside ``.*``/``_*`` folders) that no class folder reads."""
    everything = scan(src, extensions=(), hidden=False, keep_skipped=True)
    read = {f for files in groups.values() for f in files}
    return sorted(f for f in everything.skipped_paths if f not in read)
