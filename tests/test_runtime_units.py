from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from fakedata import huge_png

from kerfer.errors import DataError, ImageReadError, OptionError
from kerfer.options import ALIGN_MIN_DEGREES, IMAGE_EXTENSIONS, MAX_MARGIN, YUNET_MIN_SCORE
from kerfer.runtime.detect import (
    Detection,
    HaarDetector,
    YuNetDetector,
    _downscale,
    _square,
    crop_faces,
    find_faces,
    make_detector,
    to_gray,
)
from kerfer.runtime.images import _opencv_problem, as_frame, encode_image, read_image, rotate_image, write_image
from kerfer.runtime.pipeline import FacePipeline, level_angle, make_pipeline
from kerfer.runtime.scan import Unreadable, class_folders, class_images, find_sources, scan, skipped_note
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


def test_read_image_names_the_file_and_converts_depth_and_channels(tmp_path):
    """16-bit, gray and BGRA files come back as 8-bit BGR, or gray with ``gray=True``; a file
    that is no image is an ImageReadError naming it."""
    deep = np.full((6, 8), 257 * 200, np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    bgra = np.zeros((6, 8, 4), np.uint8)
    bgra[..., :3] = (10, 20, 30)
    cv2.imwrite(str(tmp_path / "bgra.png"), bgra)
    colour = read_image(tmp_path / "deep.png")
    assert colour.shape == (6, 8, 3) and colour.dtype == np.uint8 and (colour == 200).all()
    assert read_image(tmp_path / "deep.png", gray=True).shape == (6, 8)
    assert read_image(tmp_path / "deep.png", True).shape == (6, 8)
    assert read_image(tmp_path / "bgra.png").tolist() == np.broadcast_to([10, 20, 30], (6, 8, 3)).tolist()
    (tmp_path / "notes.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ImageReadError, match="notes.jpg: cannot decode image"):
        read_image(tmp_path / "notes.jpg")
    with pytest.raises(ImageReadError, match=r"missing.png: cannot read \(No such file or directory\)$"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match=r": cannot read \(Is a directory\)$"):  # strerror, not "[Errno 21] ..."
        read_image(tmp_path)
    with pytest.raises(ImageReadError, match=r"cannot read \(.*null"):  # a ValueError: no strerror, its text
        read_image(str(tmp_path / "a\0b.png"))


def test_opencv_refusals_become_one_line(tmp_path):
    """A PNG declaring 40000x40000 pixels says it is over OpenCV's limit; any other OpenCV error
    is its last non-empty line, or the exception's type when it has no text."""
    with pytest.raises(ImageReadError) as e:
        read_image(huge_png(tmp_path / "huge.png"))
    assert "huge.png: cannot decode image (its declared size is over OpenCV's limit of 2^30 pixels" in str(e.value)
    assert "\n" not in str(e.value)
    assert _opencv_problem(cv2.error("OpenCV(4.x) loadsave.cpp:1\n  first\n  (-215) the reason  \n\n")) == (
        "OpenCV: (-215) the reason"
    )
    assert _opencv_problem(cv2.error("")) == "OpenCV: error"


def test_write_image_encodes_by_suffix_and_a_failed_encode_names_it(tmp_path, monkeypatch):
    img = np.random.default_rng(0).integers(0, 256, (5, 7, 3), np.uint8)
    write_image(tmp_path / "a.png", img)
    assert np.array_equal(cv2.imread(str(tmp_path / "a.png")), img)  # PNG: lossless
    write_image(tmp_path / "noext", img)  # no suffix: PNG
    assert (tmp_path / "noext").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    write_image(tmp_path / "b.jpg", img)
    assert (tmp_path / "b.jpg").read_bytes()[:2] == b"\xff\xd8"  # JPEG's start-of-image marker
    monkeypatch.setattr(cv2, "imencode", lambda suffix, image: (False, None))
    with pytest.raises(OSError, match=r"cannot encode a \(5, 7, 3\) image as \.webp"):
        encode_image(img, ".webp")


def test_rotate_image_keeps_every_pixel_on_a_larger_canvas():
    """A marked pixel lands where the returned matrix says, and the canvas holds the turned image."""
    img = np.zeros((20, 40), np.uint8)
    img[2, 5] = 255
    quarter, m = rotate_image(img, 90)
    assert quarter.shape == (40, 20)  # a quarter turn swaps width and height
    x, y = m @ [5, 2, 1]
    assert quarter[int(round(y)), int(round(x))] == 255 and quarter.sum() == 255
    turned, m = rotate_image(img, 30)
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    assert turned.shape == (round(40 * s + 20 * c), round(20 * s + 40 * c))
    corners = m @ np.array([[0, 0, 1], [40, 0, 1], [0, 20, 1], [40, 20, 1]]).T
    assert (
        corners.min() > -0.5 and corners[0].max() < turned.shape[1] + 0.5 and corners[1].max() < turned.shape[0] + 0.5
    )
    assert np.array_equal(rotate_image(img, 0)[0], img)
    assert rotate_image(np.zeros((20, 40, 3), np.uint8), 90)[0].shape == (40, 20, 3)


def test_as_frame_converts_16_bit_and_refuses_what_it_cannot_tell_apart():
    converted = as_frame(np.full((2, 3), 257 * 9 + 200, np.uint16))
    assert converted.dtype == np.uint8 and converted.tolist() == [[9] * 3] * 2
    assert as_frame(np.zeros((2, 3, 1), np.uint8)).shape == (2, 3)
    for bad, says in [
        (
            None,
            "frame is None: cv2.imread returns None for a file it cannot read (missing, unreadable or not an image)",
        ),
        (None, "read it with kerfer.runtime.images.read_image, which says why"),
        ([[0]], "expected a NumPy array of uint8 pixels, (H, W[, 3 or 4]), got list"),
        (np.zeros((2, 3), np.float32), "for floats in 0..255 frame.astype(np.uint8)"),
    ]:
        with pytest.raises(TypeError) as e:
            as_frame(bad)
        assert says in str(e.value)
    for shape in [(2, 3, 2), (2,), (0, 3)]:
        with pytest.raises(ValueError, match=r"frame has shape"):
            as_frame(np.zeros(shape, np.uint8))


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_skipped_note_counts_kinds_and_shows_three_names(tmp_path):
    for name in ("a.txt", "b.heic", "c.txt"):
        _touch(tmp_path / "three" / name)
    assert skipped_note(scan(tmp_path / "three")) == (
        "skipped 3 file(s) of unsupported type .heic, .txt (a.txt, b.heic, c.txt); "
        f"supported: {', '.join(sorted(IMAGE_EXTENSIONS))} (convert HEIC photos to JPEG first)"
    )
    for name in ("a.txt", "b.txt", "c.txt", "d", "e.txt"):
        _touch(tmp_path / "five" / name)
    note = skipped_note(scan(tmp_path / "five"))
    assert note.startswith("skipped 5 file(s) of unsupported type (no extension), .txt (a.txt, b.txt, c.txt, ...); ")
    _touch(tmp_path / "images" / "x.jpg")
    assert skipped_note(scan(tmp_path / "images")) is None


def test_class_images_and_class_folders_share_one_rule(tmp_path):
    """A class folder holds images directly inside (a broken link with an image's name counts, so
    reading it names it); hidden, ``_`` and image-less folders are no classes."""
    split = tmp_path / "train"
    happy = [_touch(split / "happy" / "b.png"), _touch(split / "happy" / "a.jpg")]
    _touch(split / "happy" / "deeper" / "c.jpg")  # not directly inside
    (split / "happy" / "gone.JPG").symlink_to(tmp_path / "nowhere.jpg")
    (split / "happy" / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    _touch(split / "_rejected" / "d.jpg")
    _touch(split / ".hidden" / "e.jpg")
    _touch(split / "empty" / "notes.txt")
    (split / "linked").symlink_to(tmp_path / "nowhere")  # a broken link to a folder
    (split / "sad").mkdir()
    (split / "sad" / "lost.png").symlink_to(tmp_path / "nowhere.png")
    assert class_images(split / "happy") == sorted([*happy, split / "happy" / "gone.JPG"])
    assert class_folders(split) == ["happy", "sad"]
    assert class_folders(str(split)) == ["happy", "sad"]
    assert class_folders(tmp_path / "missing") == [] and class_folders(happy[0]) == []
    with pytest.raises(DataError, match=r"b\.png: cannot list this folder"):
        class_images(happy[0])  # a file is no folder
    assert scan(split / "happy").images == sorted([*happy, split / "happy" / "deeper" / "c.jpg"])


def test_pipeline_call_detects_then_classifies_and_labels_the_top_class():
    class Finder:
        def detect(self, frame):
            return [(10, 10, 20, 20), (40, 5, 10, 10)]

    class Model:
        class_names, input_size, channels = ("calm", "glad", "cross"), 48, 1

        def __init__(self):
            self.seen = []

        def predict_faces(self, crops, tta=False):
            self.seen.append((crops.shape, tta))
            return np.array([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4]])[: len(crops)]

    model = Model()
    pipe = FacePipeline(model, Finder(), tta=True)
    faces = pipe(np.zeros((60, 80, 3), np.uint8))
    assert [f.box for f in faces] == [(10, 10, 20, 20), (40, 5, 10, 10)]
    assert [f.label(pipe.class_names) for f in faces] == ["glad", "calm"]
    assert model.seen == [((2, 48, 48, 1), True)]
    assert level_angle(ALIGN_MIN_DEGREES) == 0.0 and level_angle(-ALIGN_MIN_DEGREES / 2) == 0.0
    assert level_angle(ALIGN_MIN_DEGREES + 1) == ALIGN_MIN_DEGREES + 1


class _Cascade:
    """Stands in for OpenCV's cascade: records what ``detectMultiScale`` is given."""

    def __init__(self, found):
        self.found, self.calls = found, []

    def detectMultiScale(self, image, **settings):  # noqa: N802 (OpenCV's name)
        self.calls.append((image.copy(), settings))
        return np.array(self.found)


def test_haar_detects_on_the_equalized_downscaled_frame_and_scales_boxes_back():
    frame = np.random.default_rng(1).integers(0, 256, (200, 400, 4), np.uint8)  # BGRA
    gray = cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    haar = HaarDetector(scale_factor=1.3, min_neighbors=2, min_face=12, max_side=100)
    haar._clf = _Cascade([[10, 20, 30, 41]])
    assert haar.detect(frame) == [(40, 80, 120, 164)]  # found at a quarter of the size
    image, settings = haar._clf.calls[0]
    assert settings == {"scaleFactor": 1.3, "minNeighbors": 2, "minSize": (12, 12)}
    assert np.array_equal(image, cv2.equalizeHist(cv2.resize(gray, (100, 50), interpolation=cv2.INTER_AREA)))

    plain = HaarDetector(max_side=400, equalize=False)  # the frame's longest side: not resized
    plain._clf = _Cascade([[1, 2, 3, 4]])
    assert plain.detect(frame[..., :3]) == [(1, 2, 3, 4)]
    assert np.array_equal(plain._clf.calls[0][0], cv2.cvtColor(frame[..., :3], cv2.COLOR_BGR2GRAY))
    assert np.array_equal(to_gray(frame), gray) and to_gray(gray) is gray
    assert _downscale(gray, None) == (gray, 1.0) and _downscale(gray, 0)[1] == 1.0


def test_haar_setup_errors_say_what_to_install_or_which_file(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match=r"cannot load the Haar cascade .*nope\.xml"):
        HaarDetector(cascade=str(tmp_path / "nope.xml"))
    odd = os.fsencode(str(tmp_path)) + b"/\xff.xml"
    with open(odd, "wb") as f:
        f.write(b"")
    with pytest.raises(ValueError, match="the cascade name is not valid UTF-8"):
        HaarDetector(cascade=os.fsdecode(odd))
    for attribute in ("CascadeClassifier", "data"):
        with monkeypatch.context() as m:
            m.delattr(cv2, attribute)
            with pytest.raises(RuntimeError, match=r"no Haar cascades .*install opencv-python>=4.8,<5"):
                HaarDetector()
    assert Detection((0, 0, 1, 1), 1.0, np.zeros((1, 2), np.float32), ("left_eye",)).eyes() is None


class _YuNet:
    """Stands in for ``cv2.FaceDetectorYN``: records the input sizes, returns ``faces``."""

    def __init__(self, faces):
        self.faces, self.sizes = faces, []

    def setInputSize(self, size):  # noqa: N802 (OpenCV's name)
        self.sizes.append(size)

    def detect(self, image):
        assert image.ndim == 3 and image.shape[2] == 3 and (image.shape[1], image.shape[0]) == self.sizes[-1]
        return 1, self.faces


def test_yunet_loads_its_file_and_maps_faces_and_landmarks_back_to_the_frame(tmp_path, monkeypatch):
    model = tmp_path / "face.onnx"
    model.write_bytes(b"onnx")
    row = np.array([[10, 20, 30, 40, 12, 24, 28, 24, 20, 32, 14, 44, 26, 44, 0.93]], np.float32)
    created = []
    net = _YuNet(row)

    def create(*args):
        created.append(args)
        return net

    monkeypatch.setattr(cv2.FaceDetectorYN, "create", create)
    yunet = YuNetDetector(str(model), score_threshold=0.6, max_side=320)
    assert created == [(str(model), "", (320, 320), 0.6)]
    (face,) = yunet.detect_faces(np.zeros((480, 640), np.uint8))  # gray, twice the size it detects at
    assert net.sizes == [(320, 240)]
    assert face.box == (20, 40, 60, 80) and face.score == pytest.approx(0.93)
    assert face.keypoint_names == ("right_eye", "left_eye", "nose", "mouth_right", "mouth_left")
    assert face.keypoints.tolist() == (row[0, 4:14].reshape(5, 2) * 2).tolist()
    assert yunet.detect(np.zeros((100, 200, 4), np.uint8)) == [(10, 20, 30, 40)]  # small enough: as it is
    assert net.sizes[-1] == (200, 100)
    net.faces = None
    assert yunet.detect_faces(np.zeros((100, 200, 3), np.uint8)) == []

    assert make_detector("yunet", yunet_model=str(model), detect_size=0).max_side is None
    made = make_detector("yunet", yunet_model=str(model), min_score=0.8, detect_size=500)
    assert (made.score_threshold, made.max_side) == (0.8, 500) and created[-1][3] == 0.8
    assert make_detector("yunet", yunet_model=str(model)).score_threshold == YUNET_MIN_SCORE
    with pytest.raises(FileNotFoundError, match=r"missing\.onnx: no such YuNet ONNX file"):
        YuNetDetector(str(tmp_path / "missing.onnx"))
    with pytest.raises(ValueError, match="score_threshold=1.5"):
        YuNetDetector(str(model), score_threshold=1.5)


def test_detector_option_errors_say_what_to_use_instead():
    with pytest.raises(OptionError) as e:
        make_detector("haar", min_score=0.5)
    assert e.value.message == "the Haar cascade has no score: use --min-neighbors, or --detector blazeface"
    with pytest.raises(OptionError) as e:
        make_detector("yunet")
    assert (e.value.option, e.value.message) == ("detector", "--detector yunet needs --yunet-model FILE.onnx")


def test_square_window_replicates_the_border_on_every_side():
    img = np.random.default_rng(2).integers(0, 256, (30, 40), np.uint8)
    edge = np.pad(img, 50, mode="edge")  # the reference: NumPy's own border replication
    for cx, cy, side in [(20, 15, 10), (2, 15, 12), (20, 1, 12), (38, 15, 12), (20, 29, 12), (0, 0, 70), (45, 35, 8)]:
        x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
        want = edge[y0 + 50 : y0 + 50 + side, x0 + 50 : x0 + 50 + side]
        assert np.array_equal(_square(img, cx, cy, side), want), (cx, cy, side)


def test_crop_faces_pads_by_the_margin_and_crops_every_box():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[40:60, 90:110] = 255
    # a 10 px box with a 0.5 margin each way is the 20 px white square, nothing around it
    crops = crop_faces(frame, [(95, 45, 10, 10), (90, 40, 20, 20), (0, 0, 10, 10)], margin=0.5)
    assert crops.shape == (3, 48, 48, 1)
    assert crops[0].min() == 255 and crops[2].max() == 0
    assert 0 < crops[1].mean() < 255  # 20 px padded to 40: the white square with black around it
    assert crop_faces(frame, [(95, 45, 10, 10)], margin=0.0)[0].min() == 255
    dot = np.zeros((20, 20), np.uint8)
    dot[10, 10] = 255
    assert crop_faces(dot, [(10, 10, 0, 0)], 8, 0.0).min() == 255  # an empty box: its one pixel, no more


def test_crop_faces_downscales_without_aliasing_and_upscales_smoothly():
    fine = (np.indices((150, 150)).sum(0) % 2 * 255).astype(np.uint8)  # a one-pixel checkerboard
    for angle in (0.0, 20.0):  # 150 px to 48: not a whole factor, where INTER_LINEAR aliases
        (crop,) = crop_faces(fine, [(0, 0, 150, 150)], 48, 0.0, 1, [angle])
        assert crop[12:-12, 12:-12].std() < 8, angle  # INTER_AREA averages it to grey
    ramp = np.tile(np.arange(0, 200, 50, dtype=np.uint8), (4, 1))  # 4 px, 4 levels
    (up,) = crop_faces(ramp, [(0, 0, 4, 4)], 48, 0.0, 1)
    assert len(np.unique(up)) > 20  # interpolated, not 4 blocks of nearest pixels


def test_crop_faces_turns_a_tilted_bar_level():
    """``angles`` turn each crop about its box centre by the face's roll: a bar tilted 30 degrees
    clockwise on screen comes out level and centred; tilts under half a degree are not turned."""
    frame = np.zeros((300, 300), np.uint8)
    t = np.radians(30)
    d = 200 * np.array([np.cos(t), np.sin(t)])
    cv2.line(frame, tuple((150 - d).astype(int)), tuple((150 + d).astype(int)), 255, 12)
    box = [(110, 110, 80, 80)]
    (level,) = crop_faces(frame, box, 48, 0.0, 1, [30.0])
    assert level[22:26].min() > 200  # the middle rows: the bar, from edge to edge
    assert level[:14].max() < 30 and level[-14:].max() < 30
    (tilted,) = crop_faces(frame, box, 48, 0.0, 1, [0.0])
    assert tilted[22:26].min() < 30
    assert np.array_equal(crop_faces(frame, box, 48, 0.0, 1, [0.4])[0], tilted)
    assert not np.array_equal(crop_faces(frame, box, 48, 0.0, 1, [0.5])[0], tilted)
    (one,) = crop_faces(frame, box, 48, 0.0, 1, [1.0])
    assert not np.array_equal(one, tilted)
    assert crop_faces(frame, box).shape == (1, 48, 48, 1)
    assert crop_faces(frame, [(150, 150, 0, 0)], 8, 0.0).shape == (1, 8, 8, 1)  # an empty box is one pixel


class _Model:
    """A stand-in classifier: records the crops and ``tta`` it is given."""

    class_names, input_size, channels = ("calm", "glad", "cross"), 48, 1

    def __init__(self):
        self.seen = []

    def predict_faces(self, crops, tta=False):
        self.seen.append((crops.copy(), tta))
        return np.tile([0.2, 0.5, 0.3], (len(crops), 1))


def test_pipeline_defaults_margins_and_plain_boxes():
    model = _Model()
    pipe = FacePipeline(model, detector=HaarDetector())
    assert (pipe.tta, pipe.align, pipe.margin) == (False, True, 0.1) and isinstance(pipe.detector, HaarDetector)
    for margin in (0.0, MAX_MARGIN):
        assert FacePipeline(model, HaarDetector(), margin=margin).margin == margin
    for margin in (-0.01, MAX_MARGIN + 0.01):
        with pytest.raises(ValueError, match="margin="):
            FacePipeline(model, HaarDetector(), margin=margin)
    with pytest.raises(TypeError, match=r"expected a kerfer.Classifier or a model argument \(a run directory"):
        FacePipeline(object(), HaarDetector())
    frame = np.random.default_rng(4).integers(0, 256, (60, 80, 3), np.uint8)
    faces = pipe.classify(frame, [(10.7, 5.2, 30.0, 30.0)])  # a plain box, floats truncated
    assert [f.box for f in faces] == [(10, 5, 30, 30)] and faces[0].detection == Detection((10, 5, 30, 30))
    assert faces[0].probs.tolist() == [0.2, 0.5, 0.3]
    crops, tta = model.seen[-1]
    assert tta is False and np.array_equal(crops, crop_faces(frame, [(10, 5, 30, 30)], 48, 0.1, 1))
    assert pipe.classify(frame, []) == []


def test_find_sources_reads_both_layouts_and_names_what_is_wrong(tmp_path):
    """``SRC/<class>/img`` or ``SRC/<split>/<class>/img``; hidden and ``_`` folders are
    not read (a link to a class folder is one); each layout mistake is one DataError naming the folders at fault."""
    flat = tmp_path / "flat"
    a = _touch(flat / "happy" / "a.png")
    _touch(flat / "happy" / "notes.txt")
    _touch(flat / "_rejected" / "x" / "r.png")
    _touch(flat / ".cache" / "y" / "c.png")
    (flat / "linked").symlink_to(flat / "happy")
    found = find_sources(flat)
    assert (found.layout, found.groups) == ("classes", {"happy": [a], "linked": [flat / "linked" / "a.png"]})
    assert found.ignored == [flat / "happy" / "notes.txt"] and found.unreadable == []

    nested = tmp_path / "nested"
    t = _touch(nested / "train" / "sad" / "t.jpg")
    v = _touch(nested / "val" / "sad" / "v.jpg")
    _touch(nested / "val" / "empty" / "readme.md")
    (nested / "val" / "lost").mkdir()
    (nested / "val" / "lost" / "l.jpg").symlink_to(tmp_path / "nowhere.jpg")
    found = find_sources(nested)
    assert (found.layout, found.groups) == ("splits", {"train/sad": [t], "val/lost": [], "val/sad": [v]})
    assert [u.path for u in found.unreadable] == [nested / "val" / "lost" / "l.jpg"]

    loose = tmp_path / "loose"
    for name in "abcd":
        _touch(loose / f"{name}.png")
    with pytest.raises(DataError, match=r"4 image\(s\) directly in this folder \(a\.png, b\.png, c\.png, \.\.\.\)"):
        find_sources(loose)
    with pytest.raises(DataError, match=r"1 image\(s\) directly in this folder \(a\.png\): put them"):
        find_sources(flat / "happy")
    both = tmp_path / "both"
    _touch(both / "train" / "x.png")
    for name in "pqrs":
        _touch(both / "train" / name / "y.png")
    with pytest.raises(DataError, match=r"train: holds images and class folders with images \(p, q, r\); a folder is"):
        find_sources(both)
    mixed = tmp_path / "mixed"
    for name in "abcd":
        _touch(mixed / name / "x.png")
        _touch(mixed / f"s{name}" / "c" / "x.png")
    with pytest.raises(DataError, match=r"mixes class folders \(a, b, c\) with split folders \(sa, sb, sc\); use"):
        find_sources(mixed)
    (tmp_path / "none" / "happy").mkdir(parents=True)
    types = ", ".join(sorted(IMAGE_EXTENSIONS))
    with pytest.raises(DataError, match=rf"no class folders with images inside .*; image types {re.escape(types)}\)$"):
        find_sources(tmp_path / "none")
    with pytest.raises(DataError, match=r"a\.png: not a folder"):
        find_sources(a)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        find_sources(tmp_path / "missing")
    assert scan(flat, hidden=False).images == [a]
    assert scan(flat, recursive=False).images == [] and scan(flat).images == sorted(
        [a, flat / ".cache" / "y" / "c.png", flat / "_rejected" / "x" / "r.png"]
    )


def test_decode_normalizes_float_images_and_reads_colour_as_gray(tmp_path, monkeypatch):
    """A float TIFF (0..1) is stretched to 0..255, not truncated to black; ``gray=True`` turns a
    colour file gray the way OpenCV does; an empty file and a decode out of memory are one line."""
    ramp = np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5)
    (tmp_path / "f.tiff").write_bytes(encode_image(ramp, ".tiff"))
    img = read_image(tmp_path / "f.tiff", gray=True)
    assert img.dtype == np.uint8 and (img.min(), img.max()) == (0, 255)
    assert np.array_equal(img, cv2.normalize(ramp, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8))
    colour = np.random.default_rng(5).integers(0, 256, (6, 7, 3), np.uint8)
    write_image(tmp_path / "c.png", colour)
    assert np.array_equal(read_image(tmp_path / "c.png", gray=True), cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY))
    assert np.array_equal(read_image(tmp_path / "c.png"), colour)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"empty\.png: cannot decode image \(unreadable or not an image\)$"):
        read_image(tmp_path / "empty.png")

    def no_memory(*args):
        raise MemoryError

    monkeypatch.setattr(cv2, "imdecode", no_memory)
    with pytest.raises(ImageReadError, match=r"c\.png: cannot decode image \(too large for the memory available\)$"):
        read_image(tmp_path / "c.png")


