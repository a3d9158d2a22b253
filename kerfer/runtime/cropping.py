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
images, and :mod:`kerfer.data.folders` counts a folder as a class only when images lie
directly inside it.

OpenCV and NumPy only (no TensorFlow): the crops match what ``kerfer predict`` and ``kerfer
live`` feed a model (same margin, same alignment rule), so a model trained on them sees at run
time what it learnt from.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from kerfer.errors import DataError
from kerfer.runtime.detect import Detection, FaceDetector, crop_faces, find_faces
from kerfer.runtime.images import ImageReadError, read_image
from kerfer.runtime.pipeline import level_angle
from kerfer.runtime.predict import IMAGE_EXTENSIONS

ROIS = ("face", "mouth", "eyes")
FACE_MARGIN = 0.1
"""Padding around the face box, a fraction of its side each way: ``kerfer predict``'s default."""
MOUTH_SIDE = 0.6
"""Side of the mouth square, a fraction of the face width."""
EYES_SIDE = 0.9
"""Side of the eyes square, a fraction of the face width (both eyes, brows and the top of the nose)."""
MOUTH_DOWN = 0.25
"""Without a mouth keypoint (Haar): the mouth lies this fraction of the box height below the box
centre (0.75 of the way down the box), along the face's own vertical axis."""
EYES_UP = 0.12
"""Without eye keypoints (Haar): the eyes lie this fraction of the box height above the box centre."""

REJECTED = "_rejected"
REPORT = "crop_report.csv"
SETTINGS = "crop_settings.json"
STATUSES = ("cropped", "no_face", "multiple_faces", "unreadable")
REPORT_FIELDS = ("source", "status", "faces", "output", "note")
ON_MULTIPLE = ("skip", "largest")


# --------------------------------------------------------------------------- regions of interest


def _down_axis(det: Detection) -> np.ndarray:
    """The unit vector from the face's forehead to its chin, in frame pixels (y down): the box's
    vertical turned by the face's roll, so a region placed along it follows a tilted head."""
    roll = np.radians(det.roll_degrees())
    return np.array([-np.sin(roll), np.cos(roll)])


def _mouth_point(det: Detection) -> np.ndarray | None:
    mouth = det.point("mouth")
    if mouth is not None:
        return np.asarray(mouth, np.float64)
    corners = det.point("mouth_left"), det.point("mouth_right")  # YuNet gives the two corners
    if corners[0] is not None and corners[1] is not None:
        return (np.asarray(corners[0], np.float64) + np.asarray(corners[1], np.float64)) / 2
    return None


def roi_box(det: Detection, roi: str, margin: float = FACE_MARGIN) -> tuple[float, float, float]:
    """The square region of interest of one face: ``(cx, cy, side)`` in frame pixels, before any
    rotation (the crop is turned about ``(cx, cy)`` by :func:`roi_angle`).

    - ``face``: the detection box squared on its longest side and padded by ``margin`` each way,
      exactly the crop ``kerfer predict`` classifies;
    - ``mouth``: a square of :data:`MOUTH_SIDE` x the face width, centred on the mouth keypoint
      (BlazeFace's mouth centre, YuNet's two corners averaged), else 0.75 of the way down the box;
    - ``eyes``: a square of :data:`EYES_SIDE` x the face width, centred between the two eyes, else
      a little above the box centre. Square rather than a wide strip: ``kerfer train`` reads square
      images and would squash a wide one.

    Without keypoints (Haar) the fallback positions are measured along the face's vertical axis
    turned by its roll, which is 0 without eyes; with keypoints the regions follow the face anyway.
    """
    if roi not in ROIS:
        raise ValueError(f"roi={roi!r}: expected one of {', '.join(ROIS)}")
    x, y, w, h = (float(v) for v in det.box)
    centre = np.array([x + w / 2, y + h / 2])
    if roi == "face":
        return float(centre[0]), float(centre[1]), max(w, h) * (1 + 2 * margin)
    if roi == "mouth":
        point = _mouth_point(det)
        if point is None:
            point = centre + MOUTH_DOWN * h * _down_axis(det)
        return float(point[0]), float(point[1]), MOUTH_SIDE * w
    eyes = det.eyes()
    if eyes is not None:
        point = (np.asarray(eyes[0], np.float64) + np.asarray(eyes[1], np.float64)) / 2
    else:
        point = centre - EYES_UP * h * _down_axis(det)
    return float(point[0]), float(point[1]), EYES_SIDE * w


def roi_angle(det: Detection, align: bool = True) -> float:
    """The rotation (degrees) that turns the crop upright: :func:`~kerfer.runtime.pipeline.level_angle`,
    the rule ``kerfer predict`` applies; 0 without eyes (the roll is then 0) or ``align``."""
    return level_angle(det.roll_degrees()) if align else 0.0


