"""What ``kerfer train``'s options hand to Keras: the model's starting weights, the sample
weights, the targets, the learning-rate schedule, the loss and the callbacks ``fit`` receives.

A spy replaces ``keras.Model.fit`` and stops the run there: no epoch is trained, so these tests
take seconds, and a training option that is parsed, recorded in config.json and then dropped
on the way to ``fit`` fails here (issue 25)."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from fakedata import make_images, split_usages, tiny_fer_csv, write_csv

from kerfer.cli import main

TINY = {"widths": [8, 16, 16, 32], "stem_filters": 4}
TINY_ARCH = ["--arch", "vgg", "--arch-option", "widths=[8,16,16,32]", "--arch-option", "stem_filters=4"]


class _Stop(BaseException):
    """Raised by the spy: a BaseException, so no ``except Exception`` on the way swallows it."""


@pytest.fixture
def fit_spy(monkeypatch):
    """Records what the first ``fit`` call receives, then stops the run."""
    seen: dict = {}

    def fit(self, x=None, *args, **kwargs):
        seen.update(model=self, data=x, kwargs=kwargs)
        seen["weights"] = {layer.name: [np.array(w) for w in layer.get_weights()] for layer in self.layers}
        raise _Stop

    monkeypatch.setattr(keras.Model, "fit", fit)
    return seen


def _train(spy, csv, out, *extra):
    with pytest.raises(_Stop):
        CliRunner().invoke(
            main,
            ["train", "--csv", str(csv), "--out", str(out), "--batch-size", "32", "--no-augment", *TINY_ARCH, *extra],
            catch_exceptions=False,
        )
    return spy


def _batches(spy):
    return [tuple(np.asarray(t) for t in b) for b in spy["data"]]


def test_init_from_starts_fit_from_the_source_weights(tmp_path, fit_spy):
    from kerfer.models import build_model

    csv, *_ = tiny_fer_csv(tmp_path / "fer.csv")
    keras.utils.set_random_seed(7)
    source = build_model("vgg", 7, **TINY)
    (tmp_path / "src").mkdir()
    source.save(tmp_path / "src" / "best.keras")
    _train(fit_spy, csv, tmp_path / "run", "--init-from", str(tmp_path / "src"), "--epochs", "1")
    start = fit_spy["weights"]
    compared = 0
    for layer in source.layers:
        for a, b in zip(layer.get_weights(), start[layer.name]):
            np.testing.assert_array_equal(a, b, err_msg=layer.name)
            compared += 1
    assert compared > 10 and any(layer.name == "head_logits" for layer in source.layers)


def test_without_init_from_fit_starts_from_new_weights(tmp_path, fit_spy):
    """The counterpart: the comparison above is not one that any two builds pass."""
    from kerfer.models import build_model

    csv, *_ = tiny_fer_csv(tmp_path / "fer.csv")
    keras.utils.set_random_seed(7)
    source = build_model("vgg", 7, **TINY)
    _train(fit_spy, csv, tmp_path / "run", "--epochs", "1")
    kernel = source.get_layer("stage3_conv1_conv").get_weights()[0]
    assert not np.array_equal(kernel, fit_spy["weights"]["stage3_conv1_conv"][0])


def _imbalanced_csv(path, n=210):
    images, labels = make_images(n, seed=2)
    usages = np.array(split_usages(n))
    keep = ~((labels == 0) & (np.arange(n) % 3 != 0)) & ~((labels == 3) & (np.arange(n) % 2 == 0))
    return write_csv(path, images[keep], labels[keep], list(usages[keep])), labels[keep][usages[keep] == "Training"]


def test_balanced_class_weights_reach_fit_as_sample_weights(tmp_path, fit_spy):
    csv, train_labels = _imbalanced_csv(tmp_path / "fer.csv")
    counts = np.bincount(train_labels, minlength=7)
    assert counts.min() * 2 < counts.max()  # the data really is imbalanced
    _train(fit_spy, csv, tmp_path / "run", "--class-weights", "balanced", "--epochs", "1")
    batches = _batches(fit_spy)
    assert all(len(b) == 3 for b in batches), "fit gets (images, targets, sample weights)"
    y = np.concatenate([b[1] for b in batches]).argmax(1)
    w = np.concatenate([b[2] for b in batches])
    np.testing.assert_array_equal(np.bincount(y, minlength=7), counts)
    per_class = np.array([w[y == c].sum() for c in range(7)])
    # Balanced: every class carries the same total weight, n / 7, and the mean weight is 1.
    np.testing.assert_allclose(per_class, len(y) / 7, rtol=1e-5)
    np.testing.assert_allclose(w.mean(), 1.0, rtol=1e-5)


def test_no_class_weights_means_no_sample_weights(tmp_path, fit_spy):
    csv, _ = _imbalanced_csv(tmp_path / "fer.csv")
    _train(fit_spy, csv, tmp_path / "run", "--epochs", "1")
    assert all(len(b) == 2 for b in _batches(fit_spy))


def test_cosine_schedule_warms_up_then_decays_to_zero(tmp_path, fit_spy):
    csv, *_ = tiny_fer_csv(tmp_path / "fer.csv")  # 98 training rows: 4 steps per epoch at batch 32
    args = ["--lr-schedule", "cosine", "--lr", "0.01", "--warmup-epochs", "2", "--epochs", "10"]
    _train(fit_spy, csv, tmp_path / "run", *args)
    opt = fit_spy["model"].optimizer
    steps = math.ceil(98 / 32)
    warm, total = 2 * steps, 10 * steps

    def lr(step):
        opt.iterations.assign(step)
        return float(opt.learning_rate)

    assert lr(0) == pytest.approx(0.01 * 0.05)
    assert lr(warm // 2) == pytest.approx(0.01 * (0.05 + 0.95 / 2), rel=1e-4)
    assert lr(warm) == pytest.approx(0.01)
    assert lr(warm + (total - warm) // 2) == pytest.approx(0.005, rel=1e-4)  # cosine's midpoint
    assert lr(total) == pytest.approx(0.0, abs=1e-9)


def test_label_smoothing_reaches_the_loss(tmp_path, fit_spy):
    csv, *_ = tiny_fer_csv(tmp_path / "fer.csv")
    _train(fit_spy, csv, tmp_path / "run", "--label-smoothing", "0.3", "--epochs", "1")
    loss = fit_spy["model"].loss
    y = np.eye(7, dtype="float32")[[2, 5]]
    p = np.random.default_rng(0).dirichlet(np.ones(7), 2).astype("float32")
    smoothed = y * 0.7 + 0.3 / 7
    expected = -(smoothed * np.log(p)).sum(1).mean()
    assert float(loss(y, p)) == pytest.approx(expected, rel=1e-5)


def test_early_stopping_callback_watches_validation_accuracy(tmp_path, fit_spy):
    csv, *_ = tiny_fer_csv(tmp_path / "fer.csv")
    _train(fit_spy, csv, tmp_path / "run", "--early-stopping", "4", "--epochs", "3")
    stops = [c for c in fit_spy["kwargs"]["callbacks"] if isinstance(c, keras.callbacks.EarlyStopping)]
    assert len(stops) == 1
    assert (stops[0].patience, stops[0].monitor) == (4, "val_accuracy")
    stop, model = stops[0], fit_spy["model"]
    stop.set_model(model)
    stop.on_train_begin()
    model.stop_training = False
    for epoch, acc in enumerate([0.30, 0.50, 0.49, 0.48, 0.47]):  # best at epoch 1, then 3 worse
        stop.on_epoch_end(epoch, {"val_accuracy": acc, "accuracy": 1.0})
    assert not model.stop_training  # a rising accuracy is an improvement; patience 4 not yet spent
    stop.on_epoch_end(5, {"val_accuracy": 0.46, "accuracy": 1.0})
    assert model.stop_training
    _train(fit_spy, csv, tmp_path / "run2", "--epochs", "3")
    assert not any(isinstance(c, keras.callbacks.EarlyStopping) for c in fit_spy["kwargs"]["callbacks"])


def test_teacher_targets_are_what_fit_trains_on(tmp_path, fit_spy):
    from kerfer.runtime import Classifier

    csv, *_ = tiny_fer_csv(tmp_path / "fer.csv")
    _train(fit_spy, csv, tmp_path / "run", "--teacher", "shipped", "--teacher-weight", "0.7", "--epochs", "1")
    x, y = (np.concatenate(t) for t in zip(*_batches(fit_spy)))
    clf = Classifier("shipped")
    teacher = clf.predict_faces(x.astype(np.uint8), tta=True)
    teacher /= teacher.sum(1, keepdims=True)
    labels_part = y - 0.7 * teacher  # what is left must be 0.3 x a one-hot label row
    np.testing.assert_allclose(np.sort(labels_part, axis=1)[:, :-1], 0.0, atol=1e-5)
    np.testing.assert_allclose(labels_part.max(1), 0.3, atol=1e-5)
