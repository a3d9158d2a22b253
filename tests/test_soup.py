"""kerfer.models.soup: weighted weight averaging into a run directory the other commands take."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kerfer.models import soup

TINY = {"arch": "vgg", "arch_options": {"widths": [8, 16, 16, 32], "stem_filters": 4}}


def test_mean_weights_is_the_share_weighted_mean():
    a = [np.zeros((2, 3)), np.ones(4)]
    b = [np.full((2, 3), 4.0), np.full(4, 3.0)]
    out = soup.mean_weights([a, b], [3, 1])  # shares normalised: 0.75 / 0.25
    np.testing.assert_allclose(out[0], np.full((2, 3), 1.0))
    np.testing.assert_allclose(out[1], np.full(4, 1.5))
    with pytest.raises(ValueError, match="other weight shapes"):
        soup.mean_weights([a, [np.zeros((3, 2)), np.ones(4)]], [1, 1])
    with pytest.raises(ValueError, match="positive"):
        soup.mean_weights([a, b], [1, 0])
    with pytest.raises(ValueError, match="two or more"):
        soup.mean_weights([a], [1])


def test_soup_of_two_runs_is_a_run_that_classifies(tmp_path):
    import keras

    from kerfer.contract import ModelContract
    from kerfer.models import build_model
    from kerfer.runtime import Classifier

    paths = []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        run = tmp_path / f"run{seed}"
        run.mkdir()
        build_model("vgg", **TINY["arch_options"]).save(run / "best.keras")
        ModelContract().save(run / "labels.json")
        paths.append(run)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY))
    out = tmp_path / "soup"
    soup.main([str(paths[0]), str(paths[1]), "--weights", "0.2", "0.8", "--config", str(config), "--out", str(out)])

    a, b, s = (
        keras.saving.load_model(p) for p in (paths[0] / "best.keras", paths[1] / "best.keras", out / "best.keras")
    )
    for wa, wb, ws in zip(a.get_weights(), b.get_weights(), s.get_weights()):
        np.testing.assert_allclose(ws, 0.2 * wa + 0.8 * wb, rtol=1e-5, atol=1e-6)
    assert json.loads((out / "soup.json").read_text())["shares"] == pytest.approx([0.2, 0.8])
    probs = Classifier(out).predict_faces(np.zeros((2, 48, 48), np.uint8))
    assert probs.shape == (2, 7) and np.allclose(probs.sum(1), 1, atol=1e-4)
