from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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
