"""The runtime install for real: a fresh venv, ``pip install <this checkout>`` (no extras, packages
from the registry), then ``predict``, ``live --headless`` and the one-line ``train`` message.

Marked ``install`` (it needs the package registry, so the offline default run leaves it out);
``bash .ci/run`` runs it after the default suite, ``make test-install`` on its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MEDIA, copy_checkout, needs_media

pytestmark = pytest.mark.install


def _env() -> dict[str, str]:
    """Without PYTHONPATH: the venv must use its installed kerfer, not the checkout."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runtime")
    src = copy_checkout(root / "src")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=_env(), timeout=120)
    pip = _run([str(venv / "bin/python"), "-m", "pip", "install", str(src)], root, timeout=900)
    output = pip.stdout + pip.stderr
    assert pip.returncode == 0, output[-3000:]
    assert "dependency resolver" not in output, output[-3000:]
    assert not [line for line in output.splitlines() if line.startswith("ERROR")], output[-3000:]
    return venv


def test_runtime_install_has_no_tensorflow(runtime_venv, tmp_path):
    code = "import importlib.util as u; print([m for m in ('tensorflow', 'keras', 'pandas') if u.find_spec(m)])"
    out = _run([str(runtime_venv / "bin/python"), "-c", code], tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


@needs_media
def test_runtime_install_predicts_a_photo(runtime_venv, tmp_path):
    out = _run([str(runtime_venv / "bin/kerfer"), "predict", str(MEDIA / "two_people.jpg"), "--json"], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    (record,) = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(record["faces"]) == 2 and record["error"] is None, record
    for face in record["faces"]:
        assert abs(sum(face["probs"].values()) - 1) < 0.01 and face["label"] in face["probs"]


@needs_media
def test_runtime_install_runs_live_headless(runtime_venv, tmp_path):
    jsonl = tmp_path / "faces.jsonl"
    args = ["live", "--source", str(MEDIA / "test.mp4"), "--headless", "--output", str(jsonl)]
    out = _run([str(runtime_venv / "bin/kerfer"), *args], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    frames = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(frames) > 100 and sum(len(f["faces"]) for f in frames) > 50, out.stdout
    assert f"{len(frames)} frames" in out.stdout


def test_runtime_install_says_how_to_add_training(runtime_venv, tmp_path):
    kerfer = str(runtime_venv / "bin/kerfer")
    out = _run([kerfer, "train", "--csv", "fer.csv", "--out", "runs/t"], tmp_path)
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.startswith("Error: kerfer train needs the training kit (tensorflow, keras")
    assert out.stderr.rstrip().endswith('pip install "kerfer[train]"'), out.stderr
    assert not (tmp_path / "runs").exists()
    help_text = _run([kerfer, "--help"], tmp_path).stdout
    assert (
        'Training commands (need the training kit, TensorFlow; not in this install: pip install "kerfer[train]")'
        in (help_text)
    )
