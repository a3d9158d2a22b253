"""Defaults and limits of the runtime options (and of the evaluate/export/pack ones), in one place: the CLI (which must stay light to
import, for ``--help``), the detectors, the pipeline, ``crop`` and image-folder training all read
them from here, so a default is changed once. No imports (no OpenCV, no NumPy)."""

from __future__ import annotations

# --------------------------------------------------------------------------- finding faces

DETECTORS: tuple[str, ...] = ("blazeface", "haar", "yunet")
"""The face detectors ``--detector`` names; the first is the default."""

DETECTOR = DETECTORS[0]

MARGIN = 0.1
"""Padding around each face box before cropping, a fraction of its side each way."""

MIN_FACE = 20
"""Smallest face kept, in pixels (Haar: of the downscaled detection image; ``--min-face``)."""

HAAR_SCALE_FACTOR = 1.2
"""Haar cascade: the image pyramid's step (> 1.0)."""

HAAR_MIN_NEIGHBORS = 4
"""Haar cascade: neighbouring detections a face needs; higher = fewer false faces."""

DETECT_SIZE = 320
"""Haar (and ``--detect-size`` for YuNet): frames are downscaled to this longest side before detection."""

YUNET_DETECT_SIZE = 640
"""``YuNetDetector``'s own longest side when built from Python (the CLI passes ``--detect-size``)."""

BLAZEFACE_MIN_SCORE = 0.6
"""BlazeFace: face probability to keep a detection. On the shared photos, upright and turned by
up to 30 degrees, every true face scores 0.72 or more and the one false face (``no-faces.jpg``
turned by -30 degrees) 0.54 (``benchmarks/detectors.py``); MediaPipe's own default, 0.5, keeps it."""

YUNET_MIN_SCORE = 0.7
"""YuNet: face probability to keep a detection."""

BLAZEFACE_SIZE = 192
"""BlazeFace full-range's input side: every frame is resized to it, whatever ``--detect-size`` says."""

ALIGN_MIN_DEGREES = 10.0
"""Faces tilted less than this are cropped as they are: FER2013's own faces lean a little and
the model learnt them so. Aligned against not aligned with this rule: ``benchmarks/detectors.py
--csv`` (figures in the README)."""

MIN_DETECT_SIZE = 32
"""Smallest longest side a frame is downscaled to before detection (0 = full size): below it no
face is big enough to detect."""

PREDICT_TTA = True
"""Flip TTA on by default in ``predict``: +1.2 points on PublicTest for 0.7 % more time per photo
(reading and detecting dominate). Off in ``live``: it costs 18-37 % of the frame rate there, over
the 10 % kerfer allows a default (``benchmarks/tta_cost.py``; figures in docs/model_card.md)."""

LIVE_TTA = False

MAX_MARGIN = 2.0
"""Largest crop padding (a fraction of the box side each way); beyond it the face is a speck in the crop."""

# --------------------------------------------------------------------------- drawing, files, crops

OVERLAY_STYLES: tuple[str, ...] = ("bars", "label", "emoji")
"""How a face is drawn: box + label + probability bars (the default), box + label, box + label + emoji."""

OVERLAY = OVERLAY_STYLES[0]

IMAGE_EXTENSIONS: tuple[str, ...] = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
"""The image types ``predict``, ``crop`` and ``train --data`` read (OpenCV decodes them all)."""

ROIS: tuple[str, ...] = ("face", "mouth", "eyes")
"""``crop``'s regions of interest; the first is the default."""

ON_MULTIPLE: tuple[str, ...] = ("skip", "largest")
"""``crop``, a photo with several faces: set aside (the default) or crop its largest face."""

CROP_SIZE = 48
"""``crop``'s output side (px): FER2013's."""

MIN_CROP_SIZE, MAX_CROP_SIZE = 8, 4096
"""The crop sides ``crop`` accepts."""

# --------------------------------------------------------------------------- evaluate, export, pack

EVAL_SPLIT = "PublicTest"
"""The split ``evaluate`` scores a model on: FER2013's public test set."""

TFLITE_KINDS: tuple[str, ...] = ("float32", "float16", "dynamic", "int8")
"""The TFLite variants ``export`` writes."""

EXPORT_TFLITE: tuple[str, ...] = ("int8",)
"""What ``export`` writes when no ``--tflite`` is given: the variant kerfer ships."""

CALIBRATION_SAMPLES = 300
"""int8 calibration images, stratified by class, from the training split."""

STORE_DTYPES: tuple[str, ...] = ("float16", "float32")
"""How ``pack`` stores weights and optimizer state; the first (half the size) is the default."""

# --------------------------------------------------------------------------- live and report

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
