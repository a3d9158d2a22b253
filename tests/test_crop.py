"""``kerfer crop``: photo folders → aligned face/mouth/eyes crops in the layout ``kerfer train`` reads."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import MEDIA, needs_media

from kerfer.cli import main
from kerfer.errors import DataError
from kerfer.options import ALIGN_MIN_DEGREES, ROIS
from kerfer.runtime.cropping import REJECTED, REPORT, crop_dataset
from kerfer.runtime.detect import Detection, crop_faces
from kerfer.runtime.pipeline import level_angle
from kerfer.runtime.roi import crop_roi, roi_angle, roi_box
from kerfer.runtime.scan import find_sources

TINY_ARCH = ["--arch", "vgg", "--arch-option", "widths=[8,16,16,32]", "--arch-option", "stem_filters=4"]


def _rotated(src: Path, dest: Path, degrees: float) -> None:
    img = cv2.imread(str(src))
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cv2.imwrite(str(dest), cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE))


def _make_src(root: Path) -> Path:
    """SRC/<split>/<class>/ from the shared photos: one-face photos, a 30-degree rotated copy,
    two people, no face, a corrupt file, and a text file outside the class folders."""
    layout = {
        "train/happy": ["obama.jpg", "justin.jpg", "two_people.jpg"],
        "train/sad": ["biden.jpg", "obama-1080p.jpg", "no-faces.jpg"],
        "test/happy": ["justin.jpg"],
        "test/sad": ["biden.jpg"],
    }
    for folder, names in layout.items():
        (root / folder).mkdir(parents=True)
        for name in names:
            shutil.copyfile(MEDIA / name, root / folder / name)
    _rotated(MEDIA / "obama.jpg", root / "train/happy/obama_rot30.jpg", 30)
    (root / "train/sad/broken.jpg").write_bytes(b"not a jpeg at all")
    (root / "notes.txt").write_text("labels by hand\n")
    return root


def _sources(src: Path) -> set[tuple[str, str]]:
    """(SRC, path relative to it) of every photo: a report row's key."""
    return {(str(src.resolve()), p.relative_to(src).as_posix()) for p in src.rglob("*.jpg")}


def _keys(rows: list[dict]) -> list[tuple[str, str]]:
    return sorted((r["src"], r["source"]) for r in rows)


def _report(out: Path) -> list[dict]:
    with open(out / REPORT, newline="") as f:
        return list(csv.DictReader(f))


def _by_name(rows: list[dict]) -> dict[str, dict]:
    return {"/".join(Path(r["source"]).parts[-3:]): r for r in rows}


@pytest.fixture(scope="module")
def detector():
    from kerfer.runtime.blazeface import BlazeFaceDetector

    return BlazeFaceDetector()


@pytest.fixture(scope="module")
def cropped(tmp_path_factory, detector):
    """SRC and the default (face, 48, grayscale, skip) crop of it."""
    if not MEDIA.exists():
        pytest.skip(f"{MEDIA} absent")
    tmp = tmp_path_factory.mktemp("crop")
    src = _make_src(tmp / "SRC")
    report = crop_dataset(src, tmp / "OUT", detector=detector, progress=False)
    return src, tmp / "OUT", report


