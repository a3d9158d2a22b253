from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The parse cache of the test session lives in a temporary folder, never in the user's ~/.cache.
# The process that starts the run makes it (the xdist controller, or pytest without -n) and
# removes it at the end; xdist workers inherit it, so the shared CSV is parsed once per run, not
# once per worker.
_OWN_CACHE = not (os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("KERFER_TEST_CACHE_DIR"))
if _OWN_CACHE:
    os.environ["KERFER_TEST_CACHE_DIR"] = tempfile.mkdtemp(prefix="kerfer-test-cache-")
os.environ["KERFER_CACHE_DIR"] = os.environ["KERFER_TEST_CACHE_DIR"]
# Hypothesis' examples and caches go there too, not into a .hypothesis/ in the working directory.
os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = os.path.join(os.environ["KERFER_TEST_CACHE_DIR"], "hypothesis")
sys.path.insert(0, str(Path(__file__).parent))

from fakedata import tiny_fer_csv  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("KERFER_SHARED", ROOT.parent / "shared"))
FER_CSV = SHARED / "data" / "fer2013.csv.gz"
FERPLUS_CSV = SHARED / "data" / "fer2013new.csv.gz"
MEDIA = SHARED / "media"

needs_fer = pytest.mark.skipif(not FER_CSV.exists(), reason=f"{FER_CSV} absent")
needs_media = pytest.mark.skipif(not MEDIA.exists(), reason=f"{MEDIA} absent")
CHECKOUT_SOURCES = ("kerfer", "setup.cfg", "pyproject.toml", "README.md")
"""What a pip install or build of the checkout reads."""


def pytest_unconfigure(config):
    if _OWN_CACHE:
        shutil.rmtree(os.environ["KERFER_TEST_CACHE_DIR"], ignore_errors=True)


def copy_checkout(dest: Path) -> Path:
    """The files a pip install of the checkout reads, without build leftovers or caches: a
    build from here leaves no ``build/`` or ``*.egg-info`` in the checkout, and no stale
    ``build/lib`` there can hide a packaging mistake."""
    dest.mkdir()
    for name in CHECKOUT_SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture
def tiny_csv(tmp_path):
    """A 140-row FER2013 CSV with all three Usage values: (path, images, labels, usages)."""
    return tiny_fer_csv(tmp_path / "fer.csv")


@pytest.fixture(scope="session")
def shared_table():
    from kerfer.data import read_fer2013

    if not FER_CSV.exists():
        pytest.skip(f"{FER_CSV} absent")
    return read_fer2013(FER_CSV)


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """A small model trained on label-dependent brightness, exported to every format.

    Returns (ExportResult, held-out images, their labels, the Keras model).
    """
    import keras
    from fakedata import make_images, split_usages, write_csv

    from kerfer.contract import ModelContract
    from kerfer.exporting import export
    from kerfer.models import build_model

    tmp = tmp_path_factory.mktemp("export")
    images, labels = make_images(700, seed=1)
    csv = write_csv(tmp / "fer.csv", images, labels, split_usages(700, (0.8, 0.2, 0.0)))
    keras.utils.set_random_seed(0)
    model = build_model("vgg", widths=[8, 16, 16, 32], stem_filters=4)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images[:560, ..., None].astype("float32"), labels[:560], epochs=10, batch_size=16, verbose=0)
    run = tmp / "run"
    run.mkdir()
    model.save(run / "best.keras")
    ModelContract().save(run / "labels.json")
    result = export(
        run,
        tmp / "out",
        tflite=("float32", "float16", "dynamic", "int8"),
        csv=csv,
        calibration_samples=100,
        parity_split="PublicTest",
        latency_runs=5,
    )
    return result, images[560:], labels[560:], model
