"""Photos → faces → probabilities, for ``kerfer predict``. Bad files are reported, not fatal.

Every input is listed first (:func:`scan_inputs`), so that nothing is written over one of them
and a folder entry that cannot be read is reported in its place; then each photo is read,
classified and (optionally) written annotated, one failure never stopping the others.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2

from kerfer.errors import ImageReadError
from kerfer.options import OVERLAY
from kerfer.paths import FileSet, shown
from kerfer.runtime.images import read_image, write_image
from kerfer.runtime.overlay import check_style, draw_face
from kerfer.runtime.pipeline import Face, FacePipeline
from kerfer.runtime.scan import scan, skipped_note

PER_IMAGE_ERRORS = (ImageReadError, cv2.error, OSError, ValueError, MemoryError)
"""What one photo may raise without stopping the others: unreadable, undecodable, too large, unwritable."""


@dataclasses.dataclass(frozen=True)
class ImageResult:
    """One photo's faces (or the error that stopped it), and where its annotated copy went."""

    path: str
    faces: list[Face]
    error: str | None = None
    annotated: str | None = None

    def to_dict(self, class_names: Sequence[str]) -> dict:
        """The ``predict --json`` record: file, error, each face's box, label and probabilities."""
        record = {
            "file": self.path,
            "error": self.error,
            "faces": [
                {
                    "box": list(f.box),
                    "label": f.label(class_names),
                    "probs": {n: round(float(p), 4) for n, p in zip(class_names, f.probs)},
                }
                for f in self.faces
            ],
        }
        if self.annotated:
            record["annotated"] = self.annotated
        return record

    def lines(self, class_names: Sequence[str]) -> list[str]:
        """``predict``'s text: one line per face (its top class, then the next two), or one saying
        there is none; the path shown safely, so a newline in a file name cannot split a line."""
        path = shown(self.path)
        if self.error:
            return [f"{path}: ERROR {self.error}"]
        if not self.faces:
            return [f"{path}: no face found"]
        out = []
        for i, f in enumerate(self.faces):
            top = sorted(zip(class_names, f.probs), key=lambda t: -t[1])[:3]
            rest = "  ".join(f"{n} {p:.0%}" for n, p in top[1:])
            x, y, w, h = f.box
            out.append(f"{path}: face {i + 1} at ({x},{y},{w}x{h}): {top[0][0]} {top[0][1]:.0%}   ({rest})")
        return out


@dataclasses.dataclass(frozen=True)
class Inputs:
    """What :func:`scan_inputs` found: ``items`` in order, each ``(path, problem)`` (``problem``
    is None for a photo to read); ``notes`` per folder (other file types it holds)."""

    items: list[tuple[Path, str | None]]
    notes: list[tuple[Path, str]]

    @property
    def files(self) -> list[Path]:
        return [p for p, problem in self.items if problem is None]


def scan_inputs(paths: Iterable[str | os.PathLike]) -> Inputs:
    """Files as given; folders → their images (recursively, sorted), their unreadable entries in
    place, and a note of what else they hold. A folder with no image at all is one problem item."""
    items: list[tuple[Path, str | None]] = []
    notes: list[tuple[Path, str]] = []
    for given in map(Path, paths):
        if not given.is_dir():
            items.append((given, None))
            continue
        found = scan(given)
        note = skipped_note(found)
        if not found.images and not found.unreadable:
            items.append((given, f"no supported images in this folder: {note or 'it is empty'}"))
            continue
        if note:
            notes.append((given, note))
        entries = [(p, None) for p in found.images] + [(u.path, u.problem) for u in found.unreadable]
        items.extend(sorted(entries, key=lambda item: item[0]))
    return Inputs(items, notes)


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given; directories → their image files (recursively, sorted)."""
    return scan_inputs(paths).files


def annotated_path(out_dir: Path, path: Path, used: set[str], inputs: FileSet) -> Path:
    """``out_dir/<stem>_kerfer.jpg``, numbered when another image of this run already took the
    name (``a/face.jpg``, ``a/face.png`` and ``b/face.jpg`` give three files, not one) or when the
    name is one of this run's inputs (``--save-annotated`` into the photos' own folder)."""
    name, n = f"{path.stem}_kerfer.jpg", 1
    while name.lower() in used or (out_dir / name) in inputs:
        n += 1
        name = f"{path.stem}_{n}_kerfer.jpg"
    used.add(name.lower())
    return out_dir / name


def predict_images(
    paths: Iterable[str | os.PathLike] | Inputs,
    pipeline: FacePipeline,
    save_annotated: str | os.PathLike | None = None,
    overlay: str = OVERLAY,
) -> Iterator[ImageResult]:
    """One result per image, in order; an unreadable file or folder entry, or an annotated copy
    that cannot be written, yields a result with ``error`` set; so does a folder without a
    single supported image. No annotated copy is ever written over an input (a photo, the model).

    ``overlay``: how the annotated copies show each face (``overlay.OVERLAY_STYLES``: probability
    bars, the label only, or an emoji)."""
    check_style(overlay)  # before the first image, not at the first face
    inputs = paths if isinstance(paths, Inputs) else scan_inputs(paths)
    out_dir = Path(save_annotated) if save_annotated else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    protected = FileSet([*inputs.files, *_model_files(pipeline)])
    used: set[str] = set()
    for path, problem in inputs.items:
        if problem is not None:
            yield ImageResult(str(path), [], error=problem)
            continue
        yield _predict_one(path, pipeline, out_dir, used, protected, overlay)


def _model_files(pipeline: FacePipeline) -> list[Path]:
    from kerfer.modelio import contract_path_for

    path = getattr(getattr(pipeline, "classifier", None), "path", None)
    return [path, contract_path_for(path)] if path is not None else []


def _predict_one(
    path: Path, pipeline: FacePipeline, out_dir: Path | None, used: set[str], protected: FileSet, overlay: str
) -> ImageResult:
    try:
        image = read_image(path)
        faces = pipeline(image)
    except PER_IMAGE_ERRORS as e:
        return ImageResult(str(path), [], error=_one_line(e, path))
    if not out_dir:
        return ImageResult(str(path), faces)
    for f in faces:
        draw_face(image, f.box, f.probs, pipeline.class_names, style=overlay)
    target = annotated_path(out_dir, path, used, protected)
    try:
        write_image(target, image)
    except (OSError, cv2.error) as e:
        problem = getattr(e, "strerror", None) or str(e).strip().splitlines()[-1]
        return ImageResult(str(path), faces, error=f"cannot write the annotated image {shown(target)} ({problem})")
    return ImageResult(str(path), faces, annotated=str(target))


def _one_line(error: BaseException, path: Path) -> str:
    """The error of one photo in one line, naming the file once."""
    if isinstance(error, ImageReadError):
        return str(error)
    if isinstance(error, MemoryError):
        return f"{shown(path)}: too large for the memory available"
    text = (getattr(error, "strerror", None) or str(error)).strip().splitlines()
    return f"{shown(path)}: {text[-1] if text else type(error).__name__}"