def test_detector_options_are_checked_passed_on_and_named(tmp_path, monkeypatch):
    """Each option reaches the detector ``make_detector`` builds; each refusal names the option
    and what it must be; the boundary values are allowed."""
    haar = make_detector("haar", scale_factor=1.2, min_neighbors=0, min_face=30, detect_size=0)
    assert (haar.scale_factor, haar.min_neighbors, haar.min_face, haar.max_side) == (1.2, 0, 30, None)
    assert HaarDetector(max_side=0).max_side == 0 and HaarDetector(max_side=32).max_side == 32
    blaze = make_detector("blazeface", min_score=0.9, min_face=30)
    assert (blaze.score_threshold, blaze.min_face) == (0.9, 30)
    for kwargs, says in [
        ({"scale_factor": 1.0}, "scale_factor=1.0: must be a number > 1.0 (e.g. 1.1 or 1.2)"),
        ({"min_neighbors": -1}, "min_neighbors=-1: must be an integer >= 0"),
        ({"min_face": 0}, "min_face=0: must be an integer >= 1 (pixels)"),
        ({"max_side": 1}, "max_side=1: must be 0/None (full size) or >= 32"),
    ]:
        with pytest.raises(ValueError) as e:
            HaarDetector(**kwargs)
        assert str(e.value) == says
    with pytest.raises(OptionError) as e:
        make_detector("nope")
    assert str(e.value) == "detector: 'nope' is not a detector: use blazeface, haar, yunet"
    with pytest.raises(ValueError) as e:
        YuNetDetector(str(tmp_path), score_threshold=0.0)
    assert str(e.value) == "score_threshold=0.0: must be a number between 0 and 1"
    monkeypatch.delattr(cv2, "data")
    with pytest.raises(RuntimeError, match=r"^this OpenCV build has no Haar cascades \(opencv-python 5\.x dropped"):
        HaarDetector()


