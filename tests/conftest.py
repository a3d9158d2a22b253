from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The parse cache of the test session lives in a temporary folder, never in the user's ~/.cache.
os.environ["KERFER_CACHE_DIR"] = tempfile.mkdtemp(prefix="kerfer-test-cache-")
sys.path.insert(0, str(Path(__file__).parent))

from fakedata import tiny_fer_csv  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("KERFER_SHARED", ROOT.parent / "shared"))
FER_CSV = SHARED / "data" / "fer2013.csv.gz"
FERPLUS_CSV = SHARED / "data" / "fer2013new.csv.gz"
MEDIA = SHARED / "media"

needs_fer = pytest.mark.skipif(not FER_CSV.exists(), reason=f"{FER_CSV} absent")
needs_media = pytest.mark.skipif(not MEDIA.exists(), reason=f"{MEDIA} absent")


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
