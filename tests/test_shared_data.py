"""Checks on the real FER2013 copy in ../shared (skipped when it is absent)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FERPLUS_CSV, needs_fer

from kerfer.data import DataError
from kerfer.data.ferplus import ferplus_arrays, join_ferplus

pytestmark = [needs_fer, pytest.mark.shared]


def test_row_counts_per_split(shared_table):
    assert shared_table.split_counts() == {"Training": 28709, "PublicTest": 3589}
    assert shared_table.images.shape == (32298, 48, 48, 1)


def test_label_histograms_are_the_shared_copys_exact_counts(shared_table):
    # The copy's own counts, exactly: a parser that moves one label between classes fails. They
    # differ from the published Training counts [3995, 436, 4097, 7215, 4830, 3171, 4965] by at
    # most 3 rows (../shared/README.md: rebuilt from public dumps); PublicTest's are the published ones.
    counts = {s: np.bincount(shared_table.select(s).labels, minlength=7).tolist() for s in ("Training", "PublicTest")}
    assert counts == {
        "Training": [3997, 436, 4098, 7215, 4830, 3171, 4962],
        "PublicTest": [467, 56, 496, 895, 653, 415, 607],
    }


def test_private_test_is_withheld_and_said_so(shared_table):
    with pytest.raises(DataError, match="'PrivateTest' is not in .*Training \\(28709 rows\\)"):
        shared_table.select("PrivateTest")


def test_ferplus_joins_the_real_file(shared_table):
    # The shared copy is in the original Kaggle row order (rebuilt 2026-11-23): joined by
    # position, FER+ plurality votes agree with the FER2013 labels on ~63 % of rows.
    joined = join_ferplus(shared_table, FERPLUS_CSV)
    assert 0.58 < joined.agreement < 0.7, joined.note
    assert "joined by row position" in joined.note
    x, y, names = ferplus_arrays(shared_table, joined, "PublicTest")
    assert len(names) == 8 and 3000 < len(y) < 3589
