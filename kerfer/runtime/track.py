"""Per-face smoothing across frames: boxes matched by overlap, probabilities averaged.

Each face keeps its own history, keyed by a track id; a track unseen for ``max_missed``
frames is dropped, so a new face never inherits an old face's label.
"""

from __future__ import annotations

import dataclasses
from collections import deque

import numpy as np

from kerfer.runtime.detect import Box


def iou(a: Box, b: Box) -> float:
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    ix = max(0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    iy = max(0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


@dataclasses.dataclass
class Track:
    track_id: int
    box: Box
    history: deque
    missed: int = 0

    def smoothed(self) -> np.ndarray:
        return np.mean(np.stack(self.history), axis=0)


class Smoother:
    """Matches each frame's boxes to tracks (greedy by IoU) and returns smoothed probabilities."""

    def __init__(self, window: int = 5, min_iou: float = 0.3, max_missed: int = 10):
        self.window = max(1, window)
        self.min_iou = min_iou
        self.max_missed = max_missed
        self.tracks: dict[int, Track] = {}
        self._next_id = 0

    def update(self, boxes: list[Box], probs: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Returns ``(track_id, smoothed probabilities)`` for each box, in the boxes' order."""
        pairs = sorted(
            ((iou(b, t.box), i, tid) for i, b in enumerate(boxes) for tid, t in self.tracks.items()),
            reverse=True,
        )
        assigned: dict[int, int] = {}
        used: set[int] = set()
        for score, i, tid in pairs:
            if score < self.min_iou:
                break
            if i in assigned or tid in used:
                continue
            assigned[i] = tid
            used.add(tid)
        out = []
        for i, box in enumerate(boxes):
            tid = assigned.get(i)
            if tid is None:
                tid = self._next_id
                self._next_id += 1
                self.tracks[tid] = Track(tid, box, deque(maxlen=self.window))
            track = self.tracks[tid]
            track.box, track.missed = box, 0
            track.history.append(np.asarray(probs[i], np.float32))
            out.append((tid, track.smoothed()))
        seen = {tid for tid, _ in out}
        for tid in list(self.tracks):
            if tid not in seen:
                self.tracks[tid].missed += 1
                if self.tracks[tid].missed > self.max_missed:
                    del self.tracks[tid]
        return out
