"""`make test-pi`: kerfer on an emulated 64-bit Raspberry Pi OS Lite, compared with this machine.

tests/pi/emulate.sh builds (once, cached) a Debian bookworm arm64 root filesystem, installs kerfer
there with README's Pi command and runs predict, live on a clip, doctor (before and after README's
apt line) and live --picamera against a fake picamera2 serving the same clip. Here the same
commands run on the host and the two are compared:

- predict on a JPEG: the same faces, boxes, labels and int8 probabilities (exact).
- live on a video: the aarch64 decoder and colour conversion change frames by a few grey levels,
  so near-tie labels may flip (5 of 115 in the issue's trial): the same number of frames and of
  faces per frame, boxes within 4 px, labels equal on at least 90 % of faces (110 of 115, boxes
  within 3 px, on 2026-12-03).

Emulated speed means nothing; only correctness is compared. Needs root, binfmt_misc and the
package registries; not part of the default run (marker ``pi``).
"""

from __future__ import annotations

import csv
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED

pytestmark = pytest.mark.pi

HERE = Path(__file__).parent
MEDIA = SHARED / "media"
LABEL_AGREEMENT = 0.90
BOX_PX = 4  # 3 px seen: a detection on a frame a few grey levels off, carried to the next frame


def _kerfer(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    code = "import sys; from kerfer.cli import main; main(sys.argv[1:])"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600, env=env, cwd=cwd
    )


@pytest.fixture(scope="module")
def pi(tmp_path_factory) -> Path:
    if platform.system() != "Linux" or os.geteuid() != 0:
        pytest.skip("needs Linux as root (binfmt_misc, chroot)")
    if not MEDIA.is_dir():
        pytest.skip(f"needs {MEDIA}")
    out = tmp_path_factory.mktemp("pi")
    env = {**os.environ, "KERFER_SHARED": str(SHARED), "PYTHON": sys.executable}
    r = subprocess.run(["bash", str(HERE / "pi" / "emulate.sh"), str(out)], env=env, capture_output=True, text=True)
    log = (out / "inside.log").read_text() if (out / "inside.log").exists() else ""
    assert r.returncode == 0, (r.stderr[-3000:], log[-6000:])
    return out


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("host")
    r = _kerfer("predict", str(MEDIA / "two_people.jpg"), "--json")
    assert r.returncode == 0, r.stderr
    (out / "predict.jsonl").write_text(r.stdout)
    r = _kerfer("live", "--source", str(MEDIA / "test.mp4"), "--headless", "--output", str(out / "live.csv"))
    assert r.returncode == 0, r.stderr
    return out