def test_yunet_at_full_size_and_a_model_name_opencv_cannot_open(tmp_path, monkeypatch):
    net = _YuNet(None)
    monkeypatch.setattr(cv2.FaceDetectorYN, "create", lambda *args: net)
    model = tmp_path / "face.onnx"
    model.write_bytes(b"onnx")
    assert YuNetDetector(str(model), max_side=None).detect_faces(np.zeros((700, 900, 3), np.uint8)) == []
    assert net.sizes == [(900, 700)]  # no max_side: the frame as it is
    odd = os.fsencode(str(tmp_path)) + b"/\xff.onnx"
    with open(odd, "wb") as f:
        f.write(b"onnx")
    with pytest.raises(ValueError, match="the model name is not valid UTF-8"):
        YuNetDetector(os.fsdecode(odd))


def test_find_faces_gives_a_box_only_detector_the_frame_and_turns_a_tilted_dot_about_the_box_centre():
    class Boxes:
        def __init__(self):
            self.frames = []

        def detect(self, frame):
            self.frames.append(frame.shape)
            return [(1.0, 2.0, 3.0, 4.0)]

    boxes = Boxes()
    assert find_faces(boxes, np.zeros((5, 6, 4), np.uint8)) == [Detection((1, 2, 3, 4))]
    assert boxes.frames == [(5, 6, 4)]
    frame = np.zeros((300, 300), np.uint8)
    frame[149:152, 149:152] = 255  # a dot on the box centre stays on the crop's centre, whatever the turn
    for angle in (30.0, -45.0, 90.0):
        (crop,) = crop_faces(frame, [(110, 110, 80, 80)], 48, 0.0, 1, [angle])
        y, x = np.unravel_index(np.argmax(crop), crop.shape[:2])
        assert abs(y - 23.5) <= 1.5 and abs(x - 23.5) <= 1.5, (angle, y, x)


