"""``crop_dataset`` in process, on generated photos and stand-in detectors (no model, no media):
its argument checks, the report it returns, OUT's settings file, the crops' pixels and colour,
and a re-run after an interrupted run whose journal was cut mid-row. These are the tests the
mutation run over ``runtime/cropping.py`` has (it skips the shared-photo tests and the ones
that run kerfer in a subprocess)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from cropcheck import (
    crop_report,
    move_link_and_relabel,
    one_crop_per_photo,
    photo_folder,
    refuse_reading,
    report_rows,
    write_photo,
)

from kerfer.errors import DataError
from kerfer.io import exclusive_lock
from kerfer.options import MAX_CROP_SIZE, MIN_CROP_SIZE
from kerfer.runtime import cropping
from kerfer.runtime.blazeface import KEYPOINTS
from kerfer.runtime.cropping import JOURNAL, LOCK, REJECTED, REPORT, SETTINGS, CropRow, crop_dataset
from kerfer.runtime.detect import Detection
from kerfer.runtime.images import decode_image, read_bytes
from kerfer.runtime.roi import crop_roi


class Tilted:
    """One face in the middle of a photo brighter than 10, its eyes tilted by ~27 degrees (so
    alignment turns the crop), none in a black photo."""

    def detect_faces(self, frame: np.ndarray) -> list[Detection]:
        if frame.mean() < 10:
            return []
        h, w = frame.shape[:2]
        points = np.array([[w * 0.35, h * 0.35], [w * 0.65, h * 0.5], [w * 0.5, h * 0.55], [w * 0.5, h * 0.7]])
        points = np.vstack([points, [[w * 0.2, h * 0.4], [w * 0.8, h * 0.55]]]).astype(np.float32)
        return [Detection((w // 4, h // 4, w // 2, h // 2), 0.9, points, KEYPOINTS)]


class Dies(Tilted):
    """Stops the run on its ``at``-th photo, as Ctrl-C does."""

    def __init__(self, at: int):
        self.at, self.seen = at, 0

    def detect_faces(self, frame):
        self.seen += 1
        if self.seen == self.at:
            raise KeyboardInterrupt
        return super().detect_faces(frame)


class Everywhere:
    """Two faces in every photo, the second larger; or none, in a black one."""

    def detect_faces(self, frame):
        if frame.mean() < 10:
            return []
        return [Detection((2, 2, 8, 8)), Detection((12, 8, 16, 16))]


def _crop(src, out, detector=None, **kw):
    return crop_dataset(src, out, detector=detector or Tilted(), progress=False, **kw)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"roi": "nose"}, "roi='nose': expected one of face, mouth, eyes"),
        ({"on_multiple": "all"}, "on_multiple='all': expected one of skip, largest"),
        (
            {"size": MIN_CROP_SIZE - 1},
            f"size={MIN_CROP_SIZE - 1}: must be between {MIN_CROP_SIZE} and {MAX_CROP_SIZE} pixels",
        ),
        ({"size": MAX_CROP_SIZE + 1}, f"size={MAX_CROP_SIZE + 1}: must be between"),
        ({"margin": -0.01}, "margin=-0.01: must be between 0 and 2"),
        ({"margin": 2.01}, "margin=2.01: must be between 0 and 2"),
    ],
)
def test_bad_arguments_are_refused_with_the_allowed_values_before_any_work(tmp_path, kw, message):
    src = photo_folder(tmp_path / "SRC", per_class=1)
    with pytest.raises(ValueError) as e:
        _crop(src, tmp_path / "OUT", **kw)
    assert str(e.value).startswith(message), str(e.value)
    assert not (tmp_path / "OUT").exists()


@pytest.mark.parametrize("kw", [{"size": MIN_CROP_SIZE}, {"size": MAX_CROP_SIZE}, {"margin": 0.0}, {"margin": 2.0}])
def test_the_limits_themselves_are_allowed(tmp_path, kw):
    src = tmp_path / "SRC"
    write_photo(src / "happy" / "a.png", 1)
    report = _crop(src, tmp_path / "OUT", **kw)
    assert report.cropped == 1
    crop = cv2.imread(str(tmp_path / "OUT" / "happy" / "a.png"), cv2.IMREAD_UNCHANGED)
    assert crop.shape == (report.size, report.size)


def test_the_report_says_what_was_asked_and_what_was_done(tmp_path):
    src, out = photo_folder(tmp_path / "SRC", per_class=2), tmp_path / "deep" / "er" / "OUT"  # parents made
    write_photo(src / "sad" / "dark.png", 0, black=True)
    (src / "notes.txt").write_text("not a photo")
    report = _crop(src, out, roi="mouth", size=40, grayscale=False, on_multiple="largest")
    assert (report.src, report.out, report.layout, report.roi) == (src, out, "classes", "mouth")
    assert (report.size, report.grayscale, report.on_multiple) == (40, False, "largest")
    assert report.report_path == out / REPORT and report.ignored == [src / "notes.txt"]
    assert report.per_class == {"angry": 2, "happy": 2, "sad": 2} and report.cropped == 6
    assert [(r.source, r.status, r.faces) for r in report.rows][-1] == ("sad/p21.png", "cropped", 1)
    assert report.count("no_face") == 1 and (out / REJECTED / "no_face" / "sad" / "dark.png").is_file()
    assert 0 <= report.seconds < 60
    assert len(report_rows(out)) == 7 and not (out / JOURNAL).exists()


def test_seconds_is_the_time_the_photos_took(tmp_path):
    class Slow(Tilted):
        def detect_faces(self, frame):
            time.sleep(0.2)
            return super().detect_faces(frame)

    report = _crop(photo_folder(tmp_path / "SRC", per_class=1), tmp_path / "OUT", Slow())
    assert 0.6 <= report.seconds < 30


def test_out_remembers_its_settings_and_refuses_others_by_name(tmp_path):
    src, out = photo_folder(tmp_path / "SRC", per_class=1), tmp_path / "OUT"
    _crop(src, out, grayscale=False, margin=0.5, align=False)
    text = (out / SETTINGS).read_text()
    assert (
        text == json.dumps({"roi": "face", "size": 48, "color": "rgb", "margin": 0.5, "align": False}, indent=2) + "\n"
    )
    with pytest.raises(DataError) as e:
        _crop(src, out, grayscale=True, margin=0.5, align=True)
    assert str(e.value) == (
        f"{out}: holds crops made with color='rgb', align=False, not color='grayscale', align=True: "
        "choose another OUT folder (or delete this one)"
    )
    assert _crop(src, out, grayscale=False, margin=0.5, align=False).cropped == 3  # the same settings: fine
    settings = json.loads(text)
    (out / SETTINGS).write_text(json.dumps({**settings, "roi": "eyes", "size": 64}))
    with pytest.raises(DataError, match=r"with roi='eyes', size=64, not roi='face', size=48: "):
        _crop(src, out, grayscale=False, margin=0.5, align=False)
    (out / SETTINGS).write_text(json.dumps({"roi": "face", "an older key": 1}))  # unknown keys are no conflict
    assert _crop(src, out, grayscale=False, margin=0.5, align=False).cropped == 3
    assert json.loads((out / SETTINGS).read_text()) == settings
    (out / SETTINGS).write_text('{"roi": "eyes"')  # damaged: rewritten, not a conflict
    _crop(src, out, grayscale=False, margin=0.5, align=False)
    assert json.loads((out / SETTINGS).read_text()) == settings
    _crop(src, tmp_path / "fresh")
    assert json.loads((tmp_path / "fresh" / SETTINGS).read_text())["color"] == "grayscale"


@pytest.mark.parametrize("grayscale", [True, False])
@pytest.mark.parametrize(
    "roi, align, margin", [("face", True, 0.2), ("face", False, 0.2), ("eyes", True, 0.0), ("mouth", False, 1.0)]
)
def test_each_crop_holds_the_pixels_of_crop_roi_with_the_asked_settings(tmp_path, grayscale, roi, align, margin):
    """The settings reach the crop: a crop is ``crop_roi`` of the decoded photo, gray or RGB
    written as PNG in OpenCV's BGR order (so the red half of the photo stays red)."""
    src = tmp_path / "SRC"
    photo = write_photo(src / "happy" / "a.png", 3)
    report = _crop(src, tmp_path / "OUT", roi=roi, size=32, grayscale=grayscale, align=align, margin=margin)
    (row,) = report.rows
    assert row.output == "happy/a.png"
    written = cv2.imread(str(tmp_path / "OUT" / row.output), cv2.IMREAD_UNCHANGED)
    frame = decode_image(read_bytes(photo), photo)
    (det,) = Tilted().detect_faces(frame)
    want = crop_roi(frame, det, roi, 32, 1 if grayscale else 3, align, margin)
    if grayscale:
        assert written.shape == (32, 32) and np.array_equal(written, want[..., 0])
    else:
        assert written.shape == (32, 32, 3) and np.array_equal(cv2.cvtColor(written, cv2.COLOR_BGR2RGB), want)
    other = crop_roi(frame, det, roi, 32, 1 if grayscale else 3, not align, margin)
    assert not np.array_equal(want, other), "the test's face is tilted enough for align to matter"


