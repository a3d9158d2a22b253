"""Shipped files are checked before they are trusted: 20 flipped bytes in the installed int8
classifier still "predicted", silently wrong (only the float weights had a checksum)."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

import kerfer.integrity as integrity
from kerfer.cli import main
from kerfer.integrity import MANIFEST, assets_dir, file_sha256, read_manifest
from kerfer.modelio import ModelError
from kerfer.runtime.blazeface import BlazeFaceDetector
from kerfer.runtime.classifier import Classifier


def test_the_manifest_lists_every_shipped_file_with_its_sha256():
    shipped = sorted(p.name for p in assets_dir().iterdir() if p.is_file() and p.name != MANIFEST)
    recorded = read_manifest(assets_dir())
    assert sorted(recorded) == shipped, f"update {MANIFEST}: kerfer.integrity.write_manifest()"
    for name, digest in recorded.items():
        assert file_sha256(assets_dir() / name) == digest, f"{name} changed without its {MANIFEST} line"


@pytest.fixture
def install(tmp_path, monkeypatch):
    """A copy of the installed assets, checked as kerfer's own."""
    copy = tmp_path / "assets"
    shutil.copytree(assets_dir(), copy)
    monkeypatch.setattr(integrity, "assets_dir", lambda: copy)
    return copy


def _flip(path, count=20):
    data = bytearray(path.read_bytes())
    for i in range(count):
        data[len(data) // 2 + 97 * i] ^= 0x5A
    path.write_bytes(bytes(data))


def test_a_damaged_shipped_file_is_one_line_naming_it(install):
    model = install / "kerfer_fer2013_int8.tflite"
    assert Classifier(model).class_names[3] == "happy"  # intact: loads
    _flip(model)
    with pytest.raises(ModelError, match=r"kerfer_fer2013_int8.tflite: damaged kerfer install .*: reinstall kerfer"):
        Classifier(model)
    r = CliRunner().invoke(main, ["predict", "--model", str(model), "x.jpg"])
    assert r.exit_code == 1 and "damaged kerfer install" in r.output and "Traceback" not in r.output, r.output

    _flip(install / "blazeface_full_range.tflite")
    with pytest.raises(ModelError, match="blazeface_full_range.tflite: damaged kerfer install"):
        BlazeFaceDetector(model=str(install / "blazeface_full_range.tflite"))

    shutil.copy(assets_dir() / "kerfer_fer2013_int8.tflite", model)  # the model mended, its labels edited
    labels = install / "kerfer_fer2013_int8.json"
    labels.write_text(labels.read_text().replace('"happy"', '"sad!"'))
    with pytest.raises(ModelError, match="kerfer_fer2013_int8.json: damaged kerfer install"):
        Classifier(model)


def test_the_verdict_is_kept_for_the_process(install, monkeypatch):
    calls = []
    real = integrity.file_sha256
    monkeypatch.setattr(integrity, "file_sha256", lambda p: calls.append(p) or real(p))
    integrity._verdict.cache_clear()
    for _ in range(3):
        Classifier(install / "kerfer_fer2013_int8.tflite")
    assert len(calls) == 2, calls  # the model and its labels, once each
