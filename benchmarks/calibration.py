"""How much int8 accuracy the calibration set decides, side by side in one run.

    python benchmarks/calibration.py /work/runs/soup3 --csv ../shared/data/fer2013.csv.gz \\
        [--sizes 100 300 1000 3000] [--seeds 0 1 2] [--split PublicTest]

Full-integer TFLite quantization sets each activation's range from the calibration images
(min/max over them). ``kerfer export`` takes ``--calibration-samples`` (300 by default)
class-stratified Training images. This converts the same float model once per calibration
size and seed (each seed draws other images), and prints per file: plain and flip-TTA
accuracy on the split, top-1 agreement with the float model, and the loss against the float
model's own plain accuracy. The spread over seeds at one size says how much of a stage's
int8-vs-float gap is the luck of the draw. Calibration images come from Training only, so
the split stays unseen.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a run directory or .keras file")
    ap.add_argument("--csv", required=True, help="the FER2013 CSV (calibration from Training, scores on --split)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000, 3000])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--split", default="PublicTest", help="the split scored (never PrivateTest)")
    args = ap.parse_args()
    if args.split == "PrivateTest":
        sys.exit("PrivateTest is the held-out split: score calibration on PublicTest")

    from kerfer.evaluation import classification_report, predict_batches, split_loader
    from kerfer.exporting import convert_tflite, stratified_sample
    from kerfer.modelio import load_contract, load_keras_model, resolve_model_path
    from kerfer.runtime.classifier import Classifier

    path = resolve_model_path(args.model)
    contract = load_contract(path)
    model = load_keras_model(path, float32=True)
    load = split_loader(args.csv, None, contract)
    x_train, y_train = load("Training")
    x, y = load(args.split)

    float_clf = Classifier(path)
    float_probs = predict_batches(float_clf.predict_faces, x)
    float_acc = classification_report(y, float_probs, contract.class_names).accuracy
    float_tta = classification_report(y, predict_batches(float_clf.predict_faces, x, tta=True), contract.class_names)
    print(f"float model {path}: {float_acc:.2%} plain, {float_tta.accuracy:.2%} with flip TTA on {args.split}")
    print("| calibration images | seed | int8 | int8 with TTA | agreement with float | loss vs float |")
    print("| --- | --- | --- | --- | --- | --- |")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "saved_model"
        model.export(str(saved), format="tf_saved_model", verbose=False)
        for size in args.sizes:
            for seed in args.seeds:
                calib = x_train[stratified_sample(y_train, size, seed)]
                out = Path(tmp) / f"int8_{size}_{seed}"
                out.mkdir()
                (out / "model.tflite").write_bytes(convert_tflite(saved, "int8", calib))
                contract.save(out / "labels.json")
                clf = Classifier(out / "model.tflite")
                probs = predict_batches(clf.predict_faces, x)
                acc = classification_report(y, probs, contract.class_names).accuracy
                tta = classification_report(y, predict_batches(clf.predict_faces, x, tta=True), contract.class_names)
                agree = float(np.mean(probs.argmax(1) == float_probs.argmax(1)))
                rows.append((size, acc))
                print(
                    f"| {size} | {seed} | {acc:.2%} | {tta.accuracy:.2%} | {agree:.2%} | {(acc - float_acc) * 100:+.2f} |",
                    flush=True,
                )
    print()
    for size in args.sizes:
        accs = np.array([a for s, a in rows if s == size])
        print(
            f"{size} images: int8 mean {accs.mean():.2%}, range {accs.min():.2%}-{accs.max():.2%} over {len(accs)} seeds"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
