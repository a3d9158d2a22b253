"""Behaviour that a wrong program gets wrong without crashing: metrics, augmentation, alignment,
smoothing, detection cadence and the parse cache's identity of a file (issue 25's table; each
test fails on the mutation ``tools/known_mutations.py`` names for it)."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
from fakedata import make_images, split_usages, write_csv

from kerfer.evaluation import classification_report


def test_precision_and_recall_are_per_predicted_and_per_true_class():
    # Class 0: 3 true, 1 predicted right -> recall 1/3, precision 1/1.
    # Class 1: 1 true, 3 predicted -> recall 1/1, precision 1/3.
    y_true = np.array([0, 0, 0, 1, 2])
    probs = np.eye(3)[[0, 1, 1, 1, 2]]
    rep = classification_report(y_true, probs, ("a", "b", "c"))
    np.testing.assert_array_equal(rep.confusion, [[1, 2, 0], [0, 1, 0], [0, 0, 1]])  # rows: true class
    t = rep.per_class
    np.testing.assert_allclose(t["precision"], [1.0, 1 / 3, 1.0])
    np.testing.assert_allclose(t["recall"], [1 / 3, 1.0, 1.0])
    np.testing.assert_allclose(t["f1"], [0.5, 0.5, 1.0])
    np.testing.assert_array_equal(t["support"], [3, 1, 1])
    assert rep.accuracy == 3 / 5


def test_training_flip_mirrors_left_right_only():
    from kerfer.data.augment import AugmentConfig, make_augmenter

    off = {"shift": 0, "rotation_degrees": 0, "zoom": 0, "brightness": 0, "contrast": 0}
    aug = make_augmenter(AugmentConfig(flip=True, **off), seed=0)
    x = np.random.default_rng(0).integers(0, 256, (32, 48, 48, 1)).astype("float32")
    out = np.asarray(aug(x, training=True))
    same = np.all(out == x, axis=(1, 2, 3))
    mirrored = np.all(out == x[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(same | mirrored), "every image is itself or its left-right mirror"
    assert 4 <= mirrored.sum() <= 28, mirrored.sum()  # p = 0.5 over 32 images


class _Recorder:
    """A classifier that records the crops it is given."""

    class_names = ("a", "b")
    input_size = 48
    channels = 1

    def __init__(self):
        self.crops: list[np.ndarray] = []

    def predict_faces(self, crops, tta=False):
        self.crops.append(np.asarray(crops))
        return np.full((len(crops), 2), 0.5, np.float32)


def _line_angle(crop: np.ndarray) -> float:
    """The direction (degrees, on screen) of the bright pixels' main axis."""
    ys, xs = np.nonzero(crop[..., 0] > 128)
    cov = np.cov(np.stack([xs, ys]).astype(float))
    vx, vy = np.linalg.eigh(cov)[1][:, -1]
    angle = np.degrees(np.arctan2(vy, vx))
    return (angle + 90) % 180 - 90


def test_align_levels_a_tilted_eye_line_and_no_align_keeps_it():
    from kerfer.runtime.detect import Detection
    from kerfer.runtime.pipeline import FacePipeline

    frame = np.zeros((240, 240, 3), np.uint8)
    right_eye, left_eye = np.array([80.0, 95.0]), np.array([160.0, 145.0])  # 32 degrees clockwise
    cv2.line(frame, tuple(map(int, right_eye)), tuple(map(int, left_eye)), (255, 255, 255), 9)
    det = Detection((60, 60, 120, 120), 0.9, np.stack([right_eye, left_eye]), ("right_eye", "left_eye"))
    assert abs(det.roll_degrees() - 32.0) < 0.1
    angles = {}
    for align in (True, False):
        clf = _Recorder()
        FacePipeline(clf, detector=object(), align=align).classify(frame, [det])
        angles[align] = _line_angle(clf.crops[0][0])
    assert abs(angles[True]) < 3, angles
    assert abs(angles[False] - 32.0) < 3, angles


def test_smoother_averages_only_the_last_window_frames():
    from kerfer.runtime.track import Smoother

    s = Smoother(window=3)
    box = (10, 10, 50, 50)
    for k in range(6):
        ((tid, p),) = s.update([box], np.eye(6, dtype=np.float32)[[k]])
    assert tid == 0
    np.testing.assert_allclose(p, [0, 0, 0, 1 / 3, 1 / 3, 1 / 3], atol=1e-6)


