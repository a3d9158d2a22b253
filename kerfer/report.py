"""An emotion timeline report for a video: per-track probabilities over media time, a summary
table and one self-contained HTML page, from ``kerfer live --output`` rows.

Works on the runtime install (no TensorFlow, no pandas): matplotlib draws the chart when it is
installed; without it the report says how to get it and still writes ``summary.csv`` and the page.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import html
import io
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kerfer.errors import DataError
from kerfer.io import atomic_write_bytes, atomic_write_text
from kerfer.options import DETECT_EVERY, REPORT_MIN_TRACK_S, REPORT_SMOOTH_S, SMOOTH
from kerfer.paths import refuse_overwriting_inputs, shown

REPORT_FILES = {"timeline": "timeline.png", "summary": "summary.csv", "html": "report.html"}
"""What ``report`` writes into its folder."""

MATPLOTLIB_HINT = "timeline.png needs matplotlib: pip install matplotlib"


@dataclasses.dataclass(frozen=True)
class FaceRecord:
    """One face in one frame: where, which track, its probabilities (in ``class_names`` order)."""

    frame: int
    time_s: float
    track: int
    box: tuple[int, int, int, int]
    label: str
    probs: np.ndarray
    latency_ms: float | None = None


class Records(list):
    """Per-frame, per-track face records (a list of :class:`FaceRecord`) with their class names
    and the video they came from; ``.to_pandas()`` for a notebook."""

    def __init__(self, rows: Iterable[FaceRecord], class_names: Sequence[str], video: str | None = None, summary=None):
        super().__init__(rows)
        self.class_names = tuple(class_names)
        self.video = video
        self.summary = summary  # the LiveSummary of the run that made them, when there was one

    def to_pandas(self):
        """A DataFrame: one row per face and frame, one column per emotion (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise ModuleNotFoundError("Records.to_pandas() needs pandas: pip install pandas", name="pandas") from None
        cols = {
            "frame": [r.frame for r in self],
            "time_s": [r.time_s for r in self],
            "track": [r.track for r in self],
            "x": [r.box[0] for r in self],
            "y": [r.box[1] for r in self],
            "w": [r.box[2] for r in self],
            "h": [r.box[3] for r in self],
            "label": [r.label for r in self],
        }
        probs = np.stack([r.probs for r in self]) if self else np.zeros((0, len(self.class_names)))
        for i, name in enumerate(self.class_names):
            cols[name] = probs[:, i]
        return pd.DataFrame(cols)

    def tracks(self) -> dict[int, list[FaceRecord]]:
        """Records by track id, each in time order; tracks in the order they first appear."""
        out: dict[int, list[FaceRecord]] = {}
        for r in sorted(self, key=lambda r: (r.time_s, r.frame, r.track)):
            out.setdefault(r.track, []).append(r)
        return out


def read_records(path: str | os.PathLike) -> Records:
    """Reads a ``kerfer live --output`` log (``.csv`` or ``.jsonl``/``.json``); DataError naming the
    file and the problem when it is not one."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{shown(p)}: no such results log (make one with kerfer live --output faces.csv)")
    try:
        if p.suffix.lower() == ".csv":
            return _read_csv(p)
        return _read_jsonl(p)
    except (KeyError, ValueError, IndexError, json.JSONDecodeError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{shown(p)}: not a kerfer live results log ({type(e).__name__}: {e})") from None


def _read_csv(p: Path) -> Records:
    from kerfer.runtime.live import FACE_COLUMNS as _BASE_COLUMNS
    from kerfer.runtime.live import TIMING_COLUMNS

    with open(p, newline="") as f:
        rows = csv.reader(f)
        header = next(rows, None)
        if not header or tuple(header[: len(_BASE_COLUMNS)]) != _BASE_COLUMNS:
            raise DataError(
                f"{shown(p)}: not a kerfer live results log: its header should start {','.join(_BASE_COLUMNS)}"
            )
        timing = [c for c in header if c in TIMING_COLUMNS or c == "wall_s"]
        names = header[len(_BASE_COLUMNS) : len(header) - len(timing)]
        if not names:
            raise DataError(
                f"{shown(p)}: no probability columns between label and {timing[0] if timing else 'the end'}"
            )
        lat = header.index("latency_ms") if "latency_ms" in header else None
        out = []
        for row in rows:
            probs = np.array([float(v) for v in row[len(_BASE_COLUMNS) : len(_BASE_COLUMNS) + len(names)]], np.float32)
            out.append(
                FaceRecord(
                    int(row[0]),
                    float(row[1]),
                    int(row[2]),
                    tuple(int(v) for v in row[3:7]),  # type: ignore[arg-type]
                    row[7],
                    probs,
                    float(row[lat]) if lat is not None else None,
                )
            )
    return Records(out, names)


def _read_jsonl(p: Path) -> Records:
    out, names = [], None
    with open(p) as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            for face in rec["faces"]:
                if names is None:
                    names = list(face["probs"])
                out.append(
                    FaceRecord(
                        int(rec["frame"]),
                        float(rec["time_s"]),
                        int(face["track"]),
                        tuple(int(v) for v in face["box"]),  # type: ignore[arg-type]
                        face["label"],
                        np.array([face["probs"][n] for n in names], np.float32),
                        rec.get("latency_ms"),
                    )
                )
    if names is None:
        from kerfer.labels import FER2013_CLASSES

        names = list(FER2013_CLASSES)  # no face anywhere: nothing says otherwise
    return Records(out, names)


# --------------------------------------------------------------------------- summary


@dataclasses.dataclass(frozen=True)
class TrackSummary:
    track: int
    first_s: float
    last_s: float
    frames: int
    share: dict[str, float]
    """Share of the track's frames with each emotion on top."""
    mean: dict[str, float]
    dominant: str

    def row(self, names: Sequence[str]) -> list[Any]:
        return [
            self.track,
            f"{self.first_s:.3f}",
            f"{self.last_s:.3f}",
            self.frames,
            *(f"{self.share[n]:.4f}" for n in names),
            *(f"{self.mean[n]:.4f}" for n in names),
            self.dominant,
        ]


def summarize(records: Records, min_track_s: float = REPORT_MIN_TRACK_S) -> tuple[list[TrackSummary], int]:
    """Per-track summaries of the tracks seen for at least ``min_track_s``, and how many shorter
    tracks (flicker: a false face, a face lost for a frame) were left out."""
    names = records.class_names
    kept, left_out = [], 0
    for tid, rows in records.tracks().items():
        first, last = rows[0].time_s, rows[-1].time_s
        if last - first < min_track_s:
            left_out += 1
            continue
        probs = np.stack([r.probs for r in rows])
        top = probs.argmax(1)
        share = {n: float(np.mean(top == i)) for i, n in enumerate(names)}
        mean = {n: float(probs[:, i].mean()) for i, n in enumerate(names)}
        kept.append(TrackSummary(tid, first, last, len(rows), share, mean, max(share, key=share.get)))
    return kept, left_out


def summary_csv(tracks: Sequence[TrackSummary], names: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "track",
            "first_s",
            "last_s",
            "frames",
            *(f"share_{n}" for n in names),
            *(f"mean_{n}" for n in names),
            "dominant",
        ]
    )
    for t in tracks:
        w.writerow(t.row(names))
    return buf.getvalue()


