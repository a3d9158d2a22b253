"""Fine-tuning from the shipped weights vs training from scratch, on a small 4-class photo folder.

Builds an image folder like a user's own photos (angry/happy/sad/surprise PNGs) from the shared
FER2013 CSV — ``--per-class`` Training rows per class for train, PublicTest rows for test — then
trains the same model twice for ``--epochs`` epochs with the same settings: once from
``--init-from shipped`` (the head keeps the trained rows of the four classes, matched by name)
and once from random weights, and prints both test accuracies and their difference. One run,
side by side. It also prints where the fine-tune starts: the shipped model restricted to the four
classes (its top class among them, no training) and the 4-class model right after
``--init-from``, before its first step; the two are the same predictions, and the fine-tune
should end above them.

    python benchmarks/transfer.py --csv ../shared/data/fer2013.csv.gz
    python benchmarks/transfer.py --csv ../shared/data/fer2013.csv.gz --unseen --per-class 200 --test-per-class 200

Caveat printed with the result: the shipped weights were trained on all FER2013 Training rows, so
the train images here are not new to them (the test images are PublicTest, which they never
trained on). A user's own photos are new to both runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

CLASSES = ["angry", "happy", "sad", "surprise"]


def write_folder(csv: str, root: Path, per_class: int, test_per_class: int, seed: int, unseen: bool) -> None:
    """Training rows → train/, PublicTest rows → test/; with ``unseen`` both come from disjoint
    PublicTest rows, which the shipped weights never trained on (like a user's own photos)."""
    import cv2

    from kerfer.data.fer2013 import read_fer2013, table_arrays

    table = read_fer2013(csv)
    rng = np.random.default_rng(seed)
    test_images, test_labels, _ = table_arrays(table, "PublicTest", CLASSES)
    order = {c: rng.permutation(np.flatnonzero(test_labels == c)) for c in range(len(CLASSES))}
    train_images, train_labels, _ = table_arrays(table, "Training", CLASSES)
    for split, n in (("train", per_class), ("test", test_per_class)):
        from_test = split == "test" or unseen
        images = test_images if from_test else train_images
        for c, name in enumerate(CLASSES):
            if from_test:  # disjoint: test takes PublicTest rows from the front, train from the back
                pick = order[c][:n] if split == "test" else order[c][::-1][:n]
            else:
                pick = rng.choice(np.flatnonzero(train_labels == c), n, replace=False)
            d = root / split / name
            d.mkdir(parents=True, exist_ok=True)
            for i in pick:
                cv2.imwrite(str(d / f"{i:05d}.png"), images[i, :, :, 0])


def run(
    data: Path, out: Path, init_from: str | None, epochs: int, freeze: int, lr: float, seed: int
) -> tuple[list[float], float]:
    from kerfer.training import TrainConfig, train

    cfg = TrainConfig(
        data=str(data),
        train_split="train",
        val_split="test",
        arch="vgg",
        epochs=epochs,
        batch_size=32,
        learning_rate=lr,
        lr_schedule="cosine",
        init_from=init_from,
        freeze_backbone_epochs=freeze if init_from else 0,
        seed=seed,
    )
    start = time.time()
    result = train(cfg, out, verbose=0)
    return list(result.history["val_accuracy"]), time.time() - start


def starting_points(data: Path) -> tuple[float, float]:
    """(the shipped float model restricted to :data:`CLASSES`, zero-shot; the 4-class model right
    after ``init_weights(..., "shipped", CLASSES)``, before any training) on the test folder."""
    from kerfer import FER2013_CLASSES, build_model
    from kerfer.data.folders import read_image_folder
    from kerfer.training import TrainConfig, init_weights

    x, y, names = read_image_folder(data, "test", class_names=CLASSES)
    x = x.astype("float32")
    shipped = build_model("vgg", weights="fer2013").predict(x, verbose=0)
    columns = [list(FER2013_CLASSES).index(c) for c in CLASSES]
    zero_shot = float((shipped[:, columns].argmax(1) == y).mean())
    model = build_model("vgg", len(CLASSES), (48, 48, 1), **TrainConfig().arch_options)
    init_weights(model, "shipped", CLASSES)
    return zero_shot, float((model.predict(x, verbose=0).argmax(1) == y).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", default="../shared/data/fer2013.csv.gz")
    ap.add_argument("--per-class", type=int, default=300, help="training images per class")
    ap.add_argument("--test-per-class", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--freeze-backbone-epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--unseen", action="store_true", help="train and test on disjoint PublicTest rows (new to both runs)"
    )
    args = ap.parse_args()
    if args.unseen and 2 * max(args.per_class, args.test_per_class) > 415:
        ap.error("--unseen splits PublicTest (surprise has 415 rows): keep --per-class and --test-per-class <= 207")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_folder(args.csv, tmp / "photos", args.per_class, args.test_per_class, args.seed, args.unseen)
        zero_shot, before = starting_points(tmp / "photos")
        curve, t1 = run(
            tmp / "photos", tmp / "shipped", "shipped", args.epochs, args.freeze_backbone_epochs, args.lr, args.seed
        )
        scratch_curve, t2 = run(tmp / "photos", tmp / "scratch", None, args.epochs, 0, args.lr, args.seed)
    shipped, scratch = curve[-1], scratch_curve[-1]
    print(
        f"\n4-class folder: {args.per_class} train / {args.test_per_class} test images per class ({', '.join(CLASSES)})"
    )
    print(f"{'the shipped model restricted to the 4 classes, no training':<60}{zero_shot:>8.2%}")
    print(f"{'--init-from shipped, before its first step':<60}{before:>8.2%}")
    print(f"{'--init-from shipped, test accuracy after each epoch':<60}{'  '.join(f'{a:.2%}' for a in curve)}")
    print(f"{'start':<34}{'test accuracy':>14}{'seconds':>9}")
    print(f"{'--init-from shipped (freeze ' + str(args.freeze_backbone_epochs) + ')':<34}{shipped:>13.2%}{t1:>9.0f}")
    print(f"{'from scratch':<34}{scratch:>13.2%}{t2:>9.0f}")
    print(f"difference: {100 * (shipped - scratch):+.1f} points after {args.epochs} epochs")
    print(f"the fine-tune ends {100 * (shipped - zero_shot):+.1f} points from where it started (zero-shot)")
    if args.unseen:
        print("train and test images: disjoint PublicTest rows, never trained on by the shipped weights")
    else:
        print("note: the shipped weights saw these Training images (not the PublicTest ones) during their own training")


if __name__ == "__main__":
    main()
