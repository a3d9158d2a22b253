"""``kerfer crop`` never loses or overwrites what it did not write, and a re-run after a kill, a
move or a relabel leaves exactly one crop per photo. Tiny generated photos and a stand-in
detector: no model, no shared media."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from cropcheck import (
    crop_report,
    move_link_and_relabel,
    one_crop_per_photo,
    photo_folder,
    refuse_reading,
    report_rows,
    write_photo,
)
from fakedata import huge_png

from kerfer.cli import main
from kerfer.errors import DataError, ImageReadError
from kerfer.io import exclusive_lock
from kerfer.runtime.cropping import LOCK, REJECTED, REPORT, CropRow, _hex, _problem, _row, crop_dataset
from kerfer.runtime.detect import Detection


class OneFace:
    """One face in the middle of any photo brighter than 10, none in a black one."""

    def detect_faces(self, frame: np.ndarray) -> list[Detection]:
        if frame.mean() < 10:
            return []
        h, w = frame.shape[:2]
        return [Detection((w // 4, h // 4, w // 2, h // 2))]


def _crops(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.glob("*/*.png"))


def _crop(src, out, **kw):
    return crop_dataset(src, out, detector=OneFace(), progress=False, **kw)


def _write_rows(out: Path, rows: list[dict]) -> None:
    with open(out / REPORT, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_crop_deletes_and_overwrites_only_files_it_wrote(tmp_path):
    """A report is user-editable text: its `output` column named ../victim.txt, an absolute
    path and a user's file in OUT, and crop deleted them; a link in OUT was written through."""
    src, out = photo_folder(tmp_path / "SRC"), tmp_path / "OUT"
    _crop(src, out)
    victims = [tmp_path / "victim.txt", tmp_path / "elsewhere" / "victim2.txt", out / "happy" / "mine.txt"]
    for v in victims:
        v.parent.mkdir(parents=True, exist_ok=True)
        v.write_text("the user's own file")
    rows = report_rows(out)
    by = {r["source"]: r for r in rows}
    by["angry/p00.png"]["output"] = "../victim.txt"
    by["angry/p01.png"]["output"] = str(victims[1])
    by["happy/p10.png"]["output"] = "happy/mine.txt"
    _write_rows(out, rows)
    # the crop of sad/p20.png is now a link to a file outside OUT: never written through
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"not a crop")
    (out / "sad" / "p20.png").unlink()
    (out / "sad" / "p20.png").symlink_to(outside)
    for rel in ("angry/p00.png", "angry/p01.png", "happy/p10.png"):  # outcomes change: old outputs go
        write_photo(src / rel, 0, black=True)

    report = _crop(src, out)
    assert [v.read_text() for v in victims] == ["the user's own file"] * 3
    assert outside.read_bytes() == b"not a crop"
    assert report.count("no_face") == 3
    assert (out / "sad" / "p20_2.png").is_file(), "the crop got a name of its own, not the link's"
    for rel in ("angry/p00.png", "angry/p01.png", "happy/p10.png"):
        assert (out / REJECTED / "no_face" / rel).read_bytes() == (src / rel).read_bytes()


def test_a_second_crop_into_the_same_out_is_refused(tmp_path):
    src, out = photo_folder(tmp_path / "SRC", per_class=1), tmp_path / "OUT"
    out.mkdir()
    with exclusive_lock(out / LOCK):  # another `kerfer crop` is writing into OUT
        with pytest.raises(DataError, match=r"\.crop\.lock: another kerfer crop is writing into"):
            _crop(src, out)
        r = CliRunner().invoke(main, ["crop", str(src), str(out), "--no-progress", "--detector", "haar"])
        assert r.exit_code == 1 and len(r.output.strip().splitlines()) == 1 and ".crop.lock" in r.output, r.output
    assert not (out / REPORT).exists() and not list(out.glob("*/*.png"))
    assert _crop(src, out).cropped == 3  # the lock went with its holder: nothing stale blocks the next run