def crop_roi(
    frame: np.ndarray,
    det: Detection,
    roi: str = "face",
    size: int = 48,
    channels: int = 1,
    align: bool = True,
    margin: float = FACE_MARGIN,
) -> np.ndarray:
    """One face's region of interest, upright, as uint8 ``(size, size, channels)`` (RGB for 3)."""
    cx, cy, side = roi_box(det, roi, margin)
    side = max(side, 1.0)
    box = (cx - side / 2, cy - side / 2, side, side)
    crops = crop_faces(frame, [box], size=size, margin=0.0, channels=channels, angles=[roi_angle(det, align)])
    return crops[0]


# --------------------------------------------------------------------------- the source folders


def _visible(p: Path) -> bool:
    return not p.name.startswith((".", "_"))


def _is_image(p: Path) -> bool:
    return p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()


def _images(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if _is_image(f))


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and _visible(p) and _images(p))


@dataclasses.dataclass(frozen=True)
class SourceLayout:
    """What :func:`find_sources` found: ``layout`` is ``"classes"`` (``SRC/<class>/img``) or
    ``"splits"`` (``SRC/<split>/<class>/img``); ``groups`` maps each class folder, relative to SRC
    (``happy`` or ``train/happy``), to its images; ``ignored`` lists the files not read."""

    layout: str
    groups: dict[str, list[Path]]
    ignored: list[Path]


def find_sources(src: str | os.PathLike) -> SourceLayout:
    """The class folders of ``src`` and their images (only the images directly inside a class
    folder, as ``kerfer train`` reads them; folders named ``.*`` or ``_*`` are skipped).

    Raises ``FileNotFoundError`` for a missing ``src`` and ``DataError`` for images lying directly
    in it, for a folder holding both images and class folders, for mixed layouts and for no images.
    """
    src = Path(src)
    if not src.exists():
        raise FileNotFoundError(f"{src}: no such folder")
    if not src.is_dir():
        raise DataError(f"{src}: not a folder (expected {src}/<class>/*.jpg or {src}/<split>/<class>/*.jpg)")
    loose = _images(src)
    if loose:
        shown = ", ".join(f.name for f in loose[:3]) + (", ..." if len(loose) > 3 else "")
        raise DataError(
            f"{src}: {len(loose)} image(s) directly in this folder ({shown}): put them in class folders, "
            f"{src}/<class>/*.jpg (or {src}/<split>/<class>/*.jpg); the folder names are the labels"
        )
    classes, splits = [], []
    for top in sorted(p for p in src.iterdir() if p.is_dir() and _visible(p)):
        direct, subs = _images(top), _class_dirs(top)
        if direct and subs:
            raise DataError(
                f"{top}: holds images and class folders with images ({', '.join(s.name for s in subs[:3])}); "
                "a folder is either a class (images inside) or a split (class folders inside)"
            )
        if direct:
            classes.append(top)
        elif subs:
            splits.append(top)
    if classes and splits:
        raise DataError(
            f"{src}: mixes class folders ({', '.join(p.name for p in classes[:3])}) with split folders "
            f"({', '.join(p.name for p in splits[:3])}); use {src}/<class>/*.jpg or {src}/<split>/<class>/*.jpg"
        )
    if not classes and not splits:
        raise DataError(
            f"{src}: no class folders with images inside (expected {src}/<class>/*.jpg or "
            f"{src}/<split>/<class>/*.jpg; image types {', '.join(sorted(IMAGE_EXTENSIONS))})"
        )
    groups: dict[str, list[Path]] = {}
    if classes:
        for c in classes:
            groups[c.name] = _images(c)
    else:
        for s in splits:
            for c in _class_dirs(s):
                groups[f"{s.name}/{c.name}"] = _images(c)
    read = {f for files in groups.values() for f in files}
    ignored = sorted(
        f
        for f in src.rglob("*")
        if f.is_file() and f not in read and all(_visible(Path(part)) for part in f.relative_to(src).parts[:-1])
    )
    return SourceLayout("classes" if classes else "splits", groups, ignored)


# --------------------------------------------------------------------------- the report


@dataclasses.dataclass(frozen=True)
class CropRow:
    """One source photo: ``status`` is one of :data:`STATUSES`; ``output`` (relative to OUT) is the
    crop, or the copy under ``_rejected``; ``note`` says why (the read error, "kept the largest")."""

    source: str
    status: str
    faces: int
    output: str
    note: str = ""


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
        return f"{line} --epochs 30 --out {run}"


