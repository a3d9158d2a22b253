"""``kerfer report`` / ``live --report`` / ``kerfer.analyze_video``: the files from a shared clip
(summary rows per kept track, a parseable self-contained page, one chart panel per kept track),
short tracks left out and counted, and the runtime install without matplotlib."""

from __future__ import annotations

import base64
import csv
import io
import subprocess
import sys
from html.parser import HTMLParser

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import MEDIA, needs_media

from kerfer.cli import main
from kerfer.report import FaceRecord, Records, read_records, smoothed, summarize, timeline, write_report

NAMES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def _records(spans: dict[int, tuple[float, float, int]], fps: float = 10.0) -> Records:
    """Track id → (first s, last s, top class): one-hot-ish probabilities at ``fps``."""
    rows = []
    for tid, (a, b, top) in spans.items():
        for k, t in enumerate(np.arange(a, b + 1e-9, 1 / fps)):
            p = np.full(7, 0.05, np.float32)
            p[top if k % 4 else (top + 1) % 7] = 0.7  # one frame in four another emotion tops it
            rows.append(FaceRecord(int(round(t * fps)), float(t), tid, (10, 10, 20, 20), NAMES[int(p.argmax())], p))
    return Records(rows, NAMES)


def test_summary_keeps_long_tracks_and_counts_flicker():
    recs = _records({0: (0.0, 2.0, 3), 1: (1.0, 1.2, 0), 2: (0.5, 3.5, 4)})
    tracks, left_out = summarize(recs, min_track_s=0.5)
    assert [t.track for t in tracks] == [0, 2] and left_out == 1
    t0 = tracks[0]
    assert t0.frames == 21 and t0.dominant == "happy" and (t0.first_s, t0.last_s) == (0.0, 2.0)
    assert t0.share["happy"] == pytest.approx(15 / 21) and t0.share["sad"] == pytest.approx(6 / 21)
    assert sum(t0.share.values()) == pytest.approx(1.0)
    assert t0.mean["happy"] == pytest.approx((15 * 0.7 + 6 * 0.05) / 21, rel=1e-5)


def test_smoothing_averages_over_time_not_over_rows():
    times = np.array([0.0, 0.1, 0.2, 1.0, 1.1])  # a gap: frames dropped in a real-time run
    probs = np.arange(5, dtype=float)[:, None]
    out = smoothed(times, probs, window_s=0.25)
    np.testing.assert_allclose(out[:, 0], [0.5, 1.0, 1.5, 3.5, 3.5])
    assert smoothed(times, probs, 0) is probs


def test_timeline_has_one_panel_per_kept_track():
    pytest.importorskip("matplotlib")
    fig = timeline(_records({0: (0.0, 2.0, 3), 1: (1.0, 1.2, 0), 2: (0.5, 3.5, 4), 3: (0, 1, 5)}))
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert [t.split(":")[0] for t in titles] == ["track 0", "track 3", "track 2"], titles  # as they appear
    assert "1 shorter track (< 0.5 s) left out" in fig._suptitle.get_text()


def test_a_log_that_is_not_one_is_named(tmp_path):
    bad = tmp_path / "notes.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    from kerfer.errors import DataError

    with pytest.raises(DataError, match="notes.csv: not a kerfer live results log"):
        read_records(bad)
    r = CliRunner().invoke(main, ["report", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "rep")])
    assert r.exit_code == 1 and "missing.csv: no such results log" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["report", str(bad), "--out", str(tmp_path / "rep")])
    assert r.exit_code == 1 and "notes.csv: not a kerfer live results log" in r.output


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.rows, self.pre, self._tag, self.links = [], 0, "", None, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._tag = tag
        if tag == "img":
            self.imgs.append(a["src"])
        if tag in ("link", "script") and (a.get("href") or a.get("src")):
            self.links.append(a)
        if tag == "tr":
            self.rows += 1

    def handle_data(self, data):
        if self._tag == "pre":
            self.pre += data


@pytest.fixture(scope="module")
def hamilton(tmp_path_factory):
    """``live --source short_hamilton_clip.mp4 --headless --output faces.csv --report rep/``, once."""
    if not MEDIA.exists():
        pytest.skip(f"{MEDIA} absent")
    tmp = tmp_path_factory.mktemp("hamilton")
    clip = MEDIA / "short_hamilton_clip.mp4"
    args = [
        "live",
        "--source",
        str(clip),
        "--headless",
        "--output",
        str(tmp / "faces.csv"),
        "--report",
        str(tmp / "rep"),
    ]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    return tmp, clip, r.output


