"""Writes a trained model's float weights into the package as the shipped ``fer2013`` weights.

    python -m tools.ship_weights /work/runs/warm1/best.keras --config configs/warm_restart.json \
        --note "warm restart of the recovered stage-2 model, configs/warm_restart.json"

The int8 file that ships beside them must come from the same model (``kerfer export``), so that
``build_model("vgg", weights="fer2013")`` and the ``.tflite`` agree; ``tests/test_pretrained.py``
checks that they do.
"""

from __future__ import annotations

import argparse
import json


def write_weights(
    model_path,
    config: dict,
    stem,
    note: str,
    publictest_accuracy: float | None = None,
    name: str = "fer2013",
    class_names=None,
):
    """Writes ``<stem>.npz`` and ``<stem>.json`` from a ``.keras`` model and its training config;
    returns both paths (shared with :mod:`tools.ship_stage`). ``name`` is the ``weights=`` name
    (``fer2013`` or ``ferplus``); the class names default to FER2013's."""
    from kerfer.labels import FER2013_CLASSES
    from kerfer.modelio import load_keras_model
    from kerfer.models.pretrained import save_weights_asset

    extra = {"name": name, "source": note}
    if publictest_accuracy is not None:
        extra["publictest_accuracy"] = publictest_accuracy
    return save_weights_asset(
        load_keras_model(model_path),
        stem,
        arch=config["arch"],
        arch_options=config.get("arch_options", {}),
        class_names=tuple(class_names or FER2013_CLASSES),
        extra=extra,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a .keras file (e.g. a run's best.keras)")
    ap.add_argument("--config", required=True, help="its training config (arch and arch_options are recorded)")
    ap.add_argument("--note", required=True, help="where the weights come from (recorded in the metadata)")
    ap.add_argument("--publictest-accuracy", type=float, help="measured float accuracy, recorded")
    ap.add_argument("--stem", default="kerfer/assets/kerfer_fer2013_vgg")
    args = ap.parse_args()

    with open(args.config) as f:
        cfg = json.load(f)
    npz, meta = write_weights(args.model, cfg, args.stem, args.note, args.publictest_accuracy)
    print(f"wrote {npz} and {meta}")
    from kerfer.integrity import assets_dir, write_manifest

    if npz.resolve().parent == assets_dir():  # the runtime checks every shipped file against it
        print(f"wrote {write_manifest()}")


if __name__ == "__main__":
    main()
