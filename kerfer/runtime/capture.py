"""A capture thread that keeps only the newest frame, so what is processed never lags behind the camera.

``cv2.VideoCapture.read()`` in the processing loop returns the oldest frame the driver buffered:
when processing is slower than the camera, the picture falls ever further behind the person in
front of it. Here a thread reads the source as fast as it gives frames and keeps one slot; a
frame nobody took before the next arrived is dropped and counted. Each frame carries its capture
time, so the loop can report the end-to-end latency (capture → result).

The same thread plays a video file at its own frame rate (``pace``): the file behaves like a
camera, so drops and latency can be measured without one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np

from kerfer.options import CAMERA_RETRIES, RECONNECT_S, STALL_S


class Reader(Protocol):
    """What the thread reads: ``cv2.VideoCapture`` has this shape; picamera2 is adapted to it."""

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def release(self) -> None: ...


class LatestFrame:
    """Iterates over the newest frames of ``open_reader()``'s source, read in a thread.

    ``name``: how messages name the source (``camera 0``). ``pace``: a file played at ``fps``
    (its end is the end of the run, not a lost camera). ``reconnect``: a source that stops giving
    frames is reopened every ``RECONNECT_S`` instead of ending the run. ``stall_s``: no frame for
    this long (a read that blocks: an unplugged USB camera, a dead stream) also means it has gone.

    After each frame: ``capture_t`` (``time.perf_counter()`` when the frame arrived), ``time_s``
    (its media time: the file's position, or seconds since the first frame), ``dropped_before``
    (frames dropped since the previous one). Counts: ``captured`` (arrived), ``delivered``,
    ``dropped`` (arrived and never processed: ``captured == delivered + dropped`` once it ends),
    ``reconnects``. ``ended``: why it stopped early, a sentence, or None.
    """

    def __init__(
        self,
        open_reader: Callable[[], Reader],
        name: str,
        *,
        pace: bool = False,
        fps: float | None = None,
        reconnect: bool = False,
        stall_s: float = STALL_S,
        retries: int = CAMERA_RETRIES,
        reconnect_s: float = RECONNECT_S,
        path: Any = None,
        media_time: Callable[[Reader], float | None] | None = None,
    ):
        if pace and not fps:
            raise ValueError(f"{name}: cannot play it in real time: its frame rate is unknown")
        self.open_reader, self.name, self.pace, self.fps = open_reader, name, pace, fps
        self.reconnect, self.stall_s, self.retries, self.reconnect_s = reconnect, stall_s, retries, reconnect_s
        self.path = path
        self._media_time = media_time
        self._reader: Reader | None = open_reader()
        self._cond = threading.Condition()
        self._slot: tuple[np.ndarray, float, float] | None = None
        self._done = False  # the thread has ended
        self._stop = threading.Event()
        self.captured = self.delivered = self.dropped = self.reconnects = 0
        self.capture_t: float | None = None
        self.time_s: float | None = None
        self.dropped_before = 0
        self._dropped_seen = 0
        self.ended: str | None = None
        self.lost = 0
        self._start: float | None = None

    # ------------------------------------------------------------------ the capture thread
    def _publish(self, frame: np.ndarray, media: float) -> None:
        now = time.perf_counter()
        with self._cond:
            if self._slot is not None:
                self.dropped += 1  # nobody took the previous one: it is stale now
            self._slot = (frame, now, media)
            self.captured += 1
            self._cond.notify()

    def _finish(self, why: str | None) -> None:
        with self._cond:
            if why and self.ended is None:
                self.ended = why
            self._done = True
            self._cond.notify()

    def _reopen(self) -> bool:
        """Waits for the source to come back; False when asked to stop first."""
        while not self._stop.wait(self.reconnect_s):
            try:
                reader = self.open_reader()
            except Exception:  # noqa: BLE001 — still gone; try again
                continue
            if getattr(reader, "isOpened", lambda: True)():
                self._reader = reader
                self.reconnects += 1
                return True
            reader.release()
        return False

    def _run(self) -> None:
        start = time.perf_counter()
        n, failures = 0, 0
        try:
            while not self._stop.is_set():
                reader = self._reader
                ok, frame = reader.read() if reader is not None else (False, None)
                if self._stop.is_set():
                    break  # the consumer has gone: nothing published after it counted the last slot
                if not ok or frame is None:
                    if self.pace:
                        break  # the end of the file
                    failures += 1
                    if failures < self.retries:
                        continue
                    gone = f"{self.name}: stopped giving frames after {time.perf_counter() - start:.1f} s (unplugged?)"
                    if not self.reconnect:
                        self._finish(gone)
                        return
                    if reader is not None:
                        reader.release()
                    self._reader = None
                    if not self._reopen():
                        return
                    failures = 0
                    continue
                failures = 0
                media = self._media_time(reader) if self._media_time else None
                if self.pace:
                    media = n / self.fps if media is None else media
                    delay = start + media - time.perf_counter()
                    if delay > 0 and self._stop.wait(delay):
                        break
                elif media is None:
                    media = time.perf_counter() - start
                n += 1
                self._publish(frame, float(media))
        except Exception as e:  # noqa: BLE001 — a driver error ends the run with one line, not a traceback
            self._finish(f"{self.name}: {type(e).__name__}: {e}")
            return
        finally:
            if self._reader is not None:
                self._reader.release()
                self._reader = None
        self._finish(None)

    # ------------------------------------------------------------------ the consumer
    def __iter__(self) -> Iterator[np.ndarray]:
        thread = threading.Thread(target=self._run, name=f"kerfer capture: {self.name}", daemon=True)
        thread.start()
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._slot is not None or self._done, timeout=self.stall_s)
                    item, self._slot = self._slot, None
                    if item is None:
                        if self._done:
                            return
                        if self.reconnect:
                            continue  # the thread is waiting for it to come back
                        self.ended = f"{self.name}: no frame for {self.stall_s:g} s (unplugged, or the stream stopped?)"
                        return
                    self.delivered += 1
                    self.dropped_before, self._dropped_seen = self.dropped - self._dropped_seen, self.dropped
                frame, self.capture_t, self.time_s = item
                yield frame
        finally:
            self._stop.set()
            thread.join(timeout=1.0)  # a read blocked in the driver must not hang the exit (daemon thread)
            with self._cond:
                if self._slot is not None:  # arrived, never processed
                    self._slot = None
                    self.dropped += 1
