"""kerfer's shipped FER+ model: one name (`ferplus`) for predict, live, evaluate, build_model
and --init-from, and FER+ accuracy by FERPlus' majority rule."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import MEDIA, needs_media
from fakedata import ferplus_votes, make_images, split_usages, write_csv, write_ferplus

from kerfer.cli import main
from kerfer.labels import FER2013_CLASSES, FERPLUS_CLASSES
from kerfer.modelio import ModelError, default_model_path, resolve_model_path


def test_the_name_ferplus_means_the_shipped_fer_plus_model():
    from kerfer.runtime import Classifier

    path = resolve_model_path("ferplus")
    assert path == default_model_path("ferplus") and path.name == "kerfer_ferplus_int8.tflite"
    assert resolve_model_path("shipped") == resolve_model_path(None) != path
    clf = Classifier("ferplus")
    assert tuple(clf.class_names) == FERPLUS_CLASSES
    probs = clf.predict_faces(make_images(4)[0][..., None])
    assert probs.shape == (4, 8) and np.allclose(probs.sum(axis=1), 1.0, atol=0.02)
    with pytest.raises(ModelError, match="kerfer ships: fer2013, ferplus, shipped"):
        default_model_path("imagenet")


def test_evaluate_ferplus_uses_and_names_the_fer_plus_majority_rule(tmp_path):
    from kerfer.data.ferplus import ferplus_rule_labels

    images, labels = make_images(60, seed=4)
    usages = split_usages(60, (0.5, 0.5, 0.0))
    votes = ferplus_votes(labels, seed=4)
    votes[30:35] = [3, 3, 2, 2, 0, 0, 0, 0, 0, 0]  # no majority: left out by the rule
    csv = write_csv(tmp_path / "fer.csv", images, labels, usages)
    write_ferplus(tmp_path / "fer2013new.csv", usages, votes)
    r = CliRunner().invoke(main, ["evaluate", "--model", "ferplus", "--csv", str(csv), "--json", "--no-cache"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    assert "FERPlus' majority rule" in out["labels"]
    support = sum(out["report"]["per_class"][name]["support"] for name in FERPLUS_CLASSES)
    assert support == int((ferplus_rule_labels(votes[30:]) >= 0).sum()) == 25
    r = CliRunner().invoke(main, ["evaluate", "--model", "ferplus", "--csv", str(csv), "--no-cache"])
    assert "labels: FER+ labels by FERPlus' majority rule" in r.output


def test_init_from_ferplus_keeps_the_backbone_and_a_head_row_for_every_shared_emotion():
    from kerfer.models import build_model
    from kerfer.training import init_weights

    meta = json.loads(default_model_path("ferplus").with_name("kerfer_ferplus_vgg.json").read_text())
    options = meta["arch_options"]
    eight = build_model("vgg", 8, **options)
    note = init_weights(eight, "ferplus", FERPLUS_CLASSES)
    assert "ferplus" in note and "new rows" not in note
    # FER2013's classes: every one has a FER+ row (happy is FER+'s happiness, sad its sadness,
    # angry its anger); contempt's row is dropped, none is new.
    seven = build_model("vgg", 7, **options)
    note = init_weights(seven, "ferplus", FER2013_CLASSES)
    assert "trained rows of angry, disgust, fear, happy, sad, surprise, neutral" in note and "new rows" not in note
    seven_kernel = seven.get_layer("head_logits").get_weights()[0]
    eight_kernel = eight.get_layer("head_logits").get_weights()[0]
    for i, name in enumerate(FER2013_CLASSES):
        j = FERPLUS_CLASSES.index({"happy": "happiness", "sad": "sadness", "angry": "anger"}.get(name, name))
        np.testing.assert_array_equal(seven_kernel[:, i], eight_kernel[:, j])
    shipped = build_model("vgg", weights="ferplus")
    x = make_images(4, seed=2)[0][..., None].astype("float32")
    np.testing.assert_allclose(eight.predict(x, verbose=0), shipped.predict(x, verbose=0), atol=1e-6)


@needs_media
def test_predict_with_the_ferplus_model_names_fer_plus_emotions():
    r = CliRunner().invoke(main, ["predict", str(MEDIA / "two_people.jpg"), "--model", "ferplus", "--json"])
    assert r.exit_code == 0, r.output
    faces = [f for line in r.output.strip().splitlines() for f in json.loads(line)["faces"]]
    assert len(faces) == 2
    assert all(f["label"] in FERPLUS_CLASSES and tuple(f["probs"]) == FERPLUS_CLASSES for f in faces)