def test_largest_reports_only_real_choices(tmp_path):
    """With --on-multiple largest, a one-face photo has no note and a faceless one is no_face."""
    src = tmp_path / "SRC"
    write_photo(src / "happy" / "one.png", 1)
    write_photo(src / "happy" / "none.png", 2, black=True)
    write_photo(src / "sad" / "two.png", 3)
    by = {r.source: r for r in _crop(src, tmp_path / "OUT", on_multiple="largest").rows}
    assert (by["happy/one.png"].status, by["happy/one.png"].note) == ("cropped", "")
    assert (by["happy/none.png"].status, by["happy/none.png"].faces) == ("no_face", 0)
    assert (by["happy/none.png"].output, by["happy/none.png"].note) == (f"{REJECTED}/no_face/happy/none.png", "")
    by = {r.source: r for r in _crop(src, tmp_path / "OUT2", Everywhere(), on_multiple="largest").rows}
    assert (by["sad/two.png"].status, by["sad/two.png"].faces) == ("multiple_faces", 2)
    assert by["sad/two.png"].note == "kept the largest of 2 faces" and by["sad/two.png"].output == "sad/two.png"
    skip = {r.source: r for r in _crop(src, tmp_path / "OUT3", Everywhere()).rows}["sad/two.png"]
    assert (skip.status, skip.faces, skip.note) == ("multiple_faces", 2, "")
    assert skip.output == f"{REJECTED}/multiple_faces/sad/two.png"


