"""Face detectors side by side, in one run: BlazeFace (kerfer's default) beside the Haar cascade.

    python benchmarks/detectors.py                       # photos, rotated photos, clips, timing
    python benchmarks/detectors.py --csv ../shared/data/fer2013.csv.gz   # + labelled FER2013 faces

1. Faces found in every photo of ``../shared/media``, upright and rotated by 15 and 30 degrees
   (each way), against the number of people in it; ``no-faces.jpg`` counts false faces.
2. Faces per frame and milliseconds per frame on the two clips (everything ``detect`` does:
   colour conversion, resizing, the model or cascade, decoding).
3. Alignment on the rotated photos: is each face's top-1 expression the same as upright,
   with and without levelling the eyes before the crop?
4. With ``--csv``: PublicTest faces placed on a larger canvas and rotated, so the truth is
   known: faces found, and accuracy of the shipped model with and without alignment.

Both detectors use kerfer's defaults (Haar: ``HaarDetector()``, 320 px detection image,
as ``--detector haar``; BlazeFace: ``BlazeFaceDetector()``). One thread, no other settings.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from kerfer.runtime import Classifier
from kerfer.runtime.blazeface import BlazeFaceDetector
from kerfer.runtime.detect import HaarDetector, find_faces
from kerfer.runtime.images import rotate_image as rotate
from kerfer.runtime.pipeline import FacePipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_fps import read_frames  # noqa: E402  (benchmarks/ run as scripts)

PEOPLE = {
    "justin.jpg": 1,
    "obama.jpg": 1,
    "biden.jpg": 1,
    "obama-1080p.jpg": 1,
    "obama_partial_face.jpg": 1,
    "two_people.jpg": 2,
    "no-faces.jpg": 0,
}
ANGLES = (0, 15, -15, 30, -30)


def detectors() -> dict[str, object]:
    return {"Haar": HaarDetector(), "BlazeFace": BlazeFaceDetector()}


def photo_table(media: Path, dets: dict) -> None:
    print("## Faces found in the photos (people in the photo; rotated counter-clockwise by +, clockwise by -)\n")
    head = " | ".join(f"{name} {a:+d}°" for name in dets for a in ANGLES)
    print(f"| photo | people | {head} |")
    print("| --- | --- |" + " --- |" * (len(dets) * len(ANGLES)))
    totals = {name: {a: [0, 0] for a in ANGLES} for name in dets}
    for photo, people in PEOPLE.items():
        image = cv2.imread(str(media / photo))
        if image is None:
            continue
        cells = []
        for name, det in dets.items():
            for a in ANGLES:
                n = len(det.detect(rotate(image, a)[0]))
                cells.append(str(n) if n == people else f"**{n}**")
                totals[name][a][0] += min(n, people)
                totals[name][a][1] += max(0, n - people)
        print(f"| {photo} | {people} | " + " | ".join(cells) + " |")
    found = " | ".join(f"{totals[n][a][0]}/{sum(PEOPLE.values())}" for n in dets for a in ANGLES)
    false = " | ".join(str(totals[n][a][1]) for n in dets for a in ANGLES)
    print(f"| **faces found** | | {found} |")
    print(f"| **extra (false) faces** | | {false} |")
    print("\n(bold: not the number of people)\n")


def clip_table(media: Path, dets: dict, rounds: int) -> None:
    print("## Clips: faces per frame, and ms per frame (median of the rounds, detectors taking turns)\n")
    print(
        "| clip | frames | "
        + " | ".join(f"{n} faces/frame | {n} ms/frame" for n in dets)
        + " | Haar / BlazeFace time |"
    )
    print("| --- | --- |" + " --- | --- |" * len(dets) + " --- |")
    for clip in ("short_hamilton_clip.mp4", "test.mp4"):
        frames = read_frames(str(media / clip))
        if not frames:
            continue
        times: dict[str, list[float]] = {n: [] for n in dets}
        faces: dict[str, int] = {}
        for _ in range(rounds):
            for name, det in dets.items():
                start = time.perf_counter()
                faces[name] = sum(len(det.detect(f)) for f in frames)
                times[name].append((time.perf_counter() - start) / len(frames) * 1000)
        ms = {n: float(np.median(t)) for n, t in times.items()}
        cells = " | ".join(f"{faces[n] / len(frames):.2f} | {ms[n]:.2f}" for n in dets)
        ratio = ms["Haar"] / ms["BlazeFace"] if "Haar" in ms and "BlazeFace" in ms else float("nan")
        print(f"| {clip} | {len(frames)} | {cells} | {ratio:.2f}x |")
    print()


def _matched(upright, rotated, m: np.ndarray):
    """Pairs (upright face, rotated face): each upright box centre mapped through ``m`` to the
    nearest rotated face within half a face width."""
    pairs = []
    for f in upright:
        x, y, w, h = f.box
        cx, cy = m @ np.array([x + w / 2, y + h / 2, 1.0])
        best = min(rotated, key=lambda g: (g.box[0] + g.box[2] / 2 - cx) ** 2 + (g.box[1] + g.box[3] / 2 - cy) ** 2)
        gx, gy = best.box[0] + best.box[2] / 2, best.box[1] + best.box[3] / 2
        if np.hypot(gx - cx, gy - cy) < w / 2:
            pairs.append((f, best))
    return pairs


def alignment_table(media: Path, classifier: Classifier) -> None:
    print("## Alignment on the rotated photos: top-1 expression the same as upright (BlazeFace faces)\n")
    det = BlazeFaceDetector()
    pipes = {
        "aligned": FacePipeline(classifier, det, tta=True, align=True),
        "not aligned": FacePipeline(classifier, det, tta=True, align=False),
    }
    same = {(k, a): [0, 0] for k in pipes for a in ANGLES if a}
    for photo, people in PEOPLE.items():
        image = cv2.imread(str(media / photo))
        if image is None or not people:
            continue
        for key, pipe in pipes.items():
            upright = pipe.classify(image, find_faces(det, image))
            for a in ANGLES:
                if not a:
                    continue
                turned, m = rotate(image, a)
                for f, g in _matched(upright, pipe.classify(turned, find_faces(det, turned)), m):
                    same[key, a][0] += int(np.argmax(f.probs) == np.argmax(g.probs))
                    same[key, a][1] += 1
    print("| crop | " + " | ".join(f"{a:+d}°" for a in ANGLES if a) + " |")
    print("| --- |" + " --- |" * (len(ANGLES) - 1))
    for key in pipes:
        cells = " | ".join(f"{same[key, a][0]}/{same[key, a][1]}" for a in ANGLES if a)
        print(f"| {key} | {cells} |")
    print()


def _public_test(csv: Path, every: int) -> tuple[list[np.ndarray], np.ndarray]:
    from kerfer.data import read_fer2013

    table = read_fer2013(csv)
    keep = table.mask("PublicTest")
    images, labels = table.images[keep][::every], table.labels[keep][::every]
    return [img.reshape(48, 48) for img in images], np.asarray(labels)


def canvas(face: np.ndarray, degrees: float) -> np.ndarray:
    """A 48x48 FER2013 face at 3x on a canvas three faces wide (its border pixels stretched
    outwards), turned by ``degrees``: a photo-like scene where the right answer is known."""
    big = cv2.copyMakeBorder(face, 48, 48, 48, 48, cv2.BORDER_REPLICATE)
    big = cv2.resize(big, (432, 432), interpolation=cv2.INTER_CUBIC)
    if degrees:
        m = cv2.getRotationMatrix2D((216, 216), degrees, 1.0)
        big = cv2.warpAffine(big, m, (432, 432), borderMode=cv2.BORDER_REPLICATE)
    return cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)


def labelled_table(csv: Path, classifier: Classifier, every: int) -> None:
    faces, labels = _public_test(csv, every)
    plain = classifier.predict_faces(np.stack(faces)[..., None]).argmax(1)
    print(
        f"## FER2013 PublicTest faces on a canvas ({len(faces)} faces, every {every}th), shipped int8 model, no TTA\n"
    )
    print(f"The same faces classified as 48x48 crops (no detector): {np.mean(plain == labels):.2%}.\n")
    print("| detector, crop | angle | faces found | accuracy on found faces | top-1 as the 48x48 crop |")
    print("| --- | --- | --- | --- | --- |")
    setups = {
        "Haar": (HaarDetector(), (False,)),
        "BlazeFace": (BlazeFaceDetector(), (False, True)),
    }
    for a in (0, 15, 30):
        scenes = [canvas(f, a) for f in faces]
        for name, (det, aligns) in setups.items():
            found = [find_faces(det, s) for s in scenes]
            hit = np.array([bool(d) for d in found])
            for align in aligns:
                pipe = FacePipeline(classifier, det, align=align)
                pred = np.array(
                    [
                        int(np.argmax(pipe.classify(s, [max(d, key=lambda q: q.box[2])])[0].probs)) if d else -1
                        for s, d in zip(scenes, found)
                    ]
                )
                acc = np.mean(pred[hit] == labels[hit]) if hit.any() else float("nan")
                agree = np.mean(pred[hit] == plain[hit]) if hit.any() else float("nan")
                label = name + (", aligned" if align else ", not aligned" if name == "BlazeFace" else "")
                print(f"| {label} | {a}° | {hit.mean():.1%} | {acc:.2%} | {agree:.1%} |")
    print()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "media")
    p.add_argument("--csv", type=Path, help="FER2013 CSV: also measure on labelled PublicTest faces")
    p.add_argument("--every", type=int, default=4, help="with --csv: every n-th PublicTest face (default 4)")
    p.add_argument("--rounds", type=int, default=3, help="timing rounds on the clips (default 3)")
    args = p.parse_args()
    if not args.media.is_dir():
        print(f"skip: {args.media} absent (the shared media)")
        return
    dets = detectors()
    classifier = Classifier(num_threads=1)
    photo_table(args.media, dets)
    clip_table(args.media, dets, args.rounds)
    alignment_table(args.media, classifier)
    if args.csv:
        labelled_table(args.csv, classifier, args.every)


if __name__ == "__main__":
    main()
