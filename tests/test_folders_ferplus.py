from __future__ import annotations

import cv2
import numpy as np
import pytest
from fakedata import ferplus_votes, make_images, split_usages, write_csv, write_ferplus

from kerfer.data import DataError, read_fer2013
from kerfer.data.ferplus import ferplus_arrays, join_ferplus, majority_labels
from kerfer.data.folders import load_image_folder, read_image_folder
from kerfer.labels import FERPLUS_CLASSES


def _folder(root, split, images, labels, names, ext=".png", color=False):
    for i, (img, lab) in enumerate(zip(images, labels)):
        d = root / split / names[lab]
        d.mkdir(parents=True, exist_ok=True)
        out = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if color else img
        cv2.imwrite(str(d / f"{i:04d}{ext}"), out)


def test_image_folder_exact_pixels_and_class_names(tmp_path):
    images, labels = make_images(12, num_classes=3)
    names = ["b_happy", "a_sad", "c_surprise"]
    _folder(tmp_path, "train", images, labels, names)
    x, y, found = read_image_folder(tmp_path, "train")
    assert found == ("a_sad", "b_happy", "c_surprise")  # sorted folder names
    assert x.shape == (12, 48, 48, 1) and x.dtype == np.uint8
    # Files are read class by class, in name order: compare as sets of (label, image).
    got = sorted((found[lab], im.tobytes()) for im, lab in zip(x, y))
    want = sorted((names[lab], im.tobytes()) for im, lab in zip(images, labels))
    assert got == want


@pytest.mark.parametrize("ext", [".webp", ".tif", ".tiff"])
def test_image_folder_reads_every_type_crop_and_predict_read(tmp_path, ext):
    """One list of image types (``kerfer.options.IMAGE_EXTENSIONS``): ``train --data`` no longer
    skips the .webp/.tif photos ``crop`` and ``predict`` accept."""
    images, labels = make_images(4, num_classes=2)
    _folder(tmp_path, "train", images, labels, ["a", "b"], ext=ext)
    x, y, found = read_image_folder(tmp_path, "train")
    assert found == ("a", "b") and len(x) == 4
    got = sorted((found[lab], im.tobytes()) for im, lab in zip(x, y))
    if ext != ".webp":  # lossless: the same pixels
        assert got == sorted((["a", "b"][lab], im.tobytes()) for im, lab in zip(images, labels))


def test_image_folder_rgb_any_size_and_dataset(tmp_path):
    images, labels = make_images(6, num_classes=2)
    big = np.stack([cv2.resize(im, (96, 96), interpolation=cv2.INTER_NEAREST) for im in images])
    _folder(tmp_path, "val", big, labels, ["x", "y"], ext=".jpg", color=True)
    x, _, _ = read_image_folder(tmp_path, "val", image_size=64, color_mode="rgb")
    assert x.shape == (6, 64, 64, 3)
    ds = load_image_folder(tmp_path, "val", batch_size=4)
    xb, yb = next(iter(ds))
    assert xb.shape == (4, 48, 48, 1) and yb.dtype.name == "int32"


def test_image_folder_errors(tmp_path):
    images, labels = make_images(4, num_classes=2)
    _folder(tmp_path, "train", images, labels, ["p", "q"])
    with pytest.raises(DataError, match="no such split folder .*splits present: train"):
        read_image_folder(tmp_path, "test")
    with pytest.raises(DataError, match=r"class folders \['q'\] are not among"):
        read_image_folder(tmp_path, "train", class_names=["p"])
    (tmp_path / "train" / "p" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="broken.png: cannot decode image"):
        read_image_folder(tmp_path, "train")
    x, _, _ = read_image_folder(tmp_path, "train", on_bad_file="skip")
    assert len(x) == 4


def test_majority_rule():
    v = np.array(
        [
            [6, 0, 0, 0, 0, 0, 0, 0, 4, 0],  # neutral
            [3, 3, 0, 0, 0, 0, 0, 0, 4, 0],  # tie → dropped
            [1, 0, 0, 0, 0, 0, 0, 0, 0, 9],  # not a face
            [0, 0, 0, 0, 0, 0, 0, 5, 5, 0],  # contempt ties unknown → dropped
            [0, 0, 0, 0, 0, 0, 0, 6, 4, 0],  # contempt
        ]
    )
    assert majority_labels(v).tolist() == [0, -1, -1, -1, 7]


def test_ferplus_join_by_row_and_modes(tmp_path):
    images, labels = make_images(20)
    usages = split_usages(20)
    fer = write_csv(tmp_path / "fer.csv", images, labels, usages)
    votes = ferplus_votes(labels)
    winners = votes[:, :8].argmax(axis=1)
    names = [i != 2 for i in range(20)]  # row 2 dropped by FER+
    fp = write_ferplus(tmp_path / "fer2013new.csv.gz", usages, votes, names)
    table = read_fer2013(fer)
    x, y, cls = ferplus_arrays(table, fp, "Training", "majority")
    train_rows = [i for i, u in enumerate(usages) if u == "Training" and i != 2]
    assert cls == FERPLUS_CLASSES
    np.testing.assert_array_equal(y, winners[train_rows])
    np.testing.assert_array_equal(x[..., 0], images[train_rows])
    _, soft, _ = ferplus_arrays(table, fp, "Training", "probability")
    assert soft.shape == (len(train_rows), 8)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0)
    assert (soft.argmax(axis=1) == y).all()
    joined = join_ferplus(table, fp)
    assert "joined by row position" in joined.note and joined.agreement > 0.6


def test_ferplus_usage_disagreement_is_an_error(tmp_path):
    images, labels = make_images(6)
    fer = write_csv(tmp_path / "fer.csv", images, labels, ["Training"] * 6)
    fp = write_ferplus(tmp_path / "new.csv.gz", ["Training"] * 5 + ["PublicTest"], ferplus_votes(labels, agree=1))
    with pytest.raises(DataError, match="disagree on Usage at data row 5"):
        ferplus_arrays(read_fer2013(fer), fp, "Training")


def test_ferplus_rows_out_of_order_are_refused_with_the_figures(tmp_path):
    """A FER2013 copy that lost rows: by position the votes no longer fit the labels; refused."""
    images, labels = make_images(400, seed=3)
    usages = ["Training"] * 400
    votes = ferplus_votes(labels, seed=1, agree=0.7)
    fp = write_ferplus(tmp_path / "fer2013new.csv", usages, votes)
    keep = np.setdiff1d(np.arange(400), [40, 41, 150, 260, 261, 262, 330])
    fer = write_csv(tmp_path / "fer.csv", images[keep], labels[keep], ["Training"] * len(keep))
    with pytest.raises(
        DataError, match=r"agree with the labels of .* on only \d+% of rows .*original Kaggle row order"
    ):
        join_ferplus(read_fer2013(fer), fp)


def test_unrelated_ferplus_votes_are_refused(tmp_path):
    images, labels = make_images(300, seed=4)
    fer = write_csv(tmp_path / "fer.csv", images, labels, ["Training"] * 300)
    rng = np.random.default_rng(9)
    fp = write_ferplus(tmp_path / "new.csv", ["Training"] * 300, ferplus_votes(rng.integers(0, 7, 300), agree=1))
    with pytest.raises(DataError, match=r"on only \d+% of rows \(about 60 % when the rows match"):
        join_ferplus(read_fer2013(fer), fp)
