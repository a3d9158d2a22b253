from __future__ import annotations

import gzip

import numpy as np
import pytest
from fakedata import HEADER, make_images, row, split_usages, write_csv

from kerfer.data import DataError, load_fer2013, read_fer2013, resolve_classes


@pytest.mark.parametrize("gz", [False, True])
def test_exact_pixels_labels_and_usage(tmp_path, gz):
    images, labels = make_images(30, seed=3)
    usages = split_usages(30)
    path = write_csv(tmp_path / ("f.csv.gz" if gz else "f.csv"), images, labels, usages, gz=gz)
    table = read_fer2013(path)
    assert table.images.shape == (30, 48, 48, 1) and table.images.dtype == np.uint8
    np.testing.assert_array_equal(table.images[..., 0], images)
    np.testing.assert_array_equal(table.labels, labels)
    # split_usages(30): round(0.15 * 30) = 4 test rows each (round half to even), 22 training rows.
    assert table.split_counts() == {"Training": 22, "PublicTest": 4, "PrivateTest": 4}
    assert [u for u in usages] == [["Training", "PublicTest", "PrivateTest"][i] for i in table.usage]
    np.testing.assert_array_equal(table.lines, np.arange(2, 32))


def test_gzip_detected_by_content_not_name(tmp_path):
    images, labels = make_images(5)
    path = write_csv(tmp_path / "actually_gzip.csv", images, labels, ["Training"] * 5, gz=True)
    np.testing.assert_array_equal(read_fer2013(path).images[..., 0], images)


def test_split_selection_and_list(tiny_csv):
    path, images, labels, usages = tiny_csv
    table = read_fer2013(path)
    pub = table.select("PublicTest")
    want = np.array([u == "PublicTest" for u in usages])
    np.testing.assert_array_equal(pub.images[..., 0], images[want])
    both = table.select(["PublicTest", "PrivateTest"])
    assert len(both) == sum(u != "Training" for u in usages)


def test_absent_split_names_present_splits(tmp_path):
    images, labels = make_images(6)
    path = write_csv(tmp_path / "f.csv", images, labels, ["Training"] * 4 + ["PublicTest"] * 2)
    with pytest.raises(DataError, match=r"'PrivateTest' is not in .*Training \(4 rows\), PublicTest \(2 rows\)"):
        load_fer2013(path, "PrivateTest")
    with pytest.raises(DataError, match="unknown split 'Test'"):
        load_fer2013(path, "Test")


def test_dataset_contract_and_class_subset(tiny_csv):
    path, images, labels, usages = tiny_csv
    ds = load_fer2013(path, "Training", classes=["happy", "angry"], batch_size=None)
    xs, ys = zip(*[(x.numpy(), int(y)) for x, y in ds])
    train = np.array([u == "Training" for u in usages])
    keep = train & np.isin(labels, [3, 0])
    np.testing.assert_array_equal(np.stack(xs)[..., 0], images[keep])
    assert list(ys) == [0 if lab == 3 else 1 for lab in labels[keep]]
    batched = load_fer2013(path, "Training", batch_size=8, dtype="float32")
    x, y = next(iter(batched))
    assert x.shape == (8, 48, 48, 1) and x.dtype.name == "float32" and y.dtype.name == "int32"


def test_class_merge_mapping():
    names, lookup = resolve_classes({"angry": "negative", "sad": "negative", "happy": "positive"})
    assert names == ("negative", "positive")
    assert lookup.tolist() == [0, -1, -1, 1, 0, -1, -1]
    with pytest.raises(DataError, match="unknown class 'joy'"):
        resolve_classes(["joy"])


def test_shuffle_is_seeded_and_augment_changes_pixels(tiny_csv):
    path, *_ = tiny_csv
    a = [y.numpy().tolist() for _, y in load_fer2013(path, shuffle=True, seed=1, batch_size=200)]
    b = [y.numpy().tolist() for _, y in load_fer2013(path, shuffle=True, seed=1, batch_size=200)]
    plain = [y.numpy().tolist() for _, y in load_fer2013(path, batch_size=200)]
    assert a == b and a != plain
    x_aug, _ = next(iter(load_fer2013(path, batch_size=200, augment=True, seed=0)))
    x, _ = next(iter(load_fer2013(path, batch_size=200, dtype="float32")))
    assert x_aug.shape == x.shape and not np.allclose(x_aug.numpy(), x.numpy())


def _bad(tmp_path, text_rows, name="bad.csv"):
    p = tmp_path / name
    p.write_text("\n".join([HEADER, *text_rows]) + "\n")
    return p


