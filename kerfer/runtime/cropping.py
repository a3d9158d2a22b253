"""Raw photos → a training image folder: detect, align and crop every face (``kerfer crop``).

``SRC/<class>/*.jpg`` or ``SRC/<split>/<class>/*.jpg`` becomes ``OUT/<class>/<stem>.png`` or
``OUT/<split>/<class>/<stem>.png`` (the layout ``kerfer train --data`` reads, mirroring SRC's),
one ``size`` x ``size`` crop of the region of interest per photo: the whole face, the mouth or
the eyes. Photos that give no crop are never dropped silently: a photo with no face, with
several faces (unless ``on_multiple="largest"``) or that cannot be read is copied to
``OUT/_rejected/<no_face|multiple_faces|unreadable>/<its path under SRC>``, and every photo
has one row in ``OUT/crop_report.csv`` (source, status, faces, output, note).

``OUT/_rejected`` is not a class for ``kerfer train --data``: it sits beside the split folders
(a split is read only when named), and in the one-level layout it holds folders only, never
images, and :func:`kerfer.runtime.scan.class_folders` (the rule ``train --data`` reads by too)
counts a folder as a class only when images lie directly inside it.

This module builds the dataset (the report, the journal, what OUT already holds); where each
region lies is :mod:`kerfer.runtime.roi`, how SRC is laid out :func:`kerfer.runtime.scan.find_sources`.
OpenCV and NumPy only (no TensorFlow): the crops match what ``kerfer predict`` and ``kerfer
live`` feed a model (same margin, same alignment rule), so a model trained on them sees at run
time what it learnt from.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import shlex
import time
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from kerfer.errors import DataError, ImageReadError, LockedError, SameFileError
from kerfer.io import atomic_path, atomic_write_bytes, atomic_write_text, exclusive_lock
from kerfer.options import CROP_SIZE, MARGIN, MAX_CROP_SIZE, MIN_CROP_SIZE, ON_MULTIPLE, ROIS
from kerfer.paths import refuse_nested
from kerfer.progress import Progress
from kerfer.runtime.detect import Detection, FaceDetector, find_faces
from kerfer.runtime.images import decode_image, encode_image, read_bytes
from kerfer.runtime.roi import crop_roi
from kerfer.runtime.scan import Unreadable, find_sources

REJECTED = "_rejected"
REPORT = "crop_report.csv"
JOURNAL = ".crop_journal.csv"
"""This run's rows as they happen (appended and flushed per photo); merged into the report at the end."""
LOCK = ".crop.lock"
"""Held while a crop writes into OUT: a second one into the same OUT is refused."""
SETTINGS = "crop_settings.json"
STATUSES = ("cropped", "no_face", "multiple_faces", "unreadable")
REPORT_FIELDS = ("source", "status", "faces", "output", "note", "src", "source_sha256", "output_sha256")
_CSV_TEXT = {"newline": "", "encoding": "utf-8", "errors": "surrogateescape"}
"""How the report and the journal are opened: CSV's own line ends (a file name may hold a line
break), UTF-8 whatever the locale, and names that are not UTF-8 kept byte for byte."""


# --------------------------------------------------------------------------- the report


@dataclasses.dataclass(frozen=True)
class CropRow:
    """One source photo. ``source`` is its path relative to SRC (the photo's key: a re-run after
    SRC moved, was renamed or is reached through a link finds its earlier crop), ``src`` the
    SRC folder it was in; ``status`` is one of :data:`STATUSES`; ``output`` (relative to OUT) is
    the crop or the copy under ``_rejected`` (empty when nothing could be read to copy);
    ``note`` says why (the read error, "kept the largest"). ``source_sha256`` identifies the
    photo's content (a photo moved to another class folder is the same photo) and
    ``output_sha256`` what was written: the proof that a file at ``output`` is one kerfer crop
    wrote, the only kind it ever overwrites or deletes."""

    source: str
    status: str
    faces: int
    output: str
    note: str = ""
    src: str = ""
    source_sha256: str = ""
    output_sha256: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.src, self.source

    def fields(self) -> list[str | int]:
        return [getattr(self, name) for name in REPORT_FIELDS]


