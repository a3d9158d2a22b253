"""What flip TTA costs per frame, beside what the face detector costs, in one run.

    python benchmarks/tta_cost.py [--model MODEL] [--media ../shared/media]

Times the classifier (1 thread) on 1 and on 4 faces, plain and with ``tta=True`` (faces and
mirrors in one batch), taking turns, and the detectors per frame on the shared clips: the
default of ``kerfer predict``/``live`` (BlazeFace) and the Haar cascade (320 px). Prints the extra milliseconds TTA adds and
that extra as a share of the detector's time per frame. Then the whole commands, TTA off and
on, taking turns: ``predict``'s work per photo (read, detect, classify) on the shared photos
and ``live``'s frames per second on the clips (its defaults: detection every 2nd frame).

kerfer's rule: TTA is on by default in a command when it adds under 10 % to that command's
time per image (``predict``) or per frame (``live``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def frames(path: Path, limit: int = 120) -> list[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    out = []
    while len(out) < limit:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(frame)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="default: the shipped int8 model")
    ap.add_argument("--media", default="../shared/media")
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    from kerfer.exporting import call_times
    from kerfer.runtime import Classifier
    from kerfer.runtime.blazeface import BlazeFaceDetector
    from kerfer.runtime.detect import HaarDetector

    clf = Classifier(args.model, num_threads=1)
    rng = np.random.default_rng(0)
    cases = {}
    for n in (1, 4):
        faces = rng.integers(0, 256, (n, clf.input_size, clf.input_size, clf.channels), dtype=np.uint8)
        cases[f"{n} face{'s' if n > 1 else ''}"] = faces
    times: dict[tuple[str, bool], list[float]] = {(k, t): [] for k in cases for t in (False, True)}
    for _ in range(args.rounds):
        for (name, tta), out in times.items():
            out.extend(call_times(lambda x, tta=tta: clf.predict_faces(x, tta=tta), cases[name], args.runs, warmup=50))
    ms = {key: float(np.median(v)) * 1000 for key, v in times.items()}

    detectors = {"BlazeFace (default)": BlazeFaceDetector(), "Haar, 320 px": HaarDetector()}
    det_ms: dict[str, dict[str, float]] = {name: {} for name in detectors}
    for clip in ("short_hamilton_clip.mp4", "test.mp4"):
        path = Path(args.media) / clip
        if not path.exists():
            continue
        video = frames(path)
        for name, detector in detectors.items():
            t = time.perf_counter()
            for frame in video:
                detector.detect(frame)
            det_ms[name][clip] = (time.perf_counter() - t) / len(video) * 1000

    print(f"classifier {clf.path.name}, 1 thread (median ms per call):")
    for name in cases:
        plain, tta = ms[(name, False)], ms[(name, True)]
        print(f"  {name}: plain {plain:.3f} ms, TTA {tta:.3f} ms, extra {tta - plain:.3f} ms ({tta / plain:.2f}x)")
    if not any(det_ms.values()):
        print(f"(no clips in {args.media}: detectors not timed)")
        return 0
    worst_extra = max(ms[(n, True)] - ms[(n, False)] for n in cases)
    for name, per_clip in det_ms.items():
        print(f"detector {name}, ms per frame: " + ", ".join(f"{c} {d:.2f} ms" for c, d in per_clip.items()))
        share = worst_extra / min(per_clip.values())
        print(f"  TTA's extra cost, 4 faces, against its fastest frame: {share:.1%}")
    print_command_costs(Path(args.media), clf, args.rounds)
    return 0


def print_command_costs(media: Path, clf, rounds: int) -> None:
    """What TTA adds to ``predict`` per photo and to ``live`` per frame, with each command's defaults."""
    from kerfer.runtime.images import read_image
    from kerfer.runtime.live import run_live
    from kerfer.runtime.pipeline import FacePipeline

    photos = sorted(p for p in media.glob("*.jpg"))
    pipes = {tta: FacePipeline(clf, tta=tta) for tta in (False, True)}
    per_photo: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(max(3, rounds)):
        for tta, pipe in pipes.items():
            t = time.perf_counter()
            for photo in photos:
                pipe(read_image(photo))
            per_photo[tta].append((time.perf_counter() - t) / len(photos) * 1000)
    off, on = (float(np.median(per_photo[t])) for t in (False, True))
    print(f"predict, per photo ({len(photos)} photos, read + detect + classify): TTA off {off:.2f} ms, on {on:.2f} ms")
    print(f"  TTA adds {on / off - 1:.1%}: {'default ON' if on / off - 1 < 0.10 else 'default OFF'} for predict")
    for clip in ("short_hamilton_clip.mp4", "test.mp4"):
        path = media / clip
        if not path.exists():
            continue
        video = frames(path, limit=300)
        fps: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(max(3, rounds)):
            for tta, pipe in pipes.items():
                fps[tta].append(run_live(iter(video), pipe, show=False, draw=False, detect_every=2).fps)
        off, on = (float(np.median(fps[t])) for t in (False, True))
        print(f"live, {clip} (detect every 2nd frame): TTA off {off:.1f} fps, on {on:.1f} fps")
        print(
            f"  TTA adds {off / on - 1:.1%} per frame: {'default ON' if off / on - 1 < 0.10 else 'default OFF'} for live"
        )


if __name__ == "__main__":
    sys.exit(main())
