from __future__ import annotations

import pytest
from fakedata import ferplus_votes, make_images, split_usages, write_csv, write_ferplus

tfds = pytest.importorskip("tensorflow_datasets")
import kerfer.data.tfds_fer2013  # noqa: E402,F401  (registers "fer2013")


def _build(tmp_path, config="fer2013"):
    manual = tmp_path / "manual"
    manual.mkdir()
    images, labels = make_images(40, seed=7)
    usages = split_usages(40)
    write_csv(manual / "fer2013.csv.gz", images, labels, usages, gz=True)
    if config == "ferplus":
        write_ferplus(manual / "fer2013new.csv.gz", usages, ferplus_votes(labels))
    builder = tfds.builder(f"fer2013/{config}", data_dir=str(tmp_path / "data"))
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    return builder, images, labels, usages


def test_builds_from_a_csv_with_splits_from_usage(tmp_path):
    builder, images, labels, usages = _build(tmp_path)
    assert set(builder.info.splits) == {"train", "validation", "test"}
    assert builder.info.features["label"].names[3] == "happy"
    ds = tfds.load("fer2013", split="validation", data_dir=str(tmp_path / "data"), as_supervised=True)
    got = sorted((int(y), x.numpy().tobytes()) for x, y in ds)
    want = sorted(
        (int(lab), img[..., None].tobytes()) for img, lab, u in zip(images, labels, usages) if u == "PublicTest"
    )
    assert got == want


def test_ferplus_config_adds_votes(tmp_path):
    builder, _, labels, usages = _build(tmp_path, "ferplus")
    votes = ferplus_votes(labels)  # the same votes _build wrote
    got = sorted(
        (int(ex["label"]), int(ex["ferplus_label"]), tuple(ex["ferplus_votes"].numpy()))
        for ex in builder.as_dataset(split="train")
    )
    want = sorted(
        (int(lab), int(v[:8].argmax()), tuple(v)) for lab, v, u in zip(labels, votes, usages) if u == "Training"
    )
    assert got == want


def test_missing_manual_file_says_where_to_put_it(tmp_path):
    (tmp_path / "empty").mkdir()
    builder = tfds.builder("fer2013", data_dir=str(tmp_path / "data"))
    config = tfds.download.DownloadConfig(manual_dir=str(tmp_path / "empty"))
    with pytest.raises(AssertionError, match="Place fer2013.csv or fer2013.csv.gz"):
        builder.download_and_prepare(download_config=config)
    (tmp_path / "empty" / "other.txt").write_text("not the data")
    with pytest.raises(AssertionError, match="place fer2013.csv.gz or fer2013.csv there"):
        builder.download_and_prepare(download_config=config)
