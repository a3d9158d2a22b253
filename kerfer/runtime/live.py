"""The live loop: frames → faces → smoothed labels → window, video file and/or result log."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np

from kerfer.options import DETECT_EVERY, MIN_FRAMES, OVERLAY, SMOOTH
from kerfer.paths import native_path, refuse_overwriting_inputs, shown
from kerfer.progress import Progress
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
    captured: int | None = None
    """Frames the source gave (a camera, stream or ``--realtime`` file: read in a capture thread);
    None for a file read frame by frame (every frame is processed)."""
    dropped: int = 0
    """Frames that arrived while the loop was busy and were replaced by a newer one before it took them."""
    reconnects: int = 0
    latencies_ms: list[float] = dataclasses.field(default_factory=list)
    """Per processed frame: capture → result (ms)."""
    ended: str | None = None
    """Why the source stopped early (a camera unplugged), one sentence; None when it ended by itself."""
    frame_size: tuple[int, int] | None = None
    """(width, height) of the first frame: what the camera actually gives."""

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
            "captured": self.frames if self.captured is None else self.captured,
            "dropped": self.dropped,
            "drop_rate": round(self.dropped / self.captured, 4) if self.captured else 0.0,
            "reconnects": self.reconnects,
            "latency_ms_median": round(float(np.median(self.latencies_ms)), 2) if self.latencies_ms else None,
            "latency_ms_p95": round(float(np.percentile(self.latencies_ms, 95)), 2) if self.latencies_ms else None,
            "ended": self.ended,
            "frame_size": list(self.frame_size) if self.frame_size else None,
        }

    def lines(self, name: str) -> list[str]:
        """``kerfer live``'s summary of source ``name``: frames and faces, what was captured and
        dropped with the latency (sources read in a capture thread), the labels seen."""
        d = self.to_dict()
        out = [
            f"{name}: {d['frames']} frames in {d['seconds']:.1f} s = {d['fps']:.1f} fps; "
            f"{d['faces']} faces ({d['faces_per_frame']:.2f}/frame); failed frames {d['failed_frames']}"
        ]
        if self.captured is not None:
            out.append(
                f"captured {d['captured']}, processed {d['frames']}, dropped {d['dropped']} ({d['drop_rate']:.0%}); "
                f"latency capture→result median {d['latency_ms_median']:.0f} ms, p95 {d['latency_ms_p95']:.0f} ms"
                + (f"; reconnected {d['reconnects']}x" if d["reconnects"] else "")
            )
        if d["labels"]:
            out.append("labels: " + ", ".join(f"{k} {v}" for k, v in d["labels"].items()))
        return out


FACE_COLUMNS = ("frame", "time_s", "track", "x", "y", "w", "h", "label")
"""The results log's first CSV columns; the class probabilities follow, then :data:`TIMING_COLUMNS`."""

TIMING_COLUMNS = ("capture_s", "latency_ms", "dropped", "wall_s")
"""The results log's last CSV columns (JSON keys): when the frame arrived and its result was ready
(seconds since the start), capture → result (ms), stale frames skipped just before it."""