def _rows(path: Path) -> dict[int, list[dict]]:
    by_frame: dict[int, list[dict]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            by_frame.setdefault(int(row["frame"]), []).append(row)
    return by_frame


def _compare_live(ours: Path, theirs: Path) -> None:
    a, b = _rows(ours), _rows(theirs)
    assert sorted(a) == sorted(b), "the same frames"
    faces = agree = 0
    for frame in a:
        assert len(a[frame]) == len(b[frame]), f"frame {frame}: {len(a[frame])} faces here, {len(b[frame])} on the Pi"
        for x, y in zip(sorted(a[frame], key=lambda r: int(r["x"])), sorted(b[frame], key=lambda r: int(r["x"]))):
            assert all(abs(int(x[k]) - int(y[k])) <= BOX_PX for k in "xywh"), (frame, x, y)
            faces += 1
            agree += x["label"] == y["label"]
    assert faces >= 50
    assert agree / faces >= LABEL_AGREEMENT, f"labels agree on {agree} of {faces} faces"


def test_the_readme_install_resolves_cleanly_with_numpy_1_on_arm64(pi):
    versions = json.loads((pi / "versions.json").read_text())
    assert versions["machine"] == "aarch64"
    # the venv's NumPy 1.x shadows Debian's 1.24, and the system's compiled numexpr (standing in for
    # picamera2's simplejpeg) still imports beside it
    assert versions["numpy"].startswith("1.") and "/.venv/" in versions["numpy_file"]
    assert versions["picamera2"].startswith("/usr/lib/python3/dist-packages/")
    assert "No broken requirements found" in (pi / "pip_check.txt").read_text()


def test_doctor_on_lite_names_the_missing_library_and_its_apt_package(pi):
    text = (pi / "doctor_lite.txt").read_text()
    opencv = next(line for line in text.splitlines() if line.startswith("✗ OpenCV"))
    assert "cannot load the system library lib" in opencv and ".so" in opencv
    fix = text.split(opencv, 1)[1].splitlines()[1]  # the line under the row
    assert "sudo apt install libgl1 libglib2.0-0" in fix
    # no row sends the user to pip for what apt fixes
    assert "pip install ai-edge-litert" not in text and "opencv-python" not in text and "Traceback" not in text
    for row in ("BlazeFace face detector", "Haar face detector", "shipped model"):
        assert f"✗ {row}" in text and "see the OpenCV row" in text.split(f"✗ {row}", 1)[1].splitlines()[1]
    lite = (pi / "predict_lite.txt").read_text()
    assert "Traceback" not in lite and "sudo apt install libgl1 libglib2.0-0" in lite, lite


def test_doctor_after_the_apt_line(pi):
    text = (pi / "doctor.txt").read_text()
    for row in ("OpenCV", "LiteRT", "BlazeFace face detector", "shipped model", "XNNPACK", "pipeline speed"):
        assert f"✓ {row}" in text, text
    cpu = next(line for line in text.splitlines() if line.startswith("✓ CPU"))
    assert "aarch64" in cpu and "NEON" in cpu


@pytest.mark.parametrize("board", ["predict.jsonl", "predict_pi5.jsonl"], ids=["pi4-cortex-a72", "pi5-cortex-a76"])
def test_predict_on_the_pi_is_exactly_the_hosts(pi, host, board):
    ours = [json.loads(line) for line in (host / "predict.jsonl").read_text().splitlines()]
    theirs = [json.loads(line) for line in (pi / board).read_text().splitlines()]
    assert len(ours) == len(theirs) == 1
    assert len(ours[0]["faces"]) == 2
    assert [f["box"] for f in ours[0]["faces"]] == [f["box"] for f in theirs[0]["faces"]]
    assert [f["label"] for f in ours[0]["faces"]] == [f["label"] for f in theirs[0]["faces"]]
    assert [f["probs"] for f in ours[0]["faces"]] == [f["probs"] for f in theirs[0]["faces"]]


def test_live_on_a_clip_matches_the_host_within_the_decoders_tolerance(pi, host):
    assert "115 frames" in (pi / "live.txt").read_text()
    _compare_live(host / "live.csv", pi / "live.csv")


def test_live_picamera_reads_the_fake_camera_as_configured(pi):
    """The camera path itself: picamera2 configured as kerfer asks, read in the capture thread
    (newest frame only, so which frames are processed depends on speed: no frame-by-frame
    comparison with the host here), every processed frame with the clip's one face."""
    calls = [json.loads(line) for line in (pi / "picamera_calls.jsonl").read_text().splitlines()]
    events = [c["event"] for c in calls]
    assert events[:3] == ["init", "configure", "start"] and events[-2:] == ["stop", "close"]
    assert calls[1]["main"] == {"size": [640, 480], "format": "RGB888"}
    summary = (pi / "picamera.txt").read_text()
    assert "processed 60" in summary and "Traceback" not in summary, summary
    rows = _rows(pi / "picamera.csv")
    assert len(rows) >= 0.9 * 60, f"a face in {len(rows)} of 60 frames"
    for faces in rows.values():
        assert len(faces) == 1
        x, y, w, h = (int(faces[0][k]) for k in "xywh")
        assert 0 <= x and 0 <= y and x + w <= 640 and y + h <= 480 and w >= 60
