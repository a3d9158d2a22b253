"""Footprint of kerfer's two installs, side by side in one run: the runtime (``pip install .``)
and the full training kit (``pip install ".[train]"``), each in a fresh venv from this checkout.

For each: pip's wall time, the venv's size on disk (``du -sm``), the wall time of
``python -c "import kerfer.runtime"`` and of ``kerfer predict PHOTO`` (median of --repeats
runs, the two installs taking turns), then full/runtime ratios. Packages come from the
registry through pip's cache.

    python benchmarks/install_footprint.py --photo ../shared/media/two_people.jpg
    python benchmarks/install_footprint.py --runtime-only       # skip the ~2.8 GB full install
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("kerfer", "setup.cfg", "pyproject.toml", "README.md")
PROFILES = {"runtime": "", "full": "[train]"}


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _wall(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=_env(), check=True, capture_output=True)
    return time.perf_counter() - start


def _size_mb(path: Path) -> int:
    return int(subprocess.run(["du", "-sm", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def install(profile: str, work: Path) -> dict[str, float]:
    """A fresh venv with one profile installed from a copy of this checkout: pip's wall time and the size."""
    src = work / "src"
    if not src.exists():
        src.mkdir()
        for name in SOURCES:
            s = ROOT / name
            if s.is_dir():
                shutil.copytree(s, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(s, src / name)
    venv = work / profile
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=_env())
    start = time.perf_counter()
    pip = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "install", f"{src}{PROFILES[profile]}"],
        env=_env(),
        capture_output=True,
        text=True,
    )
    pip_s = time.perf_counter() - start
    log = pip.stdout + pip.stderr
    if pip.returncode or "dependency resolver" in log:
        sys.exit(f"{profile}: pip install failed or reported a resolver error:\n{log[-3000:]}")
    return {"pip install s": pip_s, "venv MB": _size_mb(venv)}


def start_up(profiles: list[str], work: Path, photo: Path, repeats: int) -> dict[str, dict[str, float]]:
    """Median wall times, the profiles taking turns run by run (a busy machine slows both alike)."""
    cmds = {
        p: {
            "import kerfer.runtime s": [str(work / p / "bin/python"), "-c", "import kerfer.runtime"],
            "kerfer predict s": [str(work / p / "bin/kerfer"), "predict", str(photo)],
        }
        for p in profiles
    }
    for p in profiles:  # warm-up: .pyc files, disk cache
        for args in cmds[p].values():
            _wall(args, work)
    times: dict[str, dict[str, list[float]]] = {p: {k: [] for k in cmds[p]} for p in profiles}
    for _ in range(repeats):
        for p in profiles:
            for k, args in cmds[p].items():
                times[p][k].append(_wall(args, work))
    return {p: {k: statistics.median(v) for k, v in times[p].items()} for p in profiles}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=ROOT.parent / "shared" / "media" / "two_people.jpg")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--runtime-only", action="store_true")
    parser.add_argument("--keep", type=Path, help="Build the venvs here and keep them (default: a temp folder).")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="kerfer-footprint-"))
    work.mkdir(parents=True, exist_ok=True)
    profiles = ["runtime"] if args.runtime_only else ["runtime", "full"]
    results = {p: install(p, work) for p in profiles}
    for p, timings in start_up(profiles, work, args.photo.resolve(), args.repeats).items():
        results[p].update(timings)
    keys = list(results["runtime"])
    print(f"{'':26s}" + "".join(f"{p:>12s}" for p in profiles) + ("   full/runtime" if len(profiles) > 1 else ""))
    for k in keys:
        row = f"{k:26s}" + "".join(f"{results[p][k]:12.2f}" for p in profiles)
        if len(profiles) > 1:
            row += f"   {results['full'][k] / results['runtime'][k]:.1f}x"
        print(row)
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