def test_a_rejected_photo_keeps_its_folders_and_suffix_under_rejected(tmp_path):
    src = tmp_path / "SRC"
    write_photo(src / "train" / "happy" / "dark.jpg", 0, black=True)
    (src / "train" / "sad").mkdir(parents=True)
    (src / "train" / "sad" / "broken.png").write_bytes(b"\x89PNG not really")
    by = {r.source: r for r in _crop(src, tmp_path / "OUT").rows}
    dark, broken = by["train/happy/dark.jpg"], by["train/sad/broken.png"]
    assert (dark.status, dark.output) == ("no_face", f"{REJECTED}/no_face/train/happy/dark.jpg")
    assert (broken.status, broken.faces, broken.output) == (
        "unreadable",
        0,
        f"{REJECTED}/unreadable/train/sad/broken.png",
    )
    assert (tmp_path / "OUT" / broken.output).read_bytes() == b"\x89PNG not really"
    assert broken.source_sha256 and broken.output_sha256 == broken.source_sha256


def test_a_photo_that_cannot_be_read_at_all_is_a_row_with_no_output(tmp_path, monkeypatch):
    src = photo_folder(tmp_path / "SRC", per_class=1)
    before = next(r for r in _crop(src, tmp_path / "KEPT").rows if r.source == "happy/p10.png")
    refuse_reading(monkeypatch, "p10.png")
    report = _crop(src, tmp_path / "OUT")
    row = next(r for r in report.rows if r.source == "happy/p10.png")
    assert (row.status, row.faces, row.output, row.source_sha256, row.output_sha256) == ("unreadable", 0, "", "", "")
    assert "Permission denied" in row.note
    assert report.per_class["happy"] == 0 and not (tmp_path / "OUT" / REJECTED).exists()
    kept = next(r for r in _crop(src, tmp_path / "KEPT").rows if r.source == "happy/p10.png")
    assert (kept.status, kept.faces, kept.output) == ("unreadable", 0, before.output)
    assert (kept.source_sha256, kept.output_sha256) == (before.source_sha256, before.output_sha256)
    assert kept.note.endswith("; its earlier output is kept") and "Permission denied" in kept.note