@dataclasses.dataclass
class CropReport:
    """What :func:`crop_dataset` did. ``rows`` holds this run's photos, one each, in order."""

    src: Path
    out: Path
    layout: str
    roi: str
    size: int
    grayscale: bool
    rows: list[CropRow]
    per_class: dict[str, int]
    ignored: list[Path]
    seconds: float
    report_path: Path
    on_multiple: str = "skip"

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)

    @property
    def cropped(self) -> int:
        """Crops written (including the largest face of photos with several, with ``largest``)."""
        return sum(self.per_class.values())

    @property
    def rejected_dir(self) -> Path:
        return self.out / REJECTED

    def train_command(self) -> str:
        """The ``kerfer train`` line for this folder."""
        q = shlex.quote
        run = q(f"runs/{self.out.name or 'crops'}")
        if self.layout == "splits":
            splits = sorted({k.split("/")[0] for k in self.per_class})
            lower = {s.lower(): s for s in splits}
            train = next((lower[s] for s in ("train", "training") if s in lower), splits[0])
            val = next(
                (
                    lower[s]
                    for s in ("val", "valid", "validation", "test", "publictest")
                    if s in lower and lower[s] != train
                ),
                None,
            )
            line = f"kerfer train --data {q(str(self.out))} --train-split {q(train)} --val-split {q(val or 'none')}"
        else:
            # OUT itself is the one split: train reads <root>/<split>/<class>/*.png
            parent = self.out.parent
            line = f"kerfer train --data {q(str(parent))} --train-split {q(self.out.name)} --val-split none"
        if self.size != 48 or not self.grayscale:  # what train reads unless told otherwise
            line += f" --image-size {self.size}" + ("" if self.grayscale else " --color-mode rgb")
        return f"{line} --epochs 30 --out {run}"

    def summary_lines(self) -> list[str]:
        """``kerfer crop``'s summary: crops per class, the photos set aside and why (and where),
        files not read, and the report's path."""
        colour = "grayscale" if self.grayscale else "colour"
        lines = [
            f"cropped {self.cropped} of {len(self.rows)} photos ({self.roi}, {self.size}x{self.size} {colour}) "
            f"into {self.out} in {self.seconds:.1f} s:",
            *(f"  {group}: {n}" for group, n in self.per_class.items()),
        ]
        for status, what in (("no_face", "no face"), ("multiple_faces", "several faces"), ("unreadable", "unreadable")):
            n = self.count(status)
            if not n:
                continue
            if status == "multiple_faces" and self.on_multiple == "largest":
                lines.append(f"{what}: {n} (cropped the largest face of each)")
                continue
            hint = "; --on-multiple largest crops the largest face" if status == "multiple_faces" else ""
            copied = sum(r.status == status and r.output.startswith(f"{REJECTED}/") for r in self.rows)
            if copied < n:
                hint += f"; {n - copied} could not be read at all: see the report"
            lines.append(f"{what}: {n} (copied to {self.rejected_dir / status}{hint})")
        if self.ignored:
            names = ", ".join(str(p.relative_to(self.src)) for p in self.ignored[:3])
            more = ", ..." if len(self.ignored) > 3 else ""
            lines.append(
                f"not read: {len(self.ignored)} file(s) outside class folders or of other types ({names}{more})"
            )
        return [*lines, f"report: {self.report_path}"]


