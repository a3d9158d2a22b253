"""python -m tools.ship_stage: the shipping rule, and a tiny stage from run to shipped files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from fakedata import tiny_fer_csv

from kerfer.cli import main as kerfer_main
from tools import ship_stage

TINY = ["--arch", "vgg", "--arch-option", "widths=[8,16,16,32]", "--arch-option", "stem_filters=4"]


@pytest.mark.parametrize(
    ("old", "new", "ships"),
    [(0.6631, 0.6661, True), (0.6631, 0.6660, False), (0.6631, 0.6700, True), (0.6631, 0.6500, False)],
)
def test_the_rule_asks_three_tenths_of_a_point(old, new, ships):
    ok, why = ship_stage.decide(old, new)
    assert ok is ships
    assert f"{(new - old) * 100:+.2f} points" in why and ("does not ship" in why) is not ships


def test_a_stage_is_measured_then_shipped_only_when_the_rule_is_met(tmp_path):
    import keras

    from kerfer.exporting import export
    from kerfer.models import build_model

    csv, *_ = tiny_fer_csv(tmp_path / "fer.csv", n=140)
    run = tmp_path / "run"
    r = CliRunner().invoke(
        kerfer_main, ["train", "--csv", str(csv), "--epochs", "1", "--batch-size", "32", *TINY, "--out", str(run)]
    )
    assert r.exit_code == 0, r.output
    assets = tmp_path / "assets"
    assets.mkdir()
    first = export(run, tmp_path / "first", saved_model=False, tflite=("int8",), csv=csv)
    (assets / "kerfer_fer2013_int8.tflite").write_bytes(first.files["tflite_int8"].read_bytes())
    (assets / "kerfer_fer2013_int8.json").write_text((tmp_path / "first" / "labels.json").read_text())
    before = (assets / "kerfer_fer2013_int8.tflite").read_bytes()
    args = [str(run), "--csv", str(csv), "--note", "test stage", "--assets", str(assets), "--out", str(tmp_path / "x")]

    # The same model again gains nothing: measured, written to stage.json, not shipped even with --ship.
    summary = ship_stage.main([*args, "--ship"])
    assert summary["ships"] is False and summary["shipped_files"] == []
    assert (assets / "kerfer_fer2013_int8.tflite").read_bytes() == before
    assert not (assets / "kerfer_fer2013_vgg.npz").exists()
    rows = json.loads((tmp_path / "x" / "stage.json").read_text())["models"]
    assert rows["new int8"]["accuracy"] == pytest.approx(rows["shipped int8 (before)"]["accuracy"])
    assert set(rows) == {"shipped int8 (before)", "new int8", "new float (run's best.keras)", "new float16 weights"}

    # With no margin asked, the rule is met but without --ship nothing changes; with it, all four files do,
    # and the list of their sha256 the runtime checks them against.
    assert ship_stage.main([*args, "--min-gain", "0"])["shipped_files"] == []
    assert not (assets / "kerfer_fer2013_vgg.npz").exists()
    summary = ship_stage.main([*args, "--min-gain", "0", "--ship"])
    assert summary["ships"] is True and len(summary["shipped_files"]) == 5
    from kerfer.integrity import file_sha256, read_manifest

    recorded = read_manifest(assets)
    assert sorted(recorded) == sorted(p.name for p in assets.iterdir() if p.name != "SHA256SUMS")
    assert all(file_sha256(assets / name) == digest for name, digest in recorded.items())
    meta = json.loads((assets / "kerfer_fer2013_vgg.json").read_text())
    assert meta["arch_options"] == {"widths": [8, 16, 16, 32], "stem_filters": 4}
    assert meta["publictest_accuracy"] == pytest.approx(rows["new float16 weights"]["accuracy"], abs=1e-4)
    shipped = build_model("vgg", weights=assets / "kerfer_fer2013_vgg.npz")
    trained = keras.saving.load_model(run / "best.keras")
    x = np.random.default_rng(0).uniform(0, 255, (8, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(shipped.predict(x, verbose=0), trained.predict(x, verbose=0), atol=5e-3)
