"""Flip test-time augmentation at run time: one batch of faces and mirrors, for every backend."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import MEDIA, needs_media

from kerfer.cli import main
from kerfer.runtime import Classifier


def _faces(n=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 48, 48, 1), dtype=np.uint8)


@pytest.fixture(scope="module")
def keras_model(tmp_path_factory):
    from kerfer.models import build_model

    path = tmp_path_factory.mktemp("tta") / "m.keras"
    build_model("vgg", widths=[8, 16, 16, 32], stem_filters=4).save(path)
    return path


@pytest.mark.parametrize("which", ["tflite", "keras"])
def test_tta_is_the_mean_of_face_and_mirror_and_mirror_invariant(which, keras_model):
    clf = Classifier(None if which == "tflite" else keras_model)
    faces = _faces()
    mirrored = np.ascontiguousarray(faces[:, :, ::-1])
    tta = clf.predict_faces(faces, tta=True)
    expected = (clf.predict_faces(faces) + clf.predict_faces(mirrored)) / 2
    np.testing.assert_allclose(tta, expected, atol=1e-6)
    np.testing.assert_allclose(clf.predict_faces(mirrored, tta=True), tta, atol=1e-6)
    assert not np.allclose(clf.predict_faces(faces), clf.predict_faces(mirrored), atol=1e-3)  # mirrors differ


def test_tta_makes_one_backend_call(keras_model):
    clf = Classifier(keras_model)
    calls = []
    backend = clf.backend
    clf.backend = lambda x: calls.append(len(x)) or backend(x)
    clf.predict_faces(_faces(4), tta=True)
    assert calls == [8]
    assert clf.predict_faces(_faces(0), tta=True).shape == (0, 7)


@needs_media
def test_predict_tta_flag_changes_the_probabilities():
    photo = str(MEDIA / "two_people.jpg")
    on = CliRunner().invoke(main, ["predict", "--json", photo])
    off = CliRunner().invoke(main, ["predict", "--json", "--no-tta", photo])
    assert on.exit_code == 0 and off.exit_code == 0, on.output + off.output
    assert on.output != off.output  # TTA is on by default and changes the numbers
    assert '"faces": [{' in on.output


@needs_media
def test_live_runs_without_tta_by_default_and_with_it_on_request(tmp_path):
    clip = str(MEDIA / "test.mp4")

    def probs(*flags):
        out = tmp_path / f"live{len(flags)}{'-'.join(flags)}.jsonl"
        r = CliRunner().invoke(
            main, ["live", "--source", clip, "--headless", "--max-frames", "3", "--output", str(out), *flags]
        )
        assert r.exit_code == 0, r.output
        return [f["probs"] for line in out.read_text().splitlines() for f in json.loads(line)["faces"]]

    default, off, on = probs(), probs("--no-tta"), probs("--tta")
    assert default and default == off  # live's default is no TTA (it would cost 18-37 % of the frame rate)
    assert on != off