def _read_rows(path: Path, src_abs: Path, journal: bool = False) -> list[CropRow]:
    """The rows of a report (or of the journal of a run that did not finish).

    A report is text a user may edit: a damaged one is one line naming the file and what is
    wrong (a field over the CSV module's size limit included), never a traceback. The journal's
    last line may be cut short by a kill: rows that do not parse are skipped there."""
    if not path.is_file():
        return []
    rows: list[CropRow] = []
    lines = _Lines()
    try:
        with open(path, **_CSV_TEXT) as f:
            reader = csv.DictReader(lines.counting(f))
            if not reader.fieldnames or not set(REPORT_FIELDS[:4]) <= set(reader.fieldnames):
                if journal:
                    return []
                raise DataError(f"{path}: not a kerfer crop report (columns {', '.join(REPORT_FIELDS)})")
            for r in reader:
                try:
                    rows.append(_row(r, src_abs))
                except (ValueError, KeyError, TypeError, AttributeError):
                    if not journal:
                        raise
    except csv.Error as e:
        if journal:
            return rows
        raise DataError(
            f"{path}: unreadable crop report (line {lines.count}: {e}); move it away to start afresh"
        ) from e
    except DataError:
        raise  # already one line naming the report
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise DataError(f"{path}: unreadable crop report ({e}); move it away to start afresh") from e
    return rows


class _Lines:
    """Counts the lines a CSV reader takes, to name the line of a parse error."""

    def __init__(self):
        self.count = 0

    def counting(self, f: Iterable[str]) -> Iterable[str]:
        for line in f:
            self.count += 1
            yield line


def _row(r: dict[str, str], src_abs: Path) -> CropRow:
    source, src = r["source"], r.get("src") or ""
    if not src and Path(source).is_absolute():  # a report from before sources were keyed relative to SRC
        try:
            source, src = Path(source).relative_to(src_abs).as_posix(), str(src_abs)
        except ValueError:
            pass
    return CropRow(
        source,
        r["status"],
        int(r["faces"] or 0),
        r["output"],
        r.get("note") or "",
        src,
        _hex(r.get("source_sha256")),
        _hex(r.get("output_sha256")),
    )


def _hex(value: str | None) -> str:
    """A sha256 as written, or "" for anything else (a line cut short, an edit)."""
    value = (value or "").strip().lower()
    return value if len(value) == 64 and all(c in "0123456789abcdef" for c in value) else ""