# --------------------------------------------------------------------------- the chart


def smoothed(times: np.ndarray, probs: np.ndarray, window_s: float = REPORT_SMOOTH_S) -> np.ndarray:
    """Each row averaged with the rows within ``window_s / 2`` of it in time (frames can be uneven:
    a real-time run drops some)."""
    if window_s <= 0 or len(times) < 2:
        return probs
    csum = np.vstack([np.zeros((1, probs.shape[1])), np.cumsum(probs, 0)])
    lo = np.searchsorted(times, times - window_s / 2, "left")
    hi = np.searchsorted(times, times + window_s / 2, "right")
    return (csum[hi] - csum[lo]) / (hi - lo)[:, None]


def _rgb(i: int) -> tuple[float, float, float]:
    """Emotion ``i``'s colour, the one the live overlay draws its bar in (BGR there)."""
    from kerfer.runtime.overlay import EMOTION_COLORS

    b, g, r = EMOTION_COLORS[i % len(EMOTION_COLORS)]
    return (r / 255, g / 255, b / 255)


def thumbnails(video: str | os.PathLike, tracks: Sequence[TrackSummary], records: Records) -> dict[int, np.ndarray]:
    """Each track's face (RGB), from the frame where the model was surest of it."""
    import cv2

    by_track = records.tracks()
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        return {}
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    out = {}
    try:
        for t in tracks:
            best = max(by_track[t.track], key=lambda r: float(r.probs.max()))
            if fps > 0:
                cap.set(cv2.CAP_PROP_POS_FRAMES, round(best.time_s * fps))
            else:
                cap.set(cv2.CAP_PROP_POS_MSEC, best.time_s * 1000)
            ok, frame = cap.read()
            if not ok:
                continue
            x, y, w, h = best.box
            pad = int(0.15 * max(w, h))
            crop = frame[max(0, y - pad) : y + h + pad, max(0, x - pad) : x + w + pad]
            if crop.size:
                out[t.track] = crop[..., ::-1].copy()
    finally:
        cap.release()
    return out