KILLER = textwrap.dedent(
    """
    import os, sys
    from kerfer.runtime.cropping import crop_dataset
    from kerfer.runtime.detect import Detection

    class DiesOnTheFifthPhoto:
        seen = 0
        def detect_faces(self, frame):
            self.seen += 1
            if self.seen == 5:
                os._exit(9)  # like a kill -9: no finally, no report
            h, w = frame.shape[:2]
            return [Detection((w // 4, h // 4, w // 2, h // 2))]

    crop_dataset(sys.argv[1], sys.argv[2], detector=DiesOnTheFifthPhoto(), progress=False)
    """
)


def test_rerun_after_a_kill_a_move_a_link_or_a_relabel_leaves_one_crop_per_photo(tmp_path):
    src, out = photo_folder(tmp_path / "SRC"), tmp_path / "OUT"
    killed = subprocess.run([sys.executable, "-c", KILLER, str(src), str(out)], capture_output=True, timeout=120)
    assert killed.returncode == 9, killed.stderr.decode()[-2000:]
    assert not (out / REPORT).exists() and len(_crops(out)) == 4  # killed before the report
    report = _crop(src, out)
    one_crop_per_photo(src, out)
    assert report.cropped == 9 and len(report.rows) == 9

    move_link_and_relabel(src, out, _crop)


def test_a_huge_image_an_unlistable_folder_and_a_broken_link_are_rows_not_the_end(tmp_path, monkeypatch):
    """A 40000x40000 PNG stopped crop for every class after it (cv2.error); a folder it may not
    list stopped it before any photo; a broken link was dropped without a row."""
    src = photo_folder(tmp_path / "SRC", per_class=2)
    huge_png(src / "angry" / "big.png")
    (src / "happy" / "gone.png").symlink_to(tmp_path / "deleted.png")
    write_photo(src / "surprise" / "p.png", 7)
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path).name == "sad":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = _crop(src, tmp_path / "OUT")
    by = {r.source: r for r in report.rows}
    assert by["angry/big.png"].status == "unreadable" and "CV_IO_MAX_IMAGE_PIXELS" in by["angry/big.png"].note
    assert by["happy/gone.png"].status == "unreadable" and "broken symbolic link" in by["happy/gone.png"].note
    assert by["sad"].status == "unreadable" and "cannot list this folder (Permission denied)" in by["sad"].note
    assert report.per_class == {"angry": 2, "happy": 2, "surprise": 1}  # every class after them cropped


def test_a_photo_that_cannot_be_read_keeps_its_earlier_crop(tmp_path, monkeypatch):
    src, out = photo_folder(tmp_path / "SRC", per_class=1), tmp_path / "OUT"
    _crop(src, out)
    before = (out / "happy" / "p10.png").read_bytes()
    refuse_reading(monkeypatch, "p10.png")
    report = _crop(src, out)
    row = next(r for r in report.rows if r.source == "happy/p10.png")
    assert row.status == "unreadable" and "Permission denied" in row.note and row.output == "happy/p10.png"
    assert (out / "happy" / "p10.png").read_bytes() == before


def test_a_damaged_report_or_one_that_is_a_folder_is_one_line_before_any_work(tmp_path):
    src, out = photo_folder(tmp_path / "SRC", per_class=1), tmp_path / "OUT"
    _crop(src, out)
    rows = report_rows(out)
    rows[0]["note"] = "x" * 200_000  # over the csv module's 131,072-character field limit
    _write_rows(out, rows)
    r = CliRunner().invoke(main, ["crop", str(src), str(out), "--no-progress", "--detector", "haar"])
    assert r.exit_code == 1 and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert f"{out / REPORT}: unreadable crop report (line 2: field larger than field limit" in r.output

    other = tmp_path / "OUT2"
    (other / REPORT).mkdir(parents=True)
    r = CliRunner().invoke(main, ["crop", str(src), str(other), "--no-progress", "--detector", "haar"])
    assert r.exit_code == 1 and f"{other / REPORT}: is a folder" in r.output and ".tmp" not in r.output, r.output
    assert not list(other.glob("*/*.png")), "refused before any work"


def test_crop_journal_is_gone_after_a_finished_run(tmp_path):
    src, out = photo_folder(tmp_path / "SRC", per_class=1), tmp_path / "OUT"
    _crop(src, out)
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [LOCK]
    shutil.rmtree(src / "sad")
    assert len(_crop(src, out).rows) == 2 and len(report_rows(out)) == 3  # a photo since deleted keeps its row