class _CountingPipeline:
    class_names = ("a", "b")

    def __init__(self):
        self.detected: list[int] = []
        self.classified = 0

    def detect(self, frame):
        from kerfer.runtime.detect import Detection

        self.detected.append(int(frame[0, 0, 0]))
        return [Detection((5, 5, 20, 20))]

    def classify(self, frame, found):
        from kerfer.runtime.pipeline import Face

        self.classified += 1
        return [Face(d.box, np.array([0.6, 0.4], np.float32), d) for d in found]


def test_detect_every_detects_on_every_nth_frame_and_classifies_all():
    from kerfer.runtime.live import run_live

    frames = [np.full((40, 40, 3), i, np.uint8) for i in range(10)]
    pipe = _CountingPipeline()
    summary = run_live(frames, pipe, detect_every=4, show=False, draw=False)
    assert pipe.detected == [0, 4, 8]
    assert pipe.classified == 10 and summary.frames == 10 and summary.faces == 10


def test_parse_cache_sees_a_same_size_same_mtime_change(tmp_path):
    from kerfer.data import cache as parse_cache
    from kerfer.data import read_fer2013

    images, labels = make_images(30, seed=4)
    path = tmp_path / "f.csv"
    write_csv(path, images, labels, split_usages(30))
    stat = os.stat(path)
    first = read_fer2013(path, cache=True)
    assert parse_cache.entry_path(path).exists()
    changed = images.copy()
    two_digit = (changed[5] >= 10) & (changed[5] < 99)
    changed[5][two_digit] += 1  # two-digit values stay two-digit: the file keeps its size
    assert two_digit.any()
    write_csv(path, changed, labels, split_usages(30))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert os.stat(path).st_size == stat.st_size and os.stat(path).st_mtime_ns == stat.st_mtime_ns
    second = read_fer2013(path, cache=True)
    np.testing.assert_array_equal(first.images[5, ..., 0], images[5])
    np.testing.assert_array_equal(second.images[5, ..., 0], changed[5])


def test_report_takes_one_hot_truth_and_scores_unseen_classes_zero():
    # "c" is true once and never predicted; "d" is neither true nor predicted.
    y_true = np.eye(4)[[0, 0, 1, 1, 2]]
    probs = np.eye(4)[[0, 1, 0, 1, 0]]
    with np.errstate(all="raise"):  # no 0/0 on the way
        rep = classification_report(y_true, probs, ("a", "b", "c", "d"))
    np.testing.assert_array_equal(rep.confusion, [[1, 1, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]])
    t = rep.per_class
    np.testing.assert_allclose(t["precision"], [1 / 3, 1 / 2, 0, 0])
    np.testing.assert_allclose(t["recall"], [1 / 2, 1 / 2, 0, 0])
    np.testing.assert_allclose(t["f1"], [0.4, 0.5, 0, 0])
    assert not t.isna().any().any() and rep.accuracy == 2 / 5
    assert t.index.name == "class" and list(t.index) == ["a", "b", "c", "d"]  # metrics CSV's first column


def test_report_of_one_face():
    rep = classification_report(np.array([1]), np.array([[0.2, 0.8]]), ("x", "y"))
    assert rep.accuracy == 1.0
    assert rep.per_class["precision"].tolist() == [0.0, 1.0]
    assert classification_report(np.array([0]), np.array([[0.2, 0.8]]), ("x", "y")).accuracy == 0.0


def test_iou_of_disjoint_touching_and_overlapping_boxes():
    from kerfer.runtime.track import iou

    a = (0, 0, 10, 10)
    assert iou(a, a) == 1.0
    assert iou(a, (20, 0, 10, 10)) == 0.0  # apart in x, level in y
    assert iou(a, (0, 20, 10, 10)) == 0.0  # apart in y
    assert iou(a, (10, 0, 10, 10)) == 0.0  # touching edges
    assert iou(a, (5, 5, 10, 10)) == pytest.approx(25 / 175)
    assert iou(a, (2, 3, 4, 4)) == pytest.approx(16 / 100)  # inside
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0  # no area: no overlap


