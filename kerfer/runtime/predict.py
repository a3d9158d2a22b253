"""Photos → faces → probabilities, for ``kerfer predict``. Bad files are reported, not fatal."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2

from kerfer.runtime.images import ImageReadError, read_image
from kerfer.runtime.overlay import check_style, draw_face
from kerfer.runtime.pipeline import Face, FacePipeline

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}


@dataclasses.dataclass(frozen=True)
class ImageResult:
    path: str
    faces: list[Face]
    error: str | None = None
    annotated: str | None = None


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given; directories → their image files (recursively, sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file()))
        else:
            out.append(p)
    return out


def skipped_note(folder: Path) -> str | None:
    """What a folder holds that ``predict`` does not read (unsupported types), or None."""
    skipped = sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() not in IMAGE_EXTENSIONS)
    if not skipped:
        return None
    kinds = sorted({f.suffix.lower() or "(no extension)" for f in skipped})
    shown = ", ".join(f.name for f in skipped[:3]) + (", ..." if len(skipped) > 3 else "")
    return (
        f"skipped {len(skipped)} file(s) of unsupported type {', '.join(kinds)} ({shown}); "
        f"supported: {', '.join(sorted(IMAGE_EXTENSIONS))} (convert HEIC photos to JPEG first)"
    )


def annotated_name(path: Path, used: set[str]) -> str:
    """``<stem>_kerfer.jpg``, numbered when another image of this run already took the name
    (``a/face.jpg``, ``a/face.png`` and ``b/face.jpg`` give three files, not one)."""
    name, n = f"{path.stem}_kerfer.jpg", 1
    while name.lower() in used:
        n += 1
        name = f"{path.stem}_{n}_kerfer.jpg"
    used.add(name.lower())
    return name


def predict_images(
    paths: Iterable[str | os.PathLike],
    pipeline: FacePipeline,
    save_annotated: str | os.PathLike | None = None,
    overlay: str = "bars",
) -> Iterator[ImageResult]:
    """One result per image, in order; an unreadable file, or an annotated copy that cannot be
    written, yields a result with ``error`` set; so does a folder without a single supported image.

    ``overlay``: how the annotated copies show each face (``overlay.OVERLAY_STYLES``: probability
    bars, the label only, or an emoji)."""
    check_style(overlay)  # before the first image, not at the first face
    out_dir = Path(save_annotated) if save_annotated else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for given in map(Path, paths):
        if given.is_dir() and not expand_paths([given]):
            note = skipped_note(given) or "it is empty"
            yield ImageResult(str(given), [], error=f"no supported images in this folder: {note}")
            continue
        yield from _predict_files(expand_paths([given]), pipeline, out_dir, used, overlay)


def _predict_files(
    files: list[Path], pipeline: FacePipeline, out_dir: Path | None, used: set[str], overlay: str = "bars"
):
    for path in files:
        try:
            image = read_image(path)
        except ImageReadError as e:
            yield ImageResult(str(path), [], error=str(e))
            continue
        faces = pipeline(image)
        annotated = None
        if out_dir:
            for f in faces:
                draw_face(image, f.box, f.probs, pipeline.class_names, style=overlay)
            annotated = str(out_dir / annotated_name(path, used))
            try:
                ok = cv2.imwrite(annotated, image)
            except cv2.error:
                ok = False
            if not ok:
                yield ImageResult(str(path), faces, error=f"cannot write the annotated image {annotated}")
                continue
        yield ImageResult(str(path), faces, annotated=annotated)
