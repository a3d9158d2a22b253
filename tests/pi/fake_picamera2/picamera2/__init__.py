"""A stand-in for Raspberry Pi OS's ``picamera2`` that serves the frames of a video file.

Only the interface kerfer uses, with the real one's conventions: a configuration is a dict made by
``create_video_configuration(main={"size": (w, h), "format": ...})``; ``capture_array()`` returns the
"main" stream at that size, "RGB888" as three channels in B, G, R byte order (libcamera's naming;
what OpenCV expects) and "XRGB8888" as four (B, G, R, 255); the camera must be configured and
started before a capture, which blocks until the next frame is due, as a sensor delivers them
(``controls={"FrameDurationLimits": (us, us)}`` sets the period; 30 fps otherwise). The video
(``FAKE_PICAMERA2_VIDEO``) starts over at its end, since a camera never runs out. Every call is appended to ``FAKE_PICAMERA2_LOG`` when set, so a test can
check what kerfer asked for.

Imports ``numexpr`` as the real package imports its compiled helpers (simplejpeg, pidng): Raspberry
Pi OS builds them against its own numpy 1.24, so they fail to import when a venv's numpy 2.x shadows
it. Installed into the emulated Pi's /usr/lib/python3/dist-packages by tests/pi/emulate.sh.
"""

from __future__ import annotations

import json
import os
import time

import cv2
import numpy as np

try:
    import numexpr  # noqa: F401 - the compiled, system-numpy dependency; see the module docstring
except ModuleNotFoundError:  # a host's test venv, which has none; the emulated Pi always has it
    pass

FORMATS = {"RGB888": 3, "BGR888": 3, "XRGB8888": 4, "XBGR8888": 4}


def _log(event: str, **data) -> None:
    path = os.environ.get("FAKE_PICAMERA2_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"event": event, **data}) + "\n")


def _crop_to_aspect(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """The centre of ``frame`` at the asked aspect ratio: a sensor's field of view, never a stretch."""
    h, w = frame.shape[:2]
    if w * height > h * width:
        keep = round(h * width / height)
        return frame[:, (w - keep) // 2 : (w - keep) // 2 + keep]
    keep = round(w * height / width)
    return frame[(h - keep) // 2 : (h - keep) // 2 + keep]


class Picamera2:
    def __init__(self, camera_num: int = 0) -> None:
        path = os.environ.get("FAKE_PICAMERA2_VIDEO", "")
        self._cap = cv2.VideoCapture(path)
        if not self._cap.isOpened():
            raise RuntimeError(f"fake picamera2: cannot open FAKE_PICAMERA2_VIDEO={path!r}")
        self._config: dict | None = None
        self._started = False
        self._period = 1 / 30
        self._next = 0.0
        self._served = 0
        _log("init", camera_num=camera_num)

    def create_video_configuration(self, main: dict | None = None, **kwargs) -> dict:
        main = {"size": (1280, 720), "format": "XBGR8888", **(main or {})}
        if main["format"] not in FORMATS:
            raise ValueError(f"fake picamera2: unsupported format {main['format']}")
        return {"use_case": "video", "main": main, **kwargs}

    def configure(self, config: dict) -> None:
        self._config = config
        limits = config.get("controls", {}).get("FrameDurationLimits")
        if limits:
            self._period = limits[0] / 1e6
        _log(
            "configure",
            main={"size": list(config["main"]["size"]), "format": config["main"]["format"]},
            period_s=self._period,
        )

    def start(self) -> None:
        if self._config is None:
            raise RuntimeError("fake picamera2: start() before configure()")
        self._started = True
        self._next = time.monotonic()
        _log("start")

    def capture_array(self, name: str = "main") -> np.ndarray:
        if not self._started:
            raise RuntimeError("fake picamera2: capture_array() before start()")
        wait = self._next - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._next = max(self._next + self._period, time.monotonic() - self._period)
        ok, frame = self._cap.read()
        if not ok:  # a camera never ends: start the clip over
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
        main = self._config["main"]
        frame = cv2.resize(_crop_to_aspect(frame, *main["size"]), tuple(main["size"]), interpolation=cv2.INTER_AREA)
        if FORMATS[main["format"]] == 4:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)
        if main["format"] in ("BGR888", "XBGR8888"):  # libcamera's BGR888 is R, G, B in memory
            frame = np.ascontiguousarray(frame[..., [2, 1, 0, *([3] * (frame.shape[2] == 4))]])
        self._served += 1
        return frame

    def stop(self) -> None:
        self._started = False
        _log("stop", served=self._served)

    def close(self) -> None:
        self._cap.release()
        _log("close")
