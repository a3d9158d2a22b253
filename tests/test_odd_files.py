"""File names and files a new user meets: names that are not UTF-8 or hold a newline, an image
that declares 40000x40000 pixels, folders that cannot be listed. Each is one line; the rest of
the work is done."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from click.testing import CliRunner
from fakedata import huge_png

from kerfer.cli import main

BAD = os.fsdecode(b"bad\xffname")  # what Python makes of a Linux file name that is not UTF-8


def _gray(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(path.suffix, np.full((64, 64), 128, np.uint8))
    path.write_bytes(data.tobytes())  # not cv2.imwrite: it crashes on the names tested here
    return path


def _kerfer(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    code = "import sys; from kerfer.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, cwd=cwd, timeout=300)


def test_a_file_name_that_is_not_utf8_is_read_written_or_refused_in_one_line(tmp_path):
    """OpenCV crashed (exit 139) on such a name in predict --save-annotated, live --source and
    --save-video: images are now read and written through Python, videos refused in one line."""
    _gray(tmp_path / f"{BAD}.png")
    r = _kerfer("predict", f"{BAD}.png", "--save-annotated", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert r.stdout.decode() == "bad\\xffname.png: no face found\n"
    assert os.listdir(tmp_path / "out") == [f"{BAD}_kerfer.jpg"]

    (tmp_path / f"{BAD}.mp4").write_bytes(b"\0" * 64)
    video = cv2.VideoWriter(str(tmp_path / "x.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    video.write(np.zeros((48, 64, 3), np.uint8))
    video.release()
    for args in (["--source", f"{BAD}.mp4"], ["--source", "x.avi", "--save-video", f"{BAD}.mp4"]):
        r = _kerfer("live", "--headless", "--output", "log.jsonl", *args, cwd=tmp_path)
        err = r.stderr.decode()
        assert r.returncode == 1 and "bad\\xffname.mp4: the video name is not valid UTF-8" in err, err[-2000:]
        assert len(err.strip().splitlines()) == 1 and not (tmp_path / "log.jsonl").exists()


def test_a_newline_in_a_file_name_keeps_one_result_per_line(tmp_path):
    _gray(tmp_path / "two\nlines.png")
    r = CliRunner().invoke(main, ["predict", str(tmp_path / "two\nlines.png")])
    assert r.exit_code == 0 and r.output == f"{tmp_path}/two\\nlines.png: no face found\n", r.output


def test_an_image_over_opencvs_size_limit_is_one_error_line(tmp_path):
    huge_png(tmp_path / "a_big.png")  # 467 bytes, 40000x40000 pixels declared
    _gray(tmp_path / "b_fine.png")
    r = CliRunner().invoke(main, ["predict", str(tmp_path)])
    assert r.exit_code == 1 and "Traceback" not in r.output and "cv2.error" not in r.output, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith(f"{tmp_path}/a_big.png: ERROR ") and "CV_IO_MAX_IMAGE_PIXELS" in lines[0]
    assert lines[1] == f"{tmp_path}/b_fine.png: no face found"


def test_unreadable_folders_are_reported_and_the_rest_is_done(tmp_path, monkeypatch):
    """One folder without permission, one on a stale mount: `predict` stopped with nothing done."""
    for name in ("a", "locked", "stale", "z"):
        _gray(tmp_path / name / "face.png")
    (tmp_path / "a" / "gone.png").symlink_to(tmp_path / "deleted.png")  # a broken link: named, not dropped
    real = os.scandir

    def scandir(path="."):
        name = Path(path).name
        if name == "locked":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        if name == "stale":
            raise OSError(errno.ESTALE, "Stale file handle", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    r = CliRunner().invoke(main, ["predict", str(tmp_path)])
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    assert r.output.splitlines() == [
        f"{tmp_path}/a/face.png: no face found",
        f"{tmp_path}/a/gone.png: ERROR broken symbolic link (to {tmp_path}/deleted.png)",
        f"{tmp_path}/locked: ERROR cannot list this folder (Permission denied)",
        f"{tmp_path}/stale: ERROR cannot list this folder (Stale file handle)",
        f"{tmp_path}/z/face.png: no face found",
    ]
