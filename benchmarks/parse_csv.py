"""CSV loading speed against pandas, in one run: first load, and a second load in a new process.

    python benchmarks/parse_csv.py --csv ../shared/data/fer2013.csv.gz

Each measurement runs in its own fresh Python process (so no load benefits from another's warm
file cache of parsed data or imported modules being counted), in turns:
  pandas      ``pandas.read_csv`` + ``str.split`` into uint8 arrays (what the seed projects do)
  tf-ops      kerfer's exact ``tf.data`` string-op parser (the path irregular files take)
  first       ``kerfer.data.read_fer2013`` with an empty cache (NumPy fast path + writing the cache)
  second      ``read_fer2013`` again in a new process (reads the cache)
The time is that of the load call itself, not of starting Python or importing libraries. Targets:
first ≥ 2x pandas, second ≥ 10x pandas.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

CODE = {
    "pandas": """
import numpy as np, pandas as pd
t = time.perf_counter()
df = pd.read_csv(PATH)
x = np.stack(df["pixels"].str.split().map(lambda t: np.asarray(t, dtype=np.uint8)).to_numpy()).reshape(-1, 48, 48, 1)
n = len(x)
""",
    "tf-ops": """
import kerfer.data.fer2013 as fer
import tensorflow as tf
t = time.perf_counter()
header, gz = fer._read_header(PATH)
arrays, _ = fer._parse_exact(PATH, header, gz, "error", False)
n = len(arrays["labels"])
""",
    "kerfer": """
from kerfer.data import read_fer2013
t = time.perf_counter()
n = len(read_fer2013(PATH))
""",
}


def timed(name: str, path: str, cache_dir: str) -> tuple[float, int]:
    code = f"import time\nPATH = {path!r}\n{CODE[name]}\nprint(time.perf_counter() - t, n)"
    env = {**os.environ, "KERFER_CACHE_DIR": cache_dir, "TF_CPP_MIN_LOG_LEVEL": "3"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    seconds, n = r.stdout.split()[-2:]
    return float(seconds), int(n)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", default="../shared/data/fer2013.csv.gz")
    args = ap.parse_args()
    if not os.path.exists(args.csv):
        print(f"skip: {args.csv} absent")
        return 0
    path = os.path.abspath(args.csv)
    with tempfile.TemporaryDirectory() as cache:
        runs = [
            ("pandas", "pandas"),
            ("tf-ops", "tf-ops"),
            ("first (empty cache)", "kerfer"),
            ("second (new process)", "kerfer"),
        ]
        results = {}
        for label, name in runs:
            seconds, n = timed(name, path, cache)
            results[label] = seconds
            print(f"{label:22s} {n} rows in {seconds:6.2f} s = {n / seconds:9,.0f} rows/s", flush=True)
    base = results["pandas"]
    print(
        f"\nspeed-up over pandas: tf-ops {base / results['tf-ops']:.1f}x, first load {base / results['first (empty cache)']:.1f}x, "
        f"second load {base / results['second (new process)']:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