@needs_media
def test_report_from_a_shared_clip(hamilton):
    tmp, clip, output = hamilton
    rep = tmp / "rep"
    assert sorted(p.name for p in rep.iterdir()) == ["report.html", "summary.csv", "timeline.png"]
    records = read_records(tmp / "faces.csv")
    tracks, left_out = summarize(records)
    assert len(tracks) >= 2 and left_out >= 1  # several people on stage; some faces flicker
    assert f"({len(tracks)} tracks, {left_out} short ones left out)" in output, output
    rows = list(csv.DictReader(io.StringIO((rep / "summary.csv").read_text())))
    assert [int(r["track"]) for r in rows] == [t.track for t in tracks]
    for r in rows:
        shares = [float(r[f"share_{n}"]) for n in NAMES]
        assert sum(shares) == pytest.approx(1.0, abs=1e-3) and r["dominant"] == NAMES[int(np.argmax(shares))]
        assert float(r["first_s"]) <= float(r["last_s"]) <= 275 / 29.97
    png = cv2.imread(str(rep / "timeline.png"))
    assert png is not None and png.shape[0] > 200 * len(tracks) and png.std() > 10
    page = _Page()
    page.feed((rep / "report.html").read_text())
    assert len(page.imgs) == 1 and page.imgs[0].startswith("data:image/png;base64,") and not page.links
    assert base64.b64decode(page.imgs[0].split(",", 1)[1]) == (rep / "timeline.png").read_bytes()
    assert page.rows == 2 + len(tracks)  # two header rows
    assert page.pre.strip() == f"kerfer live --source {clip} --headless --output {tmp / 'faces.csv'} --report {rep}"


@needs_media
def test_report_command_rereads_the_log_and_refuses_to_overwrite_it(hamilton, tmp_path):
    tmp, clip, _ = hamilton
    out = tmp_path / "again"
    r = CliRunner().invoke(main, ["report", str(tmp / "faces.csv"), "--video", str(clip), "--out", str(out)])
    assert r.exit_code == 0 and (out / "summary.csv").read_text() == (tmp / "rep" / "summary.csv").read_text()
    log = tmp_path / "summary.csv"
    log.write_bytes((tmp / "faces.csv").read_bytes())
    r = CliRunner().invoke(main, ["report", str(log), "--out", str(tmp_path)])
    assert r.exit_code == 1 and "is the same file as the results log" in r.output, r.output
    assert log.read_bytes() == (tmp / "faces.csv").read_bytes()


@needs_media
def test_analyze_video_and_timeline_in_two_lines():
    import kerfer

    records = kerfer.analyze_video(MEDIA / "test.mp4", max_frames=30, progress=False)
    assert len(records) == 30 and {r.track for r in records} == {0} and records.class_names == NAMES
    assert records.summary.frames == 30 and records.video.endswith("test.mp4")
    df = records.to_pandas()
    assert list(df.columns[:8]) == ["frame", "time_s", "track", "x", "y", "w", "h", "label"]
    np.testing.assert_allclose(df[list(NAMES)].sum(axis=1), 1.0, atol=0.01)
    pytest.importorskip("matplotlib")
    fig = kerfer.timeline(records)
    assert len([ax for ax in fig.axes if ax.images]) == 1  # the face's thumbnail, read from the video


def test_without_matplotlib_the_summary_is_still_written(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib → ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    result = write_report(_records({0: (0.0, 2.0, 3)}), tmp_path / "rep")
    assert result.missing == "timeline.png needs matplotlib: pip install matplotlib"
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["report.html", "summary.csv"]
    assert "pip install matplotlib" in (tmp_path / "rep" / "report.html").read_text()
    assert len((tmp_path / "rep" / "summary.csv").read_text().splitlines()) == 2


def test_the_runtime_modules_do_not_import_matplotlib_or_pandas():
    code = (
        "import sys, kerfer.report, kerfer.runtime.live, kerfer.runtime.capture, kerfer.cli\n"
        "print(sorted(m for m in ('matplotlib', 'pandas', 'tensorflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_progress_bar_only_on_a_terminal(tmp_path, monkeypatch):
    from kerfer.runtime.live import run_live
    from kerfer.runtime.pipeline import FacePipeline
    from kerfer.runtime.video import open_source

    video = tmp_path / "v.avi"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 72))
    for i in range(12):
        w.write(np.full((72, 96, 3), 40 + i, np.uint8))
    w.release()

    class Tty(io.StringIO):
        def isatty(self):
            return True

    pipe = FacePipeline()
    for stream, shown in ((Tty(), True), (io.StringIO(), False)):
        monkeypatch.setattr(sys, "stderr", stream)
        run_live(open_source(source=str(video))[0], pipe, show=False, progress=True)
        text = stream.getvalue()
        assert ("live [" in text and "12/12" in text and "ETA 0:00" in text) if shown else text == "", text
