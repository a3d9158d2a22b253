"""CSV parsing speed: kerfer's tf.data parser vs pandas.read_csv + str.split, in one run.

    python benchmarks/parse_csv.py --csv ../shared/data/fer2013.csv.gz

Prints rows/s for each, the ratio, and how long a cached epoch over the parsed data takes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pandas_parse(path: str):
    import numpy as np
    import pandas as pd

    df = pd.read_csv(path)
    pixels = np.stack(df["pixels"].str.split().map(lambda t: np.asarray(t, dtype=np.uint8)).to_numpy())
    return pixels.reshape(-1, 48, 48, 1), df["emotion"].to_numpy()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", default="../shared/data/fer2013.csv.gz")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    if not os.path.exists(args.csv):
        print(f"skip: {args.csv} absent")
        return 0
    from kerfer.data import make_dataset, read_fer2013

    read_fer2013(args.csv)  # warm-up: TF start, graph tracing
    results = {}
    for name, fn in (("kerfer", lambda: read_fer2013(args.csv)), ("pandas", lambda: pandas_parse(args.csv))):
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t)
        n = len(out.labels) if name == "kerfer" else len(out[1])
        results[name] = n / best
        print(f"{name:7s} {n} rows in {best:6.2f} s = {n / best:8.0f} rows/s")
    print(f"ratio kerfer/pandas: {results['kerfer'] / results['pandas']:.2f}x")

    table = read_fer2013(args.csv)
    ds = make_dataset(table.images, table.labels, batch_size=256)
    for epoch in (1, 2):
        t = time.perf_counter()
        for _ in ds:
            pass
        dt = time.perf_counter() - t
        print(f"epoch {epoch} over the parsed data (batches of 256): {dt:.2f} s = {len(table) / dt:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