def timeline(
    records: Records,
    video: str | os.PathLike | None = None,
    min_track_s: float = REPORT_MIN_TRACK_S,
    smooth_s: float = REPORT_SMOOTH_S,
):
    """The timeline figure (a ``matplotlib.figure.Figure``): one panel per kept track, its emotion
    probabilities over media time (smoothed over ``smooth_s``, one colour per emotion as in the
    overlay), a band of the top emotion underneath, and the face's thumbnail when ``video`` (or
    ``records.video``) is readable. Needs matplotlib (ModuleNotFoundError saying so)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ModuleNotFoundError(MATPLOTLIB_HINT, name="matplotlib") from None
    names = records.class_names
    tracks, left_out = summarize(records, min_track_s)
    video = video if video is not None else records.video
    thumbs = thumbnails(video, tracks, records) if video is not None and tracks else {}
    by_track = records.tracks()
    n = max(1, len(tracks))
    fig = Figure(figsize=(11, 0.6 + 2.3 * n), dpi=100, layout="constrained")
    grid = fig.add_gridspec(2 * n, 2, width_ratios=[1, 7], height_ratios=[5, 1] * n)
    t_end = max((r.time_s for r in records), default=1.0) or 1.0
    colours = [_rgb(i) for i in range(len(names))]
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap(colours)
    for k, t in enumerate(tracks):
        rows = by_track[t.track]
        times = np.array([r.time_s for r in rows])
        probs = smoothed(times, np.stack([r.probs for r in rows]), smooth_s)
        ax = fig.add_subplot(grid[2 * k, 1])
        for i, name in enumerate(names):
            ax.plot(times, probs[:, i], color=colours[i], lw=1.6, label=name)
        ax.set_xlim(0, t_end)
        ax.set_ylim(0, 1)
        ax.set_ylabel("probability")
        ax.set_title(
            f"track {t.track}: {t.first_s:.1f}-{t.last_s:.1f} s, {t.frames} frames, mostly {t.dominant}",
            loc="left",
            fontsize=10,
        )
        ax.tick_params(labelbottom=False)
        if k == 0:
            ax.legend(ncol=len(names), fontsize=8, loc="upper right", frameon=False, bbox_to_anchor=(1, 1.32))
        band = fig.add_subplot(grid[2 * k + 1, 1], sharex=ax)
        edges = np.concatenate([times, [times[-1] + (times[-1] - times[-2] if len(times) > 1 else 0.04)]])
        band.pcolormesh(edges, [0, 1], probs.argmax(1)[None, :], cmap=cmap, vmin=-0.5, vmax=len(names) - 0.5)
        band.set_yticks([])
        band.set_ylabel("top", rotation=0, ha="right", va="center", fontsize=8)
        if k == len(tracks) - 1:
            band.set_xlabel("video time (s)")
        else:
            band.tick_params(labelbottom=False)
        thumb = fig.add_subplot(grid[2 * k : 2 * k + 2, 0])
        thumb.axis("off")
        if t.track in thumbs:
            thumb.imshow(thumbs[t.track])
    if not tracks:
        ax = fig.add_subplot(grid[:, :])
        ax.axis("off")
        ax.text(0.5, 0.5, "no face tracked long enough to chart", ha="center", va="center")
    left = (
        f"; {left_out} shorter track{'s' if left_out != 1 else ''} (< {min_track_s:g} s) left out" if left_out else ""
    )
    fig.suptitle(f"{len(tracks)} tracked face{'s' if len(tracks) != 1 else ''}{left}", x=0.01, ha="left", fontsize=11)
    return fig


# --------------------------------------------------------------------------- the report


@dataclasses.dataclass
class ReportResult:
    files: dict[str, Path]
    """The files written, by kind (``timeline`` is missing without matplotlib)."""
    tracks: list[TrackSummary]
    left_out: int
    missing: str | None = None
    """The one line saying what was not drawn and how to get it (no matplotlib)."""

    def line(self) -> str:
        """``kerfer report``'s line: the page written and the tracks it shows."""
        kept = len(self.tracks)
        short = f", {self.left_out} short ones left out" if self.left_out else ""
        return f"report: {shown(self.files['html'])} ({kept} track{'s' if kept != 1 else ''}{short})"


