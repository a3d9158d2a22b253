"""``--overlay bars|label|emoji``: what each style draws and where, one distinct emoji per
FER2013 class, unknown classes and frame edges, and the option reaching ``predict`` and ``live``."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import MEDIA, needs_media

from kerfer.cli import main
from kerfer.labels import EMOJI_EMOTIONS, FER2013_CLASSES
from kerfer.options import OVERLAY_STYLES
from kerfer.runtime import emoji, overlay
from kerfer.runtime.emoji import draw_emoji
from kerfer.runtime.overlay import draw_face

H, W = 400, 640
BOX = (100, 120, 120, 120)  # x, y, w, h: room on every side


def _frame(value=90):
    return np.full((H, W, 3), value, np.uint8)


def _probs(top="happy", names=FER2013_CLASSES):
    p = np.full(len(names), 0.3 / (len(names) - 1))
    p[list(names).index(top)] = 0.7
    return p


def _changed(before, after):
    return np.any(before != after, axis=2)


def _drawn(style, box=BOX, top="happy", names=FER2013_CLASSES, frame=None):
    frame = _frame() if frame is None else frame
    out = frame.copy()
    draw_face(out, box, _probs(top, names), names, style=style)
    return frame, out


def test_every_emoji_class_has_its_own_face():
    assert set(emoji._FACES) == set(EMOJI_EMOTIONS)


def test_each_style_draws_the_box_and_label_and_its_own_extra():
    x, y, w, h = BOX
    right = np.s_[y : y + h, x + w + 8 : x + w + 100]  # beside the box: bars or emoji, never the label
    images = {}
    for style in OVERLAY_STYLES:
        before, after = _drawn(style)
        ch = _changed(before, after)
        assert ch[y, x + w // 2] and ch[y + h, x + w // 2] and ch[y + h // 2, x], style  # the box
        assert ch[y - 12 : y, x : x + 40].any(), style  # the label above it
        assert not ch[y + h + 4 :, :].any(), f"{style} drew below the box"
        images[style] = (after, ch)
    assert images["bars"][1][right].mean() > 0.1
    assert images["emoji"][1][right].mean() > 0.3
    assert not images["label"][1][:, x + w + 3 :].any()  # the label style adds nothing beside the box
    for a, b in itertools.combinations(OVERLAY_STYLES, 2):
        assert np.any(images[a][0] != images[b][0]), (a, b)


def test_the_default_style_is_bars():
    frame = _frame()
    p = _probs()
    outs = {}
    for key, kw in {"default": {}, "bars": {"style": "bars"}, "label": {"style": "label"}}.items():
        outs[key] = frame.copy()
        draw_face(outs[key], BOX, p, FER2013_CLASSES, **kw)
    assert np.array_equal(outs["default"], outs["bars"])
    assert not np.array_equal(outs["bars"], outs["label"])


def test_emoji_sits_right_of_the_face_sized_by_it_and_leaves_the_far_frame_alone():
    x, y, w, h = BOX
    before, after = _drawn("emoji")
    ch = _changed(before, after)
    r = round(0.35 * h)
    cols = np.flatnonzero(ch[:, x + w + 3 :].any(axis=0)) + x + w + 3
    rows = np.flatnonzero(ch[:, x + w + 3 :].any(axis=1))
    assert cols.min() > x + w + 3 and abs((cols.max() - cols.min()) - 2 * r) <= 0.25 * r  # ~2r wide, shadow included
    assert rows.min() >= y - 2 and rows.max() <= y + 2 * r + 0.3 * r
    assert not ch[:, x + w + 4 * r :].any() and not ch[y + h + 4 :, :].any()
    # The happy face is yellow: red and green high, blue low (BGR), in the middle of the emoji.
    cx, cy = (cols.min() + cols.max()) // 2, y + r
    b, g, rr = after[cy - r // 2, cx - r // 2].astype(int)
    assert rr > 200 and g > 150 and b < 120, (b, g, rr)


@pytest.mark.parametrize(
    ("box", "where"),
    [
        ((W - 130, 150, 120, 120), "left"),  # no room on the right
        ((10, 200, W - 20, 120), "above"),  # no room on either side
        ((10, 30, W - 20, H - 40), "inside"),  # nor above
    ],
)
def test_emoji_moves_left_above_or_inside_when_there_is_no_room(box, where):
    x, y, w, h = box
    frame = _frame()
    label_only, emoji = frame.copy(), frame.copy()
    draw_face(label_only, box, _probs(), FER2013_CLASSES, style="label")
    draw_face(emoji, box, _probs(), FER2013_CLASSES, style="emoji")
    extra = _changed(label_only, emoji)  # the emoji alone
    ys, xs = np.nonzero(extra)
    assert len(xs) > 200
    if where == "left":
        assert xs.max() < x and ys.min() >= y - 2
    elif where == "above":
        assert ys.max() < y - 10 and x <= xs.min() and xs.max() <= x + w
    else:  # inside, in the top right corner: never over the face (its eyes, nose and mouth)
        corner = 0.25 * min(w, h) + 4
        assert xs.min() >= x + w - corner and xs.max() <= x + w and ys.min() >= y and ys.max() <= y + corner
        face = (xs > x + 0.2 * w) & (xs < x + 0.8 * w) & (ys > y + 0.25 * h)
        assert not face.any(), "drawn over the face"


def _emoji(name, r, text=True):
    frame = _frame(60)
    draw_emoji(frame, (W // 2, H // 2), r, name, text=text)
    return frame


@pytest.mark.parametrize("r", [12, 60, 120])
def test_every_emotion_has_its_own_emoji_at_every_size(r):
    blank = _frame(60)
    faces = {name: _emoji(name, r) for name in FER2013_CLASSES}
    for name, img in faces.items():
        ch = _changed(blank, img)
        ys, xs = np.nonzero(ch)
        assert abs((xs.min() + xs.max()) / 2 - W // 2) <= 0.15 * r + 2, name  # centred, shadow aside
        assert ch.sum() > 2.5 * r * r, name  # a filled disk, not a few strokes
    for a, b in itertools.combinations(FER2013_CLASSES, 2):
        diff = _changed(faces[a], faces[b]).sum()
        assert diff > 0.05 * r * r, f"{a} and {b} look the same at r={r} ({diff} px differ)"


def test_emoji_colours_match_their_emotions():
    def cheek(name):  # the colour between eye and rim, left of the face; BGR
        return _emoji(name, 60)[H // 2 + 12, W // 2 - 42].astype(int)

    b, g, r = cheek("angry")
    assert r > 170 and r > g + 80 and r > b + 80
    b, g, r = cheek("disgust")
    assert g > 140 and g > r + 40 and g > b + 30
    forehead = _emoji("fear", 60)[H // 2 - 45, W // 2].astype(int)
    assert forehead[0] > forehead[2] + 60  # blue rising from the forehead
    for name in ("happy", "sad", "surprise", "neutral"):
        b, g, r = cheek(name)
        assert r > 200 and g > 140 and b < 110, name


def test_fer_plus_spellings_and_unknown_classes():
    assert np.array_equal(_emoji("happiness", 40), _emoji("happy", 40))
    assert np.array_equal(_emoji(" Anger", 40), _emoji("angry", 40))
    neutral = _emoji("neutral", 40)
    contempt = _emoji("contempt", 40)
    assert np.array_equal(_emoji("contempt", 40, text=False), neutral)
    diff = _changed(neutral, contempt)
    assert diff.any() and not diff[: H // 2 + 30].any()  # the same face, with the name written under it
    names = ("angry", "happy", "sad", "contempt")  # a 4-class custom model
    before, after = _drawn("emoji", top="contempt", names=names)
    assert _changed(before, after)[:, BOX[0] + BOX[2] + 5 :].any()


def test_edges_tiny_boxes_and_faces_outside_the_frame_do_not_raise():
    boxes = [
        (0, 0, 120, 120),
        (W - 120, H - 120, 120, 120),
        (W - 10, H - 10, 80, 80),
        (-40, -40, 90, 90),
        (0, 0, 1, 1),
        (W - 1, H - 1, 1, 1),
        (3, 5, 4, 4),
        (-50, -50, W + 100, H + 100),
    ]
    for box, style in itertools.product(boxes, OVERLAY_STYLES):
        frame = _frame()
        draw_face(frame, box, _probs("surprise"), FER2013_CLASSES, style=style)
        assert frame.shape == (H, W, 3) and frame.dtype == np.uint8
    small = np.full((30, 40, 3), 90, np.uint8)  # smaller than the emoji itself
    draw_face(small, (5, 5, 20, 20), _probs("sad"), FER2013_CLASSES, style="emoji")
    for center in [(0, 0), (W, H), (-20, H // 2), (W + 30, -30)]:
        frame = _frame()
        draw_emoji(frame, center, 60, "fear")
        assert frame.shape == (H, W, 3)
    for center, r in [((-500, -500), 60), ((W + 200, H // 2), 60), ((W // 2, H // 2), 0)]:
        frame = _frame()
        draw_emoji(frame, center, r, "happy")
        assert not _changed(_frame(), frame).any()
    frame = _frame()
    draw_emoji(frame, (0, 0), 40, "happy")  # a quarter of it shows
    assert _changed(_frame(), frame)[:40, :40].mean() > 0.5


def test_bad_style_and_grayscale_frames_say_what_to_do():
    with pytest.raises(ValueError, match="bars, label, emoji"):
        draw_face(_frame(), BOX, _probs(), FER2013_CLASSES, style="emojis")
    with pytest.raises(ValueError, match="COLOR_GRAY2BGR"):
        draw_emoji(np.zeros((100, 100), np.uint8), (50, 50), 20, "happy")
    from kerfer.runtime.live import run_live
    from kerfer.runtime.predict import predict_images

    with pytest.raises(ValueError, match="bars, label, emoji"):
        run_live([], None, show=False, overlay="Emoji")
    with pytest.raises(ValueError, match="bars, label, emoji"):
        list(predict_images([], None, overlay="bar"))


@needs_media
def test_predict_overlay_emoji_writes_a_different_annotated_image(tmp_path):
    photo = MEDIA / "two_people.jpg"
    images = {}
    for style in ("bars", "emoji", "label"):
        out = tmp_path / style
        r = CliRunner().invoke(main, ["predict", str(photo), "--save-annotated", str(out), "--overlay", style])
        assert r.exit_code == 0, r.output
        assert r.output.count(": face ") == 2, r.output
        images[style] = cv2.imread(str(out / "two_people_kerfer.jpg"))
        assert images[style] is not None and images[style].shape == cv2.imread(str(photo)).shape
    for a, b in itertools.combinations(images, 2):
        assert np.abs(images[a].astype(int) - images[b].astype(int)).max() > 100, (a, b)
    r = CliRunner().invoke(main, ["predict", str(photo), "--overlay", "smiley"])
    assert r.exit_code == 2 and "'bars', 'label', 'emoji'" in r.output


@needs_media
def test_live_overlay_emoji_reaches_the_drawing_and_the_video(tmp_path, monkeypatch):
    import kerfer.runtime.live as live_mod

    styles = []

    def spy(frame, box, probs, names, style="bars"):
        styles.append(style)
        overlay.draw_face(frame, box, probs, names, style)

    monkeypatch.setattr(live_mod, "draw_face", spy)
    video = tmp_path / "out.mp4"
    args = ["live", "--source", str(MEDIA / "test.mp4"), "--headless", "--max-frames", "3", "--save-video", str(video)]
    r = CliRunner().invoke(main, [*args, "--overlay", "emoji"])
    assert r.exit_code == 0, r.output
    assert "3 frames" in r.output and styles and set(styles) == {"emoji"}
    cap = cv2.VideoCapture(str(video))
    frames = 0
    while cap.read()[0]:
        frames += 1
    cap.release()
    assert frames == 3
    styles.clear()
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0 and set(styles) == {"bars"}, r.output


def _is(img, color):
    return np.all(img == np.array(color, np.uint8), axis=-1)


def test_bars_are_one_per_class_in_its_colour_and_as_long_as_its_probability():
    """Each class's bar (BGR colour by class index) starts beside the box and fills its share of
    the bar's width, half the box's width (60 px at least); the box and the label band take the
    top class's colour, with the label written in white."""
    x, y, w, h = 60, 100, 200, 200
    names = FER2013_CLASSES
    p = np.array([0.05, 0.1, 0.15, 0.4, 0.2, 0.05, 0.05])
    frame = _frame(0)
    draw_face(frame, (x, y, w, h), p, names)
    top = overlay.EMOTION_COLORS[3]
    assert _is(frame[y + h // 2, x - 1 : x + 1], top).all()  # the box's left side, 2 px
    assert _is(frame[y + 2 : y + h - 2, x + 2], (0, 0, 0)).all()  # inside it: untouched
    band = frame[y - 20 : y, x : x + 60]
    assert _is(band, top).mean() > 0.4 and _is(band, (255, 255, 255)).any()
    bar_w, bx = w // 2, x + w + 6
    for i, share in enumerate(p):
        row = frame[y + i * 14 + 5]
        filled = np.flatnonzero(_is(row, overlay.EMOTION_COLORS[i])[bx + 1 : bx + bar_w])
        assert filled.size == pytest.approx(int(bar_w * share) - 1, abs=1), names[i]
        assert _is(frame[y + i * 14, bx + bar_w - 1 : bx + bar_w + 1], (50, 50, 50)).any()  # the frame of the bar
        assert not _is(frame[y + i * 14 + 12 : y + i * 14 + 14, bx + 2 : bx + bar_w], overlay.EMOTION_COLORS[i]).any()


def test_bars_go_left_of_a_face_at_the_right_edge_and_stop_at_the_bottom():
    x, y, w, h = 520, 332, 100, 60  # no room on the right; the fifth bar ends on the last row
    p = np.full(7, 1 / 7)
    p[0] = 0.0
    frame = _frame(0)
    draw_face(frame, (x, y, w, h), p, FER2013_CLASSES)
    bar_w = 60  # w // 2 is 50: the 60 px floor
    bx = x - bar_w - 76
    for i in (1, 2, 3, 4):
        assert _is(frame[y + i * 14 + 5, bx + 1 : bx + 8], overlay.EMOTION_COLORS[i]).all(), i
    assert not _is(frame[:, x + w + 3 :], overlay.EMOTION_COLORS[2]).any()  # no bar on the right
    assert not _is(frame, overlay.EMOTION_COLORS[5]).any()  # its bar would pass the bottom
    assert not _is(frame[y + 5, bx + 1 : bx + 8], overlay.EMOTION_COLORS[0]).any()  # 0 %: an empty bar


def test_the_emoji_of_an_unknown_class_has_no_caption_beside_a_face():
    """The label already names the class: ``--overlay emoji`` draws the neutral face for a class
    it has no emoji for, without the name under it that ``draw_emoji`` writes by default."""
    names = ("calm", "happy")
    a, b = _frame(), _frame()
    draw_face(a, BOX, np.array([0.9, 0.1]), names, style="emoji")
    draw_face(b, BOX, np.array([0.9, 0.1]), ("neutral", "happy"), style="emoji")
    x, y, w, h = BOX
    assert np.array_equal(a[:, x + w + 2 :], b[:, x + w + 2 :])  # the same face beside the box, nothing more


def test_fps_is_green_text_in_the_top_left_corner():
    a, b = _frame(0), _frame(0)
    overlay.draw_fps(a, 12.5)
    overlay.draw_fps(b, 30.0)
    green = np.all(a == (0, 255, 0), axis=-1)
    ys, xs = np.nonzero(np.any(a != 0, axis=-1))
    assert green.sum() > 50 and ys.max() < 30 and xs.min() >= 8 and xs.max() < 120
    assert not np.array_equal(a, b)
    assert (a[..., 0] == 0).all() and (a[..., 2] == 0).all()  # green only, anti-aliased


def test_bar_names_label_and_fps_are_anti_aliased_text_and_names_are_cut_to_eight_letters():
    """Each bar is named at its right (white, at most 8 letters); the label, the names and the
    FPS are drawn anti-aliased (blended edge pixels, not just the two colours)."""
    names = ("abcdefghijkl", "glad")
    x, y, w, h = 60, 100, 120, 120
    frame = _frame(0)
    draw_face(frame, (x, y, w, h), np.array([0.3, 0.7]), names)
    bx, bar_w = x + w + 6, 60
    start = bx + bar_w + 4
    (eight, _), _ = cv2.getTextSize("abcdefgh", cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
    for i in range(2):
        text = frame[y + i * 14 : y + i * 14 + 12, start - 1 :]
        cols = np.flatnonzero(text.max(axis=(0, 2)) > 0)
        assert cols.size and cols.min() <= 2 and len(np.unique(text)) > 2, i  # there, just right of the bar, blended
    first = frame[y : y + 12, start - 1 :]
    assert np.flatnonzero(first.max(axis=(0, 2)) > 0).max() <= eight + 2  # "abcdefgh", not "abcdefghi..."
    assert np.all(frame[y + 32 :, start - 1 :] == 0)  # two classes, two names (and the g's tail)
    band = frame[y - 20 : y, x : x + 60]
    assert len({tuple(p) for p in band.reshape(-1, 3)}) > 3  # band colour, white and the blend between
    fps = _frame(0)
    overlay.draw_fps(fps, 12.5)
    assert len(np.unique(fps[..., 1])) > 2


def test_the_emoji_beside_a_face_is_its_top_class_and_a_bar_that_would_leave_the_frame_is_not_begun():
    happy, sad = _drawn("emoji", top="happy")[1], _drawn("emoji", top="sad")[1]
    x, y, w, h = BOX
    assert not np.array_equal(happy[:, x + w + 2 :], sad[:, x + w + 2 :])
    frame = _frame(0)
    draw_face(frame, (520, 334, 100, 60), np.full(7, 1 / 7), FER2013_CLASSES)  # the fifth bar would start at 390
    assert not _is(frame, overlay.EMOTION_COLORS[4]).any()
