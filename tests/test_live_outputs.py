"""``kerfer live``: the results log records video time, a stale DISPLAY is caught before any
window opens, and frame limits below 1 are refused."""

from __future__ import annotations

import json
import re

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


def _avi(path, n, fps=10):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (160, 120))
    for i in range(n):
        w.write(np.full((120, 160, 3), 40 + i, np.uint8))
    w.release()
    return path


def test_an_empty_video_is_an_error_and_a_cut_one_counts_every_lost_frame(tmp_path):
    """A zero-frame video printed `0 frames ... 0.0 fps`, exit 0; a video cut in half reported
    `failed frames 5` (the retry limit) where more than 30 frames were lost."""
    r = CliRunner().invoke(main, ["live", "--source", str(_avi(tmp_path / "empty.avi", 0)), "--headless"])
    assert r.exit_code == 1 and "empty.avi: no frame could be read" in r.output, r.output
    full = _avi(tmp_path / "full.avi", 60).read_bytes()
    (tmp_path / "cut.avi").write_bytes(full[: len(full) // 2])  # the header still says 60 frames
    r = CliRunner().invoke(main, ["live", "--source", str(tmp_path / "cut.avi"), "--headless"])
    assert r.exit_code == 0, r.output
    decoded, failed = (int(v) for v in re.search(r": (\d+) frames .* failed frames (\d+)", r.output).groups())
    assert 0 < decoded < 60 and decoded + failed == 60, r.output


def test_counts_below_one_and_two_sources_are_refused():
    """--smooth 0 / --detect-every -5 were clamped to 1 in silence; --camera beside --source was ignored."""
    for args in (["--smooth", "0"], ["--smooth", "-3"], ["--detect-every", "0"], ["--detect-every", "-5"]):
        r = CliRunner().invoke(main, ["live", "--source", "x.mp4", "--headless", *args])
        assert r.exit_code == 2 and args[0] in r.output and "x>=1" in r.output, r.output
    for args in (["--camera", "3", "--source", "x.mp4"], ["--picamera", "--source", "x.mp4"]):
        r = CliRunner().invoke(main, ["live", "--headless", *args])
        assert r.exit_code == 2 and "are alternatives: give one frame source" in r.output, r.output
    r = CliRunner().invoke(main, ["live", "--headless", "--camera", "-1"])
    assert r.exit_code == 2 and "--camera" in r.output


def test_the_python_api_refuses_the_same_counts():
    import pytest

    from kerfer.runtime.live import run_live
    from kerfer.runtime.video import check_source

    for kw in ({"smooth": 0}, {"detect_every": -5}, {"max_frames": 0}, {"smooth": 2.5}):
        with pytest.raises(ValueError, match=f"{next(iter(kw))}=.*must be an integer >= 1"):
            run_live(iter([]), pipeline=None, show=False, **kw)
    with pytest.raises(ValueError, match="camera and source are alternatives"):
        check_source(camera=3, source="x.mp4")