def _killed(monkeypatch, src: Path, out: Path, at: int) -> None:
    """A run stopped on its ``at``-th photo as kill -9 stops it: no report written, the journal kept."""
    with monkeypatch.context() as m:
        m.setattr(cropping, "_finish_report", lambda *a: None)
        with pytest.raises(KeyboardInterrupt):
            _crop(src, out, Dies(at=at))


def test_a_rerun_after_an_interrupted_run_and_a_journal_cut_mid_row_leaves_one_crop_per_photo(tmp_path, monkeypatch):
    """The in-process twin of the kill test in test_crop_recovery.py: an interrupted run keeps its
    journal; a kill -9 would also leave no report and the journal's last row cut short."""
    src, out = photo_folder(tmp_path / "SRC"), tmp_path / "OUT"
    with pytest.raises(KeyboardInterrupt):
        _crop(src, out, Dies(at=5))
    assert len(report_rows(out)) == 4 and not (out / JOURNAL).exists()  # interrupted: the report holds the journal
    _crop(src, out)
    one_crop_per_photo(src, out)
    out = tmp_path / "OUT2"
    _killed(monkeypatch, src, out, at=5)
    assert not (out / REPORT).exists()
    journal = (out / JOURNAL).read_bytes()
    assert journal.count(b"\r\n") == 5 and journal.endswith(b"\r\n")  # header and four rows
    # Killed while writing the last row: its crop, written only after the row, is not there either.
    (out / JOURNAL).write_bytes(journal[:-40])
    last = next(csv.reader([journal.rstrip(b"\r\n").rsplit(b"\r\n", 1)[1].decode()]))
    (out / last[3]).unlink()
    report = _crop(src, out)
    one_crop_per_photo(src, out)
    assert report.cropped == 9 and len(report.rows) == 9 and not (out / JOURNAL).exists()

    move_link_and_relabel(src, out, _crop)


def test_a_journal_without_a_trailing_newline_is_continued_on_a_line_of_its_own(tmp_path, monkeypatch):
    src, out = photo_folder(tmp_path / "SRC", per_class=1), tmp_path / "OUT"
    _killed(monkeypatch, src, out, at=3)
    journal = (out / JOURNAL).read_bytes()  # header and two rows
    _killed(monkeypatch, src, out, at=3)  # ended properly: the rows follow with no blank line
    assert (out / JOURNAL).read_bytes() == journal + journal.split(b"\r\n", 1)[1]
    (out / JOURNAL).write_bytes(journal[:-2])  # the last row complete but for its line end
    _killed(monkeypatch, src, out, at=3)
    lines = (out / JOURNAL).read_bytes().split(b"\r\n")
    assert lines[:3] == journal.split(b"\r\n")[:3], "the cut row was ended, not glued to the next one"
    assert lines[3:5] == journal.split(b"\r\n")[1:3] and lines[5] == b""
    _crop(src, out)
    one_crop_per_photo(src, out)


def test_a_journal_cut_inside_its_header_is_a_fresh_start(tmp_path, monkeypatch):
    src, out = photo_folder(tmp_path / "SRC", per_class=1), tmp_path / "OUT"
    _killed(monkeypatch, src, out, at=1)  # killed on the first photo: the header alone
    (out / JOURNAL).write_bytes((out / JOURNAL).read_bytes()[:10])
    assert _crop(src, out).cropped == 3
    one_crop_per_photo(src, out)


