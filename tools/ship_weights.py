"""Writes a trained model's float weights into the package as the shipped ``fer2013`` weights.

    python tools/ship_weights.py /work/runs/warm1/best.keras --config configs/warm_restart.json \
        --note "warm restart of the recovered stage-2 model, configs/warm_restart.json"

The int8 file that ships beside them must come from the same model (``kerfer export``), so that
``build_model("vgg", weights="fer2013")`` and the ``.tflite`` agree; ``tests/test_pretrained.py``
checks that they do.
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a .keras file (e.g. a run's best.keras)")
    ap.add_argument("--config", required=True, help="its training config (arch and arch_options are recorded)")
    ap.add_argument("--note", required=True, help="where the weights come from (recorded in the metadata)")
    ap.add_argument("--publictest-accuracy", type=float, help="measured float accuracy, recorded")
    ap.add_argument("--stem", default="kerfer/assets/kerfer_fer2013_vgg")
    args = ap.parse_args()

    from kerfer.labels import FER2013_CLASSES
    from kerfer.modelio import load_keras_model
    from kerfer.models.pretrained import save_weights_asset

    cfg = json.load(open(args.config))
    model = load_keras_model(args.model)
    extra = {"name": "fer2013", "source": args.note}
    if args.publictest_accuracy is not None:
        extra["publictest_accuracy"] = args.publictest_accuracy
    npz, meta = save_weights_asset(
        model,
        args.stem,
        arch=cfg["arch"],
        arch_options=cfg.get("arch_options", {}),
        class_names=FER2013_CLASSES,
        extra=extra,
    )
    print(f"wrote {npz} and {meta}")


if __name__ == "__main__":
    main()
