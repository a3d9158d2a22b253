"""Frame sources: a camera index, a video file or stream URL, or a Raspberry Pi camera."""

from __future__ import annotations

import os
from collections.abc import Iterator

import cv2
import numpy as np


class SourceError(RuntimeError):
    """A camera or stream that cannot be opened."""


def _is_url(s: str) -> bool:
    return "://" in s


def open_source(camera: int | None = None, source: str | None = None, picamera: bool = False):
    """Returns ``(frames iterator, fps or None, description)``; raises SourceError with one clear line."""
    if picamera:
        return _picamera_frames()
    if source is not None:
        if not _is_url(source) and not os.path.exists(source):
            raise SourceError(f"{source}: no such video file")
        cap = cv2.VideoCapture(source)
        if not cap.isOpened():
            raise SourceError(f"{source}: cannot open the video (unreadable file or unsupported format)")
        return CaptureFrames(cap, media_time=True), cap.get(cv2.CAP_PROP_FPS) or None, source
    index = 0 if camera is None else camera
    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise SourceError(f"camera {index}: cannot open it (is a camera connected and free? try --camera 1)")
    return CaptureFrames(cap), None, f"camera {index}"


class CaptureFrames:
    """The frames of a ``cv2.VideoCapture``; ``None`` for a frame that failed to decode mid-stream
    (the caller counts it). With ``media_time``, ``time_s`` is the last frame's position in the
    video (seconds), which the results log records: not the time it took to process."""

    def __init__(self, cap, media_time: bool = False):
        self.cap = cap
        self.media_time = media_time
        self.time_s: float | None = None

    def __iter__(self) -> Iterator[np.ndarray | None]:
        cap, failures = self.cap, 0
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    # grab() distinguishes a broken frame (stream continues) from the end of the stream.
                    if failures < 5 and cap.get(cv2.CAP_PROP_POS_FRAMES) < cap.get(cv2.CAP_PROP_FRAME_COUNT) - 1:
                        failures += 1
                        yield None
                        continue
                    return
                failures = 0
                if self.media_time:
                    self.time_s = max(0.0, cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
                yield frame
        finally:
            cap.release()


def _picamera_frames():
    try:
        from picamera2 import Picamera2
    except ImportError:
        raise SourceError(
            "--picamera needs the picamera2 package (on Raspberry Pi OS: sudo apt install python3-picamera2)"
        ) from None
    cam = Picamera2()
    cam.configure(cam.create_video_configuration(main={"format": "RGB888", "size": (640, 480)}))
    cam.start()

    def frames():
        try:
            while True:
                yield cam.capture_array()
        finally:
            cam.stop()

    return frames(), None, "picamera"