def test_the_next_train_command_names_the_splits_train_reads(tmp_path):
    """Train and validation splits by their usual names (any case), else the first split and no
    validation; a one-level OUT is the split of its parent; size and colour only when not 48 gray."""
    out = tmp_path / "my crops"
    q = f"'{out}'"
    assert crop_report(out, "splits", {"Val/sad": 1, "Train/happy": 2}).train_command() == (
        f"kerfer train --data {q} --train-split Train --val-split Val --epochs 30 --out 'runs/my crops'"
    )
    for splits, train, val in [
        (("training", "publictest"), "training", "publictest"),
        (("b", "a"), "a", "none"),
        (("test", "train", "valid"), "train", "valid"),
        (("test", "other"), "other", "test"),
    ]:
        line = crop_report(out, "splits", {f"{s}/x": 1 for s in splits}).train_command()
        assert f" --train-split {train} --val-split {val} " in line, (splits, line)
    one = crop_report(tmp_path / "OUT", "classes", {"happy": 1}, size=64, grayscale=False).train_command()
    assert one == (
        f"kerfer train --data {tmp_path} --train-split OUT --val-split none --image-size 64 --color-mode rgb "
        "--epochs 30 --out runs/OUT"
    )
    assert (
        crop_report(tmp_path / "OUT", "classes", {"happy": 1}, size=32)
        .train_command()
        .count(" --image-size 32 --epochs")
        == 1
    )
    assert crop_report(Path("/"), "splits", {"train/x": 1}).train_command().endswith(" --out runs/crops")


def test_the_summary_counts_each_outcome_and_says_where_the_photos_went(tmp_path):
    out = tmp_path / "OUT"
    rows = [
        CropRow("happy/a.png", "cropped", 1, "happy/a.png"),
        CropRow("happy/b.png", "no_face", 0, f"{REJECTED}/no_face/happy/b.png"),
        CropRow("happy/c.png", "multiple_faces", 2, f"{REJECTED}/multiple_faces/happy/c.png"),
        CropRow("sad/d.png", "multiple_faces", 3, f"{REJECTED}/multiple_faces/sad/d.png"),
        CropRow("sad/e.png", "unreadable", 0, "", "cannot read"),
        CropRow("sad/f.png", "unreadable", 0, f"{REJECTED}/unreadable/sad/f.png"),
    ]
    ignored = [tmp_path / "SRC" / n for n in ("notes.txt", "a.heic", "b.heic", "c.heic")]
    report = crop_report(
        out, "classes", {"happy": 1, "sad": 0}, rows=rows, ignored=ignored, roi="mouth", grayscale=False
    )
    assert report.cropped == 1 and report.count("multiple_faces") == 2
    assert report.summary_lines() == [
        f"cropped 1 of 6 photos (mouth, 48x48 colour) into {out} in 1.2 s:",
        "  happy: 1",
        "  sad: 0",
        f"no face: 1 (copied to {out / REJECTED / 'no_face'})",
        f"several faces: 2 (copied to {out / REJECTED / 'multiple_faces'}; --on-multiple largest crops the largest face)",
        f"unreadable: 2 (copied to {out / REJECTED / 'unreadable'}; 1 could not be read at all: see the report)",
        "not read: 4 file(s) outside class folders or of other types (notes.txt, a.heic, b.heic, ...)",
        f"report: {out / REPORT}",
    ]
    largest = crop_report(out, "classes", {"happy": 2}, rows=rows[:3], on_multiple="largest")
    assert largest.summary_lines()[1:4] == [
        "  happy: 2",
        f"no face: 1 (copied to {out / REJECTED / 'no_face'})",
        "several faces: 1 (cropped the largest face of each)",
    ]
    assert largest.summary_lines()[0].endswith("(face, 48x48 grayscale) into " + f"{out} in 1.2 s:")


class TwoFaces:
    """A tall narrow face on the left half of a photo, a wide one of a larger area on the right."""

    def detect_faces(self, frame: np.ndarray) -> list[Detection]:
        return [Detection((4, 10, 6, 20)), Detection((36, 20, 24, 8))]


