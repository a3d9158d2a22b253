"""No command writes over one of its own inputs: ``live --source mine.mp4 --output mine.mp4``
overwrote the video (exit 0). Every writing command refuses an output that is the same file as
an input (by resolved path and by inode: a symbolic or hard link too), before it writes."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from fakedata import make_images, write_csv

from kerfer.cli import main
from kerfer.paths import FileSet, SameFileError, refuse_overwriting_inputs


def _video(path, n=3):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(n):
        w.write(np.full((48, 64, 3), 40 + i, np.uint8))
    w.release()
    return path


def test_the_check_compares_resolved_paths_and_inodes(tmp_path):
    real = tmp_path / "clip.mp4"
    real.write_bytes(b"video")
    (tmp_path / "link.mp4").symlink_to(real)
    os.link(real, tmp_path / "hard.mp4")
    for alias in (real, tmp_path / "link.mp4", tmp_path / "hard.mp4", tmp_path / "sub" / ".." / "clip.mp4"):
        with pytest.raises(SameFileError, match="--output is the same file as --source"):
            refuse_overwriting_inputs({"--output": alias}, {"--source": real})
        assert alias in FileSet([real])
    with pytest.raises(SameFileError, match="--output and --save-video are the same file"):
        refuse_overwriting_inputs({"--output": tmp_path / "a", "--save-video": tmp_path / "a"}, {})
    refuse_overwriting_inputs({"--output": tmp_path / "new.jsonl"}, {"--source": real, "--model": None})
    assert (tmp_path / "new.jsonl") not in FileSet([real])


def test_live_never_writes_over_its_video(tmp_path):
    video = _video(tmp_path / "mine.avi")
    before = video.read_bytes()
    (tmp_path / "alias.avi").symlink_to(video)
    cases = [
        ["--output", str(video)],
        ["--save-video", str(video)],
        ["--output", str(tmp_path / "alias.avi")],
        ["--output", str(tmp_path / "same.jsonl"), "--save-video", str(tmp_path / "same.jsonl")],
    ]
    for extra in cases:
        r = CliRunner().invoke(main, ["live", "--source", str(video), "--headless", *extra])
        assert r.exit_code == 1 and "the same file" in r.output and "nothing was written" in r.output, r.output
        assert video.read_bytes() == before and not (tmp_path / "same.jsonl").exists()
    ok = CliRunner().invoke(main, ["live", "--source", str(video), "--headless", "--output", str(tmp_path / "r.jsonl")])
    assert ok.exit_code == 0, ok.output


def test_predict_never_writes_an_annotated_copy_over_a_photo(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.png", "a_kerfer.jpg"):  # a.png's annotated name is another input
        ok, data = cv2.imencode(os.path.splitext(name)[1], np.full((40, 40, 3), 90, np.uint8))
        (photos / name).write_bytes(data.tobytes())
    before = (photos / "a_kerfer.jpg").read_bytes()
    r = CliRunner().invoke(main, ["predict", str(photos), "--save-annotated", str(photos), "--json"])
    assert r.exit_code == 0, r.output
    assert (photos / "a_kerfer.jpg").read_bytes() == before
    assert sorted(p.name for p in photos.iterdir()) == [
        "a.png",
        "a_2_kerfer.jpg",
        "a_kerfer.jpg",
        "a_kerfer_kerfer.jpg",
    ]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory with an untrained tiny 2-class model and a CSV."""
    from kerfer.contract import ModelContract
    from kerfer.models import build_model

    run = tmp_path_factory.mktemp("run")
    build_model("vgg", 2, widths=[8, 16, 16, 32], stem_filters=4).save(run / "best.keras")
    ModelContract(class_names=("angry", "happy")).save(run / "labels.json")
    images, _ = make_images(4)
    write_csv(run / "f.csv", images, [0, 3, 0, 3], ["Training", "Training", "PublicTest", "PublicTest"])
    return run


def _unchanged(run):
    return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}


def test_export_evaluate_and_train_never_write_over_their_inputs(run_dir, tmp_path):
    before = _unchanged(run_dir)
    csv = str(run_dir / "f.csv")
    parity = tmp_path / "parity.csv"
    os.link(run_dir / "f.csv", parity)  # the data, under the name of a file export writes
    cases = [
        (
            ["export", "--model", str(run_dir), "--csv", csv, "--out", str(run_dir)],
            "--out's labels.json is the same file as its labels file",
        ),
        (
            ["export", "--model", str(run_dir), "--csv", str(parity), "--out", str(tmp_path)],
            "--out's parity.csv is the same file as --csv",
        ),
        (
            [
                "evaluate",
                "--model",
                str(run_dir / "best.keras"),
                "--csv",
                str(run_dir / "f.csv"),
                "--out",
                str(run_dir),
                "--split",
                "f",
            ],
            None,
        ),
        (
            ["train", "--csv", csv, "--init-from", str(run_dir / "best.keras"), "--out", str(run_dir / "sub" / "..")],
            "--out's best.keras is the same file as --init-from",
        ),
    ]
    (run_dir / "metrics_f.csv").unlink(missing_ok=True)
    os.link(run_dir / "f.csv", run_dir / "metrics_f.csv")  # evaluate would write metrics_f.csv: the CSV itself
    try:
        for args, message in cases:
            r = CliRunner().invoke(main, args)
            assert r.exit_code == 1 and "the same file" in r.output and "Traceback" not in r.output, r.output
            if message:
                assert message in r.output, r.output
            assert _unchanged(run_dir) == {**before, "metrics_f.csv": before["f.csv"]}
    finally:
        (run_dir / "metrics_f.csv").unlink()
