"""Can the input pipeline feed the model? Images/s of the tf.data pipeline, with and without
augmentation, beside the model's own train-step images/s, in one run, with ratios.

    python benchmarks/input_pipeline.py [--csv ../shared/data/fer2013.csv.gz] [--rows 0]
        [--arch vgg] [--batch-size 64] [--steps 100] [--rounds 3] [--precision float32]

Measured, each after a warm-up pass:
  pipeline, plain        make_dataset over the Training rows, no augmentation (host CPU)
  pipeline, augmented    the same with kerfer's default augmentation in the tf.data map (host CPU)
  train step             model.fit on batches already in memory (the model's own speed here)
  train step + device aug  the same with the augmentation inside the training step
                           (--augment-on device; on a GPU this is where it runs)
A pipeline/train-step ratio below 1 means the pipeline, not the model, limits training.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", message=".*shuffle=True.*")
DEFAULT_CSV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fer2013.csv.gz"


def pipeline_rate(ds, n_images: int) -> float:
    """Images/s of one full pass over ``ds`` (after a warm-up pass that fills caches)."""
    for _ in ds:
        pass
    t = time.perf_counter()
    for _ in ds:
        pass
    return n_images / (time.perf_counter() - t)


def train_rate(model, batches, steps: int, batch_size: int) -> float:
    """Images/s of ``model.fit`` over ``steps`` in-memory batches (after a traced warm-up)."""
    model.fit(batches.take(3), verbose=0, shuffle=False)
    t = time.perf_counter()
    model.fit(batches.take(steps), verbose=0, shuffle=False)
    return steps * batch_size / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", default=str(DEFAULT_CSV))
    ap.add_argument("--rows", type=int, default=0, help="Use the first N Training rows (0 = all).")
    ap.add_argument("--arch", default="vgg")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=100, help="Train steps timed per model measurement.")
    ap.add_argument("--rounds", type=int, default=3, help="Turns each train-step measurement takes.")
    ap.add_argument("--precision", default="float32", choices=["float32", "mixed_float16", "mixed_bfloat16"])
    args = ap.parse_args()

    import keras
    import numpy as np
    import tensorflow as tf

    from kerfer.data import read_fer2013
    from kerfer.data.augment import AugmentConfig, with_device_augmentation
    from kerfer.data.fer2013 import table_arrays
    from kerfer.data.pipeline import make_dataset
    from kerfer.models import build_model

    x, y, names = table_arrays(read_fer2013(args.csv), "Training", None)
    if args.rows:
        x, y = x[: args.rows], y[: args.rows]
    targets = np.eye(len(names), dtype="float32")[y]
    n, b = len(x), args.batch_size
    print(f"{n} Training images from {args.csv}; batch {b}; {os.cpu_count()} CPU cores; {args.arch}, {args.precision}")
    print(f"devices: {[d.device_type for d in tf.config.list_physical_devices()]}", flush=True)

    common = {"batch_size": b, "shuffle": True, "seed": 0, "dtype": "float32"}
    rates = {
        "pipeline, plain": pipeline_rate(make_dataset(x, targets, **common), n),
        "pipeline, augmented": pipeline_rate(make_dataset(x, targets, augment=AugmentConfig(), **common), n),
    }
    for name, r in rates.items():
        print(f"{name:26s} {r:9.0f} images/s", flush=True)

    keras.mixed_precision.set_global_policy(args.precision)
    steps = min(args.steps, n // b)
    xb = tf.constant(x[: steps * b].astype("float32"))
    batches = tf.data.Dataset.from_tensor_slices((xb, targets[: steps * b])).batch(b).cache().repeat()
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)
    model = build_model(args.arch, len(names))
    model.compile(keras.optimizers.AdamW(1e-3), loss)
    wrapped = with_device_augmentation(build_model(args.arch, len(names)), AugmentConfig(), seed=0)
    wrapped.compile(keras.optimizers.AdamW(1e-3), loss)
    # Taking turns, median of --rounds: a shared machine's load then weighs on both alike.
    runs: dict[str, list[float]] = {"train step": [], "train step + device aug": []}
    for _ in range(args.rounds):
        runs["train step"].append(train_rate(model, batches, steps, b))
        runs["train step + device aug"].append(train_rate(wrapped, batches, steps, b))
    for name, values in runs.items():
        rates[name] = float(np.median(values))
        print(f"{name:26s} {rates[name]:9.0f} images/s  (median of {len(values)})", flush=True)

    step = rates["train step"]
    print("ratios (pipeline / train step; above 1 = the pipeline keeps up):")
    print(f"  plain pipeline     {rates['pipeline, plain'] / step:7.2f}x")
    print(f"  augmented pipeline {rates['pipeline, augmented'] / step:7.2f}x")
    print(f"  augmentation's cost on the host: plain/augmented = "
          f"{rates['pipeline, plain'] / rates['pipeline, augmented']:.1f}x slower")  # fmt: skip
    print(f"  device augmentation: train step + aug / train step = {rates['train step + device aug'] / step:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
