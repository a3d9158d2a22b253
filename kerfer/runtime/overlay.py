"""Drawing: face boxes with their label, a probability bar per class, and the FPS."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from kerfer.runtime.detect import Box

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


def draw_face(frame: np.ndarray, box: Box, probs: np.ndarray, class_names: Sequence[str], bars: bool = True) -> None:
    x, y, w, h = box
    k = int(np.argmax(probs))
    color = _COLORS[k % len(_COLORS)]
    cv2.rectangle(frame, (x, y), (x + w, y + h), color, 2)
    label = f"{class_names[k]} {probs[k]:.0%}"
    (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 2)
    cv2.rectangle(frame, (x, max(0, y - th - 8)), (x + tw + 6, y), color, -1)
    cv2.putText(frame, label, (x + 3, max(th, y - 5)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
    if not bars:
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