@needs_media
def test_output_mirrors_src_and_nothing_is_dropped_silently(cropped):
    src, out, report = cropped
    assert report.layout == "splits"
    assert report.per_class == {"test/happy": 1, "test/sad": 1, "train/happy": 3, "train/sad": 2}
    pngs = sorted(p.relative_to(out).as_posix() for p in out.glob("*/*/*.png"))
    assert pngs == [
        "test/happy/justin.png",
        "test/sad/biden.png",
        "train/happy/justin.png",
        "train/happy/obama.png",
        "train/happy/obama_rot30.png",
        "train/sad/biden.png",
        "train/sad/obama-1080p.png",
    ]
    for p in pngs:
        img = cv2.imread(str(out / p), cv2.IMREAD_UNCHANGED)
        assert img.shape == (48, 48), p  # one channel

    rows = _report(out)
    assert _keys(rows) == sorted(_sources(src))  # every photo, exactly once
    by = _by_name(rows)
    assert by["train/happy/two_people.jpg"]["status"] == "multiple_faces"
    assert by["train/happy/two_people.jpg"]["faces"] == "2"
    assert by["train/sad/no-faces.jpg"]["status"] == "no_face"
    assert by["train/sad/broken.jpg"]["status"] == "unreadable"
    assert "cannot decode" in by["train/sad/broken.jpg"]["note"]
    assert by["train/happy/obama_rot30.jpg"]["status"] == "cropped"
    # the rejected photos are kept, byte for byte, under their path in SRC
    for status, rel in [
        ("multiple_faces", "train/happy/two_people.jpg"),
        ("no_face", "train/sad/no-faces.jpg"),
        ("unreadable", "train/sad/broken.jpg"),
    ]:
        kept = out / REJECTED / status / rel
        assert kept.read_bytes() == (src / rel).read_bytes()
        assert by[rel]["output"] == f"{REJECTED}/{status}/{rel}"
    assert [p.name for p in report.ignored] == ["notes.txt"]