def write_report(
    records: Records,
    out_dir: str | os.PathLike,
    *,
    video: str | os.PathLike | None = None,
    command: str | None = None,
    min_track_s: float = REPORT_MIN_TRACK_S,
    smooth_s: float = REPORT_SMOOTH_S,
    inputs: dict[str, Any] | None = None,
) -> ReportResult:
    """Writes ``timeline.png``, ``summary.csv`` and ``report.html`` (self-contained: the chart is
    embedded) into ``out_dir``; each file atomically, none over an input (``inputs``: name → path)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{shown(out)}: is a file; the report needs a folder: choose another --out")
    files = {k: out / v for k, v in REPORT_FILES.items()}
    video = video if video is not None else records.video
    refuse_overwriting_inputs(
        {f"the report's {v}": files[k] for k, v in REPORT_FILES.items()},
        {"the video": video, **(inputs or {})},
    )
    out.mkdir(parents=True, exist_ok=True)
    names = records.class_names
    tracks, left_out = summarize(records, min_track_s)
    atomic_write_text(files["summary"], summary_csv(tracks, names))
    png, missing = None, None
    try:
        fig = timeline(records, video, min_track_s, smooth_s)
    except ModuleNotFoundError as e:
        if e.name != "matplotlib":
            raise
        missing = MATPLOTLIB_HINT
        files.pop("timeline")
    else:
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        png = buf.getvalue()
        atomic_write_bytes(files["timeline"], png)
    atomic_write_text(files["html"], _html(records, tracks, left_out, min_track_s, png, missing, video, command))
    return ReportResult(files, tracks, left_out, missing)


_CSS = """body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
h1{font-size:1.5em}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}img{max-width:100%}pre{background:#f6f6f6;padding:.6em;overflow-x:auto}
.sw{display:inline-block;width:.8em;height:.8em;margin-right:.3em;vertical-align:-1px}.note{color:#a40}"""


def _html(records, tracks, left_out, min_track_s, png, missing, video, command) -> str:
    names = records.class_names
    e = html.escape

    def swatch(i: int) -> str:
        r, g, b = (int(255 * c) for c in _rgb(i))
        return f'<span class="sw" style="background:rgb({r},{g},{b})"></span>'

    head = "".join(f'<th colspan="{len(names)}">{k}</th>' for k in ("share of time on top", "mean probability"))
    sub = "".join(f"<th>{swatch(i)}{e(n)}</th>" for i, n in enumerate(names)) * 2
    body = []
    for t in tracks:
        cells = "".join(f"<td>{t.share[n]:.0%}</td>" for n in names) + "".join(
            f"<td>{t.mean[n]:.2f}</td>" for n in names
        )
        dom = names.index(t.dominant)
        body.append(
            f"<tr><td>{t.track}</td><td>{t.first_s:.1f}</td><td>{t.last_s:.1f}</td><td>{t.frames}</td>{cells}"
            f'<td class="l">{swatch(dom)}{e(t.dominant)}</td></tr>'
        )
    chart = (
        f'<img alt="emotion timeline" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        if png
        else f'<p class="note">{e(missing or "")}</p>'
    )
    src = e(os.fspath(video)) if video is not None else "the results log"
    left = (
        f"<p>{left_out} track{'s' if left_out != 1 else ''} shorter than {min_track_s:g} s (flicker) left out.</p>"
        if left_out
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kerfer report: {src}</title><style>{_CSS}</style></head>
<body><h1>Emotion timeline: {src}</h1>
<p>{len(records)} face records, {len(tracks)} tracked face{"s" if len(tracks) != 1 else ""} kept.</p>{left}
{chart}
<h2>Per track</h2>
<table><thead><tr><th rowspan="2">track</th><th rowspan="2">first (s)</th><th rowspan="2">last (s)</th>
<th rowspan="2">frames</th>{head}<th rowspan="2" class="l">dominant</th></tr><tr>{sub}</tr></thead>
<tbody>{"".join(body)}</tbody></table>
<h2>Made by</h2><pre>{e(command or "kerfer report")}</pre>
</body></html>
"""


# --------------------------------------------------------------------------- one call for a notebook


def analyze_video(
    path: str | os.PathLike,
    model: Any = None,
    *,
    detector: Any = None,
    smooth: int = SMOOTH,
    detect_every: int = DETECT_EVERY,
    max_frames: int | None = None,
    progress: bool | None = None,
) -> Records:
    """Runs the live pipeline on every frame of a video (headless) and returns its per-frame,
    per-track records; ``kerfer.timeline(records)`` charts them. ``model``: any
    :class:`~kerfer.Classifier` argument (None: the shipped model). ``progress`` (default: when
    stderr is a terminal): a bar with ETA."""
    import tempfile

    from kerfer.runtime.live import run_live
    from kerfer.runtime.pipeline import FacePipeline
    from kerfer.runtime.video import open_source

    pipe = FacePipeline(model, detector=detector)
    frames, fps, _ = open_source(source=os.fspath(path))
    with tempfile.TemporaryDirectory(prefix="kerfer-analyze-") as tmp:
        log = Path(tmp) / "faces.jsonl"
        summary = run_live(
            frames,
            pipe,
            smooth=smooth,
            detect_every=detect_every,
            show=False,
            output=log,
            video_fps=fps,
            max_frames=max_frames,
            progress=sys.stderr.isatty() if progress is None else progress,
        )
        records = read_records(log)
    if not summary.frames:
        raise DataError(f"{shown(path)}: no frame could be read: the video is empty, or none of its frames decodes")
    return Records(records, pipe.class_names, video=os.fspath(path), summary=summary)
