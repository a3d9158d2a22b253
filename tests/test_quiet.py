"""Only kerfer's own lines reach the terminal unless `-v`: TensorFlow's start printed the absl
banner twice and `E0000 ... failed call to cuInit` on `doctor`, `evaluate` and `train`; libpng's
`iCCP` warnings and Python warnings with a line of source code showed among the results."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
from click.testing import CliRunner

from kerfer.cli import main
from kerfer.runtime.blazeface import blazeface_model_path as blazeface_path


def _png_with_a_bad_icc_profile(path):
    """A PNG whose iCCP chunk makes libpng print `libpng warning: iCCP: too short` on fd 2."""
    ok, data = cv2.imencode(".png", np.full((64, 64), 128, np.uint8))
    data = data.tobytes()
    body = b"bad\0\0" + zlib.compress(b"\0" * 200)
    chunk = struct.pack(">I", len(body)) + b"iCCP" + body + struct.pack(">I", zlib.crc32(b"iCCP" + body) & 0xFFFFFFFF)
    path.write_bytes(data[:33] + chunk + data[33:])  # after the IHDR chunk
    return path


def test_tensorflows_start_prints_nothing():
    env = {k: v for k, v in os.environ.items() if k not in ("KERFER_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    code = "import sys; from kerfer.cli import main; sys.exit(main())"
    r = subprocess.run([sys.executable, "-c", code, "doctor"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0 and "TensorFlow" in r.stdout, r.stderr[-2000:]
    assert r.stderr == "", r.stderr  # no absl banner, no oneDNN note, no cuInit error


def test_native_lines_and_warnings_are_hidden_or_one_line(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("KERFER_VERBOSE", "0")  # `-v` below sets it for the process: restored after the test
    photo = _png_with_a_bad_icc_profile(tmp_path / "icc.png")
    lone = tmp_path / "lone.tflite"  # a model without a labels file: kerfer warns
    lone.write_bytes((blazeface_path().parent / "kerfer_fer2013_int8.tflite").read_bytes())
    r = CliRunner().invoke(main, ["predict", "--model", str(lone), str(photo)])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == [
        f"kerfer: warning: {lone}: no labels file found (labels.json); assuming the 7 FER2013 classes",
        f"{photo}: no face found",
    ]
    assert "libpng" not in capfd.readouterr().err
    r = CliRunner().invoke(main, ["-v", "predict", "--model", str(lone), str(photo)])
    assert r.exit_code == 0 and "libpng warning: iCCP" in capfd.readouterr().err