@pytest.mark.skipif(sys.platform != "linux", reason="file names that are not UTF-8 need a Linux file system")
def test_names_that_are_not_utf8_or_hold_a_line_break_round_trip_through_the_report(tmp_path):
    src, out = tmp_path / "SRC", tmp_path / "OUT"
    odd = [b"caf\xc3\xa9.png", b"raw\xff.png", b"two\r\nlines.png"]
    for i, name in enumerate(odd):
        write_photo(Path(os.fsdecode(bytes(src / "happy") + b"/" + name)), i)
    first = _crop(src, out)
    assert first.cropped == 3 and len(report_rows(out)) == 3
    again = _crop(src, out)
    assert sorted(r.output for r in again.rows) == sorted(r.output for r in first.rows), "matched, not renamed"
    assert len(list((out / "happy").iterdir())) == 3
    assert sorted(r["source"] for r in report_rows(out)) == sorted(r.source for r in first.rows)


def test_a_default_run_on_a_terminal_draws_the_progress_bar(tmp_path, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    crop_dataset(photo_folder(tmp_path / "SRC", per_class=1), tmp_path / "OUT", detector=Tilted())
    assert "3/3" in tty.getvalue() and "100%" in tty.getvalue()


def test_the_summary_lists_every_outcome_after_one_with_no_photos(tmp_path):
    out = tmp_path / "OUT"
    rows = [
        CropRow("happy/a.png", "cropped", 1, "happy/a.png"),
        CropRow("sad/c.png", "multiple_faces", 2, f"{REJECTED}/multiple_faces/sad/c.png"),
        CropRow("sad/d.png", "multiple_faces", 2, ""),  # could not be copied
        CropRow("sad/e.png", "unreadable", 0, f"{REJECTED}/unreadable/sad/e.png"),
    ]
    lines = crop_report(out, "classes", {"happy": 1}, rows=rows).summary_lines()
    assert lines[2:4] == [  # no "no face" line, and the ones after it still there
        f"several faces: 2 (copied to {out / REJECTED / 'multiple_faces'}; --on-multiple largest crops the "
        "largest face; 1 could not be read at all: see the report)",
        f"unreadable: 1 (copied to {out / REJECTED / 'unreadable'})",
    ]
    largest = crop_report(out, "classes", {"happy": 1, "sad": 2}, rows=rows, on_multiple="largest").summary_lines()
    assert largest[3:5] == ["several faces: 2 (cropped the largest face of each)", lines[3]]


@pytest.mark.parametrize("n, shown", [(1, "a.txt"), (3, "a.txt, b.txt, c.txt"), (4, "a.txt, b.txt, c.txt, ...")])
def test_the_summary_names_up_to_three_files_not_read(tmp_path, n, shown):
    out = tmp_path / "OUT"
    ignored = [out.parent / "SRC" / f"{c}.txt" for c in "abcd"[:n]]
    lines = crop_report(out, "classes", {}, ignored=ignored).summary_lines()
    assert lines[-2] == f"not read: {n} file(s) outside class folders or of other types ({shown})"


def test_validation_is_a_validation_split_name(tmp_path):
    out = tmp_path / "OUT"
    line = crop_report(out, "splits", {"training/a": 1, "validation/a": 1}).train_command()
    assert " --train-split training --val-split validation " in line


def _write_report(out: Path, header: list[str], rows: list[list[str]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / REPORT, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])


def test_a_report_with_only_the_first_four_columns_is_read_and_one_with_fewer_is_named(tmp_path):
    src = photo_folder(tmp_path / "SRC", per_class=1)
    out = tmp_path / "OUT"
    first = _crop(src, out)
    kept = {r.source: r for r in first.rows}
    # an older report: four columns, absolute sources, no hashes: its outputs cannot be proven
    # crop's, so they are left alone and the photos get names of their own
    _write_report(
        out, ["source", "status", "faces", "output"], [[str(src / r.source), r.status, 1, r.output] for r in first.rows]
    )
    again = {r.source: r for r in _crop(src, out).rows}
    assert sorted(again) == sorted(kept) and all(r.src == str(src.resolve()) for r in again.values())
    assert {r.output for r in again.values()} == {
        o.replace(".png", "_2.png") for o in (r.output for r in kept.values())
    }
    assert sorted(r["source"] for r in report_rows(out)) == sorted(kept), "re-keyed to SRC: one row per photo"
    for header in (["source", "status", "faces"], []):
        _write_report(out, header, [])
        with pytest.raises(DataError) as e:
            _crop(src, out)
        assert str(e.value) == (
            f"{out / REPORT}: not a kerfer crop report (columns source, status, faces, output, note, src, "
            "source_sha256, output_sha256)"
        )


def test_a_report_row_that_does_not_parse_stops_the_run_naming_the_report(tmp_path):
    src, out = photo_folder(tmp_path / "SRC", per_class=1), tmp_path / "OUT"
    _write_report(out, ["source", "status", "faces", "output"], [["happy/p10.png", "cropped", "one", "happy/p10.png"]])
    with pytest.raises(DataError) as e:
        _crop(src, out)
    assert str(e.value) == (
        f"{out / REPORT}: unreadable crop report (invalid literal for int() with base 10: 'one'); "
        "move it away to start afresh"
    )
    _write_report(
        out, ["source", "status", "faces", "output"], [["a.png", "cropped", "1", "a.png"]] * 2 + [["x" * 200_000]]
    )
    with pytest.raises(DataError) as e:  # over the csv module's field limit, on the file's fourth line
        _crop(src, out)
    assert str(e.value).startswith(f"{out / REPORT}: unreadable crop report (line 4: field larger than field limit")
    assert str(e.value).endswith("); move it away to start afresh")


def test_a_locked_out_and_a_nested_out_are_refused_in_one_line(tmp_path):
    src, out = photo_folder(tmp_path / "SRC", per_class=1), tmp_path / "OUT"
    out.mkdir()
    with exclusive_lock(out / LOCK):
        with pytest.raises(DataError) as e:
            _crop(src, out)
    assert str(e.value) == (
        f"{out / LOCK}: another kerfer crop is writing into {out} (it holds this lock): "
        "wait for it to finish, or crop into another folder"
    )
    with pytest.raises(DataError) as e:
        _crop(src, src / "happy" / "crops")
    assert str(e.value).startswith(f"{src / 'happy' / 'crops'}: ") and "inside" in str(e.value)
    assert not (src / "happy" / "crops").exists()


def test_the_default_detector_is_blazeface_and_finds_no_face_in_noise(tmp_path):
    src = tmp_path / "SRC"
    write_photo(src / "happy" / "noise.png", 4)
    report = crop_dataset(src, tmp_path / "OUT", progress=False)
    assert [(r.status, r.faces) for r in report.rows] == [("no_face", 0)]


def test_a_report_that_cannot_be_written_keeps_the_journal_and_the_runs_own_error(tmp_path, monkeypatch):
    src, out = photo_folder(tmp_path / "SRC", per_class=1), tmp_path / "OUT"

    def full_disk(*a):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cropping, "_write_rows", full_disk)
    with pytest.raises(KeyboardInterrupt):  # the interruption is what the user sees, not the disk
        _crop(src, out, Dies(at=2))
    assert (out / JOURNAL).is_file() and not (out / REPORT).exists()
    with pytest.raises(OSError, match="No space left"):  # a finished run must not hide it
        _crop(src, out)
    assert (out / JOURNAL).is_file()
    monkeypatch.undo()
    _crop(src, out)
    one_crop_per_photo(src, out)


