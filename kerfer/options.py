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
