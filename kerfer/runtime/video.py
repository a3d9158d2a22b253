"""Frame sources: a camera index, a video file or stream URL, or a Raspberry Pi camera."""

from __future__ import annotations

import os
from collections.abc import Iterator

import cv2
import numpy as np

from kerfer.paths import native_path, shown


class SourceError(RuntimeError):
    """A camera or stream that cannot be opened."""


def _is_url(s: str) -> bool:
    return "://" in s


SOURCE_NAMES = {"camera": "camera", "source": "source", "picamera": "picamera"}
"""How :func:`check_source` names the three sources (the CLI passes ``--camera`` ...)."""


def check_source(
    camera: int | None = None,
    source: str | None = None,
    picamera: bool = False,
    names: dict[str, str] = SOURCE_NAMES,
) -> None:
    """Refuses a frame source that is ambiguous or impossible: two sources at once (``--camera 3``
    beside ``--source`` was silently ignored) or a negative camera index. ``ValueError``, one line."""
    given = [
        names[n]
        for n, on in (("camera", camera is not None), ("source", source is not None), ("picamera", picamera))
        if on
    ]
    if len(given) > 1:
        raise ValueError(f"{' and '.join(given)} are alternatives: give one frame source")
    if camera is not None and camera < 0:
        raise ValueError(f"{names['camera']} {camera}: a camera index is 0 or more")


def open_source(camera: int | None = None, source: str | None = None, picamera: bool = False):
    """Returns ``(frames iterator, fps or None, description)``; raises SourceError with one clear line."""
    check_source(camera, source, picamera)
    if picamera:
        return _picamera_frames()
    if source is not None:
        if not _is_url(source) and not os.path.exists(source):
            raise SourceError(f"{shown(source)}: no such video file")
        cap = cv2.VideoCapture(native_path(source, "video"))
        if not cap.isOpened():
            raise SourceError(f"{shown(source)}: cannot open the video (unreadable file or unsupported format)")
        path = None if _is_url(source) else source
        return CaptureFrames(cap, media_time=True, path=path), cap.get(cv2.CAP_PROP_FPS) or None, source
    index = 0 if camera is None else camera
    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise SourceError(f"camera {index}: cannot open it (is a camera connected and free? try --camera 1)")
    return CaptureFrames(cap), None, f"camera {index}"


class CaptureFrames:
    """The frames of a ``cv2.VideoCapture``; ``None`` for a frame that failed to decode mid-stream
    (the caller counts it). With ``media_time``, ``time_s`` is the last frame's position in the
    video (seconds), which the results log records: not the time it took to process.

    ``path`` is the video file (the input no output may overwrite). When the stream has ended,
    ``lost`` is how many frames the container promised beyond those read or yielded as ``None``
    (a file cut short: reading stops after a few failures, the frame count still holds them)."""

    RETRIES = 5
    """Failed reads in a row before the stream is taken to have ended."""

    def __init__(self, cap, media_time: bool = False, path: str | os.PathLike | None = None):
        self.cap = cap
        self.media_time = media_time
        self.path = path
        self.time_s: float | None = None
        self.lost = 0

    def __iter__(self) -> Iterator[np.ndarray | None]:
        cap, failures, seen = self.cap, 0, 0
        promised = cap.get(cv2.CAP_PROP_FRAME_COUNT)  # 0 or -1 where the container does not say
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    # grab() distinguishes a broken frame (stream continues) from the end of the stream.
                    if failures < self.RETRIES and cap.get(cv2.CAP_PROP_POS_FRAMES) < promised - 1:
                        failures += 1
                        seen += 1
                        yield None
                        continue
                    self.lost = max(0, int(promised) - seen) if promised > 0 else 0
                    return
                failures = 0
                seen += 1
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
