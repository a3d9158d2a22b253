"""``kerfer live``: the results log records video time, a stale DISPLAY is caught before any
window opens, and frame limits below 1 are refused."""

from __future__ import annotations

import json

import cv2
import numpy as np
from click.testing import CliRunner

from kerfer.cli import main


def _video(path, n=30, fps=10):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (160, 120))
    for i in range(n):
        w.write(np.full((120, 160, 3), 40 + i, np.uint8))
    w.release()


def test_output_time_is_the_video_time_not_processing_time(tmp_path):
    video, out = tmp_path / "v.mp4", tmp_path / "r.jsonl"
    _video(video)  # 30 frames at 10 fps: 0.0 .. 2.9 s, however fast it is processed
    r = CliRunner().invoke(main, ["live", "--source", str(video), "--headless", "--output", str(out)])
    assert r.exit_code == 0, r.output
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(recs) == 30 and {"time_s", "wall_s"} <= set(recs[0])
    np.testing.assert_allclose([rec["time_s"] for rec in recs], np.arange(30) / 10, atol=0.011)
    csv_out = tmp_path / "r.csv"
    r = CliRunner().invoke(main, ["live", "--source", str(video), "--headless", "--output", str(csv_out)])
    assert r.exit_code == 0 and csv_out.read_text().splitlines()[0].endswith(",wall_s")


def test_unreachable_display_says_headless_before_opening_a_window(monkeypatch):
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    for display in (":97", "127.0.0.1:97"):  # a forwarded display gone after an SSH reconnect
        monkeypatch.setenv("DISPLAY", display)
        r = CliRunner().invoke(main, ["live", "--source", "x.mp4"])
        assert r.exit_code == 1 and f"DISPLAY={display} but" in r.output and "add --headless" in r.output, r.output


def test_max_frames_below_one_is_refused():
    for n in ("0", "-1"):
        r = CliRunner().invoke(main, ["live", "--source", "x.mp4", "--headless", "--max-frames", n])
        assert r.exit_code == 2 and "--max-frames" in r.output