@needs_media
def test_the_crops_train_with_the_classes_of_src_and_not_rejected(cropped, tmp_path):
    _, out, _ = cropped
    run = tmp_path / "run"
    args = ["train", "--data", str(out), "--train-split", "train", "--val-split", "test"]
    args += ["--epochs", "1", "--batch-size", "4", "--no-augment", *TINY_ARCH, "--out", str(run)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert json.loads((run / "labels.json").read_text())["class_names"] == ["happy", "sad"]


@needs_media
def test_one_level_layout_and_rejects_are_no_class(tmp_path, detector):
    from kerfer.data.folders import read_image_folder

    src = tmp_path / "SRC"
    for cls, names in {"happy": ["obama.jpg", "no-faces.jpg"], "sad": ["biden.jpg", "two_people.jpg"]}.items():
        (src / cls).mkdir(parents=True)
        for name in names:
            shutil.copyfile(MEDIA / name, src / cls / name)
    out = tmp_path / "data" / "faces"
    report = crop_dataset(src, out, detector=detector, progress=False)
    assert report.layout == "classes"
    assert sorted(p.relative_to(out).as_posix() for p in out.glob("*/*.png")) == ["happy/obama.png", "sad/biden.png"]
    assert (out / REJECTED / "no_face" / "happy" / "no-faces.jpg").is_file()
    # OUT is the split: `kerfer train --data data --train-split faces` sees happy and sad only
    images, labels, names = read_image_folder(out.parent, out.name)
    assert names == ("happy", "sad") and images.shape == (2, 48, 48, 1)
    assert "--data" in report.train_command() and "--train-split faces" in report.train_command()


@needs_media
def test_largest_face_in_colour(tmp_path, detector):
    src = tmp_path / "SRC"
    (src / "happy").mkdir(parents=True)
    (src / "sad").mkdir()
    shutil.copyfile(MEDIA / "two_people.jpg", src / "happy" / "two_people.jpg")
    shutil.copyfile(MEDIA / "justin.jpg", src / "sad" / "justin.jpg")
    out = tmp_path / "OUT"
    crop_dataset(src, out, size=64, grayscale=False, on_multiple="largest", detector=detector, progress=False)
    row = _by_name(_report(out))["happy/two_people.jpg"]
    assert row["status"] == "multiple_faces" and row["faces"] == "2"
    assert row["output"] == "happy/two_people.png" and "largest" in row["note"]
    img = cv2.imread(str(out / "happy" / "two_people.png"), cv2.IMREAD_UNCHANGED)
    assert img.shape == (64, 64, 3)
    assert not (out / REJECTED).exists()
    # the largest face, not the first one found
    faces = detector.detect_faces(cv2.imread(str(MEDIA / "two_people.jpg")))
    largest = max(faces, key=lambda d: d.box[2] * d.box[3])
    expected = cv2.cvtColor(
        crop_roi(cv2.imread(str(MEDIA / "two_people.jpg")), largest, size=64, channels=3), cv2.COLOR_RGB2BGR
    )
    assert np.array_equal(img, expected)


@needs_media
def test_rerun_overwrites_nothing_but_each_sources_own_crop(tmp_path, detector):
    src = tmp_path / "SRC"
    for cls in ("happy", "sad"):
        (src / cls).mkdir(parents=True)
    shutil.copyfile(MEDIA / "obama.jpg", src / "happy" / "face.jpg")
    shutil.copyfile(MEDIA / "biden.jpg", src / "sad" / "biden.jpg")
    out = tmp_path / "OUT"
    (out / "happy").mkdir(parents=True)
    (out / "happy" / "face.png").write_bytes(b"someone else's file")  # not made by kerfer crop

    crop_dataset(src, out, detector=detector, progress=False)
    assert (out / "happy" / "face.png").read_bytes() == b"someone else's file"
    first = (out / "happy" / "face_2.png").read_bytes()
    crop_dataset(src, out, detector=detector, progress=False)  # the same again: same names, no copies
    assert sorted(p.name for p in (out / "happy").iterdir()) == ["face.png", "face_2.png"]
    assert (out / "happy" / "face_2.png").read_bytes() == first
    assert len(_report(out)) == 2

    # a new photo with the same stem, and another SRC with the same relative path: new names
    shutil.copyfile(MEDIA / "justin.jpg", src / "happy" / "face.png")
    other = tmp_path / "SRC2"
    (other / "happy").mkdir(parents=True)
    shutil.copyfile(MEDIA / "obama-1080p.jpg", other / "happy" / "face.jpg")
    crop_dataset(src, out, detector=detector, progress=False)
    crop_dataset(other, out, detector=detector, progress=False)
    assert sorted(p.name for p in (out / "happy").iterdir()) == ["face.png", "face_2.png", "face_3.png", "face_4.png"]
    assert (out / "happy" / "face_2.png").read_bytes() == first
    rows = _report(out)
    assert _keys(rows) == sorted(_sources(src) | _sources(other) | {(str(src.resolve()), "happy/face.png")})
    assert len({r["output"] for r in rows}) == len(rows)

    # a source whose outcome changes loses its old crop (no stale face in the class folder)
    shutil.copyfile(MEDIA / "no-faces.jpg", src / "sad" / "biden.jpg")
    crop_dataset(src, out, detector=detector, progress=False)
    assert not (out / "sad" / "biden.png").exists()
    assert (out / REJECTED / "no_face" / "sad" / "biden.jpg").is_file()

    with pytest.raises(DataError, match="roi='face'"):  # mixing ROIs in one folder is refused
        crop_dataset(src, out, roi="mouth", detector=detector, progress=False)


def test_roi_boxes_follow_keypoints_and_tilt():
    box = (100, 100, 100, 100)
    plain = Detection(box)  # Haar: no keypoints
    assert roi_box(plain, "face") == pytest.approx((150, 150, 120))
    assert roi_box(plain, "mouth") == pytest.approx((150, 175, 60))
    cx, cy, side = roi_box(plain, "eyes")  # eyes at y=138, mouth at 175: the lower edge at 138 + 0.55 * 37
    assert (cx, side) == pytest.approx((150, 64)) and cy + side / 2 == pytest.approx(138 + 0.55 * 37)

    names = ("right_eye", "left_eye", "nose", "mouth")
    level = Detection(box, 0.9, np.array([[130, 140], [170, 140], [150, 160], [150, 185]], np.float32), names)
    assert roi_box(level, "mouth")[:2] == pytest.approx((150, 185))
    cx, cy, side = roi_box(level, "eyes")  # 1.6 x the 40 px between the eyes; 0.55 x the 45 px to the mouth
    assert (cx, side) == pytest.approx((150, 64)) and cy + side / 2 == pytest.approx(140 + 0.55 * 45)

    # eyes tilted 30 degrees and no mouth point (like YuNet without corners): the mouth is found
    # along the tilted face's axis, off to the side of the box centre
    t = np.radians(30)
    eyes = np.array([[150 - 20 * np.cos(t), 140 - 20 * np.sin(t)], [150 + 20 * np.cos(t), 140 + 20 * np.sin(t)]])
    tilted = Detection(box, 0.9, eyes.astype(np.float32), ("right_eye", "left_eye"))
    assert tilted.roll_degrees() == pytest.approx(30, abs=0.01)
    mx, my, _ = roi_box(tilted, "mouth")
    assert mx == pytest.approx(150 - 25 * np.sin(t)) and my == pytest.approx(150 + 25 * np.cos(t))
    with pytest.raises(ValueError, match="roi="):
        roi_box(plain, "nose")


def _tilted_eyes(degrees: float, centre=(150.0, 140.0), half: float = 20.0) -> np.ndarray:
    """Two eye points ``2 * half`` px apart, their line turned ``degrees`` clockwise on screen."""
    t = np.radians(degrees)
    d = half * np.array([np.cos(t), np.sin(t)])
    return np.array([np.subtract(centre, d), np.add(centre, d)], np.float32)


def test_roi_boxes_from_mouth_corners_eyes_alone_and_degenerate_eyes():
    """The keypoint cases a synthetic detection can pin without the shared photos: YuNet's two
    mouth corners, eyes without a mouth, a face box that is not square, coincident eyes."""
    box = (100, 60, 80, 120)  # taller than wide, centred at (140, 120)
    names = ("right_eye", "left_eye", "nose", "mouth_right", "mouth_left")
    points = np.array([[120, 100], [160, 100], [140, 120], [128, 172], [156, 168]], np.float32)
    yunet = Detection(box, 0.9, points, names)
    assert roi_box(yunet, "mouth") == pytest.approx((142, 170, 0.6 * 80))  # the corners' midpoint
    cx, cy, side = roi_box(yunet, "eyes")  # 70 px to the corners' midpoint: 1.0 x 70 beats 1.6 x 40
    assert side == pytest.approx(70) and (cx, cy + side / 2) == pytest.approx((140, 100 + 0.55 * 70))
    one_corner = Detection(box, 0.9, points[:4], names[:4])  # half a mouth is no mouth: the box's rule
    assert roi_box(one_corner, "mouth")[:2] == pytest.approx((140, 120 + 0.25 * 120))
    assert roi_box(Detection(box), "face") == pytest.approx((140, 120, 120 * 1.2))
    assert roi_box(Detection(box), "face", margin=0.25) == pytest.approx((140, 120, 180))

    # eyes alone, 30 degrees: the mouth at a frontal face's 1.05 inter-eye distances down the
    # tilted axis, so the square is 1.6 x 40 wide and its lower edge 0.55 x 42 px below the eyes
    tilted = Detection((100, 100, 100, 100), 0.9, _tilted_eyes(30), ("right_eye", "left_eye"))
    cx, cy, side = roi_box(tilted, "eyes")
    down = np.array([-np.sin(np.radians(30)), np.cos(np.radians(30))])
    assert side == pytest.approx(64)
    assert np.array([cx, cy]) == pytest.approx(np.array([150, 140]) + (0.55 * 42 - 32) * down)

    # a mouth point above the eye line is taken for none (the frontal proportion), one just below it is used
    names4 = ("right_eye", "left_eye", "nose", "mouth")
    above = Detection(box, 0.9, np.array([[120, 100], [160, 100], [140, 110], [140, 90]], np.float32), names4)
    near = Detection(box, 0.9, np.array([[120, 100], [160, 100], [140, 110], [140, 100.5]], np.float32), names4)
    assert roi_box(above, "eyes")[1] + 32 == pytest.approx(100 + 0.55 * 42)
    assert roi_box(near, "eyes")[1] + 32 == pytest.approx(100 + 0.55 * 0.5)

    # eyes on one point (a degenerate detection): the square is still EYES_WIDTH px, not empty
    blind = Detection(box, 0.9, np.array([[140, 100], [140, 100]], np.float32), ("right_eye", "left_eye"))
    assert roi_box(blind, "eyes")[2] == pytest.approx(1.6)
    with pytest.raises(ValueError) as e:
        roi_box(blind, "nose")
    assert str(e.value).endswith("expected one of " + ", ".join(ROIS))


def test_roi_angle_levels_past_the_threshold_and_align_off_is_zero():
    assert roi_angle(Detection((0, 0, 10, 10), 0.9, _tilted_eyes(30), ("right_eye", "left_eye"))) == pytest.approx(30)
    slight = Detection((0, 0, 10, 10), 0.9, _tilted_eyes(ALIGN_MIN_DEGREES / 2), ("right_eye", "left_eye"))
    assert roi_angle(slight) == 0.0
    tilted = Detection((0, 0, 10, 10), 0.9, _tilted_eyes(-25), ("right_eye", "left_eye"))
    assert roi_angle(tilted, align=False) == 0.0 and roi_angle(tilted) == pytest.approx(-25)


def test_crop_roi_is_the_roi_square_turned_upright_by_default():
    """``crop_roi`` cuts :func:`roi_box`'s square (no further margin) turned by :func:`roi_angle`:
    by default the aligned 48 px grayscale face crop ``kerfer predict`` classifies."""
    frame = np.random.default_rng(3).integers(0, 256, (300, 320, 3), np.uint8)
    names = ("right_eye", "left_eye", "nose", "mouth")
    points = np.vstack([_tilted_eyes(30, (150, 130)), [[140, 150], [137, 172]]]).astype(np.float32)
    det = Detection((110, 90, 80, 100), 0.9, points, names)

    def expected(roi, size=48, channels=1, angle=30.0, margin=0.1):
        cx, cy, side = roi_box(det, roi, margin)
        square = (cx - side / 2, cy - side / 2, side, side)
        return crop_faces(frame, [square], size, 0.0, channels, [angle])[0]

    face = crop_roi(frame, det)
    assert face.shape == (48, 48, 1) and face.dtype == np.uint8
    assert np.array_equal(face, crop_faces(frame, [det.box], 48, 0.1, 1, [roi_angle(det)])[0])
    assert np.array_equal(face, expected("face"))
    assert np.array_equal(crop_roi(frame, det, "face", margin=0.3), expected("face", margin=0.3))
    assert not np.array_equal(crop_roi(frame, det, "face", margin=0.3), face)
    for roi in ("mouth", "eyes"):
        assert np.array_equal(crop_roi(frame, det, roi, 40, 3), expected(roi, 40, 3))
        assert np.array_equal(crop_roi(frame, det, roi, align=False), expected(roi, angle=0.0))
    # a zero-size box is a one-pixel square, not a 2 px one: the crop is that pixel, resized
    dot = crop_roi(frame, Detection((60, 70, 0, 0)))
    assert dot.min() == dot.max() == crop_faces(frame, [(60, 70, 0, 0)], 48, 0.0, 1)[0].min()


@needs_media
def test_mouth_and_eyes_crops_differ_from_the_face(detector):
    frame = cv2.imread(str(MEDIA / "obama.jpg"))
    (det,) = detector.detect_faces(frame)
    crops = {roi: crop_roi(frame, det, roi).astype(np.float32) for roi in ("face", "mouth", "eyes")}
    # the face ROI is exactly the crop `kerfer predict` classifies
    predicted = crop_faces(frame, [det.box], 48, 0.1, 1, [level_angle(det.roll_degrees())])[0]
    assert np.array_equal(crops["face"], predicted)
    assert all(c.shape == (48, 48, 1) for c in crops.values())
    assert np.abs(crops["mouth"] - crops["face"]).mean() > 10
    assert np.abs(crops["eyes"] - crops["face"]).mean() > 10
    assert np.abs(crops["eyes"] - crops["mouth"]).mean() > 10
    # the mouth lies below the eyes in the frame, both inside the face box
    x, y, w, h = det.box
    (_, my, _), (_, ey, _) = roi_box(det, "mouth"), roi_box(det, "eyes")
    assert y < ey < my < y + h


@needs_media
def test_eyes_crops_hold_both_eyes_and_brows_and_stop_above_the_mouth(detector):
    """`--roi eyes` was a 0.9 face-width square centred on the eyes: it reached the mouth."""
    faces = 0
    for photo in ("obama.jpg", "biden.jpg", "justin.jpg", "obama-1080p.jpg", "two_people.jpg"):
        for det in detector.detect_faces(cv2.imread(str(MEDIA / photo))):
            cx, cy, side = roi_box(det, "eyes")
            m = cv2.getRotationMatrix2D((cx, cy), roi_angle(det), 1.0)  # the crop's own turn
            points = {n: m @ [*det.point(n), 1.0] - (cx, cy) for n in ("right_eye", "left_eye", "mouth")}
            half = side / 2
            eye_line = (points["right_eye"][1] + points["left_eye"][1]) / 2
            to_mouth = points["mouth"][1] - eye_line
            between = np.linalg.norm(points["left_eye"] - points["right_eye"])
            for eye in ("right_eye", "left_eye"):
                assert abs(points[eye][0]) < half - 0.25 * between, (photo, eye)  # the eye, corners and a margin
            assert eye_line - (-half) > 0.4 * to_mouth, photo  # room above the eyes for the brows
            assert points["mouth"][1] - half > 0.3 * to_mouth, photo  # the lower edge well above the mouth
            faces += 1
    assert faces == 6


@needs_media
@pytest.mark.parametrize("roi", ["face", "mouth", "eyes"])
def test_alignment_turns_a_tilted_face_back_upright(tmp_path, detector, roi):
    _rotated(MEDIA / "obama.jpg", tmp_path / "rot.jpg", 30)
    upright, tilted = cv2.imread(str(MEDIA / "obama.jpg")), cv2.imread(str(tmp_path / "rot.jpg"))
    (d0,) = detector.detect_faces(upright)
    (d1,) = detector.detect_faces(tilted)
    assert abs(d1.roll_degrees() - d0.roll_degrees()) > 20
    ref = crop_roi(upright, d0, roi).astype(np.float32).ravel()
    aligned = crop_roi(tilted, d1, roi).astype(np.float32).ravel()
    unaligned = crop_roi(tilted, d1, roi, align=False).astype(np.float32).ravel()

    def corr(a, b):
        return float(np.corrcoef(a, b)[0, 1])

    # BlazeFace's box of a tilted face is a little smaller, so the match is not exact (~0.5 vs ~0.05)
    assert corr(aligned, ref) > 0.4 and corr(aligned, ref) > corr(unaligned, ref) + 0.3
    assert np.abs(aligned - ref).mean() < 0.8 * np.abs(unaligned - ref).mean()


@needs_media
def test_cli_summary_and_next_command(tmp_path):
    src = _make_src(tmp_path / "SRC")
    out = tmp_path / "OUT"
    r = CliRunner().invoke(main, ["crop", str(src), str(out), "--roi", "mouth", "--size", "32", "--no-progress"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("cropped 7 of 10 photos (mouth, 32x32 grayscale)")
    assert "  train/happy: 3" in lines and "  test/sad: 1" in lines
    assert any(line.startswith("no face: 1 (copied to") for line in lines)
    assert any(line.startswith("several faces: 1 (copied to") and "--on-multiple largest" in line for line in lines)
    assert any(line.startswith("unreadable: 1") for line in lines)
    assert f"report: {out / REPORT}" in lines
    assert f"next: kerfer train --data {out} --train-split train --val-split test --image-size 32 " in r.output
    assert cv2.imread(str(out / "train/happy/obama.png"), cv2.IMREAD_UNCHANGED).shape == (32, 32)

    again = CliRunner().invoke(
        main, ["crop", str(src), str(tmp_path / "OUT2"), "--on-multiple", "largest", "--color", "--no-progress"]
    )
    assert again.exit_code == 0, again.output
    assert "several faces: 1 (cropped the largest face of each)" in again.output
    assert cv2.imread(str(tmp_path / "OUT2/train/happy/two_people.png")).shape == (48, 48, 3)


@needs_media
def test_cli_exit_1_when_nothing_is_cropped(tmp_path):
    src = tmp_path / "SRC"
    (src / "happy").mkdir(parents=True)
    shutil.copyfile(MEDIA / "no-faces.jpg", src / "happy" / "no-faces.jpg")
    r = CliRunner().invoke(main, ["crop", str(src), str(tmp_path / "OUT"), "--no-progress"])
    assert r.exit_code == 1
    assert "no face was cropped" in r.output
    assert (tmp_path / "OUT" / REJECTED / "no_face" / "happy" / "no-faces.jpg").is_file()


def test_cli_errors_are_one_line(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    cv2.imwrite(str(flat / "a.png"), np.zeros((8, 8), np.uint8))
    empty = tmp_path / "empty"
    (empty / "happy").mkdir(parents=True)
    mixed = tmp_path / "mixed"
    (mixed / "happy").mkdir(parents=True)
    (mixed / "train" / "sad").mkdir(parents=True)
    cv2.imwrite(str(mixed / "happy" / "a.png"), np.zeros((8, 8), np.uint8))
    cv2.imwrite(str(mixed / "train" / "sad" / "b.png"), np.zeros((8, 8), np.uint8))
    cases = [
        ([str(tmp_path / "missing"), str(tmp_path / "o1")], "no such folder"),
        ([str(flat), str(tmp_path / "o2")], "directly in this folder"),
        ([str(empty), str(tmp_path / "o3")], "no class folders with images"),
        ([str(mixed / "train"), str(mixed / "train" / "out")], "inside the source folder"),
        ([str(mixed), str(tmp_path / "o4")], "mixes class folders"),
        ([str(mixed / "happy"), str(mixed)], "directly in this folder"),
    ]
    for args, message in cases:
        r = CliRunner().invoke(main, ["crop", *args, "--no-progress"])
        assert r.exit_code == 1, (args, r.output)
        assert message in r.output and len(r.output.strip().splitlines()) == 1, r.output
        assert "Traceback" not in r.output
    with pytest.raises(DataError, match="contains the source folder"):
        crop_dataset(mixed / "train", mixed, progress=False, detector=object())
    assert find_sources(mixed / "train").groups == {"sad": [mixed / "train" / "sad" / "b.png"]}


def test_progress_bar_is_quiet_off_a_terminal():
    import io

    from kerfer.progress import Progress as _Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    bar = _Progress(4, True, tty)
    for _ in range(4):
        bar.step()
    bar.close()
    assert "100%" in tty.getvalue() and "4/4" in tty.getvalue() and "img/s" in tty.getvalue()
    pipe = io.StringIO()
    for enabled in (True, False):
        bar = _Progress(4, enabled, pipe)
        bar.step()
        bar.close()
    assert pipe.getvalue() == ""
    silent = Tty()
    bar = _Progress(4, False, silent)
    bar.step()
    bar.close()
    assert silent.getvalue() == ""