def test_scan_reports_pipes_and_unlistable_folders_and_goes_on_past_folder_links(tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    (folder / "a_dir").mkdir(parents=True)
    (folder / "b_link").symlink_to(folder / "a_dir")  # a link to a folder: not followed, the listing goes on
    after = _touch(folder / "c.png")
    os.mkfifo(folder / "d.png")
    found = scan(folder)
    assert found.images == [after]
    assert found.unreadable == [Unreadable(folder / "d.png", "not a regular file (a device, socket or pipe)")]
    three = tmp_path / "three"
    for name in "abc":
        _touch(three / f"{name}.png")
    with pytest.raises(DataError, match=r"\(a\.png, b\.png, c\.png\): put them"):
        find_sources(three)

    split = tmp_path / "SRC" / "train"
    ok = _touch(split / "happy" / "a.png")
    _touch(split / "sad" / "b.png")
    real = os.scandir

    def scandir(path="."):
        if Path(path).name in ("sad", "locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert class_folders(split) == ["happy"]  # a class folder it cannot list is no class
    found = find_sources(tmp_path / "SRC")
    assert found.groups == {"train/happy": [ok]}
    assert found.unreadable == [Unreadable(split / "sad", "cannot list this folder (Permission denied)")]
    (tmp_path / "locked").mkdir()
    with pytest.raises(DataError, match=r"locked: cannot list this folder \(Permission denied\)$"):
        find_sources(tmp_path / "locked")


def test_make_pipeline_and_the_default_detector_and_model():
    from kerfer.runtime.blazeface import BlazeFaceDetector
    from kerfer.runtime.classifier import Classifier

    pipe = make_pipeline(detector="haar")
    assert isinstance(pipe.classifier, Classifier) and isinstance(pipe.detector, HaarDetector)
    assert (pipe.tta, pipe.align, pipe.margin) == (False, True, 0.1) and len(pipe.class_names) == 7
    other = make_pipeline("ferplus", detector="haar", tta=True, align=False, margin=0.3)
    assert (other.tta, other.align, other.margin, len(other.class_names)) == (True, False, 0.3, 8)
    assert len(FacePipeline("ferplus", HaarDetector()).class_names) == 8  # the named model, not the default
    assert isinstance(FacePipeline(_Model()).detector, BlazeFaceDetector)
    with pytest.raises(TypeError, match="SavedModel, 'fer2013', 'ferplus' or None"):
        FacePipeline(object(), HaarDetector())
