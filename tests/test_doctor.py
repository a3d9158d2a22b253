"""`kerfer doctor`: a full table on a full install, and on one without TensorFlow or LiteRT."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from kerfer.cli import main

NAMES = [
    "kerfer",
    "commands",
    "CPU",
    "NumPy",
    "OpenCV",
    "LiteRT",
    "TensorFlow",
    "Keras",
    "devices",
    "auto choices",
    "BlazeFace face detector",
    "Haar face detector",
    "shipped model",
    "XNNPACK",
    "pipeline speed",
    "display",
    "camera",
]


def _rows(output: str) -> dict[str, str]:
    rows = {}
    for line in output.splitlines():
        if line[:1] in "✓✗":
            mark, rest = line[0], line[2:]
            name = next((n for n in sorted(NAMES, key=len, reverse=True) if rest.startswith(n)), rest.split()[0])
            rows[name] = mark + rest[len(name) :]
    return rows


def test_doctor_prints_every_check(monkeypatch):
    import tensorflow as tf

    from kerfer.training import choose_precision

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    r = CliRunner().invoke(main, ["doctor"])
    assert r.exit_code == 0, r.output
    rows = _rows(r.output)
    assert set(NAMES) <= set(rows), r.output
    for name in (
        "kerfer",
        "commands",
        "NumPy",
        "OpenCV",
        "TensorFlow",
        "Keras",
        "BlazeFace face detector",
        "Haar face detector",
        "shipped model",
        "XNNPACK",
        "pipeline speed",
    ):
        assert rows[name].startswith("✓"), r.output
    assert tf.__version__ in rows["TensorFlow"]
    assert "--detect-every" in rows["pipeline speed"] and " ms per face" in rows["pipeline speed"]
    # the list comes from the click group: every command, `crop` included (it was hard-coded and missed it)
    assert rows["commands"].endswith("all: " + ", ".join(sorted(main.commands))), rows["commands"]
    assert "crop" in main.commands
    expected = choose_precision("auto", tf.config.list_physical_devices("GPU"))
    assert f"precision {expected}" in rows["auto choices"]
    assert rows["display"].startswith("✗")
    assert "--headless" in r.output.split("✗ display", 1)[1].splitlines()[1], "a ✗ says what to do"


def test_doctor_without_tensorflow_or_litert():
    """A runtime-only install, or a broken one: the table is still printed, each ✗ with its fix."""
    code = (
        "import sys\n"
        "for m in ('tensorflow', 'keras', 'ai_edge_litert'): sys.modules[m] = None\n"
        "from kerfer.cli import main\n"
        "main(['doctor'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    rows = _rows(out.stdout)
    assert set(NAMES) <= set(rows), out.stdout
    for name in (
        "TensorFlow",
        "Keras",
        "LiteRT",
        "devices",
        "auto choices",
        "BlazeFace face detector",
        "shipped model",
        "XNNPACK",
        "pipeline speed",
    ):
        assert rows[name].startswith("✗"), out.stdout
    assert 'pip install "kerfer[train]"' in out.stdout and "pip install ai-edge-litert" in out.stdout
    assert rows["commands"].startswith("✗"), out.stdout
    assert (
        "runtime only: crop, doctor, live, predict, report; archs, evaluate, export, pack, train need"
        in rows["commands"]
    )
    assert rows["OpenCV"].startswith("✓") and rows["Haar face detector"].startswith("✓")
