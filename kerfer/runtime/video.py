"""Frame sources: a camera index, a video file or stream URL, or a Raspberry Pi camera."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import cv2
import numpy as np

from kerfer.errors import SourceError
from kerfer.paths import native_path, shown


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


@dataclasses.dataclass(frozen=True)
class CameraRequest:
    """What ``--width/--height/--fps`` asked a camera for (None: its default). A camera gives what
    it can: :func:`open_source` names what it asked and what it got."""

    width: int | None = None
    height: int | None = None
    fps: float | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.width, self.height, self.fps))

    def describe(self) -> str:
        size = f"{self.width or '?'}x{self.height or '?'}" if self.width or self.height else "its size"
        return size + (f" @ {self.fps:g} fps" if self.fps else "")


def _got(width: float, height: float, fps: float) -> str:
    return f"{int(width)}x{int(height)}" + (f" @ {fps:g} fps" if fps and fps > 0 else "")


def _open_camera(index: int, request: CameraRequest):
    cap = cv2.VideoCapture(index)
    if cap.isOpened():
        for prop, value in (
            (cv2.CAP_PROP_FRAME_WIDTH, request.width),
            (cv2.CAP_PROP_FRAME_HEIGHT, request.height),
            (cv2.CAP_PROP_FPS, request.fps),
        ):
            if value is not None:
                cap.set(prop, float(value))
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the thread keeps the newest frame; the driver need not queue
    return cap


def open_source(
    camera: int | None = None,
    source: str | None = None,
    picamera: bool = False,
    *,
    request: CameraRequest = CameraRequest(),
    realtime: bool = False,
    reconnect: bool = False,
):
    """Returns ``(frames iterator, fps or None, description)``; raises SourceError with one clear line.

    Cameras, picamera2 and streams (``rtsp://``, ``http://``) are read in a capture thread that keeps
    only the newest frame (:class:`~kerfer.runtime.capture.LatestFrame`): the loop never lags behind
    them, and stale frames are dropped and counted. A file is read frame by frame, every frame
    processed, unless ``realtime``: then it is played at its own frame rate like a camera.
    ``request`` (cameras only) asks for a size and frame rate; the description says what was given.
    ``reconnect``: a camera or stream that goes is waited for instead of ending the run.
    """
    from kerfer.runtime.capture import LatestFrame

    check_source(camera, source, picamera)
    if request and source is not None:
        raise ValueError("--width/--height/--fps ask a camera for a mode: a video or stream has its own")
    if picamera:
        return _picamera_frames(request, reconnect)
    if source is not None:
        if not _is_url(source) and not os.path.exists(source):
            raise SourceError(f"{shown(source)}: no such video file")
        cap = cv2.VideoCapture(native_path(source, "video"))
        if not cap.isOpened():
            raise SourceError(f"{shown(source)}: cannot open the video (unreadable file or unsupported format)")
        fps = cap.get(cv2.CAP_PROP_FPS) or None
        if _is_url(source):
            first = [cap]

            def reopen_stream():
                return first.pop() if first else cv2.VideoCapture(source)

            return LatestFrame(reopen_stream, source, reconnect=reconnect), fps, source
        if realtime:
            if not fps or fps <= 0:
                cap.release()
                raise SourceError(f"{shown(source)}: --realtime needs the video's frame rate, and it gives none")
            return (
                LatestFrame(lambda: cap, source, pace=True, fps=fps, path=source, media_time=_position_s),
                fps,
                source,
            )
        return CaptureFrames(cap, media_time=True, path=source), fps, source
    index = 0 if camera is None else camera
    cap = _open_camera(index, request)
    if not cap.isOpened():
        raise SourceError(f"camera {index}: cannot open it (is a camera connected and free? try --camera 1)")
    name = f"camera {index}"
    got = _got(cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT), cap.get(cv2.CAP_PROP_FPS))
    described = f"{name} ({'asked ' + request.describe() + ', got ' if request else ''}{got})"
    first = [cap]

    def reopen_camera():
        return first.pop() if first else _open_camera(index, request)

    fps = cap.get(cv2.CAP_PROP_FPS) or None
    return LatestFrame(reopen_camera, name, reconnect=reconnect), fps, described


def _position_s(cap) -> float | None:
    """A file's position after the last read (seconds); None where the container does not say."""
    ms = cap.get(cv2.CAP_PROP_POS_MSEC)
    return max(0.0, ms / 1000.0) if ms == ms and ms >= 0 else None


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


class _PiCamera:
    """picamera2 seen as a ``cv2.VideoCapture``-like reader (``read``/``release``) for the capture thread."""

    def __init__(self, request: CameraRequest):
        from picamera2 import Picamera2

        self.cam = Picamera2()
        size = (request.width or 640, request.height or 480)
        controls = {"FrameDurationLimits": (int(1e6 / request.fps),) * 2} if request.fps else {}
        config = self.cam.create_video_configuration(main={"format": "RGB888", "size": size}, controls=controls)
        self.cam.configure(config)
        self.cam.start()
        got = config["main"]["size"]
        self.described = "picamera (" + ("asked " + request.describe() + ", got " if request else "")
        self.described += f"{got[0]}x{got[1]}" + (f" @ {request.fps:g} fps" if request.fps else "") + ")"

    def read(self) -> tuple[bool, np.ndarray | None]:
        return True, self.cam.capture_array()

    def release(self) -> None:
        self.cam.stop()
        self.cam.close()


def _picamera_frames(request: CameraRequest = CameraRequest(), reconnect: bool = False):
    from kerfer.runtime.capture import LatestFrame

    try:
        import picamera2  # noqa: F401
    except ImportError:
        raise SourceError(
            "--picamera needs the picamera2 package (on Raspberry Pi OS: sudo apt install python3-picamera2)"
        ) from None
    first = [_PiCamera(request)]
    described = first[0].described

    def reopen():
        return first.pop() if first else _PiCamera(request)

    return LatestFrame(reopen, "picamera", reconnect=reconnect), request.fps, described