GOOD = row(3, np.zeros((48, 48), np.uint8), "Training")
ZEROS = " ".join(["0"] * 2304)


@pytest.mark.parametrize(
    "bad_row, message",
    [
        (row(3, " ".join(["1"] * 2303), "Training"), "expected 2304 pixel values .*found 2303"),
        (row(3, ZEROS.replace("0", "x", 1), "Training"), "pixels field has a non-numeric token"),
        (row(9, ZEROS, "Training"), "emotion label '9' is not an integer 0..6"),
        (row(3, ZEROS, "Validation"), "unknown Usage 'Validation'"),
        (row(3, ZEROS.replace("0", "256", 1), "Training"), "pixel value out of range 0..255"),
        (row(3, ZEROS.replace("0", "99999999999", 1), "Training"), "pixel value out of range 0..255"),
        ("3," + ZEROS, "expected 3 comma-separated fields"),
    ],
)
def test_bad_row_error_names_file_line_and_problem(tmp_path, bad_row, message):
    path = _bad(tmp_path, [GOOD, GOOD, bad_row, GOOD])
    with pytest.raises(DataError, match=rf"bad\.csv, line 4: {message}"):
        read_fer2013(path)
    with pytest.warns(UserWarning, match="skipped 1 bad rows"):
        table = read_fer2013(path, on_bad_row="skip")
    assert len(table) == 3 and [b.line for b in table.skipped] == [4]
    assert table.rows.tolist() == [0, 1, 3]  # data-row positions keep counting the skipped row


def test_empty_file_and_missing_header(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="empty.csv: the file is empty"):
        read_fer2013(empty)
    headerless = tmp_path / "nohead.csv"
    headerless.write_text(GOOD + "\n")
    with pytest.raises(DataError, match="line 1: expected header .*header row is missing"):
        read_fer2013(headerless)
    only_header = tmp_path / "onlyhead.csv"
    only_header.write_text(HEADER + "\n")
    with pytest.raises(DataError, match="no data rows"):
        read_fer2013(only_header)
    with pytest.raises(DataError, match="no such file"):
        read_fer2013(tmp_path / "missing.csv")


def test_crlf_bom_quotes_blank_lines_and_column_order(tmp_path):
    images, labels = make_images(3, seed=5)
    lines = [f'"{y}","{" ".join(map(str, x.reshape(-1)))}",Training' for x, y in zip(images, labels)]
    p = tmp_path / "odd.csv"
    p.write_bytes(
        ("\ufeffemotion,pixels,Usage\r\n" + "\r\n".join([lines[0], "", lines[1], lines[2]]) + "\r\n").encode()
    )
    table = read_fer2013(p)
    np.testing.assert_array_equal(table.images[..., 0], images)
    np.testing.assert_array_equal(table.labels, labels)
    reordered = tmp_path / "reordered.csv"
    reordered.write_text(
        "Usage,pixels,emotion\n"
        + "\n".join(f"PublicTest,{' '.join(map(str, x.reshape(-1)))},{y}" for x, y in zip(images, labels))
        + "\n"
    )
    t2 = read_fer2013(reordered)
    np.testing.assert_array_equal(t2.labels, labels)
    assert t2.split_counts() == {"PublicTest": 3}


def test_truncated_gzip_is_a_clear_error(tmp_path):
    images, labels = make_images(200)
    full = write_csv(tmp_path / "full.csv.gz", images, labels, ["Training"] * 200, gz=True)
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(DataError, match=r"cut\.csv\.gz: the file is truncated or corrupt"):
        read_fer2013(cut)


def test_class_weights_balance_and_power():
    from kerfer.data.pipeline import class_weights  # here: the module's other tests need no TensorFlow

    labels = np.array([0] * 90 + [1] * 10)
    w = class_weights(labels, 2, power=1.0)
    assert w[1] / w[0] == pytest.approx(9.0)
    assert (w[0] * 90 + w[1] * 10) / 100 == pytest.approx(1.0)
    ws = class_weights(labels, 2, power=0.5)
    assert ws[1] / ws[0] == pytest.approx(3.0)
    assert class_weights(labels, 2, power=0.0) == {0: 1.0, 1: 1.0}


def test_gzip_header_read(tmp_path):
    p = tmp_path / "h.csv.gz"
    with gzip.open(p, "wt") as f:
        f.write("foo,bar\n")
    with pytest.raises(DataError, match="expected header"):
        read_fer2013(p)
