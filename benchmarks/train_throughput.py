"""Training throughput (images/s) of each architecture at its default size, side by side.

    python benchmarks/train_throughput.py [--batch-size 64] [--steps 30] [--archs vgg,resnet]

Random 48x48 inputs, the real optimizer and loss, float32 on CPU. Prints parameters,
images/s, the estimated time of one FER2013 epoch (28,709 images) and the ratio to `cnn`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--archs", default="")
    args = ap.parse_args()

    import keras
    import numpy as np

    from kerfer.models import build_model, list_architectures

    names = [a for a in args.archs.split(",") if a] or list(list_architectures())
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (args.batch_size * args.steps, 48, 48, 1)).astype("float32")
    y = np.eye(7, dtype="float32")[rng.integers(0, 7, len(x))]
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch_size).cache().prefetch(2)
    rates = {}
    for name in names:
        model = build_model(name)
        model.compile(keras.optimizers.AdamW(1e-3), keras.losses.CategoricalCrossentropy(label_smoothing=0.1))
        model.fit(ds.take(5), verbose=0, shuffle=False)  # trace and warm up
        t = time.perf_counter()
        model.fit(ds, epochs=1, verbose=0, shuffle=False)
        rates[name] = len(x) / (time.perf_counter() - t)
        print(
            f"{name:8s} {model.count_params() / 1e6:5.2f}M params  {rates[name]:7.0f} images/s  "
            f"~{28709 / rates[name] / 60:5.1f} min/epoch",
            flush=True,
        )
    if "cnn" in rates:
        print("ratio to cnn: " + ", ".join(f"{n} {r / rates['cnn']:.2f}x" for n, r in rates.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
