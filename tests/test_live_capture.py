"""The capture thread: a camera faster than the pipeline never makes it lag (only the newest
frame is processed, the rest dropped and counted, latency bounded); ``--realtime`` plays a file
as a camera; a camera that goes ends with one line and a summary, or is reopened; ``--width``
``--height`` ``--fps`` say what the camera gave."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import MEDIA, needs_media

from kerfer.cli import main
from kerfer.runtime.capture import LatestFrame
from kerfer.runtime.live import run_live
from kerfer.runtime.pipeline import FacePipeline
from kerfer.runtime.video import open_source


def _stamp(i: int) -> np.ndarray:
    """A 64x48 frame whose first two pixels carry its number."""
    f = np.full((48, 64, 3), 90, np.uint8)
    f[0, 0, 0], f[0, 0, 1] = i % 256, i // 256
    return f


def _number(frame: np.ndarray) -> int:
    return int(frame[0, 0, 0]) + 256 * int(frame[0, 0, 1])


class FakeCamera:
    """``cv2.VideoCapture``-shaped: a frame every ``period`` s, numbered; ``frames`` of them, then
    failed reads (unplugged). It gives 640x480 @ 30 whatever it is asked."""

    def __init__(self, period=0.002, frames=10**6, start=0):
        self.period, self.left, self.n = period, frames, start
        self.asked: dict[int, float] = {}
        self.released = False

    def isOpened(self):  # noqa: N802 — cv2's name
        return True

    def read(self):
        time.sleep(self.period)
        if self.left <= 0:
            return False, None
        self.left -= 1
        self.n += 1
        return True, _stamp(self.n - 1)

    def set(self, prop, value):
        self.asked[prop] = value
        return True

    def get(self, prop):
        import cv2

        return {cv2.CAP_PROP_FRAME_WIDTH: 640, cv2.CAP_PROP_FRAME_HEIGHT: 480, cv2.CAP_PROP_FPS: 30}.get(prop, 0)

    def release(self):
        self.released = True


class SlowPipeline(FacePipeline):
    """The real pipeline, ``delay`` s slower per frame (a Pi-class machine), noting which frame it got
    and how many the source had captured by then."""

    def __init__(self, delay: float, source=None):
        super().__init__()
        self.delay, self.source, self.seen = delay, source, []

    def detect(self, frame):
        self.seen.append((_number(frame), getattr(self.source, "captured", None)))
        time.sleep(self.delay)
        return super().detect(frame)


@pytest.fixture(scope="module")
def slow():
    return SlowPipeline(0.03)


def test_a_camera_faster_than_the_pipeline_never_lags(slow):
    cam = FakeCamera(period=0.002)  # ~500 frames/s against ~30 processed per second
    src = LatestFrame(lambda: cam, "fake camera")
    slow.source, slow.seen = src, []
    s = run_live(src, slow, show=False, max_frames=25, detect_every=1)
    numbers = [n for n, _ in slow.seen]
    assert s.frames == 25 and numbers == sorted(set(numbers))
    assert s.captured == s.frames + s.dropped and s.dropped > 5 * s.frames, s.to_dict()
    # each frame processed was the newest: at most a few arrived between its delivery and detection
    assert all(captured - 1 - n <= 3 for n, captured in slow.seen), slow.seen
    lat = np.array(s.latencies_ms)
    assert lat.max() < 500, lat  # the slow step plus one frame period, never the queue's age
    assert np.median(lat[-8:]) < 2 * np.median(lat[:8]) + 30, lat  # no growth over the run
    assert cam.released and s.ended is None


def test_a_read_loop_in_the_processing_thread_would_lag(slow):
    """The same camera read in the loop (a file reader is one): its frames are the oldest ones
    queued, so the frame processed falls behind the camera at every step."""
    cam = FakeCamera(period=0.002)
    t0 = time.perf_counter()

    def frames():
        while True:
            yield cam.read()[1]

    slow.source, slow.seen = None, []
    run_live(frames(), slow, show=False, max_frames=10, detect_every=1)
    made_by_now = (time.perf_counter() - t0) / cam.period
    assert [n for n, _ in slow.seen] == list(range(10)) and made_by_now > 50


def test_a_camera_that_goes_ends_with_a_sentence_and_a_summary(monkeypatch):
    import cv2

    cams = []

    def fake_capture(index, *a):
        cams.append(FakeCamera(period=0.005, frames=12))
        return cams[-1]

    monkeypatch.setattr(cv2, "VideoCapture", fake_capture)
    args = ["live", "--camera", "0", "--headless", "--width", "1280", "--height", "720", "--fps", "60"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    lines = r.output.strip().splitlines()
    assert lines[0].startswith("camera 0 (asked 1280x720 @ 60 fps, got 640x480 @ 30 fps): "), r.output
    assert "captured 12, processed" in r.output and "latency capture→result median" in r.output
    assert lines[-1].startswith("Error: camera 0: stopped giving frames after ") and lines[-1].endswith("(unplugged?)")
    assert cams[0].asked == {
        cv2.CAP_PROP_FRAME_WIDTH: 1280,
        cv2.CAP_PROP_FRAME_HEIGHT: 720,
        cv2.CAP_PROP_FPS: 60,
        cv2.CAP_PROP_BUFFERSIZE: 1,
    }
    assert len(cams) == 1 and cams[0].released
    r = CliRunner().invoke(main, ["live", "--source", "x.mp4", "--headless", "--width", "640"])
    assert r.exit_code == 2 and "a --source video has its own" in r.output


def test_reconnect_reopens_a_camera_that_went(slow):
    cams = [FakeCamera(period=0.003, frames=8, start=0), FakeCamera(period=0.003, frames=10**6, start=1000)]
    opened = iter(cams)
    src = LatestFrame(lambda: next(opened), "fake camera", reconnect=True, reconnect_s=0.05, retries=2)
    slow.source, slow.seen = None, []
    s = run_live(src, SlowPipeline(0.0), show=False, max_frames=30)
    assert s.frames == 30 and s.reconnects == 1 and s.ended is None, s.to_dict()
    assert cams[0].released and cams[1].released


def test_a_read_that_blocks_forever_ends_the_run_instead_of_hanging(slow):
    gate = threading.Event()

    class Frozen(FakeCamera):
        def read(self):
            if self.n >= 3:
                gate.wait(30)  # the USB camera was pulled mid-read
                return False, None
            return super().read()

    src = LatestFrame(lambda: Frozen(), "camera 7", stall_s=0.3)
    t0 = time.perf_counter()
    s = run_live(src, SlowPipeline(0.0), show=False)
    gate.set()
    assert time.perf_counter() - t0 < 5 and s.captured == 3 == s.frames + s.dropped, s.to_dict()
    assert s.ended == "camera 7: no frame for 0.3 s (unplugged, or the stream stopped?)"


@needs_media
def test_realtime_file_drops_what_a_slow_pipeline_cannot_keep_up_with(tmp_path):
    """test.mp4 (115 frames at 29.97 fps) played as a camera against a pipeline 60 ms slower per
    frame: every frame is captured once, the ones that arrive while one is processed are dropped."""
    clip = str(MEDIA / "test.mp4")
    frames, fps, _ = open_source(source=clip, realtime=True)
    out = tmp_path / "r.jsonl"
    t0 = time.perf_counter()
    s = run_live(frames, SlowPipeline(0.06), show=False, output=out, video_fps=fps, detect_every=1)
    took = time.perf_counter() - t0
    assert s.captured == 115 and s.frames + s.dropped == 115 and s.dropped > 40, s.to_dict()
    assert took > 115 / fps - 0.2  # played at its own rate, not as fast as it decodes
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    times = [r["time_s"] for r in recs]
    assert len(recs) == s.frames and times == sorted(times) and times[-1] > 3.3
    assert sum(r["dropped"] for r in recs) in (s.dropped, s.dropped - 1)  # the last one may drop at the end
    lat = np.array([r["latency_ms"] for r in recs])
    assert np.median(lat) < 1000 / fps + 60 + 150, lat  # one frame period + its own time (+ load)
    assert np.median(lat[-10:]) < 2.5 * np.median(lat[:10]) + 50, lat  # no growth
    # the same file without --realtime: every frame, none dropped
    s = run_live(open_source(source=clip)[0], SlowPipeline(0.0), show=False, max_frames=20)
    assert s.captured is None and s.to_dict()["captured"] == 20 and s.dropped == 0


@needs_media
def test_realtime_on_the_command_line_reports_drops_and_latency(tmp_path):
    out = tmp_path / "r.csv"
    args = ["live", "--source", str(MEDIA / "test.mp4"), "--headless", "--realtime", "--output", str(out)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "captured 115, processed " in r.output and "dropped " in r.output, r.output
    header = out.read_text().splitlines()[0].split(",")
    assert header[-4:] == ["capture_s", "latency_ms", "dropped", "wall_s"]
    r = CliRunner().invoke(main, ["live", "--camera", "0", "--headless", "--realtime"])
    assert r.exit_code == 2 and "a camera is real time already" in r.output