def test_per_class_counts_crops_in_each_split_and_class_only(tmp_path, monkeypatch):
    src = tmp_path / "SRC"
    for split in ("train", "val"):
        write_photo(src / split / "happy" / "a.png", 1)
        write_photo(src / split / "happy" / "b.png", 2)
        write_photo(src / split / "sad" / "dark.png", 3, black=True)
    out = tmp_path / "OUT"
    report = _crop(src, out)
    assert report.layout == "splits"
    assert report.per_class == {"train/happy": 2, "train/sad": 0, "val/happy": 2, "val/sad": 0}
    refuse_reading(monkeypatch, "a.png")
    again = _crop(src, out)  # a.png unreadable now: its earlier crop is kept, but not counted as made
    assert again.per_class == {"train/happy": 1, "train/sad": 0, "val/happy": 1, "val/sad": 0}
    assert {r.output for r in again.rows if r.source.endswith("a.png")} == {"train/happy/a.png", "val/happy/a.png"}


@pytest.mark.parametrize("kind", ["a folder", "a link", "not a regular file"])
def test_a_report_path_that_is_not_a_file_is_named_before_any_work(tmp_path, kind):
    src, out = photo_folder(tmp_path / "SRC", per_class=1), tmp_path / "OUT"
    out.mkdir()
    where = out / REPORT
    if kind == "a folder":
        where.mkdir()
    elif kind == "a link":
        where.symlink_to(tmp_path / "elsewhere.csv")
    else:
        os.mkfifo(where)
    with pytest.raises(DataError) as e:
        _crop(src, out)
    assert str(e.value) == f"{where}: is {kind}; kerfer crop keeps its {REPORT} there: move it away"
    assert not list(out.glob("*/*.png"))


