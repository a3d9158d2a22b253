"""The GPU route on this CPU: every arch trains, resumes, evaluates and exports under mixed precision.

Keras runs ``mixed_float16`` and ``mixed_bfloat16`` on a CPU too (slowly), so the route a GPU
user takes (train with ``--precision auto``, then ``export --tflite int8``) is tested here on
tiny widths and tiny data. Runs are trained once per module and shared between tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import MEDIA
from fakedata import ferplus_votes, tiny_fer_csv, write_ferplus

from kerfer.cli import main
from kerfer.options import TFLITE_KINDS
from kerfer.training import TrainConfig, choose_precision

POLICIES = ("mixed_float16", "mixed_bfloat16")
"""The mixed policies proven exportable below; ``auto`` must never pick anything else."""
TINY = {
    "cnn": {"filters": [8, 8, 8, 8], "dense_units": 16},
    "vgg": {"widths": [4, 4, 4, 8], "stem_filters": 4},
    "resnet": {"widths": [4, 4, 4, 8], "stem_filters": 4},
    "edge": {"widths": [4, 4, 4, 8], "blocks": [1, 1, 1, 1], "expansion": 2, "stem_filters": 4, "head_filters": 8},
}
MATRIX = [(p, a) for p in POLICIES for a in TINY]


class Runs:
    """Trains (1 epoch, then resumed to 2) each (policy, arch) once, on first use."""

    def __init__(self, root: Path):
        self.root = root
        self.csv, _, self.labels, self.usages = tiny_fer_csv(root / "fer2013.csv", n=140)
        self.cache: dict[tuple[str, str], tuple[Path, dict]] = {}

    def get(self, policy: str, arch: str) -> tuple[Path, dict]:
        if (policy, arch) not in self.cache:
            self.cache[policy, arch] = self._train(policy, arch)
        return self.cache[policy, arch]

    def _train(self, policy: str, arch: str) -> tuple[Path, dict]:
        import keras

        from kerfer.callbacks import read_history
        from kerfer.modelio import compute_dtypes, load_keras_model
        from kerfer.training import train

        run = self.root / f"{policy}_{arch}"
        cfg = TrainConfig(
            csv=str(self.csv), arch=arch, arch_options=TINY[arch], epochs=1, batch_size=32, augment=None,
            precision=policy,
        )  # fmt: skip
        first = train(cfg, run, verbose=0)
        facts = {
            "policy_after_train": keras.mixed_precision.global_policy().name,
            "trained_dtypes": compute_dtypes(load_keras_model(run / "best.keras")),
            "first_epochs": first.epochs_run,
        }
        # Resume for one more epoch: the loss-scale optimizer state must come back too.
        saved = json.loads((run / "config.json").read_text())
        (run / "config.json").write_text(json.dumps({**saved, "epochs": 2}))
        facts["resumed"] = train(None, run, resume=True, verbose=0)
        facts["history"] = read_history(run / "history.csv")
        return run, facts


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return Runs(tmp_path_factory.mktemp("precision"))


def test_auto_picks_only_policies_the_exporter_is_tested_with():
    for gpus in ([], ["/physical_device:GPU:0"], ["gpu0", "gpu1"]):
        picked = choose_precision("auto", gpus)
        assert picked == "float32" or picked in POLICIES, f"auto picks {picked}, which no export test covers"


def test_matrix_covers_every_architecture():
    from kerfer.models import list_architectures

    assert set(TINY) == set(list_architectures()), "add the new --arch to TINY so its mixed precision is tested"


@pytest.mark.parametrize("policy,arch", MATRIX)
def test_trains_and_resumes_under_mixed_precision(runs, policy, arch):
    run, facts = runs.get(policy, arch)
    assert facts["policy_after_train"] == "float32", "train() must restore the global dtype policy"
    assert facts["trained_dtypes"] == {"float32", policy.split("_")[1]}, "the run must really compute in 16 bits"
    assert facts["first_epochs"] == 1
    assert facts["history"]["epoch"] == [1.0, 2.0]
    assert json.loads((run / "config.json").read_text())["precision"] == policy


@pytest.mark.parametrize("policy,arch", MATRIX)
def test_exports_every_tflite_kind_and_int8_predicts(runs, policy, arch, tmp_path):
    from kerfer.evaluation import evaluate
    from kerfer.exporting import export
    from kerfer.runtime import Classifier

    trained, _ = runs.get(policy, arch)
    x = _public_test_images(runs.csv)
    # A 2-epoch tiny model's probabilities sit within 0.004-0.04 of uniform, less than int8's
    # output step (1/256) for some: a model that always says 1/7 would pass any tolerance that
    # fits. The export is tested on the same model with its logits scaled (the head's kernel and
    # bias), which keeps every layer and dtype but moves the probabilities 0.15-0.45 from uniform.
    run = _sharpened(trained, tmp_path / "sharp", x)
    keras_acc = evaluate(run, csv=runs.csv, split="PublicTest", out_dir=tmp_path / "eval").plain.accuracy
    out = tmp_path / "export"
    result = export(
        run, out, tflite=TFLITE_KINDS, csv=runs.csv, calibration_samples=16, parity_split="PublicTest", latency_runs=1
    )
    assert {f"tflite_{k}" for k in TFLITE_KINDS} | {"saved_model", "keras"} == set(result.files)
    parity = result.parity.set_index("format")
    assert parity.loc["keras", "accuracy"] == pytest.approx(keras_acc)
    for kind in ("saved_model", "tflite_float32", "tflite_float16", "tflite_dynamic"):
        assert parity.loc[kind, "agreement_with_keras"] >= 0.95, parity
    reference = Classifier(run).predict_faces(x)
    signal = reference - 1 / 7
    spread = np.abs(signal).max()
    assert spread > 0.1, spread
    for kind in TFLITE_KINDS:
        probs = Classifier(out / f"model_{kind}.tflite").predict_faces(x)
        # Measured (2026-12-03): int8 errs by 0.03-0.41 of the spread, its deviations from uniform
        # correlate >= 0.98 with the reference; a constant 1/7 errs by the spread, correlates not at all.
        tol, min_corr = (0.5, 0.9) if kind == "int8" else (0.1, 0.99)
        assert np.abs(probs - reference).max() < tol * spread, kind
        assert np.corrcoef((probs - 1 / 7).ravel(), signal.ravel())[0, 1] > min_corr, kind
    assert json.loads((out / "labels.json").read_text())["input_size"] == 48
    _int8_classifies_a_photo(out / "model_int8.tflite", tmp_path)


def _sharpened(run: Path, dest: Path, x: np.ndarray) -> Path:
    """A copy of ``run`` whose head's logits are scaled so that its largest distance from a
    uniform output on ``x`` is about 0.3 (argmax unchanged: the same model, more decided)."""
    import shutil

    from kerfer.modelio import load_keras_model
    from kerfer.runtime import Classifier

    spread = np.abs(Classifier(run).predict_faces(x) - 1 / 7).max()
    model = load_keras_model(run / "best.keras")
    head = model.get_layer("head_logits")
    kernel, bias = head.get_weights()
    head.set_weights([kernel * (0.3 / spread), bias * (0.3 / spread)])
    shutil.copytree(run, dest, ignore=shutil.ignore_patterns("backup*", "*.keras"))
    model.save(dest / "best.keras")
    return dest


def _public_test_images(csv: Path) -> np.ndarray:
    from kerfer.data import read_fer2013
    from kerfer.data.fer2013 import table_arrays

    return table_arrays(read_fer2013(csv), "PublicTest", None)[0]


def _int8_classifies_a_photo(model: Path, tmp_path: Path) -> None:
    """``kerfer predict`` with the int8 export: the shared two-person photo when present."""
    photo = MEDIA / "two_people.jpg"
    if not photo.exists():
        import cv2

        photo = tmp_path / "grey.png"
        cv2.imwrite(str(photo), np.full((96, 96, 3), 120, np.uint8))
    r = CliRunner().invoke(main, ["predict", str(photo), "--model", str(model), "--json"])
    assert r.exit_code == 0, r.output
    rec = json.loads(r.output.strip().splitlines()[-1])
    assert rec["error"] is None
    if photo.name == "two_people.jpg":
        assert len(rec["faces"]) == 2
        for face in rec["faces"]:
            assert sum(face["probs"].values()) == pytest.approx(1.0, abs=0.05)


def test_teacher_and_init_from_a_mixed_precision_run(runs, tmp_path):
    """Distillation from, and fine-tuning of, a mixed_float16 run, itself under mixed_float16."""
    from kerfer.training import train

    teacher, _ = runs.get("mixed_float16", "vgg")
    cfg = TrainConfig(
        csv=str(runs.csv), arch="vgg", arch_options=TINY["vgg"], epochs=1, batch_size=32, augment=None,
        precision="mixed_float16", teacher=str(teacher), init_from=str(teacher),
    )  # fmt: skip
    result = train(cfg, tmp_path / "student", verbose=0)
    assert result.epochs_run == 1 and (tmp_path / "student" / "best.keras").exists()


def test_ferplus_soft_targets_under_mirrored_mixed_precision(tmp_path):
    """FER+ vote distributions as targets, two replicas (2 logical CPUs), mixed_float16; then evaluate."""
    csv, _, labels, usages = tiny_fer_csv(tmp_path / "fer2013.csv", n=140)
    fp = write_ferplus(tmp_path / "fer2013new.csv.gz", usages, ferplus_votes(labels))
    script = f"""
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import kerfer.training as kt
from kerfer.training import TrainConfig, train
seen = {{}}
orig = kt._strategy
def spy(name):
    s = orig(name)
    seen["replicas"] = s.num_replicas_in_sync
    return s
kt._strategy = spy
cfg = TrainConfig(csv=sys.argv[1], ferplus_csv=sys.argv[2], labels="ferplus", ferplus_mode="probability",
                  epochs=1, batch_size=32, augment=None, strategy="mirrored", precision="mixed_float16",
                  arch="edge", arch_options={TINY["edge"]!r})
r = train(cfg, sys.argv[3], verbose=0)
print(json.dumps({{"replicas": seen["replicas"], "epochs": r.epochs_run}}))
"""
    run = tmp_path / "run"
    out = subprocess.run(
        [sys.executable, "-c", script, str(csv), str(fp), str(run)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"replicas": 2, "epochs": 1}
    r = CliRunner().invoke(main, ["evaluate", "--model", str(run), "--csv", str(csv), "--json"])
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.output)["report"]["per_class"]) == 8
