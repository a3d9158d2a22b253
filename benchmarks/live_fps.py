"""Live pipeline speed, headless, on real clips: kerfer vs the seed projects' loop, in one run.

    python benchmarks/live_fps.py [--model kerfer/assets/kerfer_fer2013_int8.tflite] [--keras best.keras]

Baseline (what the seed projects do): Haar ``detectMultiScale(gray, 1.3, 5)`` on the full
frame, then ``model.predict`` on each face with a Keras model (``--keras``, default an
untrained `cnn`: its weights do not change the speed). kerfer: the same clip through
``kerfer.runtime`` with the int8 TFLite model, default detector (BlazeFace), no TTA (``--tta``
adds it), no window, no drawing, detecting faces every frame (k=1) and every 2nd frame with boxes carried (k=2,
the `kerfer live` default).
Frames are decoded up front so both loops time only detection + classification.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CLIPS = ("short_hamilton_clip.mp4", "test.mp4")


def read_frames(path: str):
    import cv2

    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    return frames


def baseline(frames, model) -> tuple[float, int]:
    import cv2
    import numpy as np

    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    faces = 0
    t = time.perf_counter()
    for frame in frames:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        for x, y, w, h in cascade.detectMultiScale(gray, 1.3, 5):
            roi = cv2.resize(gray[y : y + h, x : x + w], (48, 48))
            model.predict(roi[None, :, :, None].astype(np.float32), verbose=0)
            faces += 1
    return len(frames) / (time.perf_counter() - t), faces


def kerfer_loop(frames, model_path: str, detect_every: int, tta: bool = False) -> tuple[float, int]:
    from kerfer.runtime.classifier import Classifier
    from kerfer.runtime.live import run_live
    from kerfer.runtime.pipeline import FacePipeline

    pipe = FacePipeline(Classifier(model_path, num_threads=1), tta=tta)
    s = run_live(iter(frames), pipe, show=False, draw=False, detect_every=detect_every)
    return s.fps, s.faces


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--media", default="../shared/media")
    ap.add_argument("--model", default=None, help="kerfer model (default: the shipped int8 TFLite)")
    ap.add_argument("--keras", default=None, help="Keras model for the baseline (default: untrained cnn)")
    ap.add_argument("--detect-every", default="1,2", help="k values to compare (detect every k-th frame)")
    ap.add_argument("--tta", action="store_true", help="kerfer with flip TTA (off by default, as in live)")
    args = ap.parse_args()
    if not os.path.isdir(args.media):
        print(f"skip: {args.media} absent")
        return 0
    from kerfer.modelio import default_model_path

    model_path = args.model or str(default_model_path())
    import keras

    from kerfer.models import build_model

    keras_model = keras.saving.load_model(args.keras) if args.keras else build_model("cnn")
    ks = [int(k) for k in args.detect_every.split(",")]
    print(
        f"kerfer model: {model_path} (flip TTA {'on' if args.tta else 'off'}); baseline model: {args.keras or 'untrained cnn'}"
    )
    head = f"{'clip':24s} {'frames':>6s} {'base fps':>8s} {'faces':>6s}"
    for k in ks:
        head += f" | {'k=' + str(k) + ' fps':>9s} {'faces':>6s} {'ratio':>6s}"
    print(head)
    for clip in CLIPS:
        frames = read_frames(os.path.join(args.media, clip))
        kerfer_loop(frames[:10], model_path, 1)  # warm-up
        b_fps, b_faces = baseline(frames, keras_model)
        line = f"{clip:24s} {len(frames):6d} {b_fps:8.1f} {b_faces:6d}"
        for k in ks:
            k_fps, k_faces = kerfer_loop(frames, model_path, k, args.tta)
            line += f" | {k_fps:9.1f} {k_faces:6d} {k_fps / b_fps:5.1f}x"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
