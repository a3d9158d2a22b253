"""Single-face, single-thread latency of TFLite models, side by side in one run.

    python benchmarks/model_latency.py [MODEL.tflite ...] [--runs 3000] [--rounds 5]

Without arguments it times the shipped model. The models take turns (round-robin, ``--rounds``
rounds of ``--runs`` calls each) so a busy machine slows them alike; the figure is the median
of all calls, as ``kerfer export``'s parity report measures it, and the ratio is to the first model.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*")
    ap.add_argument("--runs", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    from kerfer.runtime import Classifier, default_model_path

    paths = args.models or [str(default_model_path())]
    rng = np.random.default_rng(0)
    clfs = [Classifier(p, num_threads=1) for p in paths]
    faces = [rng.integers(0, 256, (1, c.input_size, c.input_size, c.channels), dtype=np.uint8) for c in clfs]
    times: list[list[float]] = [[] for _ in clfs]
    for _ in range(args.rounds):
        for clf, face, out in zip(clfs, faces, times):
            for _ in range(50):
                clf.predict_faces(face)  # warm caches after the other model ran
            for _ in range(args.runs):
                t = time.perf_counter()
                clf.predict_faces(face)
                out.append(time.perf_counter() - t)
    base = float(np.median(times[0]))
    for path, out in zip(paths, times):
        ms = float(np.median(out)) * 1000
        print(f"{ms:6.3f} ms/face  {float(np.median(out)) / base:5.2f}x  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