def test_the_same_photo_in_two_classes_keeps_both_crops_on_a_rerun(tmp_path):
    """A photo is matched by content only when its old place no longer holds it."""
    src, out = tmp_path / "SRC", tmp_path / "OUT"
    write_photo(src / "happy" / "same.png", 5)
    (src / "sad").mkdir()
    (src / "sad" / "same.png").write_bytes((src / "happy" / "same.png").read_bytes())
    _crop(src, out)
    _crop(src, out)
    one_crop_per_photo(src, out)


def test_a_class_folder_that_leads_out_of_out_is_refused(tmp_path):
    src, out = photo_folder(tmp_path / "SRC", per_class=1), tmp_path / "OUT"
    (tmp_path / "outside").mkdir()
    out.mkdir()
    (out / "happy").symlink_to(tmp_path / "outside")
    with pytest.raises(DataError) as e:
        _crop(src, out)
    assert str(e.value) == f"{out / 'happy'}: leads out of {out} (a link?): refusing to write there"
    assert not list((tmp_path / "outside").iterdir())


def test_new_names_never_take_a_users_file_or_a_name_that_differs_only_in_case(tmp_path):
    src, out = tmp_path / "SRC", tmp_path / "OUT"
    for name in ("Face.png", "face.PNG", "mine.png"):
        write_photo(src / "happy" / name, len(name))
    (out / "happy").mkdir(parents=True)
    (out / "happy" / "MINE.png").write_bytes(b"the user's own file")
    rows = {r.source: r.output for r in _crop(src, out).rows}
    assert rows == {
        "happy/Face.png": "happy/Face.png",
        "happy/face.PNG": "happy/face_2.png",
        "happy/mine.png": "happy/mine_2.png",
    }
    assert (out / "happy" / "MINE.png").read_bytes() == b"the user's own file"
    assert {r.source: r.output for r in _crop(src, out).rows} == rows, "a rerun keeps each photo's name"


def test_names_of_earlier_runs_stay_reserved_after_their_files_are_gone(tmp_path):
    src, out = tmp_path / "SRC", tmp_path / "OUT"
    write_photo(src / "happy" / "a.png", 1)
    _crop(src, out)
    (src / "happy" / "a.png").unlink()
    (out / "happy" / "a.png").unlink()
    write_photo(src / "happy" / "A.png", 2)  # another photo, a name that differs only in case
    (row,) = _crop(src, out).rows
    assert row.output == "happy/A_2.png", "a.png is the earlier photo's name (its row is kept)"


