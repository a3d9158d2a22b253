"""tf.distribute on this CPU: two logical devices under MirroredStrategy (runs in a subprocess,
because logical devices must be configured before TensorFlow initialises)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
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


def test_validation_batches_leave_no_replica_unequal_first_or_empty_last():
    from kerfer.data.splits import validation_batch

    assert validation_batch(64, 21, 1) == 64
    assert validation_batch(32, 21, 2) == 18  # 18 = 9 + 9 first, then 3 = 2 + 1
    assert validation_batch(64, 3589, 8) == 48  # 64 would leave 5 images for 8 replicas
    for n, replicas, batch in [(21, 2, 32), (3589, 8, 64), (100, 4, 64), (7, 2, 64)]:
        b = validation_batch(batch, n, replicas)
        assert b % replicas == 0 and b <= batch
        assert n % b == 0 or n % b >= replicas
    with pytest.raises(ValueError, match="fewer than the 8 replicas"):
        validation_batch(64, 5, 8)


def _free_ports(n: int) -> list[int]:
    """``n`` ports that are free now, below the kernel's ephemeral range: a port the OS hands out
    for ``bind(0)`` or an outgoing connection (another test, another xdist worker) can be taken
    between our check and the workers' own bind; one below that range is only taken on purpose."""
    import random
    import socket

    try:
        low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    ports: list[int] = []
    for port in random.Random().sample(range(max(1024, low - 12000), low), 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == n:
            return ports
    raise RuntimeError(f"no {n} free ports below {low}")


BIND_FAILED = ("Address already in use", "Could not start gRPC server", "Failed to add port")


def test_multiworker_trains_two_processes_in_sync(tmp_path):
    """Two workers on localhost ports: one synchronous model (same weights on both at the end)."""
    import os

    import numpy as np

    from kerfer.callbacks import read_history
    from kerfer.modelio import load_keras_model

    csv, *_ = tiny_fer_csv(tmp_path / "fer.csv", n=140)
    for attempt in range(3):  # a port taken between the check and the bind: new ports, new runs
        cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
        runs = tmp_path / f"try{attempt}"
        procs = []
        for i in range(2):
            env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})}
            cmd = [sys.executable, "-m", "kerfer.cli", "train", "--csv", str(csv), "--strategy", "multiworker"]
            cmd += ["--epochs", "2", "--batch-size", "32", "--no-augment", "--arch-option", "widths=[8,16,16,32]"]
            cmd += ["--arch-option", "stem_filters=4", "--out", str(runs / f"worker{i}")]
            procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        outs = [p.communicate(timeout=300)[0] for p in procs]
        if not any(p.returncode and any(m in out for m in BIND_FAILED) for p, out in zip(procs, outs)):
            break
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]
    assert "Epoch 2/2" in outs[0]
    hist = read_history(runs / "worker0" / "history.csv")
    assert hist["epoch"] == [1, 2] and 0 <= hist["val_accuracy"][-1] <= 1
    a, b = (load_keras_model(runs / f"worker{i}" / "last.keras") for i in range(2))
    # gradients are all-reduced: the trainable weights match exactly (BatchNorm's moving statistics
    # are each worker's own estimate)
    for wa, wb in zip(a.trainable_weights, b.trainable_weights):
        np.testing.assert_allclose(np.asarray(wa), np.asarray(wb), rtol=1e-5, atol=1e-6, err_msg=wa.path)


def test_multiworker_without_tf_config_says_what_is_missing(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from kerfer.cli import main

    monkeypatch.delenv("TF_CONFIG", raising=False)
    csv, *_ = tiny_fer_csv(tmp_path / "fer.csv", n=70)
    r = CliRunner().invoke(
        main, ["train", "--csv", str(csv), "--strategy", "multiworker", "--out", str(tmp_path / "r")]
    )
    assert r.exit_code == 1 and "needs TF_CONFIG" in r.output
