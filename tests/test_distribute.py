"""tf.distribute on this CPU: two logical devices under MirroredStrategy (runs in a subprocess,
because logical devices must be configured before TensorFlow initialises)."""

from __future__ import annotations

import json
import subprocess
import sys

from fakedata import tiny_fer_csv

SCRIPT = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from kerfer.training import TrainConfig, train
import kerfer.training as kt
seen = {}
orig = kt._strategy
def spy(name):
    s = orig(name)
    seen["replicas"] = s.num_replicas_in_sync
    return s
kt._strategy = spy
cfg = TrainConfig(csv=sys.argv[1], epochs=1, batch_size=16, strategy="mirrored", augment=None,
                  arch_options={"widths": [8, 16, 16, 32], "stem_filters": 4})
r = train(cfg, sys.argv[2], verbose=0)
print(json.dumps({"replicas": seen["replicas"], "epochs": r.epochs_run, "val": r.best_val_accuracy}))
"""


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    csv, *_ = tiny_fer_csv(tmp_path / "fer.csv", n=140)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(csv), str(tmp_path / "run")], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["epochs"] == 1 and result["val"] is not None
    assert (tmp_path / "run" / "best.keras").exists()


def test_multiworker_is_refused_with_the_reason(tmp_path):
    from click.testing import CliRunner

    from kerfer.cli import main

    csv, *_ = tiny_fer_csv(tmp_path / "fer.csv", n=70)
    r = CliRunner().invoke(
        main, ["train", "--csv", str(csv), "--strategy", "multiworker", "--out", str(tmp_path / "r")]
    )
    assert r.exit_code == 1 and "keras-team/keras#20585" in r.output