def test_largest_crops_the_larger_box_not_the_squarer_one(tmp_path):
    src = tmp_path / "SRC"
    photo = write_photo(src / "sad" / "two.png", 3)
    (row,) = _crop(src, tmp_path / "OUT", Everywhere(), on_multiple="largest", align=False).rows
    frame = decode_image(read_bytes(photo), photo)
    small, large = Everywhere().detect_faces(frame)  # both square: their w/h ratios tie
    written = cv2.imread(str(tmp_path / "OUT" / row.output), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(written, crop_roi(frame, large, "face", 48, 1, False)[..., 0])
    assert not np.array_equal(written, crop_roi(frame, small, "face", 48, 1, False)[..., 0])


def test_a_copy_of_src_cropped_into_the_same_out_reuses_the_crops(tmp_path):
    """Rule 2: the same path and content under another SRC is the same photo, even while the
    first SRC is still there."""
    src, out = photo_folder(tmp_path / "SRC", per_class=1), tmp_path / "OUT"
    first = {r.source: r.output for r in _crop(src, out).rows}
    copy = tmp_path / "SRC copy"
    shutil.copytree(src, copy)
    again = {r.source: r.output for r in _crop(copy, out).rows}
    assert again == first
    one_crop_per_photo(copy, out)


def test_a_crop_replaced_by_a_link_to_identical_bytes_is_left_alone(tmp_path):
    """crop never follows a link in OUT, even one to a file holding exactly what it wrote."""
    src, out = photo_folder(tmp_path / "SRC", per_class=1), tmp_path / "OUT"
    _crop(src, out)
    crop = out / "happy" / "p10.png"
    twin = tmp_path / "twin.png"
    twin.write_bytes(crop.read_bytes())
    crop.unlink()
    crop.symlink_to(twin)
    row = next(r for r in _crop(src, out).rows if r.source == "happy/p10.png")
    assert row.output == "happy/p10_2.png" and crop.is_symlink() and twin.read_bytes()


def test_a_rerun_keeps_the_names_in_nested_split_folders(tmp_path):
    src, out = tmp_path / "SRC", tmp_path / "OUT"
    write_photo(src / "train" / "happy" / "a.png", 1)
    write_photo(src / "val" / "sad" / "b.png", 2)
    first = sorted(r.output for r in _crop(src, out).rows)
    assert first == ["train/happy/a.png", "val/sad/b.png"]
    assert sorted(r.output for r in _crop(src, out).rows) == first


def test_a_photo_that_flips_outcome_twice_leaves_only_its_latest_file(tmp_path):
    src, out = tmp_path / "SRC", tmp_path / "OUT"
    photo = write_photo(src / "happy" / "a.png", 1)
    bright = photo.read_bytes()
    _crop(src, out)
    write_photo(photo, 0, black=True)
    _crop(src, out)
    photo.write_bytes(bright)
    (row,) = _crop(src, out).rows
    assert row.output == "happy/a.png"
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert files == ["happy/a.png"], "the no_face copy of the middle run is gone"


def test_out_that_is_src_itself_is_refused(tmp_path):
    src = photo_folder(tmp_path / "SRC", per_class=1)
    with pytest.raises(DataError) as e:
        _crop(src, src)
    assert str(e.value).startswith(f"{src}: ") and str(e.value) != "None"


def test_an_out_that_is_a_file_is_refused(tmp_path):
    src = photo_folder(tmp_path / "SRC", per_class=1)
    (tmp_path / "OUT").write_text("a file")
    with pytest.raises(DataError) as e:
        _crop(src, tmp_path / "OUT")
    assert str(e.value) == f"{tmp_path / 'OUT'}: exists and is not a folder"


def test_another_src_with_the_same_path_but_other_content_gets_a_crop_of_its_own(tmp_path):
    src, out = photo_folder(tmp_path / "SRC", per_class=1), tmp_path / "OUT"
    _crop(src, out)
    before = (out / "happy" / "p10.png").read_bytes()
    other = tmp_path / "SRC2"
    shutil.copytree(src, other)
    write_photo(other / "happy" / "p10.png", 99)  # the same path, another photo
    rows = {r.source: r.output for r in _crop(other, out).rows}
    assert rows["happy/p10.png"] == "happy/p10_2.png" and rows["sad/p20.png"] == "sad/p20.png"
    assert (out / "happy" / "p10.png").read_bytes() == before, "SRC's crop is SRC's photo's"