def _read_rows(path: Path) -> list[CropRow]:
    if not path.is_file():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not set(REPORT_FIELDS[:4]) <= set(reader.fieldnames):
                raise DataError(f"{path}: not a kerfer crop report (columns {', '.join(REPORT_FIELDS)})")
            return [
                CropRow(r["source"], r["status"], int(r["faces"] or 0), r["output"], r.get("note") or "")
                for r in reader
            ]
    except (ValueError, KeyError) as e:
        raise DataError(f"{path}: unreadable crop report ({e}); move it away to start afresh") from e


def _write_rows(path: Path, rows: Iterable[CropRow]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(REPORT_FIELDS)
        for r in rows:
            w.writerow([r.source, r.status, r.faces, r.output, r.note])
    os.replace(tmp, path)


def _check_settings(out: Path, settings: dict) -> None:
    """OUT keeps the settings of its first run: crops of another ROI, size or colour would mix into
    the same class folders unnoticed."""
    path = out / SETTINGS
    if path.is_file():
        try:
            before = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            before = None
        if isinstance(before, dict):
            differ = [k for k in settings if k in before and before[k] != settings[k]]
            if differ:
                was = ", ".join(f"{k}={before[k]!r}" for k in differ)
                now = ", ".join(f"{k}={settings[k]!r}" for k in differ)
                raise DataError(
                    f"{out}: holds crops made with {was}, not {now}: choose another OUT folder (or delete this one)"
                )
    path.write_text(json.dumps(settings, indent=2) + "\n")


# --------------------------------------------------------------------------- progress


class _Progress:
    """A one-line stderr bar (percentage, count, images/s), shown only on a terminal."""

    def __init__(self, total: int, enabled: bool, stream=None):
        self.stream = stream or sys.stderr
        self.total, self.done, self.start, self.last = total, 0, time.monotonic(), 0.0
        self.enabled = enabled and total > 0 and getattr(self.stream, "isatty", lambda: False)()

    def step(self) -> None:
        self.done += 1
        now = time.monotonic()
        if self.enabled and (now - self.last >= 0.1 or self.done == self.total):
            self.last = now
            frac = self.done / self.total
            rate = self.done / max(now - self.start, 1e-6)
            bar = "#" * int(frac * 30)
            self.stream.write(f"\rcrop [{bar:<30}] {frac:4.0%} {self.done}/{self.total} {rate:.1f} img/s")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            self.stream.write("\n")
            self.stream.flush()


# --------------------------------------------------------------------------- the driver


def _inside(a: Path, b: Path) -> bool:
    """Whether ``a`` is ``b`` or lies under it."""
    return a == b or b in a.parents


class _Names:
    """Output names that never take a file this run did not write for the same source: existing
    files, names given earlier in this run and names of earlier runs' reports are all taken."""

    def __init__(self, out: Path, old: dict[str, CropRow]):
        self.out = out
        self.taken: dict[Path, set[str]] = {}
        self.reserved = {r.output.lower() for r in old.values() if r.output}

    def _taken(self, folder: Path) -> set[str]:
        if folder not in self.taken:
            self.taken[folder] = {p.name.lower() for p in folder.iterdir()} if folder.is_dir() else set()
        return self.taken[folder]

    def claim(self, rel: str) -> None:
        folder, name = (self.out / rel).parent, (self.out / rel).name
        self._taken(folder).add(name.lower())

    def new(self, rel_dir: str, stem: str, suffix: str) -> str:
        folder = self.out / rel_dir
        taken = self._taken(folder)
        name, n = f"{stem}{suffix}", 1
        while name.lower() in taken or f"{rel_dir}/{name}".lower() in self.reserved:
            n += 1
            name = f"{stem}_{n}{suffix}"
        taken.add(name.lower())
        return f"{rel_dir}/{name}"


def _write_png(path: Path, crop: np.ndarray, channels: int) -> None:
    img = crop[..., 0] if channels == 1 else cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".png", img)
    if not ok:
        raise OSError(f"cannot encode the crop for {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.tobytes())  # not cv2.imwrite: it fails on non-ASCII paths on Windows


def _copy(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() or dest.is_symlink():
        dest.unlink()  # a read-only copy from an earlier run must not block this one
    shutil.copyfile(source, dest)  # the bytes, not the mode: read-only photos give writable copies


def _area(d: Detection) -> int:
    return int(d.box[2]) * int(d.box[3])


def crop_dataset(
    src: str | os.PathLike,
    out: str | os.PathLike,
    roi: str = "face",
    size: int = 48,
    grayscale: bool = True,
    detector: FaceDetector | None = None,
    progress: bool = True,
    on_multiple: str = "skip",
    align: bool = True,
    margin: float = FACE_MARGIN,
) -> CropReport:
    """Crops every photo of ``src`` into ``out`` (see the module docstring for the layout).

    ``detector`` defaults to BlazeFace. A photo with several faces is rejected
    (``on_multiple="skip"``) or gives its largest face (``"largest"``; still reported as
    ``multiple_faces``). Crops are PNG, ``size`` x ``size``, grayscale or colour.

    Re-running into the same ``out`` is safe: each source keeps its earlier output name (a changed
    outcome replaces its own earlier file), new sources get new names (``<stem>_2.png``) and no
    file of another source, or not written by ``kerfer crop``, is overwritten. Rows of sources
    not seen in this run (another SRC cropped into the same OUT) are kept in the report. ``out``
    remembers the ROI, size, colour, margin and alignment of its first run and refuses others.
    """
    if roi not in ROIS:
        raise ValueError(f"roi={roi!r}: expected one of {', '.join(ROIS)}")
    if on_multiple not in ON_MULTIPLE:
        raise ValueError(f"on_multiple={on_multiple!r}: expected one of {', '.join(ON_MULTIPLE)}")
    if not 8 <= int(size) <= 4096:
        raise ValueError(f"size={size!r}: must be between 8 and 4096 pixels")
    if not 0.0 <= margin <= 2.0:
        raise ValueError(f"margin={margin!r}: must be between 0 and 2")
    src_path, out_path = Path(src), Path(out)
    layout = find_sources(src_path)
    src_abs, out_abs = src_path.resolve(), out_path.resolve()
    if _inside(out_abs, src_abs):
        raise DataError(f"{out_path}: the output folder is inside the source folder {src_path}: choose one outside it")
    if _inside(src_abs, out_abs):
        raise DataError(f"{out_path}: the output folder contains the source folder {src_path}: choose another one")
    if out_path.exists() and not out_path.is_dir():
        raise DataError(f"{out_path}: exists and is not a folder")
    out_path.mkdir(parents=True, exist_ok=True)
    channels = 1 if grayscale else 3
    _check_settings(
        out_path,
        {"roi": roi, "size": int(size), "color": "grayscale" if grayscale else "rgb", "margin": margin, "align": align},
    )
    if detector is None:
        from kerfer.runtime.pipeline import default_detector

        detector = default_detector()

    report_path = out_path / REPORT
    old = {r.source: r for r in _read_rows(report_path)}
    names = _Names(out_path, old)
    rows: dict[str, CropRow] = {}
    per_class = {group: 0 for group in layout.groups}
    total = sum(len(files) for files in layout.groups.values())
    bar = _Progress(total, progress)
    start = time.monotonic()

    def place(key: str, rel_dir: str, source: Path, suffix: str) -> str:
        """The output path (relative to OUT) for ``source``: its earlier one if in the same folder."""
        before = old.get(key)
        if before and before.output and before.output.rsplit("/", 1)[0] == rel_dir:
            names.claim(before.output)
            return before.output
        return names.new(rel_dir, source.stem, suffix)

    def drop_stale(key: str, output: str) -> None:
        before = old.get(key)
        if before and before.output and before.output != output:
            stale = out_path / before.output
            if stale.is_file():
                stale.unlink()

    try:
        for group, files in layout.groups.items():
            for source in files:
                key = os.path.abspath(source)  # not resolve(): two links to one photo are two sources
                rel = source.relative_to(src_path).as_posix()
                try:
                    frame = read_image(source)
                except ImageReadError as e:
                    status, faces, note = "unreadable", 0, str(e).split(": ", 1)[-1]
                    chosen = None
                else:
                    dets = find_faces(detector, frame)
                    faces, note = len(dets), ""
                    status = "cropped" if faces == 1 else "no_face" if faces == 0 else "multiple_faces"
                    chosen = dets[0] if faces == 1 else None
                    if faces > 1 and on_multiple == "largest":
                        chosen = max(dets, key=_area)
                        note = f"kept the largest of {faces} faces"
                if chosen is not None:
                    output = place(key, group, source, ".png")
                    _write_png(out_path / output, crop_roi(frame, chosen, roi, size, channels, align, margin), channels)
                    per_class[group] += 1
                else:
                    rel_dir = "/".join([REJECTED, status, *rel.split("/")[:-1]])
                    output = place(key, rel_dir, source, source.suffix)
                    _copy(source, out_path / output)
                drop_stale(key, output)
                rows[key] = CropRow(key, status, faces, output, note)
                bar.step()
    finally:
        bar.close()
        kept = [r for k, r in old.items() if k not in rows]  # other sources' rows (another SRC)
        _write_rows(report_path, [*kept, *rows.values()])
    return CropReport(
        src=src_path,
        out=out_path,
        layout=layout.layout,
        roi=roi,
        size=int(size),
        grayscale=grayscale,
        rows=list(rows.values()),
        per_class=per_class,
        ignored=layout.ignored,
        seconds=time.monotonic() - start,
        report_path=report_path,
    )
