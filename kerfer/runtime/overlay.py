"""Drawing: face boxes with their label, a probability bar per class or an emoji
(:mod:`kerfer.runtime.emoji`), and the FPS.

Everything is drawn with OpenCV primitives on 3-channel BGR ``uint8`` frames (no images, no
fonts beyond OpenCV's Hershey text). Callers convert a grayscale frame first
(``cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)``). Drawing that reaches past the frame is clipped.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from kerfer.options import OVERLAY, OVERLAY_STYLES
from kerfer.runtime.detect import Box
from kerfer.runtime.emoji import draw_emoji, emoji_place

_COLORS = [
    (60, 60, 230),
    (40, 160, 40),
    (160, 60, 160),
    (0, 200, 255),
    (200, 120, 0),
    (230, 230, 0),
    (180, 180, 180),
    (120, 80, 200),
]

EMOTION_COLORS: tuple[tuple[int, int, int], ...] = tuple(_COLORS)
"""Each class's colour (BGR, by class index): the overlay's bars and the report's timeline use the same."""


def check_style(style: str) -> None:
    """Raises ``ValueError`` for a style outside :data:`OVERLAY_STYLES`, naming the allowed ones."""
    if style not in OVERLAY_STYLES:
        raise ValueError(f"unknown overlay style {style!r}; choose one of {', '.join(OVERLAY_STYLES)}")


def draw_face(
    frame: np.ndarray,
    box: Box,
    probs: np.ndarray,
    class_names: Sequence[str],
    style: str = OVERLAY,
) -> None:
    """Draws a face's box and its top label, plus per ``style`` (one of ``OVERLAY_STYLES``):
    ``"bars"`` a probability bar per class, ``"label"`` nothing more, ``"emoji"`` the top
    class's emoji beside the face. ``frame``: 3-channel BGR, drawn on in place."""
    check_style(style)
    x, y, w, h = box
    k = int(np.argmax(probs))
    color = _COLORS[k % len(_COLORS)]
    cv2.rectangle(frame, (x, y), (x + w, y + h), color, 2)
    label = f"{class_names[k]} {probs[k]:.0%}"
    (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 2)
    cv2.rectangle(frame, (x, max(0, y - th - 8)), (x + tw + 6, y), color, -1)
    cv2.putText(frame, label, (x + 3, max(th, y - 5)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
    if style == "emoji":
        cx, cy, r = emoji_place(frame, box, th + 8)
        draw_emoji(frame, (cx, cy), r, class_names[k], text=False)
        return
    if style == "label":
        return
    bar_w = max(60, w // 2)
    bx = x + w + 6 if x + w + 6 + bar_w + 70 < frame.shape[1] else max(0, x - bar_w - 76)
    for i, (name, p) in enumerate(zip(class_names, probs)):
        by = y + i * 14
        if by + 12 > frame.shape[0]:
            break
        cv2.rectangle(frame, (bx, by), (bx + bar_w, by + 10), (50, 50, 50), 1)
        cv2.rectangle(frame, (bx, by), (bx + int(bar_w * float(p)), by + 10), _COLORS[i % len(_COLORS)], -1)
        cv2.putText(
            frame, name[:8], (bx + bar_w + 4, by + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA
        )


def draw_fps(frame: np.ndarray, fps: float) -> None:
    cv2.putText(frame, f"{fps:5.1f} fps", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 0), 2, cv2.LINE_AA)
