"""The CLI's options come from one source: every TrainConfig field is a `kerfer train` flag
(generated from the field: type, choices, default, range, help), a range check reads the same
from JSON and from the command line, and every command names its model with --model."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner
from conftest import ROOT
from fakedata import make_two_class_run

import kerfer.training
from kerfer.cli import main
from kerfer.cli import train as train_command
from kerfer.config import RANGES, TrainConfig
from kerfer.flags import TRAIN_BY_HAND

# The hand-written options' parameter names, by the field they set.
HAND_PARAMS = {"csv": "csv_path", "data": "data_dir", "parse_cache": "no_cache"}


def test_every_config_field_has_one_train_flag_with_its_help_and_default():
    params = {p.name: p for p in train_command.params}
    fields = dataclasses.fields(TrainConfig)
    for f in fields:
        assert HAND_PARAMS.get(f.name, f.name) in params, f"TrainConfig.{f.name} has no `kerfer train` flag"
        if f.name in TRAIN_BY_HAND:
            continue
        help_text = params[f.name].help
        assert help_text.startswith(f.metadata["help"]), f.name
        assert help_text.count("Default:") <= 1, f.name
        if f.default not in (dataclasses.MISSING, None, False):
            assert "Default:" in help_text, f.name
    assert not set(TRAIN_BY_HAND) - {f.name for f in fields}
    out = CliRunner().invoke(main, ["train", "--help"], terminal_width=200).output
    for flag in ("--weight-decay", "--plateau-patience", "--plateau-factor", "--image-size", "--color-mode"):
        assert flag in out  # once settable only from JSON
    assert "[grayscale|rgb]" in out and "Range: more than 0 and at most 1. Default: 0.5." in out


@pytest.fixture
def resolved(monkeypatch, tmp_path):
    """Runs `kerfer train ARGS` up to the config the run would use (no data is read)."""
    seen = {}

    def fake_train(config, run_dir, resume=False, overrides=None):
        seen["cfg"] = kerfer.training.resolve_run_config(run_dir, config, resume, overrides)
        seen["cfg"].validate()

    monkeypatch.setattr(kerfer.training, "train", fake_train)

    def run(*args):
        r = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "run"), *map(str, args)])
        assert r.exit_code == 0, r.output
        return seen["cfg"]

    return run


def test_the_flags_reach_the_config(resolved, tmp_path):
    cfg = resolved(
        "--csv", tmp_path / "f.csv", "--weight-decay", 0.01, "--plateau-patience", 2, "--plateau-factor", 0.3,
        "--image-size", 40, "--color-mode", "rgb", "--augment-option", "erasing=0.25", "--tensorboard",
        "--val-split", "none", "--class-weights", "sqrt", "--classes", "angry, happy", "--lr", "3e-4",
        "--arch-option", "widths=[8,16,16,32]", "--no-cache", "--teacher", "a", "--teacher", "b",
    )  # fmt: skip
    assert (cfg.weight_decay, cfg.plateau_patience, cfg.plateau_factor) == (0.01, 2, 0.3)
    assert (cfg.image_size, cfg.color_mode, cfg.tensorboard, cfg.val_split) == (40, "rgb", True, None)
    assert cfg.augment.erasing == 0.25 and cfg.augment.flip  # one key changed, the others kept
    assert (cfg.class_weight_power, cfg.classes, cfg.learning_rate) == (0.5, ["angry", "happy"], 3e-4)
    assert cfg.arch_options == {"widths": [8, 16, 16, 32]} and cfg.parse_cache is False
    assert cfg.teacher == ["a", "b"] and cfg.csv == str(tmp_path / "f.csv")


def test_flags_override_the_json_config_key_by_key(resolved, tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"epochs": 7, "arch_options": {"dropout": 0.3}, "augment": {"zoom": 0.2}}))
    cfg = resolved("--config", path, "--csv", "f.csv", "--arch-option", "stem_filters=4", "--teacher", "shipped")
    assert cfg.epochs == 7 and cfg.arch_options == {"dropout": 0.3, "stem_filters": 4}
    assert cfg.augment.zoom == 0.2 and cfg.teacher == "shipped"
    assert resolved("--config", path, "--csv", "f.csv", "--no-augment").augment is None


@pytest.mark.parametrize(
    "key, flag, value",
    [
        ("learning_rate", "--lr", -0.1),
        ("plateau_factor", "--plateau-factor", 0.0),
        ("image_size", "--image-size", 4),
        ("teacher_weight", "--teacher-weight", 1.5),
        ("early_stopping_patience", "--early-stopping", 0),
    ],
)
def test_a_range_check_reads_the_same_from_json_and_from_the_command_line(tmp_path, key, flag, value):
    assert key in RANGES
    config = tmp_path / "c.json"
    config.write_text(json.dumps({key: value}))
    base = ["train", "--csv", str(tmp_path / "f.csv")]
    from_json = CliRunner().invoke(main, [*base, "--config", str(config), "--out", str(tmp_path / "a")])
    from_flag = CliRunner().invoke(main, [*base, flag, str(value), "--out", str(tmp_path / "b")])
    assert from_json.exit_code == from_flag.exit_code == 1
    assert from_json.output == from_flag.output
    assert from_flag.output.startswith(f"Error: config key '{key}': got {value!r}, expected a value ")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_range_check_reads_the_same_from_json_and_from_the_command_line_in_full(tmp_path):
    """The whole line, not only its start: both name the key, the value and the range."""
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"decay_factor": 1.5}))
    base = ["train", "--csv", str(tmp_path / "f.csv")]
    a = CliRunner().invoke(main, [*base, "--config", str(config), "--out", str(tmp_path / "a")]).output
    b = CliRunner().invoke(main, [*base, "--decay-factor", "1.5", "--out", str(tmp_path / "b")]).output
    assert a == b == "Error: config key 'decay_factor': got 1.5, expected a value more than 0 and at most 1\n"


def test_no_augment_and_augment_options_together_are_refused(tmp_path):
    r = CliRunner().invoke(main, ["train", "--csv", "f.csv", "--no-augment", "--augment-option", "zoom=0.1"])
    assert r.exit_code == 2 and "--no-augment" in r.output


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "configs").glob("*.json")))
def test_todays_config_files_still_load(name):
    file = ROOT / "configs" / name
    cfg = TrainConfig.from_file(file)
    written = json.loads(file.read_text())
    saved = json.loads(cfg.to_json())
    if isinstance(written.get("augment"), dict):  # keys left out take their defaults
        saved["augment"] = {k: v for k, v in saved["augment"].items() if k in written["augment"]}
    assert {k: v for k, v in saved.items() if k in written} == written


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return make_two_class_run(tmp_path_factory.mktemp("run"), [0, 3, 0, 3])


def test_the_old_model_argument_still_works_with_one_deprecation_line(tiny_run):
    run, csv = tiny_run
    new = CliRunner().invoke(main, ["evaluate", "--model", str(run), "--csv", str(csv), "--json"])
    old = CliRunner().invoke(main, ["evaluate", str(run), "--csv", str(csv), "--json"])
    assert new.exit_code == old.exit_code == 0, old.output
    assert old.stderr == f"kerfer: the MODEL argument is deprecated: use --model {run}\n"
    assert not new.stderr and json.loads(old.stdout)["accuracy"] == json.loads(new.stdout)["accuracy"]
    both = CliRunner().invoke(main, ["evaluate", str(run), "--model", str(run), "--csv", str(csv)])
    assert both.exit_code == 2 and "give the model once" in both.output
    none = CliRunner().invoke(main, ["export", "--csv", str(csv)])
    assert none.exit_code == 2 and "--model" in none.output
