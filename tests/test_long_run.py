"""The long run's machinery: the step schedule, FER+'s own majority rule, a second (FER+) head
trained beside FER2013's, cutting each head out as a plain model, and a run packed on one
machine and continued on another at the same epoch and learning-rate position."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from click.testing import CliRunner
from fakedata import ferplus_votes, make_images, split_usages, write_csv, write_ferplus

from kerfer.callbacks import read_history
from kerfer.cli import main
from kerfer.data.ferplus import aux_ferplus_targets, ferplus_rule_labels, join_ferplus, vote_distributions
from kerfer.optim import step_schedule_values
from kerfer.portable import continue_from_pack, pack_run, unpack_run
from kerfer.training import TrainConfig, train

TINY = {"widths": [8, 16, 16, 32], "stem_filters": 8, "stem_depth": 2, "dropout": 0.1}


# -- the step schedule ---------------------------------------------------------------------


def test_step_schedule_holds_then_decays_every_n_epochs():
    cfg = TrainConfig(csv="x", learning_rate=0.3, lr_schedule="step", warmup_epochs=2, epochs=9, decay_start_epoch=4)
    cfg = dataclasses.replace(cfg, decay_every_epochs=2, decay_factor=0.5)
    bounds, rates = step_schedule_values(cfg)
    assert bounds == [1, 2, 4, 6, 8]
    np.testing.assert_allclose(rates, [0.1, 0.2, 0.3, 0.15, 0.075, 0.0375])


def test_step_schedule_decay_may_start_where_the_warmup_ends_or_at_once():
    base = TrainConfig(csv="x", learning_rate=1.0, lr_schedule="step", epochs=5, decay_every_epochs=2, decay_factor=0.5)
    b, r = step_schedule_values(dataclasses.replace(base, warmup_epochs=1, decay_start_epoch=1))
    assert b == [1, 3] and r == [0.5, 0.5, 0.25]
    b, r = step_schedule_values(dataclasses.replace(base, decay_start_epoch=0))
    assert b == [2, 4] and r == [0.5, 0.25, 0.125]
    with pytest.raises(ValueError, match="must end before decay_start_epoch"):
        dataclasses.replace(base, warmup_epochs=3, decay_start_epoch=2).validate()


def test_step_schedule_is_what_the_optimizer_uses_at_each_step():
    from kerfer.optim import learning_rate

    cfg = TrainConfig(csv="x", learning_rate=0.3, lr_schedule="step", warmup_epochs=2, epochs=9, decay_start_epoch=4)
    cfg = dataclasses.replace(cfg, decay_every_epochs=2, decay_factor=0.5)
    schedule = learning_rate(cfg, steps_per_epoch=10)
    # Step s (0-based) belongs to epoch s // 10; the rate of epoch e is rates[e's segment].
    expected = {
        0: 0.1,
        9: 0.1,
        10: 0.1,
        11: 0.2,
        20: 0.2,
        21: 0.3,
        40: 0.3,
        41: 0.15,
        61: 0.075,
        81: 0.0375,
        500: 0.0375,
    }
    for step, rate in expected.items():
        assert float(schedule(step)) == pytest.approx(rate), step


# -- FER+ targets -----------------------------------------------------------------------------


def test_ferplus_rule_drops_single_votes_and_needs_more_than_half():
    votes = np.array(
        [
            [5, 3, 1, 1, 0, 0, 0, 0, 0, 0],  # singles dropped: 5 of 8 > half -> neutral
            [4, 4, 2, 0, 0, 0, 0, 0, 0, 0],  # 4 of 10: no majority
            [0, 0, 0, 0, 0, 0, 0, 0, 7, 3],  # unknown wins: not an emotion
            [0, 6, 0, 0, 0, 0, 0, 0, 0, 4],  # 6 of 10 -> happiness even with NF votes
            [3, 2, 0, 0, 0, 0, 0, 0, 2, 0],  # 3 of 7: unknown counts in the total
            [0, 0, 0, 0, 0, 0, 0, 3, 1, 1],  # contempt 3 of 3 once the singles go
            [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],  # all singles: nothing left
        ]
    )
    np.testing.assert_array_equal(ferplus_rule_labels(votes), [0, -1, -1, 1, -1, 7, -1])


def test_vote_distributions_are_zero_where_unknown_or_not_a_face_dominate():
    votes = np.array([[6, 2, 1, 0, 0, 0, 0, 0, 1, 0], [0, 2, 0, 0, 0, 0, 0, 0, 3, 5], [0] * 10])
    dist, usable = vote_distributions(votes)
    np.testing.assert_allclose(dist[0], [0.75, 0.25, 0, 0, 0, 0, 0, 0])
    assert usable.tolist() == [True, False, False] and not dist[1:].any()


def test_aux_targets_line_up_with_every_row_of_the_split(tmp_path):
    from kerfer.data import read_fer2013

    images, labels = make_images(40)
    usages = split_usages(40, (0.75, 0.25, 0.0))
    votes = ferplus_votes(labels, agree=1.0)
    votes[3] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 10]  # not a face
    fer = write_csv(tmp_path / "fer.csv", images, labels, usages)
    fp = write_ferplus(tmp_path / "new.csv", usages, votes, names=[i != 5 for i in range(40)])  # row 5 dropped
    table = read_fer2013(fer, cache=False)
    joined = join_ferplus(table, fp)
    train_targets = aux_ferplus_targets(table, joined, "Training", "distribution")
    assert train_targets.shape == (30, 8)
    empty = np.flatnonzero(train_targets.sum(axis=1) == 0)
    assert 3 in empty and 5 in empty
    rest = np.setdiff1d(np.arange(30), empty)
    np.testing.assert_allclose(train_targets[rest].sum(axis=1), 1.0, rtol=1e-6)
    val = aux_ferplus_targets(table, joined, "PublicTest", "rule")
    rule = ferplus_rule_labels(votes[30:])
    assert val.shape == (10, 8) and (val.sum(axis=1) == (rule >= 0)).all()
    assert (val.argmax(axis=1)[rule >= 0] == rule[rule >= 0]).all()


def test_labelled_accuracy_skips_rows_without_a_label():
    from kerfer.multihead import LabelledAccuracy

    m = LabelledAccuracy()
    y_true = np.array([[1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 1]], "float32")
    y_pred = np.array([[0.9, 0.1, 0], [0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0, 0.1, 0.9]], "float32")
    m.update_state(y_true, y_pred)
    assert float(m.result()) == pytest.approx(2 / 3)


def test_ferplus_loss_is_zero_on_rows_without_a_label_and_keras_elsewhere():
    """Smoothing must not turn a face FER+ dropped into a uniform target: such rows add 0."""
    import keras

    from kerfer.multihead import LabelledCrossentropy

    y_true = np.array([[0.7, 0.3, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]], "float32")
    y_pred = np.array([[0.6, 0.2, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7], [0.25, 0.25, 0.4, 0.1]], "float32")
    loss = LabelledCrossentropy(label_smoothing=0.1, reduction=None)
    per_row = np.asarray(loss(y_true, y_pred))
    reference = np.asarray(keras.losses.categorical_crossentropy(y_true, y_pred, label_smoothing=0.1))
    assert per_row[1] == 0.0 and reference[1] > 0.1  # Keras alone would count the empty row
    np.testing.assert_allclose(per_row[[0, 2]], reference[[0, 2]], rtol=1e-6)
    mean = float(LabelledCrossentropy(label_smoothing=0.1)(y_true, y_pred))
    assert mean == pytest.approx(reference[[0, 2]].sum() / 3, rel=1e-6)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(again, LabelledCrossentropy) and again.label_smoothing == 0.1


def test_both_heads_are_label_smoothed():
    """Unanimous FER+ votes are one-hot targets: unsmoothed, they grew the FER+ head's weights
    without bound in the long run (x1.9 in five epochs) until both losses rose."""
    from kerfer.optim import loss_and_metrics

    cfg = TrainConfig(csv="x", ferplus_csv="y", ferplus_head=0.5, label_smoothing=0.15)
    losses = loss_and_metrics(cfg)["loss"]
    assert {name: loss.get_config()["label_smoothing"] for name, loss in losses.items()} == {
        "probabilities": 0.15,
        "ferplus": 0.15,
    }
    one_head = loss_and_metrics(dataclasses.replace(cfg, ferplus_head=0.0, label_smoothing=0.05))["loss"]
    assert one_head.get_config()["label_smoothing"] == 0.05


# -- a two-head run, packed and continued elsewhere ---------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("long")
    images, labels = make_images(420, seed=3)
    usages = split_usages(420, (0.8, 0.2, 0.0))
    fer = write_csv(tmp / "fer.csv", images, labels, usages)
    fp = write_ferplus(tmp / "fer2013new.csv", usages, ferplus_votes(labels, seed=3, agree=0.9))
    return tmp, fer, fp


def _config(fer, fp, epochs: int) -> TrainConfig:
    return TrainConfig(
        csv=str(fer),
        ferplus_csv=str(fp),
        ferplus_head=0.5,
        arch_options=TINY,
        epochs=epochs,
        batch_size=16,
        optimizer="sgd",
        learning_rate=0.1,
        weight_decay=1e-3,
        lr_schedule="step",
        warmup_epochs=1,
        decay_start_epoch=2,
        decay_every_epochs=1,
        decay_factor=0.7,
        class_weight_power=0.5,
        augment=None,
        parse_cache=False,
        seed=11,
    )


@pytest.fixture(scope="module")
def runs(data):
    """The same 6-epoch schedule twice: uninterrupted, and stopped after 3 epochs, packed,
    unpacked into another folder and continued there."""
    tmp, fer, fp = data
    whole = train(_config(fer, fp, 6), tmp / "whole", verbose=0)
    train(_config(fer, fp, 3), tmp / "first", verbose=0)
    info = pack_run(tmp / "first", tmp / "pack")
    note = continue_from_pack(tmp / "pack", tmp / "moved" / "run")
    resumed = train(_config(fer, fp, 6), tmp / "moved" / "run", resume=True, verbose=0)
    return whole, resumed, info, note


def test_two_head_run_logs_both_heads_under_their_own_names(runs):
    whole, *_ = runs
    h = whole.history
    assert {"accuracy", "val_accuracy", "ferplus_accuracy", "val_ferplus_accuracy"} <= set(h)
    assert "val_probabilities_accuracy" not in h  # renamed to the name every run has
    # The data is learnable: both heads end well above chance (1/7, 1/8) on the training
    # images (100-odd steps are too few for BatchNorm's moving statistics to serve validation).
    assert h["accuracy"][-1] > 0.5 and h["ferplus_accuracy"][-1] > 0.5
    assert whole.best_val_accuracy == max(h["val_accuracy"])


def test_a_packed_run_continues_at_the_same_epoch_and_learning_rate(runs):
    whole, resumed, info, note = runs
    assert info.epoch == 3 and info.has_best and "unpacked" in note
    assert resumed.history["epoch"] == [1, 2, 3, 4, 5, 6]
    # Same position in the schedule at every epoch: the step count crossed over exactly.
    np.testing.assert_allclose(resumed.history["learning_rate"], whole.history["learning_rate"], rtol=1e-6)
    # No step at the seam: the loss after the seam continues the curve, within 15 % of the
    # uninterrupted run's (different shuffles after the seam), and below where the run was two
    # epochs earlier (a restart from scratch or from an older state would be there or above).
    w, r = whole.history["loss"], resumed.history["loss"]
    for e in (3, 4, 5):  # 0-based epochs after the seam
        assert abs(r[e] - w[e]) <= 0.15 * w[e], (e, r, w)
        assert r[e] < w[1], (e, r, w)
    assert abs(resumed.history["accuracy"][-1] - whole.history["accuracy"][-1]) <= 0.15


def test_unpacked_state_is_the_packed_state_to_float16_precision(data, runs, tmp_path):
    import h5py

    tmp, *_ = data
    unpack_run(tmp / "pack", tmp_path / "copy")
    with (
        h5py.File(tmp / "first" / "backup" / "latest.weights.h5") as a,
        h5py.File(tmp_path / "copy" / "backup" / "latest.weights.h5") as b,
    ):
        names = []
        a.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        for n in names:
            x, y = a[n][()], b[n][()]
            assert x.dtype == y.dtype and x.shape == y.shape, n
            if np.issubdtype(x.dtype, np.integer):
                assert (x == y).all(), n  # the step count is exact
            else:
                np.testing.assert_allclose(y, x, rtol=1e-3, atol=1e-4, err_msg=n)
    assert json.loads((tmp_path / "copy" / "backup" / "training_metadata.json").read_text())["epoch"] == 3
    assert read_history(tmp_path / "copy" / "history.csv")["epoch"] == [1, 2, 3]


def test_pack_refuses_to_overwrite_a_run_and_checks_its_checksum(data, runs, tmp_path):
    tmp, *_ = data
    with pytest.raises(FileExistsError, match="already holds a run"):
        unpack_run(tmp / "pack", tmp / "first")
    # A run behind the pack is not overwritten; one at or past it is used as it is.
    _copy_run(tmp / "first", tmp_path / "behind", epochs=2)
    with pytest.raises(FileExistsError, match="behind the pack"):
        continue_from_pack(tmp / "pack", tmp_path / "behind")
    assert "continuing" in continue_from_pack(tmp / "pack", tmp / "whole")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for f in (tmp / "pack").iterdir():
        (damaged / f.name).write_bytes(f.read_bytes())
    raw = bytearray((damaged / "state.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (damaged / "state.npz").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="checksum mismatch"):
        unpack_run(damaged, tmp_path / "x")
    assert not (tmp_path / "x" / "config.json").exists()


def _copy_run(src, dst, epochs: int) -> None:
    """A run folder that has finished only ``epochs`` epochs (config and history)."""
    dst.mkdir()
    (dst / "config.json").write_text((src / "config.json").read_text())
    lines = (src / "history.csv").read_text().splitlines()
    (dst / "history.csv").write_text("\n".join(lines[: epochs + 1]) + "\n")


def test_pack_is_float16_sized_and_the_cli_continues_from_it(data, runs, tmp_path):
    tmp, *_ = data
    r = CliRunner().invoke(main, ["pack", str(tmp / "first"), str(tmp_path / "p32"), "--dtype", "float32"])
    assert r.exit_code == 0 and "at epoch 3" in r.output, r.output
    state16 = (tmp / "pack" / "state.npz").stat().st_size
    state32 = (tmp_path / "p32" / "state.npz").stat().st_size
    assert state16 < 0.6 * state32
    r = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "run"), "--from-pack", str(tmp / "pack")])
    assert r.exit_code != 0 and "add --resume" in r.output
    r = CliRunner().invoke(main, ["pack", str(tmp / "first"), str(tmp / "first" / "inside")])
    assert r.exit_code == 1 and "outside the run directory" in r.output


def test_single_head_models_are_plain_models_with_the_heads_outputs(data, runs):
    import keras

    from kerfer.modelio import load_keras_model
    from kerfer.models import build_model
    from kerfer.multihead import single_head

    tmp, *_ = data
    two = load_keras_model(tmp / "whole" / "best.keras")
    x = make_images(16, seed=9)[0][..., None].astype("float32")
    both = two.predict(x, verbose=0)
    for head, k in (("probabilities", 7), ("ferplus", 8)):
        one = single_head(two, head, lambda n: build_model("vgg", n, **TINY))
        assert isinstance(one.output, keras.KerasTensor) and one.output_shape == (None, k)
        assert one.get_layer("head_logits").units == k
        np.testing.assert_allclose(one.predict(x, verbose=0), both[head], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="no head 'nope'"):
        single_head(two, "nope", lambda n: build_model("vgg", n, **TINY))


def test_ship_stage_ships_the_ferplus_head_of_a_two_head_run(data, runs, tmp_path):
    from kerfer.labels import FERPLUS_CLASSES
    from kerfer.modelio import load_keras_model
    from kerfer.models import build_model
    from tools import ship_stage

    tmp, fer, _ = data
    assets = tmp_path / "assets"
    assets.mkdir()
    args = [str(tmp / "whole"), "--task", "ferplus", "--csv", str(fer), "--note", "t", "--assets", str(assets)]
    summary = ship_stage.main([*args, "--out", str(tmp_path / "a"), "--ship"])
    assert summary["ships"] and "nothing is shipped for this task yet" in summary["why"]
    assert sorted(p.name for p in assets.iterdir()) == [
        "SHA256SUMS",
        "kerfer_ferplus_int8.json",
        "kerfer_ferplus_int8.tflite",
        "kerfer_ferplus_vgg.json",
        "kerfer_ferplus_vgg.npz",
    ]
    assert tuple(json.loads((assets / "kerfer_ferplus_int8.json").read_text())["class_names"]) == FERPLUS_CLASSES
    meta = json.loads((assets / "kerfer_ferplus_vgg.json").read_text())
    assert meta["name"] == "ferplus" and tuple(meta["class_names"]) == FERPLUS_CLASSES
    # The shipped float16 weights are the two-head model's FER+ head.
    x = make_images(8, seed=5)[0][..., None].astype("float32")
    shipped = build_model("vgg", weights=assets / "kerfer_ferplus_vgg.npz")
    both = load_keras_model(tmp / "whole" / "best.keras").predict(x, verbose=0)
    np.testing.assert_allclose(shipped.predict(x, verbose=0), both["ferplus"], atol=5e-3)
    # Against itself, the next stage gains nothing and does not ship.
    again = ship_stage.main([*args, "--out", str(tmp_path / "b"), "--ship"])
    assert not again["ships"] and "shipped int8 (before)" in again["models"]


def test_a_resume_may_move_the_step_decay_but_not_the_peak_rate(tmp_path):
    from kerfer.training import resolve_run_config, write_run_config

    cfg = TrainConfig(csv="fer.csv", lr_schedule="step", learning_rate=0.005, epochs=250, decay_start_epoch=50)
    write_run_config(tmp_path, cfg)
    moved = resolve_run_config(tmp_path, dataclasses.replace(cfg, decay_start_epoch=24, decay_factor=0.85), True)
    assert moved.decay_start_epoch == 24 and moved.decay_factor == 0.85
    with pytest.raises(ValueError, match="not learning_rate"):
        resolve_run_config(tmp_path, dataclasses.replace(cfg, learning_rate=0.01), True)


def test_plot_runs_compares_the_fer2013_heads_loss_of_one_and_two_head_runs(tmp_path):
    """A two-head run's ``loss`` includes the FER+ head's: the comparison must use ``probabilities_loss``."""
    import pandas as pd

    from tools.plot_runs import fer2013_curves, main

    two = pd.DataFrame(
        {"epoch": [1, 2], "loss": [2.9, 2.7], "probabilities_loss": [1.9, 1.8], "val_accuracy": [0.3, 0.4]}
    )
    one = pd.DataFrame({"epoch": [1, 2], "loss": [1.95, 1.85], "val_accuracy": [0.28, 0.35]})
    assert fer2013_curves(two)["train_loss"].tolist() == [1.9, 1.8]
    assert fer2013_curves(one)["train_loss"].tolist() == [1.95, 1.85]
    (tmp_path / "a").mkdir()
    two.to_csv(tmp_path / "a" / "history.csv", index=False)
    one.to_csv(tmp_path / "one.csv", index=False)
    out = tmp_path / "curves.png"
    assert main([f"two heads={tmp_path / 'a'}", f"one head={tmp_path / 'one.csv'}", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit):
        main([str(tmp_path / "a"), "--out", str(out)])  # no LABEL=
