"""Single-face, single-thread latency of TFLite models, side by side in one run.

    python benchmarks/model_latency.py [MODEL.tflite ...] [--runs 3000] [--rounds 5]

Without arguments it times the shipped model. The models take turns (round-robin, ``--rounds``
rounds of ``--runs`` calls each) so a busy machine slows them alike; the figure is the median
of all calls, as ``kerfer export``'s parity report measures it, and the ratio is to the first model.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*")
    ap.add_argument("--runs", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    from kerfer.exporting import call_times
    from kerfer.runtime import Classifier, default_model_path

    paths = args.models or [str(default_model_path())]
    rng = np.random.default_rng(0)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
