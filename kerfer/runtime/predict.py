"""Photos → faces → probabilities, for ``kerfer predict``. Bad files are reported, not fatal."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2

from kerfer.runtime.images import ImageReadError, read_image
from kerfer.runtime.overlay import draw_face
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


def predict_images(
    paths: Iterable[str | os.PathLike], pipeline: FacePipeline, save_annotated: str | os.PathLike | None = None
) -> Iterator[ImageResult]:
    """One result per image, in order; an unreadable file yields a result with ``error`` set."""
    out_dir = Path(save_annotated) if save_annotated else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    for path in expand_paths(paths):
        try:
            image = read_image(path)
        except ImageReadError as e:
            yield ImageResult(str(path), [], error=str(e))
            continue
        faces = pipeline(image)
        annotated = None
        if out_dir:
            for f in faces:
                draw_face(image, f.box, f.probs, pipeline.class_names)
            annotated = str(out_dir / f"{path.stem}_kerfer.jpg")
            cv2.imwrite(annotated, image)
        yield ImageResult(str(path), faces, annotated=annotated)