def _write_rows(path: Path, rows: Iterable[CropRow]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", **_CSV_TEXT) as f:
            w = csv.writer(f)
            w.writerow(REPORT_FIELDS)
            w.writerows(r.fields() for r in rows)


class _Journal:
    """This run's rows, appended and flushed one photo at a time, before the photo's file is
    written: after a kill, a full disk or a crash the next run knows every file this one wrote."""

    def __init__(self, path: Path):
        size = path.stat().st_size if path.exists() else 0
        cut = size > 0 and not _ends_a_line(path)  # a killed run's last row, cut short
        self.f = open(path, "a", **_CSV_TEXT)
        self.w = csv.writer(self.f)
        if cut:
            self.f.write("\r\n")  # end that row (it is skipped when read) before appending
        if not size:
            self.w.writerow(REPORT_FIELDS)
        self.f.flush()

    def add(self, row: CropRow) -> None:
        self.w.writerow(row.fields())
        self.f.flush()

    def close(self) -> None:
        self.f.close()


def _ends_a_line(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def _check_settings(out: Path, settings: dict) -> None:
    """OUT keeps the settings of its first run: crops of another ROI, size or colour would mix into
    the same class folders unnoticed."""
    path = out / SETTINGS
    if path.is_file():
        try:
            before = json.loads(path.read_text())
        except (OSError, ValueError):
            before = None
        if isinstance(before, dict):
            differ = [k for k in settings if k in before and before[k] != settings[k]]
            if differ:
                was = ", ".join(f"{k}={before[k]!r}" for k in differ)
                now = ", ".join(f"{k}={settings[k]!r}" for k in differ)
                raise DataError(
                    f"{out}: holds crops made with {was}, not {now}: choose another OUT folder (or delete this one)"
                )
    atomic_write_text(path, json.dumps(settings, indent=2) + "\n")


def _check_own_files(out: Path) -> None:
    """The files crop keeps in OUT must be files: a folder named ``crop_report.csv`` would stop
    the run at its very end, after all the work."""
    for name in (REPORT, JOURNAL, SETTINGS, LOCK):
        path = out / name
        if path.is_symlink() or (path.exists() and not path.is_file()):
            kind = "a folder" if path.is_dir() else "a link" if path.is_symlink() else "not a regular file"
            raise DataError(f"{path}: is {kind}; kerfer crop keeps its {name} there: move it away")


# --------------------------------------------------------------------------- what OUT holds


@dataclasses.dataclass
class _Past:
    """What earlier runs recorded for one photo: its latest row, and every file any row wrote
    for it with the hashes written there (the only files of OUT crop may replace or delete)."""

    row: CropRow
    written: dict[str, set[str]] = dataclasses.field(default_factory=dict)

    def add(self, row: CropRow) -> None:
        self.row = row
        if row.output and row.output_sha256:
            self.written.setdefault(row.output, set()).add(row.output_sha256)


class _History:
    """The photos earlier runs cropped into OUT (its report, then the journal of a run that did
    not finish), and the rule that matches this run's photos to them:

    1. the same place (SRC and path in it): the same photo, edited or not;
    2. else the same path and content in another SRC: SRC was moved, renamed or is reached
       through a link;
    3. and any photo of the same content whose old place no longer holds a file: it was moved
       to another class folder (or renamed); its old crop goes.
    """

    def __init__(self, rows: Iterable[CropRow]):
        self.pasts: dict[tuple[str, str], _Past] = {}
        for row in rows:
            self.pasts.setdefault(row.key, _Past(row)).add(row)
        self.by_source: dict[str, list[_Past]] = {}
        self.by_content: dict[str, list[_Past]] = {}
        for past in self.pasts.values():
            self.by_source.setdefault(past.row.source, []).append(past)
            if past.row.source_sha256:
                self.by_content.setdefault(past.row.source_sha256, []).append(past)
        self.used: set[tuple[str, str]] = set()

    def match(self, src: str, source: str, sha: str) -> list[_Past]:
        """Every earlier record of this photo (none for a new photo); each is matched once."""
        here = self.pasts.get((src, source))
        if here is None and sha:
            here = next(
                (p for p in self.by_source.get(source, []) if p.row.source_sha256 == sha and self._free(p)), None
            )
        found = [here] if here is not None and self._free(here) else []
        if sha:
            found += [
                p for p in self.by_content.get(sha, []) if p is not here and self._free(p) and not _still_there(p.row)
            ]
        self.used.update(p.row.key for p in found)
        return found

    def _free(self, past: _Past) -> bool:
        return past.row.key not in self.used

    def unmatched(self) -> list[CropRow]:
        """Rows of photos not seen in this run (another SRC's, or photos since deleted): kept."""
        return [p.row for p in self.pasts.values() if self._free(p)]

    def outputs(self) -> set[str]:
        return {o.lower() for p in self.pasts.values() for o in (p.row.output, *p.written) if o}


def _still_there(row: CropRow) -> bool:
    """Whether the photo a row was made from is still where it was."""
    place = Path(row.src) / row.source if row.src else Path(row.source)
    try:
        return place.is_file()
    except OSError:
        return True  # cannot tell: keep its crop


def _inside_out(out_abs: Path, output: str) -> Path | None:
    """``OUT/output`` when ``output`` is a plain relative path that stays inside OUT (not
    absolute, no ``..``, no link leading out of OUT), else None: a report is user-editable text."""
    rel = PurePosixPath(output)
    if not output or rel.is_absolute() or ".." in rel.parts or "\\" in output:
        return None
    path = out_abs.joinpath(*rel.parts)
    try:
        parent = path.parent.resolve()
    except (OSError, RuntimeError):
        return None
    return path if parent == out_abs or out_abs in parent.parents else None


def _sha256(data: bytes | np.ndarray) -> str:
    return hashlib.sha256(memoryview(data)).hexdigest()


def _owned(out_abs: Path, output: str, hashes: set[str]) -> Path | None:
    """The file ``OUT/output`` if crop wrote it and it still holds what crop wrote there; None
    for anything else (the user's own file, a link, a path out of OUT, a file edited since)."""
    path = _inside_out(out_abs, output)
    if path is None or not hashes:
        return None
    try:
        if path.is_symlink() or not path.is_file():
            return None
        return path if _sha256(path.read_bytes()) in hashes else None
    except OSError:
        return None


class _Names:
    """Output names that never take a file this run did not write for the same source: existing
    files, names given earlier in this run and names of earlier runs' reports are all taken."""

    def __init__(self, out: Path, reserved: set[str]):
        self.out = out
        self.taken: dict[Path, set[str]] = {}
        self.reserved = reserved

    def _taken(self, folder: Path) -> set[str]:
        if folder not in self.taken:
            self.taken[folder] = {p.name.lower() for p in folder.iterdir()} if folder.is_dir() else set()
        return self.taken[folder]

    def new(self, rel_dir: str, stem: str, suffix: str) -> str:
        folder = self.out / rel_dir
        taken = self._taken(folder)
        name, n = f"{stem}{suffix}", 1
        while name.lower() in taken or f"{rel_dir}/{name}".lower() in self.reserved:
            n += 1
            name = f"{stem}_{n}{suffix}"
        taken.add(name.lower())
        return f"{rel_dir}/{name}"


# --------------------------------------------------------------------------- the driver


def _area(d: Detection) -> int:
    return int(d.box[2]) * int(d.box[3])


@dataclasses.dataclass(frozen=True)
class _Outcome:
    """One photo's result before anything is written: the bytes to write (or None) and where."""

    status: str
    faces: int
    note: str
    data: bytes | None = None  # None: nothing could be read, so nothing is written
    rel_dir: str = ""
    suffix: str = ""


class _Cropper:
    """Crops one photo at a time into OUT, recording each in the journal before writing it."""

    def __init__(self, src: Path, out: Path, settings: dict, detector: FaceDetector, history: _History, journal):
        self.src, self.out, self.out_abs = src, out, out.resolve()
        self.src_key = str(src.resolve())
        self.settings, self.detector, self.history, self.journal = settings, detector, history, journal
        self.names = _Names(out, history.outputs())

    def photo(self, group: str, source: Path) -> CropRow:
        """Reads, detects and crops ``source``; writes its crop (or its copy under ``_rejected``)."""
        rel = source.relative_to(self.src).as_posix()
        try:
            data = read_bytes(source)
        except ImageReadError as e:
            return self._record(rel, "", _Outcome("unreadable", 0, _problem(e)))
        sha = _sha256(data)
        return self._record(rel, sha, self._outcome(group, rel, source, data))

    def unreadable(self, entry: Unreadable) -> CropRow:
        """A row for a folder or entry that could not be read at all."""
        rel = entry.path.relative_to(self.src).as_posix()
        return self._record(rel, "", _Outcome("unreadable", 0, entry.problem))

    def _outcome(self, group: str, rel: str, source: Path, data: np.ndarray) -> _Outcome:
        s = self.settings

        def rejected(status: str) -> str:
            return "/".join([REJECTED, status, *rel.split("/")[:-1]])

        try:
            frame = decode_image(data, source)
            dets = find_faces(self.detector, frame)
            faces, note = len(dets), ""
            chosen = dets[0] if faces == 1 else None
            if faces > 1 and s["on_multiple"] == "largest":
                chosen = max(dets, key=_area)
                note = f"kept the largest of {faces} faces"
            status = "cropped" if faces == 1 else "no_face" if faces == 0 else "multiple_faces"
            if chosen is None:
                return _Outcome(status, faces, note, data.tobytes(), rejected(status), source.suffix)
            channels = 1 if s["color"] == "grayscale" else 3
            crop = crop_roi(frame, chosen, s["roi"], s["size"], channels, s["align"], s["margin"])
            png = encode_image(crop[..., 0] if channels == 1 else cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), ".png")
            return _Outcome(status, faces, note, png, group, ".png")
        except PHOTO_ERRORS as e:  # undecodable, over OpenCV's size limit, ...: this photo only
            return _Outcome("unreadable", 0, _problem(e), data.tobytes(), rejected("unreadable"), source.suffix)

    def _record(self, rel: str, sha: str, outcome: _Outcome) -> CropRow:
        pasts = self.history.match(self.src_key, rel, sha)
        if outcome.data is None:
            return self._keep(rel, outcome, pasts)
        output = self._place(pasts[0] if pasts else None, outcome, rel)
        row = CropRow(
            rel, outcome.status, outcome.faces, output, outcome.note, self.src_key, sha, _sha256(outcome.data)
        )
        self.journal.add(row)  # first: a kill between here and the write leaves a record of the name
        atomic_write_bytes(self.out / output, outcome.data)
        self._drop_stale(pasts, output)
        return row

    def _keep(self, rel: str, outcome: _Outcome, pasts: list[_Past]) -> CropRow:
        """A photo that could not be read at all this time (permission, a stale mount): reported,
        and its earlier crop, if any, is kept and stays recorded as its own."""
        before = pasts[0].row if pasts else None
        if before is None or not before.output:
            row = CropRow(rel, outcome.status, outcome.faces, "", outcome.note, self.src_key)
        else:
            note = f"{outcome.note}; its earlier output is kept"
            # no content hash, so matched only at its own place: src and source are already these
            row = dataclasses.replace(before, status=outcome.status, faces=outcome.faces, note=note)
        self.journal.add(row)
        return row

    def _place(self, past: _Past | None, outcome: _Outcome, rel: str) -> str:
        """The output path (relative to OUT): the photo's earlier one when it is in the same
        folder and still free or still holds what crop wrote; else a new name."""
        target_dir = _inside_out(self.out_abs, f"{outcome.rel_dir}/x")
        if target_dir is None:
            raise DataError(f"{self.out / outcome.rel_dir}: leads out of {self.out} (a link?): refusing to write there")
        if past and past.row.output and past.row.output.rsplit("/", 1)[0] == outcome.rel_dir:
            before = past.row.output
            path = _inside_out(self.out_abs, before)
            free = path is not None and not path.exists() and not path.is_symlink()
            if free or _owned(self.out_abs, before, past.written.get(before, set())):
                return before  # an earlier output: reserved, so no new name takes it
        return self.names.new(outcome.rel_dir, Path(rel).stem, outcome.suffix)

    def _drop_stale(self, pasts: list[_Past], output: str) -> None:
        """Deletes this photo's earlier files (another class, another outcome) that crop wrote
        and that still hold what it wrote; nothing else is ever deleted."""
        for past in pasts:
            for before, hashes in past.written.items():
                if before == output:
                    continue
                stale = _owned(self.out_abs, before, hashes)
                if stale is not None:
                    stale.unlink()


PHOTO_ERRORS = (ImageReadError, cv2.error, ValueError, MemoryError)
"""What one photo may raise without stopping the others (undecodable, too large, ...)."""


def _problem(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[-1] if text else type(error).__name__
    return line.split(": ", 1)[-1] if isinstance(error, ImageReadError) else line


def crop_dataset(
    src: str | os.PathLike,
    out: str | os.PathLike,
    roi: str = ROIS[0],
    size: int = CROP_SIZE,
    grayscale: bool = True,
    detector: FaceDetector | None = None,
    progress: bool = True,
    on_multiple: str = ON_MULTIPLE[0],
    align: bool = True,
    margin: float = MARGIN,
) -> CropReport:
    """Crops every photo of ``src`` into ``out`` (see the module docstring for the layout).

    ``detector`` defaults to BlazeFace. A photo with several faces is rejected
    (``on_multiple="skip"``) or gives its largest face (``"largest"``; still reported as
    ``multiple_faces``). Crops are PNG, ``size`` x ``size``, grayscale or colour.

    Re-running into the same ``out`` leaves exactly one crop per photo, also after a run that was
    killed (each photo is recorded in ``OUT/.crop_journal.csv`` as it is written), after SRC was
    moved or renamed (photos are keyed by their path relative to SRC) and after a photo moved to
    another class folder (its old crop goes). No file crop did not write, or edited since, is
    ever overwritten or deleted, whatever the report says. Rows of photos not seen in this run
    (another SRC cropped into the same OUT) are kept in the report. ``out`` remembers the ROI,
    size, colour, margin and alignment of its first run and refuses others; a second crop into
    the same ``out`` while one runs is refused (``OUT/.crop.lock``).
    """
    if roi not in ROIS:
        raise ValueError(f"roi={roi!r}: expected one of {', '.join(ROIS)}")
    if on_multiple not in ON_MULTIPLE:
        raise ValueError(f"on_multiple={on_multiple!r}: expected one of {', '.join(ON_MULTIPLE)}")
    if not MIN_CROP_SIZE <= int(size) <= MAX_CROP_SIZE:
        raise ValueError(f"size={size!r}: must be between {MIN_CROP_SIZE} and {MAX_CROP_SIZE} pixels")
    if not 0.0 <= margin <= 2.0:
        raise ValueError(f"margin={margin!r}: must be between 0 and 2")
    src_path, out_path = Path(src), Path(out)
    layout = find_sources(src_path)
    try:
        refuse_nested(out_path, src_path)
    except SameFileError as e:
        raise DataError(str(e)) from None
    if out_path.exists() and not out_path.is_dir():
        raise DataError(f"{out_path}: exists and is not a folder")
    out_path.mkdir(parents=True, exist_ok=True)
    _check_own_files(out_path)
    try:
        with exclusive_lock(out_path / LOCK):
            return _crop_locked(
                src_path, out_path, layout, roi, int(size), grayscale, detector, progress, on_multiple, align, margin
            )
    except LockedError as e:
        raise DataError(
            f"{e.filename}: another kerfer crop is writing into {out_path} (it holds this lock): "
            "wait for it to finish, or crop into another folder"
        ) from None


def _crop_locked(src_path, out_path, layout, roi, size, grayscale, detector, progress, on_multiple, align, margin):
    settings = {
        "roi": roi,
        "size": size,
        "color": "grayscale" if grayscale else "rgb",
        "margin": margin,
        "align": align,
    }
    _check_settings(out_path, settings)
    if detector is None:
        from kerfer.runtime.pipeline import default_detector

        detector = default_detector()
    src_abs = src_path.resolve()
    report_path, journal_path = out_path / REPORT, out_path / JOURNAL
    history = _History([*_read_rows(report_path, src_abs), *_read_rows(journal_path, src_abs, journal=True)])
    rows: list[CropRow] = []
    per_class = {group: 0 for group in layout.groups}
    bar = Progress(sum(len(files) for files in layout.groups.values()), progress)
    start = time.monotonic()
    journal = _Journal(journal_path)
    finished = False
    try:
        cropper = _Cropper(src_path, out_path, {**settings, "on_multiple": on_multiple}, detector, history, journal)
        for entry in layout.unreadable:
            rows.append(cropper.unreadable(entry))
        for group, files in layout.groups.items():
            for source in files:
                row = cropper.photo(group, source)
                rows.append(row)
                per_class[group] += row.status != "unreadable" and row.output.rsplit("/", 1)[0] == group
                bar.step()
        finished = True
    finally:
        bar.close()
        journal.close()
        _finish_report(report_path, journal_path, [*history.unmatched(), *rows], finished)
    return CropReport(
        src=src_path,
        out=out_path,
        layout=layout.layout,
        roi=roi,
        size=size,
        grayscale=grayscale,
        rows=rows,
        per_class=per_class,
        ignored=layout.ignored,
        seconds=time.monotonic() - start,
        report_path=report_path,
        on_multiple=on_multiple,
    )


def _finish_report(report_path: Path, journal_path: Path, rows: list[CropRow], finished: bool) -> None:
    """Writes the report and, once it is safely written, drops the journal. After a failure the
    report is written when it can be; the journal stays either way until a report holds it all."""
    try:
        _write_rows(report_path, rows)
    except OSError:
        if finished:
            raise
        return  # the run's own error is the one to show; the journal keeps every row
    journal_path.unlink(missing_ok=True)
