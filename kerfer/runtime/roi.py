"""Where a face's region of interest lies (the whole face, the mouth, the eyes) and its upright crop.

Geometry only, from a :class:`~kerfer.runtime.detect.Detection`'s box and keypoints: ``kerfer
crop`` builds datasets with it, and its ``face`` region is exactly the crop ``kerfer predict``
classifies (same margin, same alignment rule). OpenCV and NumPy only (no TensorFlow).
"""

from __future__ import annotations

import numpy as np

from kerfer.options import CROP_SIZE, MARGIN, ROIS
from kerfer.runtime.detect import Detection, crop_faces
from kerfer.runtime.pipeline import level_angle

MOUTH_SIDE = 0.6
"""Side of the mouth square, a fraction of the face width."""
EYES_WIDTH = 1.6
"""Side of the eyes square, in inter-eye distances: both eyes with their outer corners (about
0.75 of the distance out from the midpoint) and a margin."""
EYES_BOTTOM = 0.55
"""Lower edge of the eyes square below the eye line, in eye-to-mouth distances: past the lower
lids, level with the nose tip (about 0.5), well above the mouth (1.0). The old square, 0.9 face
widths centred on the eyes, reached 1.1 eye-to-mouth distances down: into the mouth."""
EYES_BROWS = 0.45
"""How far the eyes square reaches at least above the eye line, in eye-to-mouth distances: the
brows lie about 0.35-0.45 above it."""
EYE_MOUTH_PER_EYES = 1.05
"""Eye-to-mouth distance over inter-eye distance of a frontal face (0.95-1.09 on the shared
photos, BlazeFace keypoints): the estimate for a detector that gives eyes but no mouth."""
FACE_WIDTH_PER_EYES = 2.5
"""Face box width over inter-eye distance (2.4-2.6 on the shared photos): the estimate without eyes."""
MOUTH_DOWN = 0.25
"""Without a mouth keypoint (Haar): the mouth lies this fraction of the box height below the box
centre (0.75 of the way down the box), along the face's own vertical axis."""
EYES_UP = 0.12
"""Without eye keypoints (Haar): the eyes lie this fraction of the box height above the box centre."""


def _down_axis(det: Detection) -> np.ndarray:
    """The unit vector from the face's forehead to its chin, in frame pixels (y down): the box's
    vertical turned by the face's roll, so a region placed along it follows a tilted head."""
    roll = np.radians(det.roll_degrees())
    return np.array([-np.sin(roll), np.cos(roll)])


def _mouth_point(det: Detection) -> np.ndarray | None:
    mouth = det.point("mouth")
    if mouth is not None:
        return np.asarray(mouth, np.float64)
    corners = det.point("mouth_left"), det.point("mouth_right")  # YuNet gives the two corners
    if corners[0] is not None and corners[1] is not None:
        return (np.asarray(corners[0], np.float64) + np.asarray(corners[1], np.float64)) / 2
    return None


def roi_box(det: Detection, roi: str, margin: float = MARGIN) -> tuple[float, float, float]:
    """The square region of interest of one face: ``(cx, cy, side)`` in frame pixels, before any
    rotation (the crop is turned about ``(cx, cy)`` by :func:`roi_angle`).

    - ``face``: the detection box squared on its longest side and padded by ``margin`` each way,
      exactly the crop ``kerfer predict`` classifies;
    - ``mouth``: a square of :data:`MOUTH_SIDE` x the face width, centred on the mouth keypoint
      (BlazeFace's mouth centre, YuNet's two corners averaged), else 0.75 of the way down the box;
    - ``eyes``: a square from the keypoints (:func:`eyes_box`): both eyes and brows, its lower edge
      above the mouth; without keypoints (Haar) the same rule on the usual eye and mouth
      positions in the box. Square rather than a wide strip: ``kerfer train`` reads square
      images and would squash a wide one.

    Without keypoints (Haar) the fallback positions are measured along the face's vertical axis
    turned by its roll, which is 0 without eyes; with keypoints the regions follow the face anyway.
    """
    if roi not in ROIS:
        raise ValueError(f"roi={roi!r}: expected one of {', '.join(ROIS)}")
    x, y, w, h = (float(v) for v in det.box)
    centre = np.array([x + w / 2, y + h / 2])
    if roi == "face":
        return float(centre[0]), float(centre[1]), max(w, h) * (1 + 2 * margin)
    if roi == "mouth":
        point = _mouth_point(det)
        if point is None:
            point = centre + MOUTH_DOWN * h * _down_axis(det)
        return float(point[0]), float(point[1]), MOUTH_SIDE * w
    return eyes_box(det)


def _eye_geometry(det: Detection) -> tuple[np.ndarray, float, float]:
    """(the eye line's midpoint, the inter-eye distance, the eye-to-mouth distance) in frame
    pixels, from the keypoints where the detector gives them, else estimated from the box."""
    x, y, w, h = (float(v) for v in det.box)
    down = _down_axis(det)
    eyes = det.eyes()
    if eyes is None:  # Haar: the eyes a little above the box centre, the mouth 0.75 of the way down
        centre = np.array([x + w / 2, y + h / 2])
        return centre - EYES_UP * h * down, w / FACE_WIDTH_PER_EYES, (EYES_UP + MOUTH_DOWN) * h
    left, right = (np.asarray(e, np.float64) for e in eyes)
    mid, between = (left + right) / 2, float(np.linalg.norm(right - left))
    mouth = _mouth_point(det)
    to_mouth = float(np.dot(mouth - mid, down)) if mouth is not None else 0.0
    if to_mouth <= 0:  # no mouth keypoint (or one above the eyes): a frontal face's proportion
        to_mouth = EYE_MOUTH_PER_EYES * between
    return mid, max(between, 1.0), to_mouth


def eyes_box(det: Detection) -> tuple[float, float, float]:
    """The eyes square ``(cx, cy, side)``: wide enough for both eyes and their outer corners
    (:data:`EYES_WIDTH` inter-eye distances), tall enough to reach the brows (:data:`EYES_BROWS`),
    its lower edge :data:`EYES_BOTTOM` eye-to-mouth distances below the eye line, so it stops
    above the mouth; placed along the face's own axes (a tilted head is followed)."""
    mid, between, to_mouth = _eye_geometry(det)
    side = max(EYES_WIDTH * between, (EYES_BOTTOM + EYES_BROWS) * to_mouth)
    centre = mid + (EYES_BOTTOM * to_mouth - side / 2) * _down_axis(det)
    return float(centre[0]), float(centre[1]), side


def roi_angle(det: Detection, align: bool = True) -> float:
    """The rotation (degrees) that turns the crop upright: :func:`~kerfer.runtime.pipeline.level_angle`,
    the rule ``kerfer predict`` applies; 0 without eyes (the roll is then 0) or ``align``."""
    return level_angle(det.roll_degrees()) if align else 0.0


def crop_roi(
    frame: np.ndarray,
    det: Detection,
    roi: str = "face",
    size: int = CROP_SIZE,
    channels: int = 1,
    align: bool = True,
    margin: float = MARGIN,
) -> np.ndarray:
    """One face's region of interest, upright, as uint8 ``(size, size, channels)`` (RGB for 3)."""
    cx, cy, side = roi_box(det, roi, margin)
    side = max(side, 1.0)
    box = (cx - side / 2, cy - side / 2, side, side)
    crops = crop_faces(frame, [box], size=size, margin=0.0, channels=channels, angles=[roi_angle(det, align)])
    return crops[0]
