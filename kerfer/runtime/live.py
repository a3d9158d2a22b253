"""The live loop: frames → faces → smoothed labels → window, video file and/or result log."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from kerfer.options import DETECT_EVERY, MIN_FRAMES, SMOOTH
from kerfer.paths import native_path, refuse_overwriting_inputs, shown
from kerfer.runtime.overlay import check_style, draw_face, draw_fps
from kerfer.runtime.pipeline import FacePipeline
from kerfer.runtime.track import Smoother


@dataclasses.dataclass
class LiveSummary:
    frames: int = 0
    failed_frames: int = 0
    faces: int = 0
    seconds: float = 0.0
    labels: Counter = dataclasses.field(default_factory=Counter)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        return {
            "frames": self.frames,
            "failed_frames": self.failed_frames,
            "faces": self.faces,
            "faces_per_frame": self.faces / self.frames if self.frames else 0.0,
            "seconds": round(self.seconds, 3),
            "fps": round(self.fps, 2),
            "labels": dict(self.labels.most_common()),
        }


class _ResultWriter:
    """Per-frame results as JSON lines (``.jsonl``/``.json``) or CSV (``.csv``), one row per face."""

    def __init__(self, path: str | os.PathLike, class_names):
        self.path = Path(path)
        self.class_names = list(class_names)
        self.f = open(self.path, "w", newline="")
        self.csv = self.path.suffix.lower() == ".csv"
        if self.csv:
            self.w = csv.writer(self.f)
            self.w.writerow(["frame", "time_s", "track", "x", "y", "w", "h", "label", *self.class_names, "wall_s"])

    def write(self, frame_idx: int, t: float, faces, wall: float | None = None) -> None:
        """``t``: the frame's time in the video (or since the start, for a camera); ``wall``: seconds
        since processing started."""
        wall = t if wall is None else wall
        if self.csv:
            for tid, box, probs in faces:
                label = self.class_names[int(np.argmax(probs))]
                row = [frame_idx, f"{t:.3f}", tid, *box, label, *(f"{p:.4f}" for p in probs), f"{wall:.3f}"]
                self.w.writerow(row)
            return
        rec = {
            "frame": frame_idx,
            "time_s": round(t, 3),
            "wall_s": round(wall, 3),
            "faces": [
                {
                    "track": tid,
                    "box": list(box),
                    "label": self.class_names[int(np.argmax(p))],
                    "probs": {n: round(float(v), 4) for n, v in zip(self.class_names, p)},
                }
                for tid, box, p in faces
            ],
        }
        self.f.write(json.dumps(rec) + "\n")

    def close(self) -> None:
        self.f.close()


def _frame_time(frames, summary: LiveSummary, fps: float | None, wall: float) -> float:
    """The frame's media time: the source's own timestamp (a video file), else its index over the
    video's fps, else (a camera) the wall-clock time since the start."""
    media = getattr(frames, "time_s", None)
    if media is not None:
        return float(media)
    if fps:
        return (summary.frames + summary.failed_frames - 1) / fps
    return wall


def check_live_options(smooth: int, detect_every: int, max_frames: int | None) -> None:
    """Refuses counts that mean nothing (0 or less): they used to be clamped to 1 in silence."""
    for name, value in (("smooth", smooth), ("detect_every", detect_every), ("max_frames", max_frames)):
        if value is None and name == "max_frames":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < MIN_FRAMES:
            raise ValueError(f"{name}={value!r}: must be an integer >= {MIN_FRAMES}")


def check_outputs(frames, pipeline: FacePipeline, output, save_video) -> None:
    """Before anything is opened for writing: no output may be the video read, the model, or the
    other output; the video's name must be one OpenCV can take."""
    from kerfer.modelio import contract_path_for

    model = getattr(getattr(pipeline, "classifier", None), "path", None)
    inputs = {
        "the video read (--source)": getattr(frames, "path", None),
        "the model (--model)": model,
        "the model's labels file": contract_path_for(model) if model is not None else None,
    }
    refuse_overwriting_inputs({"the results log (--output)": output, "the video (--save-video)": save_video}, inputs)
    if save_video is not None:
        native_path(save_video, "video")


def run_live(
    frames: Iterable[np.ndarray | None],
    pipeline: FacePipeline,
    *,
    smooth: int = SMOOTH,
    detect_every: int = DETECT_EVERY,
    mirror: bool = False,
    show: bool = True,
    output: str | os.PathLike | None = None,
    save_video: str | os.PathLike | None = None,
    video_fps: float | None = None,
    max_frames: int | None = None,
    draw: bool | None = None,
    overlay: str = "bars",
) -> LiveSummary:
    """Runs the loop until the frames end, ``max_frames``, or q/Esc in the window.

    Faces are detected every ``detect_every`` frames (boxes carried in between) and
    classified every frame in one batch; each face's probabilities are averaged over its
    last ``smooth`` frames. ``None`` frames (decode failures) are counted and skipped, and so
    are the frames a source says it had but never gave (``frames.lost``, a video cut short).
    ``overlay`` is how each face is drawn (``overlay.OVERLAY_STYLES``: probability bars, the
    label only, or an emoji). Nothing is written over an input (the video, the model).
    """
    check_style(overlay)  # before the first frame, not at the first face
    check_live_options(smooth, detect_every, max_frames)
    check_outputs(frames, pipeline, output, save_video)
    smoother = Smoother(window=smooth)
    names = pipeline.class_names
    writer = _ResultWriter(output, names) if output else None
    video = None
    draw = (show or save_video is not None) if draw is None else draw
    summary = LiveSummary()
    found: list = []
    start = time.perf_counter()
    fps_ema = 0.0
    last = start
    try:
        for frame in frames:
            if frame is None:
                summary.failed_frames += 1
                continue
            if mirror:
                frame = cv2.flip(frame, 1)
            i = summary.frames
            if i % detect_every == 0:
                found = pipeline.detect(frame)
            faces = pipeline.classify(frame, found)
            tracked = smoother.update(
                [f.box for f in faces], np.stack([f.probs for f in faces]) if faces else np.zeros((0, len(names)))
            )
            results = [(tid, f.box, p) for (tid, p), f in zip(tracked, faces)]
            summary.frames += 1
            summary.faces += len(results)
            summary.labels.update(names[int(np.argmax(p))] for _, _, p in results)
            now = time.perf_counter()
            dt = now - last
            last = now
            fps_ema = (0.9 * fps_ema + 0.1 / dt) if fps_ema and dt > 0 else (1 / dt if dt > 0 else 0.0)
            if writer:
                writer.write(i, _frame_time(frames, summary, video_fps, now - start), results, now - start)
            if draw:
                for _, box, p in results:
                    draw_face(frame, box, p, names, style=overlay)
                draw_fps(frame, fps_ema)
            if save_video is not None:
                if video is None:
                    h, w = frame.shape[:2]
                    video = cv2.VideoWriter(str(save_video), cv2.VideoWriter_fourcc(*"mp4v"), video_fps or 25.0, (w, h))
                    if not video.isOpened():
                        raise RuntimeError(f"{shown(save_video)}: cannot write video")
                video.write(frame)
            if show:
                cv2.imshow("kerfer live (q or Esc quits)", frame)
                if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                    break
            if max_frames is not None and summary.frames >= max_frames:
                break
        else:  # the source ended by itself: frames it promised but never gave are lost
            summary.failed_frames += int(getattr(frames, "lost", 0) or 0)
    finally:
        summary.seconds = time.perf_counter() - start
        if writer:
            writer.close()
        if video is not None:
            video.release()
        if show:
            cv2.destroyAllWindows()
    return summary