def test_on_multiple_largest_crops_the_face_with_the_largest_box(tmp_path):
    img = np.zeros((64, 64, 3), np.uint8)
    img[:, 32:] = 255  # the wide face's half is white, the tall one's black
    (tmp_path / "SRC" / "happy").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "SRC" / "happy" / "two.png"), img)
    report = crop_dataset(
        tmp_path / "SRC", tmp_path / "OUT", detector=TwoFaces(), progress=False, on_multiple="largest"
    )
    (row,) = report.rows
    assert (row.status, row.faces, row.note) == ("multiple_faces", 2, "kept the largest of 2 faces")
    crop = cv2.imread(str(tmp_path / "OUT" / row.output), cv2.IMREAD_UNCHANGED)
    assert crop.min() == 255  # the 24x8 face (192 px), not the taller 6x20 one (120 px)


def test_report_rows_are_read_back_as_written_and_bad_hashes_are_dropped(tmp_path):
    """A report is text a user may edit: its fields come back as written, a hash only when it is
    64 hex digits (any case, spaces around), and a report from before sources were relative to
    SRC is re-keyed when its absolute path lies under SRC."""
    sha = "AB" * 32
    r = {"source": "happy/a.png", "status": "cropped", "faces": "2", "output": "happy/a_2.png", "note": "n",
         "src": "/S", "source_sha256": f" {sha} ", "output_sha256": "cd" * 32}  # fmt: skip
    assert _row(r, tmp_path) == CropRow("happy/a.png", "cropped", 2, "happy/a_2.png", "n", "/S", sha.lower(), "cd" * 32)
    bare = _row({"source": "a.png", "status": "no_face", "faces": "", "output": ""}, tmp_path)
    assert bare == CropRow("a.png", "no_face", 0, "", "", "", "", "")
    old = _row(
        {"source": str(tmp_path / "happy" / "a.png"), "status": "cropped", "faces": "1", "output": "o"}, tmp_path
    )
    assert (old.source, old.src) == ("happy/a.png", str(tmp_path))
    elsewhere = _row({"source": "/elsewhere/a.png", "status": "cropped", "faces": "1", "output": "o"}, tmp_path)
    assert (elsewhere.source, elsewhere.src) == ("/elsewhere/a.png", "")
    kept = _row({"source": "/x/a.png", "status": "cropped", "faces": "1", "output": "o", "src": "/S"}, tmp_path)
    assert (kept.source, kept.src) == ("/x/a.png", "/S")
    assert [_hex(v) for v in (None, "", "ab" * 31, "ab" * 32 + "a", "g" + "a" * 63, "0" * 64)] == [""] * 5 + ["0" * 64]


def test_a_photo_error_is_its_last_line_without_the_file_name():
    assert _problem(ImageReadError("/x/a.png: cannot decode image (OpenCV: bad: worse)")) == (
        "cannot decode image (OpenCV: bad: worse)"
    )
    assert _problem(ValueError("first\na: b  ")) == "a: b"  # not an ImageReadError: kept whole
    assert _problem(MemoryError()) == "MemoryError"
    assert _problem(ImageReadError("cannot decode image")) == "cannot decode image"  # no file name to cut
    assert _problem(ImageReadError("/x/a b.png: Permission denied")) == "Permission denied"


def test_an_unreadable_photo_rows_carry_no_faces_no_hash_and_keep_the_earlier_output(tmp_path, monkeypatch):
    src, out = photo_folder(tmp_path / "SRC", per_class=1), tmp_path / "OUT"
    (src / "sad" / "gone.png").symlink_to(tmp_path / "deleted.png")
    first = {r.source: r for r in _crop(src, out).rows}
    key = str(src.resolve())
    assert first["sad/gone.png"] == CropRow("sad/gone.png", "unreadable", 0, "", first["sad/gone.png"].note, key)
    refuse_reading(monkeypatch, "p10.png")
    again = {r.source: r for r in _crop(src, out).rows}
    row, was = again["happy/p10.png"], first["happy/p10.png"]
    assert (row.status, row.faces, row.src, row.source) == ("unreadable", 0, key, "happy/p10.png")
    assert (row.output, row.source_sha256, row.output_sha256) == (was.output, was.source_sha256, was.output_sha256)
    assert row.note.endswith("; its earlier output is kept")
    assert {r["source"]: r for r in report_rows(out)}["happy/p10.png"]["faces"] == "0"
