"""BlazeFace: anchors, box decoding and weighted NMS against hand-computed cases; the shipped
detector on the shared photos (upright and turned); eye-line alignment; the CLI default."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import MEDIA, needs_media

from kerfer.cli import main
from kerfer.options import ALIGN_MIN_DEGREES, BLAZEFACE_MIN_SCORE
from kerfer.runtime import Classifier
from kerfer.runtime.blazeface import (
    FULL_RANGE,
    KEYPOINTS,
    SHORT_RANGE,
    BlazeFaceDetector,
    blazeface_model_path,
    decode,
    letterbox,
    ssd_anchors,
    weighted_nms,
)
from kerfer.runtime.detect import Detection, HaarDetector, crop_faces
from kerfer.runtime.images import rotate_image
from kerfer.runtime.pipeline import FacePipeline, level_angle


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    return rotate_image(image, degrees)[0]


# --- anchors, decoding, NMS: hand-computed ----------------------------------------------------


def test_full_range_anchors_are_one_per_cell_of_a_48x48_grid_row_by_row():
    a = ssd_anchors(FULL_RANGE)
    assert a.shape == (2304, 2)
    step = 1 / 48
    np.testing.assert_allclose(a[0], [0.5 * step, 0.5 * step])
    np.testing.assert_allclose(a[1], [1.5 * step, 0.5 * step])  # x moves first
    np.testing.assert_allclose(a[48], [0.5 * step, 1.5 * step])  # then the next row
    np.testing.assert_allclose(a[-1], [47.5 * step, 47.5 * step])


def test_short_range_anchors_match_mediapipe_layout():
    a = ssd_anchors(SHORT_RANGE)
    assert a.shape == (896, 2)  # 16x16x2 + 8x8x6
    np.testing.assert_allclose(a[0], a[1])  # two anchors per stride-8 cell
    np.testing.assert_allclose(a[0], [1 / 32, 1 / 32])
    np.testing.assert_allclose(a[512], [1 / 16, 1 / 16])  # first stride-16 cell
    np.testing.assert_allclose(a[512:518], np.repeat([[1 / 16, 1 / 16]], 6, axis=0))


def test_decode_one_box_by_hand():
    anchors = np.array([[0.5, 0.5], [0.25, 0.25]], np.float32)
    raw = np.zeros((1, 2, 16), np.float32)
    # centre offset (+19.2, -9.6) px, size 96 x 48 px of a 192 input; keypoint 0 at +38.4, 0
    raw[0, 0, :6] = [19.2, -9.6, 96.0, 48.0, 38.4, 0.0]
    scores = np.array([[[2.0], [0.0]]], np.float32)  # sigmoid: 0.8808, 0.5 (below the threshold)
    boxes, kps, s = decode(raw, scores, anchors, 192, min_score=0.6)
    assert boxes.shape == (1, 4) and kps.shape == (1, 6, 2)
    np.testing.assert_allclose(boxes[0], [0.35, 0.325, 0.85, 0.575], atol=1e-6)
    np.testing.assert_allclose(kps[0, 0], [0.7, 0.5], atol=1e-6)
    np.testing.assert_allclose(kps[0, 1], [0.5, 0.5], atol=1e-6)  # zero offset = the anchor
    np.testing.assert_allclose(s, [1 / (1 + np.exp(-2.0))], rtol=1e-6)


def test_decode_clips_huge_logits_and_drops_boxes_without_area():
    anchors = np.array([[0.5, 0.5], [0.5, 0.5]], np.float32)
    raw = np.zeros((2, 16), np.float32)
    raw[0, 2:4] = [10, 10]
    raw[1, 2:4] = [0, 10]  # zero width
    with np.errstate(over="raise"):
        boxes, _, s = decode(raw, np.array([1000.0, 1000.0]), anchors, 192, 0.5)
    assert len(boxes) == 1 and s[0] == pytest.approx(1.0)
    empty = decode(raw, np.array([-1000.0, -5.0]), anchors, 192, 0.5)
    assert [len(x) for x in empty] == [0, 0, 0]


def test_weighted_nms_averages_overlaps_by_score_and_keeps_the_rest():
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.1, 0.0, 1.1, 1.0], [3.0, 3.0, 4.0, 4.0]], np.float32)
    kps = np.zeros((3, 6, 2), np.float32)
    kps[1] += 1.0
    scores = np.array([0.6, 0.9, 0.7], np.float32)
    out = weighted_nms(boxes, kps, scores, iou_threshold=0.3)
    assert [round(s, 2) for _, _, s in out] == [0.9, 0.7]  # best first; the best score is kept
    merged, merged_kps, _ = out[0]
    w = np.array([0.9, 0.6])  # the group: box 1 (best), box 0 (IoU 0.82)
    np.testing.assert_allclose(merged, (w[0] * boxes[1] + w[1] * boxes[0]) / w.sum(), atol=1e-6)
    np.testing.assert_allclose(merged_kps, np.full((6, 2), 0.9 / 1.5), atol=1e-6)
    np.testing.assert_allclose(out[1][0], boxes[2])
    assert weighted_nms(boxes[:0], kps[:0], scores[:0]) == []


def test_letterbox_keeps_the_aspect_ratio_and_centres_the_image():
    img = np.full((100, 200, 3), 255, np.uint8)
    tensor, scale, left, top = letterbox(img, 192)
    assert tensor.shape == (192, 192, 3) and tensor.dtype == np.float32
    assert scale == pytest.approx(0.96) and (left, top) == (0, 48)
    assert tensor[0, 0, 0] == pytest.approx(-1.0) and tensor[100, 100, 0] == pytest.approx(1.0)
    assert tensor[47, 100, 0] == pytest.approx(-1.0) and tensor[48, 100, 0] == pytest.approx(1.0)


# --- the shipped detector on real photos --------------------------------------------------------


def test_model_file_ships_in_the_package_and_bad_files_are_refused(tmp_path):
    assert blazeface_model_path().is_file() and blazeface_model_path().parent.name == "assets"
    with pytest.raises(FileNotFoundError, match="no BlazeFace model"):
        BlazeFaceDetector(model=str(tmp_path / "none.tflite"))
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model")
    with pytest.raises(Exception, match="not a valid TFLite model"):
        BlazeFaceDetector(model=str(junk))
    with pytest.raises(ValueError, match="score_threshold=1.5"):
        BlazeFaceDetector(score_threshold=1.5)


@pytest.fixture(scope="module")
def blaze():
    return BlazeFaceDetector()


@needs_media
@pytest.mark.parametrize("degrees", [0, 15, -15, 30, -30])
def test_every_face_found_upright_and_turned_and_none_in_no_faces(blaze, degrees):
    for photo, people in [("two_people.jpg", 2), ("obama.jpg", 1), ("justin.jpg", 1), ("no-faces.jpg", 0)]:
        found = blaze.detect_faces(rotate(cv2.imread(str(MEDIA / photo)), degrees))
        assert len(found) == people, (photo, degrees, [(d.box, d.score) for d in found])
        for d in found:
            assert d.score >= BLAZEFACE_MIN_SCORE and d.keypoints.shape == (6, 2) and d.keypoint_names == KEYPOINTS
            x, y, w, h = d.box
            for px, py in (d.point("right_eye"), d.point("left_eye"), d.point("nose")):
                assert x <= px <= x + w and y <= py <= y + h  # keypoints land inside their face


@needs_media
def test_haar_misses_the_turned_photo_that_blazeface_finds(blaze):
    turned = rotate(cv2.imread(str(MEDIA / "two_people.jpg")), 30)
    assert len(HaarDetector().detect(turned)) < 2 <= len(blaze.detect(turned))


@needs_media
def test_eye_line_follows_the_turn(blaze):
    image = cv2.imread(str(MEDIA / "obama.jpg"))
    upright = blaze.detect_faces(image)[0]
    left, right = upright.eyes()
    assert left[0] < right[0]  # the subject's right eye is on the image's left
    assert abs(upright.roll_degrees()) < 10
    for degrees in (20, -30):
        turned = blaze.detect_faces(rotate(image, degrees))[0]
        # counter-clockwise turns raise the eye on the image's right: the roll goes negative
        assert turned.roll_degrees() - upright.roll_degrees() == pytest.approx(-degrees, abs=8)


@needs_media
def test_grayscale_and_bgra_frames_work(blaze):
    image = cv2.imread(str(MEDIA / "two_people.jpg"))
    assert len(blaze.detect(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))) == 2
    assert len(blaze.detect(cv2.cvtColor(image, cv2.COLOR_BGR2BGRA))) == 2
    assert blaze.detect(np.zeros((10, 10, 3), np.uint8)) == []


# --- alignment ----------------------------------------------------------------------------------


def _pattern() -> np.ndarray:
    img = np.full((200, 200), 90, np.uint8)
    cv2.rectangle(img, (60, 80), (140, 92), 250, -1)  # an "eye line"
    cv2.circle(img, (80, 130), 10, 20, -1)  # something that is not symmetric
    return img


def test_aligned_crop_of_a_turned_face_matches_the_upright_crop():
    upright = _pattern()
    m = cv2.getRotationMatrix2D((100, 100), 30, 1.0)  # counter-clockwise 30 degrees about the face centre
    turned = cv2.warpAffine(upright, m, (200, 200), borderMode=cv2.BORDER_REPLICATE)
    box = (50, 50, 100, 100)
    ref = crop_faces(upright, [box], 48, 0.1).astype(int)
    plain = crop_faces(turned, [box], 48, 0.1).astype(int)
    level = crop_faces(turned, [box], 48, 0.1, angles=[-30.0]).astype(int)
    assert np.abs(level - ref).mean() < 0.3 * np.abs(plain - ref).mean()
    assert np.abs(level - ref).mean() < 6
    # no angle, or a zero one, gives exactly the plain crop
    np.testing.assert_array_equal(crop_faces(turned, [box], 48, 0.1, angles=[0.0]), plain)
    rgb = crop_faces(cv2.cvtColor(turned, cv2.COLOR_GRAY2BGR), [box, (180, 180, 40, 40)], 32, 0.2, 3, [-30.0, 45.0])
    assert rgb.shape == (2, 32, 32, 3) and rgb.dtype == np.uint8


def test_roll_from_keypoints_and_the_levelling_rule():
    names = ("right_eye", "left_eye")
    d = Detection((0, 0, 10, 10), 0.9, np.array([[0.0, 0.0], [10.0, 10.0]]), names)
    assert d.roll_degrees() == pytest.approx(45.0)
    assert Detection((0, 0, 10, 10)).roll_degrees() == 0.0 and Detection((0, 0, 10, 10)).eyes() is None
    assert level_angle(ALIGN_MIN_DEGREES - 1) == 0.0 and level_angle(-(ALIGN_MIN_DEGREES + 5)) == -(
        ALIGN_MIN_DEGREES + 5
    )


def test_pipeline_classifies_detections_and_plain_boxes_alike():
    pipe = FacePipeline(Classifier(), HaarDetector(), align=True)
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8)
    by_box = pipe.classify(frame, [(20, 20, 60, 60)])
    by_det = pipe.classify(frame, [Detection((20, 20, 60, 60))])
    np.testing.assert_allclose(by_box[0].probs, by_det[0].probs)
    assert by_box[0].box == (20, 20, 60, 60)
    assert isinstance(FacePipeline(Classifier()).detector, BlazeFaceDetector)  # the default


# --- CLI and the TF-free runtime ----------------------------------------------------------------


@needs_media
def test_predict_default_finds_both_faces_turned_30_degrees_and_none_in_no_faces(tmp_path):
    turned = tmp_path / "two_people_30.jpg"
    cv2.imwrite(str(turned), rotate(cv2.imread(str(MEDIA / "two_people.jpg")), 30))
    r = CliRunner().invoke(main, ["predict", str(turned), str(MEDIA / "no-faces.jpg")])
    assert r.exit_code == 0, r.output
    assert r.output.count("two_people_30.jpg: face") == 2 and "no-faces.jpg: no face found" in r.output
    haar = CliRunner().invoke(main, ["predict", str(turned), "--detector", "haar"])
    assert "two_people_30.jpg: no face found" in haar.output


def test_min_score_is_checked_and_means_nothing_to_haar(tmp_path):
    photo = tmp_path / "grey.png"
    cv2.imwrite(str(photo), np.full((64, 64), 128, np.uint8))
    r = CliRunner().invoke(main, ["predict", str(photo), "--detector", "haar", "--min-score", "0.5"])
    assert r.exit_code == 2 and "the Haar cascade has no score" in r.output, r.output
    r = CliRunner().invoke(main, ["predict", str(photo), "--min-score", "1.5"])
    assert r.exit_code == 2 and "--min-score" in r.output and "Traceback" not in r.output


@needs_media
def test_default_detector_runs_without_tensorflow():
    code = (
        "import sys, cv2\n"
        "from kerfer.runtime.pipeline import FacePipeline\n"
        "from kerfer.runtime import Classifier\n"
        f"faces = FacePipeline(Classifier(), tta=True)(cv2.imread({str(MEDIA / 'two_people.jpg')!r}))\n"
        "print(len(faces), 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "False", "False"]