def test_smoother_matches_each_track_to_one_box_greedily():
    from kerfer.runtime.track import Smoother

    def ids(s, boxes):
        return [tid for tid, _ in s.update(boxes, np.eye(len(boxes), 3))]

    edge = Smoother(min_iou=0.5)
    assert ids(edge, [(0, 0, 10, 10)]) == [0]
    assert ids(edge, [(0, 0, 10, 5)]) == [0]  # IoU exactly min_iou: the same face
    s = Smoother()
    assert ids(s, [(0, 0, 10, 10)]) == [0]
    assert ids(s, [(0, 0, 10, 10), (1, 0, 10, 10)]) == [0, 1]  # both overlap track 0: one gets it
    # Box 0 best fits track 0, then track 1 (skipped: box 0 is taken); box 1 then gets track 1.
    assert ids(s, [(0, 0, 10, 10), (3, 0, 10, 10)]) == [0, 1]
    assert ids(s, [(0, 0, 10, 10), (40, 0, 10, 10)]) == [0, 2]  # no overlap: a new face


def test_smoother_window_one_and_float32_output():
    from kerfer.runtime.track import Smoother

    s = Smoother(window=1)
    s.update([(0, 0, 10, 10)], np.array([[1.0, 0.0]]))
    ((_, p),) = s.update([(0, 0, 10, 10)], np.array([[0.25, 0.75]]))
    assert p.dtype == np.float32 and p.tolist() == [0.25, 0.75]  # the latest frame alone


def test_smoother_keeps_an_unseen_track_for_max_missed_frames():
    from kerfer.runtime.track import Smoother

    s = Smoother(window=5, max_missed=2)
    box, far = (0, 0, 10, 10), (200, 200, 10, 10)
    probs = np.array([[1.0, 0.0]])
    s.update([box], probs)
    s.update([box], probs)  # seen again: its missed count starts from 0
    s.update([far], probs)
    s.update([far], probs)  # unseen twice: kept
    assert 0 in s.tracks
    ((tid, _),) = s.update([box], np.array([[0.0, 1.0]]))
    assert tid == 0
    for _ in range(3):  # unseen three times: dropped, and a new face gets a new id
        s.update([far], probs)
    assert 0 not in s.tracks
    ((tid, p),) = s.update([box], np.array([[0.0, 1.0]]))
    assert tid != 0 and p.tolist() == [0.0, 1.0]


def test_smoother_defaults_average_five_frames_and_keep_a_face_ten_frames():
    from kerfer.runtime.track import Smoother

    s = Smoother()
    box, far = (0, 0, 10, 10), (200, 200, 10, 10)
    for k in range(6):  # six frames: the first (class 0) falls out of the five-frame window
        ((_, p),) = s.update([box], np.eye(2)[[0 if k == 0 else 1]])
    assert p.tolist() == [0.0, 1.0]
    for _ in range(10):  # unseen for ten frames: still the same face
        s.update([far], np.eye(2)[[0]])
    ((tid, _),) = s.update([box], np.eye(2)[[1]])
    assert tid == 0
    for _ in range(11):  # unseen for eleven: dropped
        s.update([far], np.eye(2)[[0]])
    assert 0 not in s.tracks


def test_predict_batches_keeps_order_batch_size_and_tta():
    from kerfer.evaluation import predict_batches

    calls = []

    def predict(batch, tta=False):
        calls.append((len(batch), tta))
        return np.stack([batch[:, 0, 0, 0] + (0.5 if tta else 0.0), -batch[:, 0, 0, 0]], axis=1)

    images = np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1)
    out = predict_batches(predict, images, batch_size=2)
    assert calls == [(2, False), (2, False), (1, False)]
    np.testing.assert_array_equal(out, np.stack([np.arange(5), -np.arange(5)], axis=1))
    calls.clear()
    out = predict_batches(predict, images, batch_size=256, tta=True)
    assert calls == [(5, True)]
    np.testing.assert_array_equal(out[:, 0], np.arange(5) + 0.5)
    assert predict_batches(predict, images[:0]).shape == (0, 0)
    calls.clear()
    predict_batches(predict, np.zeros((300, 1, 1, 1), np.float32))
    assert calls == [(256, False), (44, False)]  # the default batch: 256 faces a call


def test_report_to_dict_is_plain_json():
    import json

    rep = classification_report(np.array([0, 1, 1]), np.eye(2)[[0, 1, 0]], ("x", "y"))
    d = json.loads(json.dumps(rep.to_dict()))
    assert d == {
        "accuracy": 2 / 3,
        "per_class": {
            "x": {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1},
            "y": {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2},
        },
        "confusion": [[1, 0], [1, 1]],
        "class_names": ["x", "y"],
    }
    assert isinstance(rep.to_dict()["per_class"]["x"]["support"], int)
