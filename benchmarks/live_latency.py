"""End-to-end latency (capture → result) and drop rate of ``kerfer live`` on a camera that is
faster than the pipeline, against the seed projects' loop, on the shared clips played in real time.

    python benchmarks/live_latency.py [--media ../shared/media] [--slow 3]

Each clip is decoded up front, then "filmed": frame k arrives at t0 + k / fps, as from a camera.
- kerfer: ``live``'s defaults (BlazeFace, detection every 2nd frame, the shipped int8 TFLite
  model), the frames given by the capture thread (``kerfer.runtime.capture.LatestFrame``, as
  ``--realtime``): only the newest frame is processed, the stale ones dropped.
- seed loop: read → Haar ``detectMultiScale(gray, 1.3, 5)`` → Keras ``predict`` per face, in one
  thread, reading frames in order from the driver's queue (as ``cv2.VideoCapture.read()`` of a
  stream or a file does: nothing is dropped), so a frame waits for every frame before it.
- ``xN`` rows: the classifier made N times slower (a sleep of N-1 times its own time after each
  call), what a Raspberry Pi-class machine sees.

Columns: median and p95 latency (ms), drop rate, growth (median latency of the last tenth of the
clip minus the first tenth: 0 means it does not fall behind), the pipeline's own time per
processed frame, and whether median ≤ one frame period + own time (the target of issue 27).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

from live_fps import CLIPS, read_frames  # noqa: E402


class _Film:
    """The decoded frames as a ``cv2.VideoCapture``-shaped reader, for ``LatestFrame(pace=True)``."""

    def __init__(self, frames):
        self.frames, self.i = frames, 0

    def read(self):
        if self.i >= len(self.frames):
            return False, None
        self.i += 1
        return True, self.frames[self.i - 1]

    def release(self):
        pass


def kerfer_run(frames, fps: float, slow: float) -> dict:
    from kerfer.runtime.capture import LatestFrame
    from kerfer.runtime.live import run_live
    from kerfer.runtime.pipeline import FacePipeline

    own: list[float] = []

    class Timed(FacePipeline):
        def detect(self, frame):
            self._t = time.perf_counter()
            return super().detect(frame)

        def classify(self, frame, faces):
            if not hasattr(self, "_t"):  # a frame with boxes carried: no detect call
                self._t = time.perf_counter()
            t = time.perf_counter()
            out = super().classify(frame, faces)
            if slow > 1:
                time.sleep((slow - 1) * (time.perf_counter() - t))
            own.append(time.perf_counter() - self._t)
            del self._t
            return out

    pipe = Timed()
    run_live(iter(frames[:10]), pipe, show=False, draw=False)  # warm-up
    own.clear()
    film = _Film(frames)
    src = LatestFrame(lambda: film, "clip", pace=True, fps=fps)
    s = run_live(src, pipe, show=False, draw=False)
    return _row(np.array(s.latencies_ms), s.dropped / s.captured, float(np.mean(own)) * 1000, fps, len(frames))


def seed_run(frames, fps: float, slow: float, model) -> dict:
    import cv2

    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    lat, own = [], []
    t0 = time.perf_counter()
    for k, frame in enumerate(frames):
        arrival = t0 + k / fps
        wait = arrival - time.perf_counter()
        if wait > 0:
            time.sleep(wait)  # the loop caught up with the camera: it waits for the next frame
        t = time.perf_counter()
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        for x, y, w, h in cascade.detectMultiScale(gray, 1.3, 5):
            roi = cv2.resize(gray[y : y + h, x : x + w], (48, 48))
            p = time.perf_counter()
            model.predict(roi[None, :, :, None].astype(np.float32), verbose=0)
            if slow > 1:
                time.sleep((slow - 1) * (time.perf_counter() - p))
        done = time.perf_counter()
        own.append(done - t)
        lat.append((done - arrival) * 1000)
    return _row(np.array(lat), 0.0, float(np.mean(own)) * 1000, fps, len(frames))


def _row(lat: np.ndarray, drop: float, own_ms: float, fps: float, n: int) -> dict:
    tenth = max(1, len(lat) // 10)
    period = 1000 / fps
    median = float(np.median(lat))
    return {
        "median": median,
        "p95": float(np.percentile(lat, 95)),
        "drop": drop,
        "growth": float(np.median(lat[-tenth:]) - np.median(lat[:tenth])),
        "own": own_ms,
        "target": median <= period + own_ms,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--media", default="../shared/media")
    ap.add_argument("--slow", type=float, default=3.0, help="the slower classifier's factor (default 3)")
    ap.add_argument("--keras", default=None, help="Keras model for the seed loop (default: untrained cnn)")
    args = ap.parse_args()
    if not os.path.isdir(args.media):
        print(f"skip: {args.media} absent")
        return 0
    import cv2
    import keras

    from kerfer.models import build_model

    model = keras.saving.load_model(args.keras) if args.keras else build_model("cnn")
    model.predict(np.zeros((1, 48, 48, 1), np.float32), verbose=0)
    print("| clip | pipeline | classifier | median ms | p95 ms | dropped | growth ms | own ms/frame | target met |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for clip in CLIPS:
        path = os.path.join(args.media, clip)
        fps = cv2.VideoCapture(path).get(cv2.CAP_PROP_FPS)
        frames = read_frames(path)
        name = f"{clip} ({len(frames)} frames, {fps:.2f} fps: {1000 / fps:.1f} ms/frame)"
        for label, run in (("kerfer", kerfer_run), ("seed loop", seed_run)):
            for slow in (1.0, args.slow):
                r = run(frames, fps, slow) if run is kerfer_run else run(frames, fps, slow, model)
                print(
                    f"| {name} | {label} | {'x1' if slow == 1 else f'x{slow:g} (sleep)'} | {r['median']:.0f} | "
                    f"{r['p95']:.0f} | {r['drop']:.0%} | {r['growth']:+.0f} | {r['own']:.1f} | "
                    f"{'yes' if r['target'] else 'no'} |",
                    flush=True,
                )
                name = ""
    return 0


if __name__ == "__main__":
    sys.exit(main())
