from __future__ import annotations

import numpy as np

from kerfer.runtime.detect import crop_faces
from kerfer.runtime.track import Smoother, iou


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert abs(iou((0, 0, 10, 10), (5, 0, 10, 10)) - 50 / 150) < 1e-9


def test_smoother_keys_history_by_track_and_drops_gone_faces():
    s = Smoother(window=3, max_missed=1)
    a, b = (0, 0, 50, 50), (200, 0, 50, 50)
    pa, pb = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    first = s.update([a, b], np.stack([pa, pb]))
    ids = [tid for tid, _ in first]
    assert ids == [0, 1]
    moved = s.update([(202, 2, 50, 50), (2, 2, 50, 50)], np.stack([pa, pb]))  # order swapped, boxes moved
    assert [tid for tid, _ in moved] == [1, 0]
    np.testing.assert_allclose(moved[1][1], [0.5, 0.5])  # track 0 averaged pa then pb
    s.update([], np.zeros((0, 2)))
    s.update([], np.zeros((0, 2)))
    assert s.tracks == {}
    again = s.update([a], pa[None])
    assert again[0][0] == 2, "a face after a gap is a new track with fresh history"
    np.testing.assert_allclose(again[0][1], pa)


def test_crop_faces_square_padded_and_sized():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[40:60, 90:110] = 255
    crops = crop_faces(frame, [(90, 40, 20, 20), (0, 0, 30, 10)], size=48, margin=0.0)
    assert crops.shape == (2, 48, 48, 1) and crops.dtype == np.uint8
    assert crops[0].min() == 255  # exactly the white square
    rgb = crop_faces(frame, [(190, 90, 20, 20)], size=32, margin=0.2, channels=3)  # off the edge: replicated
    assert rgb.shape == (1, 32, 32, 3)
