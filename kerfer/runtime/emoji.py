"""Face emojis drawn with OpenCV primitives: one face per FER2013 class (FER+ spellings map onto
them), sized and placed beside a face box by ``--overlay emoji``.

Everything is drawn anti-aliased at sub-pixel precision on 3-channel BGR ``uint8`` frames (no
images, no fonts beyond OpenCV's Hershey text); parts beyond the frame are clipped. Kept apart
from :mod:`kerfer.runtime.overlay` (boxes, labels, bars): the drawing of seven faces is its own job.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from kerfer.labels import EMOJI_EMOTIONS, canonical_emotion
from kerfer.runtime.detect import Box

# Emoji palette, BGR.
_YELLOW, _YELLOW_RIM = (45, 200, 255), (10, 120, 210)
_RED, _RED_RIM = (60, 70, 230), (30, 30, 150)
_GREEN, _GREEN_RIM = (90, 200, 125), (40, 125, 60)
_PALE, _PALE_RIM, _FEAR_TOP = (240, 225, 205), (170, 130, 90), (215, 140, 60)
_INK = (45, 40, 60)
_MOUTH = (55, 40, 110)
_TONGUE = (110, 95, 240)
_WHITE = (255, 255, 255)
_TEAR = (245, 175, 60)
_BLUSH = (150, 130, 255)

_SHIFT = 4  # sub-pixel precision of the OpenCV primitives: coordinates in 1/16 px
_ONE = 1 << _SHIFT


def _check_bgr(frame: np.ndarray) -> None:
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(
            f"needs a 3-channel BGR frame, got shape {frame.shape}; "
            "convert grayscale first with cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)"
        )


class _Pen:
    """Draws in face units: (u, v) from the centre, in radii; v grows downwards."""

    def __init__(self, frame: np.ndarray, cx: float, cy: float, r: float):
        self.frame, self.cx, self.cy, self.r = frame, cx, cy, r
        self.lw = max(1, round(r * 0.09))  # feature line width, px

    def pt(self, u: float, v: float) -> tuple[int, int]:
        return round((self.cx + u * self.r) * _ONE), round((self.cy + v * self.r) * _ONE)

    def n(self, a: float) -> int:
        return max(1, round(a * self.r * _ONE))

    def width(self, k: float = 1.0) -> int:
        return max(1, round(self.lw * k))

    def circle(self, u, v, rad, color, thickness=-1):
        cv2.circle(self.frame, self.pt(u, v), self.n(rad), color, thickness, cv2.LINE_AA, _SHIFT)

    def ellipse(self, u, v, au, av, a0, a1, color, thickness=-1):
        """An axis-aligned ellipse (arc from ``a0`` to ``a1`` degrees, clockwise from +u), as a
        fine polygon: cv2.ellipse turns small ellipses into diamonds."""
        t = np.radians(np.linspace(a0, a1, max(12, round(abs(a1 - a0) / 6)) + 1))
        uv = np.stack([u + au * np.cos(t), v + av * np.sin(t)], 1)
        full = abs(a1 - a0) >= 360
        self.poly(uv[:-1] if full else uv, color, thickness, closed=full or thickness < 0)

    def line(self, u0, v0, u1, v1, color, k=1.0):
        cv2.line(self.frame, self.pt(u0, v0), self.pt(u1, v1), color, self.width(k), cv2.LINE_AA, _SHIFT)

    def poly(self, uv, color, thickness=-1, closed=True):
        uv = np.asarray(uv, np.float64)
        xy = np.stack([self.cx + uv[:, 0] * self.r, self.cy + uv[:, 1] * self.r], 1)
        pts = np.round(xy * _ONE).astype(np.int32).reshape(-1, 1, 2)
        if thickness < 0:
            cv2.fillPoly(self.frame, [pts], color, cv2.LINE_AA, _SHIFT)
        else:
            cv2.polylines(self.frame, [pts], closed, color, thickness, cv2.LINE_AA, _SHIFT)


def _disk(frame, cx, cy, r, base, rim, rim_w, top=None, blush=False) -> None:
    """The face: a shaded disk with a rim and a soft drop shadow, blended anti-aliased into the frame."""
    fh, fw = frame.shape[:2]
    x0, x1 = max(0, math.floor(cx - r - 2)), min(fw, math.ceil(cx + 1.2 * r + 3))
    y0, y1 = max(0, math.floor(cy - r - 2)), min(fh, math.ceil(cy + 1.2 * r + 3))
    if x0 >= x1 or y0 >= y1:
        return
    u = ((np.arange(x0, x1, dtype=np.float32) - cx) / r)[None, :]
    v = ((np.arange(y0, y1, dtype=np.float32) - cy) / r)[:, None]
    px = 1.0 / r  # one pixel, in radii
    d = np.sqrt(u * u + v * v)
    alpha = np.clip((1.0 - d) / px + 0.5, 0.0, 1.0)[..., None]
    ds = np.sqrt((u - 0.06) ** 2 + (v - 0.09) ** 2)
    shadow = (np.clip((1.03 - ds) / max(0.12, 2 * px), 0.0, 1.0) * 0.35)[..., None]
    light = 1.12 - 0.25 * np.clip(np.sqrt((u + 0.3) ** 2 + (v + 0.4) ** 2), 0.0, 1.5)
    col = np.asarray(base, np.float32) * light[..., None]
    if top is not None:  # a second colour rising from the forehead (the blue of fear)
        t = (np.clip((-v + 0.05) / 0.8, 0.0, 1.0) ** 1.3)[..., None]
        col = col * (1 - t) + np.asarray(top, np.float32) * t
    if blush:
        g = sum(np.exp(-(((u - s * 0.58) ** 2) / 0.018 + ((v - 0.18) ** 2) / 0.008)) for s in (-1, 1))
        g = (0.55 * np.clip(g, 0, 1))[..., None]
        col = col * (1 - g) + np.asarray(_BLUSH, np.float32) * g
    ring = np.clip((d - (1.0 - rim_w)) / px + 0.5, 0.0, 1.0)[..., None]
    col = col * (1 - ring) + np.asarray(rim, np.float32) * ring
    roi = frame[y0:y1, x0:x1]
    out = roi.astype(np.float32) * (1 - shadow * (1 - alpha))
    out = out * (1 - alpha) + col * alpha
    roi[...] = np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _eyes(p: _Pen, v=-0.16, au=0.1, av=0.15, spread=0.33) -> None:
    au, av = max(au, 1.6 / p.r), max(av, 2.2 / p.r)  # at least a few pixels on small faces
    for s in (-1, 1):
        p.ellipse(s * spread, v, au, av, 0, 360, _INK)
        if p.r >= 18:  # a glint
            p.circle(s * spread + 0.035, v - 0.06, 0.035, _WHITE)


def _wide_eyes(p: _Pen, v=-0.15) -> None:
    for s in (-1, 1):
        p.circle(s * 0.33, v, 0.17, _WHITE)
        p.circle(s * 0.33, v, 0.17, _INK, p.width(0.7))
        p.circle(s * 0.33, v + 0.02, 0.075, _INK)


def _angry(p: _Pen) -> None:
    _eyes(p, v=-0.06, au=0.1, av=0.11)
    for s in (-1, 1):
        p.line(s * 0.6, -0.42, s * 0.13, -0.22, _INK, 1.5)
    p.ellipse(0, 0.64, 0.32, 0.2, 200, 340, _INK, p.width(1.3))


def _disgust(p: _Pen) -> None:
    for s in (-1, 1):  # eyes screwed shut: > <
        p.poly([(s * 0.5, -0.3), (s * 0.2, -0.17), (s * 0.5, -0.05)], _INK, p.width(1.3), closed=False)
    wave = [(x, 0.42 + 0.07 * math.sin(x / 0.4 * 2 * math.pi)) for x in np.linspace(-0.42, 0.42, 25)]
    p.poly(wave, _INK, p.width(1.3), closed=False)


def _fear(p: _Pen) -> None:
    _wide_eyes(p, v=-0.12)
    for s in (-1, 1):
        p.line(s * 0.55, -0.4, s * 0.18, -0.52, _INK, 1.1)
    # Open grimace: a dark wide mouth with a row of teeth.
    p.ellipse(0, 0.45, 0.36, 0.2, 0, 360, _MOUTH)
    p.ellipse(0, 0.45, 0.36, 0.2, 212, 328, _WHITE)  # the chord above v = 0.34


def _happy(p: _Pen) -> None:
    for s in (-1, 1):
        p.ellipse(s * 0.33, -0.1, 0.15, 0.14, 195, 345, _INK, p.width(1.3))
    p.ellipse(0, 0.16, 0.56, 0.46, 0, 180, _MOUTH)
    p.ellipse(0, 0.5, 0.26, 0.11, 0, 360, _TONGUE)
    p.poly([(-0.5, 0.2), (0.5, 0.2), (0.48, 0.29), (-0.48, 0.29)], _WHITE)
    p.ellipse(0, 0.16, 0.56, 0.46, 0, 180, _MOUTH, p.width(0.6))
    p.line(-0.56, 0.16, 0.56, 0.16, _MOUTH, 0.6)


def _sad(p: _Pen) -> None:
    _eyes(p, v=-0.08, au=0.09, av=0.13, spread=0.31)
    for s in (-1, 1) if p.r >= 16 else ():  # small faces: brows would blur into the eyes
        p.line(s * 0.55, -0.32, s * 0.18, -0.46, _INK, 1.1)
    p.ellipse(0, 0.66, 0.3, 0.2, 200, 340, _INK, p.width(1.3))
    # A tear under the right-hand eye: a drop with a glint.
    tu, tv, tr = 0.36, 0.36, 0.1
    p.poly([(tu, tv - 2.4 * tr), (tu + tr * 0.93, tv - tr * 0.37), (tu - tr * 0.93, tv - tr * 0.37)], _TEAR)
    p.circle(tu, tv, tr, _TEAR)
    if p.r >= 18:
        p.circle(tu - 0.035, tv - 0.02, 0.028, _WHITE)


def _surprise(p: _Pen) -> None:
    _eyes(p, v=-0.14, au=0.1, av=0.16)
    for s in (-1, 1):
        p.ellipse(s * 0.33, -0.46, 0.17, 0.1, 200, 340, _INK, p.width(1.1))
    p.ellipse(0, 0.43, 0.17, 0.22, 0, 360, _MOUTH)
    p.ellipse(0, 0.43, 0.17, 0.22, 0, 360, _INK, p.width(0.5))


def _neutral(p: _Pen) -> None:
    _eyes(p)
    p.line(-0.3, 0.4, 0.3, 0.4, _INK, 1.3)


_FACES = {
    "angry": (_RED, _RED_RIM, None, _angry),
    "disgust": (_GREEN, _GREEN_RIM, None, _disgust),
    "fear": (_PALE, _PALE_RIM, _FEAR_TOP, _fear),
    "happy": (_YELLOW, _YELLOW_RIM, None, _happy),
    "sad": (_YELLOW, _YELLOW_RIM, None, _sad),
    "surprise": (_YELLOW, _YELLOW_RIM, None, _surprise),
    "neutral": (_YELLOW, _YELLOW_RIM, None, _neutral),
}


def emoji_key(emotion: str) -> str | None:
    """The :data:`~kerfer.labels.EMOJI_EMOTIONS` entry for a class name (FER+ spellings included), or None."""
    key = canonical_emotion(emotion)
    return key if key in EMOJI_EMOTIONS else None


def draw_emoji(
    frame: np.ndarray, center: tuple[float, float], radius: float, emotion: str, *, text: bool = True
) -> None:
    """Draws a face emoji for ``emotion`` centred on ``center`` (x, y) with ``radius`` px, in place.

    The seven FER2013 classes (and their FER+ spellings) each have their own face; any other
    name gets a neutral face with the name written under it (``text=False`` leaves it out).
    ``frame`` must be 3-channel BGR ``uint8``; parts beyond the frame are clipped.
    """
    _check_bgr(frame)
    r = float(radius)
    if not r >= 1:
        return
    cx, cy = float(center[0]), float(center[1])
    key = emoji_key(emotion)
    base, rim, top, features = _FACES[key or "neutral"]
    p = _Pen(frame, cx, cy, r)
    _disk(frame, cx, cy, r, base, rim, p.lw / r * 0.8, top=top, blush=key == "happy" and r >= 14)
    features(p)
    if key is None and text:
        _emoji_caption(frame, cx, cy, r, str(emotion))


def _emoji_caption(frame: np.ndarray, cx: float, cy: float, r: float, name: str) -> None:
    """``name`` under the face; above it, or over its chin, where the frame has no room."""
    scale = max(0.35, min(1.0, r / 45))
    (tw, _), _ = cv2.getTextSize(name, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    scale = max(0.35, scale * min(1.0, 1.8 * r / max(tw, 1)))  # no wider than the face
    thick = max(1, round(scale * 1.5))
    (tw, th), base = cv2.getTextSize(name, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    fh, fw = frame.shape[:2]
    x = min(max(0, round(cx - tw / 2)), max(0, fw - tw))
    y = round(cy + r + th + 4)
    if y + base > fh:
        y = round(cy - r - base - 4) if cy - r - base - 4 - th >= 0 else round(cy + 0.75 * r)
    for color, t in (((30, 30, 30), thick + 2), (_WHITE, thick)):
        cv2.putText(frame, name, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, color, t, cv2.LINE_AA)


EMOJI_CORNER = 0.1
"""With no room beside or above the face, the emoji's radius as a fraction of the box's shorter
side, drawn in the box's top right corner: over the hair line, clear of the eyes and mouth (it
used to take a fifth of the box over the face's own eye)."""


def emoji_place(frame: np.ndarray, box: Box, label_h: int) -> tuple[float, float, float]:
    """Where the emoji of a face goes: right of the box, else left, else above it, else small in
    the box's top right corner, never over the face itself."""
    x, y, w, h = box
    fh, fw = frame.shape[:2]
    r = max(10, round(0.35 * h))
    gap = max(4, r // 4)
    cy = float(min(max(y + r, r), fh - r)) if fh >= 2 * r else float(y + r)
    if x + w + gap + 2 * r <= fw:
        return x + w + gap + r, cy, r
    if x - gap - 2 * r >= 0:
        return x - gap - r, cy, r
    if y - label_h - gap - 2 * r >= 0:
        return x + w / 2, y - label_h - gap - r, r
    r = max(3.0, EMOJI_CORNER * min(w, h))  # in the corner, its shadow (1.2 r) included
    return x + w - 1.2 * r - 2, y + r + 2, r
