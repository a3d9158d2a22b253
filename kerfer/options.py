"""Defaults and limits of the runtime options, in one place: the CLI (which must stay light to
import, for ``--help``) and the Python API both read them from here. No imports."""

from __future__ import annotations

MIN_DETECT_SIZE = 32
"""Smallest longest side a frame is downscaled to before detection (0 = full size): below it no
face is big enough to detect."""

MAX_MARGIN = 2.0
"""Largest crop padding (a fraction of the box side each way); beyond it the face is a speck in the crop."""

SMOOTH = 5
"""``live``: each face's probabilities are averaged over its last this many frames (1 = no smoothing)."""

DETECT_EVERY = 2
"""``live``: faces are detected every this many frames, boxes carried in between (1 = every frame)."""

MIN_FRAMES = 1
"""The least ``--smooth``, ``--detect-every`` and ``--max-frames`` accept: 0 or less means nothing."""

STALL_S = 5.0
"""``live``: a camera or stream that gives no frame for this many seconds has gone (unplugged,
the network dropped): the run ends with one line and its summary, or waits for it with ``--reconnect``."""

RECONNECT_S = 1.0
"""``live --reconnect``: seconds between attempts to reopen a camera or stream that has gone."""

CAMERA_RETRIES = 5
"""Failed camera reads in a row before the camera is taken to have gone (one can fail in a busy USB bus)."""

REPORT_MIN_TRACK_S = 0.5
"""``report``: tracks seen for less than this (seconds of media time) are flicker: left out, and counted."""

REPORT_SMOOTH_S = 0.5
"""``report``: the timeline's probabilities are averaged over a window this long (seconds)."""