class _ResultWriter:
    """Per-frame results as JSON lines (``.jsonl``/``.json``) or CSV (``.csv``), one row per face."""

    def __init__(self, path: str | os.PathLike, class_names):
        self.path = Path(path)
        self.class_names = list(class_names)
        self.f = open(self.path, "w", newline="")
        self.csv = self.path.suffix.lower() == ".csv"
        if self.csv:
            self.w = csv.writer(self.f)
            self.w.writerow([*FACE_COLUMNS, *self.class_names, *TIMING_COLUMNS])

    def write(
        self,
        frame_idx: int,
        t: float,
        faces,
        wall: float | None = None,
        capture: float | None = None,
        latency_ms: float = 0.0,
        dropped: int = 0,
    ) -> None:
        """``t``: the frame's time in the video (or since the start, for a camera); ``wall``: seconds
        since processing started, when its result was ready; ``capture``: when it arrived (same
        clock); ``latency_ms``: capture → result; ``dropped``: stale frames skipped just before it."""
        wall = t if wall is None else wall
        capture = wall if capture is None else capture
        timing = [f"{capture:.3f}", f"{latency_ms:.1f}", dropped, f"{wall:.3f}"]
        if self.csv:
            for tid, box, probs in faces:
                label = self.class_names[int(np.argmax(probs))]
                row = [frame_idx, f"{t:.3f}", tid, *box, label, *(f"{p:.4f}" for p in probs), *timing]
                self.w.writerow(row)
            return
        rec = {
            "frame": frame_idx,
            "time_s": round(t, 3),
            "capture_s": round(capture, 3),
            "latency_ms": round(latency_ms, 1),
            "dropped": dropped,
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


def _frame_count(frames, max_frames: int | None) -> int:
    """How many frames a file will give (0: unknown, a camera), for the progress bar."""
    cap = getattr(frames, "cap", None)
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap is not None and getattr(frames, "path", None) else 0
    n = max(n, 0)
    return min(n, max_frames) if n and max_frames else n


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
    overlay: str = OVERLAY,
    progress: bool = False,
) -> LiveSummary:
    """Runs the loop until the frames end, ``max_frames``, or q/Esc in the window.

    Faces are detected every ``detect_every`` frames (boxes carried in between) and
    classified every frame in one batch; each face's probabilities are averaged over its
    last ``smooth`` frames. ``None`` frames (decode failures) are counted and skipped, and so
    are the frames a source says it had but never gave (``frames.lost``, a video cut short).
    ``overlay`` is how each face is drawn (``overlay.OVERLAY_STYLES``: probability bars, the
    label only, or an emoji). Nothing is written over an input (the video, the model).

    A source read in a capture thread (:class:`~kerfer.runtime.capture.LatestFrame`: cameras,
    streams, ``--realtime`` files) gives only its newest frame; the summary counts frames captured
    and dropped, and each frame's latency (capture → result) goes in the summary and the log.
    ``progress``: a bar with ETA on stderr when it is a terminal and the frame count is known.
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
    bar = Progress(_frame_count(frames, max_frames), progress, label="live", unit="frames")
    try:
        for frame in frames:
            received = time.perf_counter()
            bar.step()
            if frame is None:
                summary.failed_frames += 1
                continue
            if mirror:
                frame = cv2.flip(frame, 1)
            i = summary.frames
            if summary.frame_size is None:
                summary.frame_size = (int(frame.shape[1]), int(frame.shape[0]))
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
            captured = getattr(frames, "capture_t", None) or received
            summary.latencies_ms.append((now - captured) * 1000.0)
            if writer:
                writer.write(
                    i,
                    _frame_time(frames, summary, video_fps, now - start),
                    results,
                    now - start,
                    capture=captured - start,
                    latency_ms=summary.latencies_ms[-1],
                    dropped=int(getattr(frames, "dropped_before", 0) or 0),
                )
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
        bar.close()
        summary.seconds = time.perf_counter() - start
        if hasattr(frames, "captured"):  # a capture thread: it has stopped now, its counts are final
            summary.captured, summary.dropped = frames.captured, frames.dropped
            summary.reconnects = frames.reconnects
            summary.ended = frames.ended
        if writer:
            writer.close()
        if video is not None:
            video.release()
        if show:
            cv2.destroyAllWindows()
    return summary


def live_session(
    *,
    camera: int | None = None,
    source: str | None = None,
    picamera: bool = False,
    request=None,
    realtime: bool = False,
    reconnect: bool = False,
    headless: bool = False,
    mirror: bool | None = None,
    output: str | os.PathLike | None = None,
    report_dir: str | os.PathLike | None = None,
    write_report: Callable[..., None] | None = None,
    echo: Callable[[str], None] = print,
    smooth: int = SMOOTH,
    detect_every: int = DETECT_EVERY,
    save_video: str | os.PathLike | None = None,
    max_frames: int | None = None,
    overlay: str = OVERLAY,
    **pipeline_options,
) -> LiveSummary:
    """``kerfer live`` from its options, checked before anything opens: a display for the window
    (an unreachable X server aborts inside Qt), a report that overwrites no input, then the
    pipeline (:func:`~kerfer.runtime.pipeline.make_pipeline` of ``pipeline_options``: the model
    and detector options) and the source; runs :func:`run_live` and ``echo``-es its summary. With ``report_dir``,
    ``write_report(log, report_dir, video)`` writes the report from the results log (a
    temporary one when there is no ``output``). A run that read no frame, or ended for a
    reason (a camera gone), is a ``RuntimeError`` after its summary."""
    import contextlib
    import tempfile

    from kerfer.runtime.pipeline import make_pipeline
    from kerfer.runtime.video import open_source

    if not headless:
        from kerfer.doctor import check_display

        display = check_display()
        if not display.ok:
            raise RuntimeError(
                f"no display to show a window on ({display.detail}): add --headless, with --output or --save-video"
            )
    if report_dir is not None:
        from kerfer.report import REPORT_FILES

        refuse_overwriting_inputs(  # before the run, not after it
            {f"the report's {v}": Path(report_dir) / v for v in REPORT_FILES.values()},
            {"the video (--source)": source, "the results log (--output)": output},
        )
    pipe = make_pipeline(**pipeline_options)
    frames, fps, name = open_source(camera, source, picamera, request=request, realtime=realtime, reconnect=reconnect)
    with contextlib.ExitStack() as stack:
        log = output
        if report_dir is not None and output is None:  # the report reads the results log: keep one aside
            log = os.path.join(stack.enter_context(tempfile.TemporaryDirectory(prefix="kerfer-live-")), "faces.jsonl")
        summary = run_live(
            frames,
            pipe,
            mirror=source is None if mirror is None else mirror,
            show=not headless,
            output=log,
            video_fps=fps,
            progress=headless and source is not None and not realtime and "://" not in source,
            smooth=smooth,
            detect_every=detect_every,
            save_video=save_video,
            max_frames=max_frames,
            overlay=overlay,
        )
        d = summary.to_dict()
        if not d["frames"]:
            raise RuntimeError(
                summary.ended
                or f"{shown(name)}: no frame could be read ({d['failed_frames']} failed): "
                "the video is empty, or none of its frames decodes"
            )
        for line in summary.lines(shown(name)):
            echo(line)
        if report_dir is not None:
            write_report(log, report_dir, video=source)
    if summary.ended:
        raise RuntimeError(summary.ended)
    return summary
