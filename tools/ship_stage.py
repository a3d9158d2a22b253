"""One training stage from run to shipped files: export, measure beside the shipped model, ship by the rule.

    python tools/ship_stage.py /work/runs/warm_ens --csv ../shared/data/fer2013.csv.gz \\
        --note "stage 4: ..."                                               # measure, change nothing
    python tools/ship_stage.py ... --ship                                   # and ship if the rule says so

Steps, all in one process so that both models are measured on the same machine and data:
1. export the run's best.keras to int8 TFLite (``kerfer export``'s code, parity report on
   the validation split) into ``--out`` (default ``exports/<run name>``);
2. write its float16 weights there (what ``build_model(..., weights="fer2013")`` would load);
3. evaluate, on PublicTest, plain and with flip TTA: the shipped int8 file, the new int8 file,
   the run's float model and the float16 weights;
4. the rule (docs/model_card.md): ship only when the new int8 file beats the shipped one by at
   least ``--min-gain`` (0.003 = 0.3 points, plain accuracy). With ``--ship`` and the rule met,
   the int8 file, its labels and the float16 weights replace those in ``--assets``.
Everything measured is printed as a Markdown table and written to ``<out>/stage.json``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path

INT8_NAME = "kerfer_fer2013_int8"
WEIGHTS_NAME = "kerfer_fer2013_vgg"
DEFAULT_MIN_GAIN = 0.003


def decide(shipped_int8: float, new_int8: float, min_gain: float = DEFAULT_MIN_GAIN) -> tuple[bool, str]:
    """Whether the new int8 model ships, and the sentence that says why (accuracies as fractions)."""
    gain = new_int8 - shipped_int8
    ok = gain >= min_gain - 1e-12  # 0.6661 - 0.6631 is 0.0029999... in floating point
    return ok, (
        f"new int8 {new_int8:.2%} vs shipped {shipped_int8:.2%}: {gain * 100:+.2f} points "
        f"(the rule asks {min_gain * 100:+.2f}); it {'ships' if ok else 'does not ship'}"
    )


def measure(models: Mapping[str, Path], csv: str, split: str) -> dict[str, dict[str, float]]:
    """Plain and flip-TTA accuracy, and disgust recall, of each model on one split."""
    from kerfer.evaluation import evaluate

    out = {}
    for name, path in models.items():
        res = evaluate(path, csv=csv, split=split, tta=True)
        recall = res.plain.per_class["recall"]
        out[name] = {
            "file": str(path),
            "accuracy": res.plain.accuracy,
            "accuracy_tta": res.tta.accuracy,
            "disgust_recall": float(recall["disgust"]) if "disgust" in recall.index else float("nan"),
        }
    return out


def markdown(rows: Mapping[str, Mapping[str, float]]) -> str:
    lines = ["| model | accuracy | with flip TTA | disgust recall |", "| --- | --- | --- | --- |"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['accuracy']:.2%} | {r['accuracy_tta']:.2%} | {r['disgust_recall']:.1%} |")
    return "\n".join(lines)


def write_float16(best: Path, config: Mapping, out: Path, note: str) -> Path:
    """The run's weights as the shipped float16 asset in ``out``, and a ``.keras`` rebuilt from
    them (with labels) so that they are measured exactly as users load them."""
    import keras
    from ship_weights import write_weights

    from kerfer.contract import ModelContract
    from kerfer.models import build_model

    npz, _ = write_weights(best, dict(config), out / WEIGHTS_NAME, note)
    rebuilt = build_model(config["arch"], weights=npz)
    folder = out / "float16"
    folder.mkdir(exist_ok=True)
    keras.saving.save_model(rebuilt, folder / "model.keras")
    ModelContract().save(folder / "labels.json")
    return folder / "model.keras"


def record_accuracy(meta_path: Path, accuracy: float) -> None:
    from kerfer.io import atomic_write_text

    meta = json.loads(meta_path.read_text())
    meta["publictest_accuracy"] = round(accuracy, 4)
    atomic_write_text(meta_path, json.dumps(meta, indent=2) + "\n")


def ship(out: Path, assets: Path) -> list[Path]:
    """Copies the exported int8 file, its labels and the float16 weights into ``assets``, each
    file written whole or not at all (an interrupted copy never leaves a truncated asset)."""
    from kerfer.io import atomic_write_bytes

    pairs = [
        (out / "model_int8.tflite", assets / f"{INT8_NAME}.tflite"),
        (out / "labels.json", assets / f"{INT8_NAME}.json"),
        (out / f"{WEIGHTS_NAME}.npz", assets / f"{WEIGHTS_NAME}.npz"),
        (out / f"{WEIGHTS_NAME}.json", assets / f"{WEIGHTS_NAME}.json"),
    ]
    for src, dst in pairs:
        atomic_write_bytes(dst, src.read_bytes())
    from kerfer.integrity import write_manifest

    return [*(dst for _, dst in pairs), write_manifest(assets)]  # the runtime checks every file against it


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="the stage's run directory (its best.keras is the candidate)")
    ap.add_argument("--config", type=Path, help="its training config (default: the run's config.json)")
    ap.add_argument("--csv", required=True, help="the FER2013 CSV: calibration (Training) and evaluation")
    ap.add_argument("--note", required=True, help="where the weights come from (recorded in their metadata)")
    ap.add_argument("--split", default="PublicTest", help="the selection split (never PrivateTest)")
    ap.add_argument("--out", type=Path, help="export folder (default: exports/<run name>)")
    ap.add_argument("--assets", type=Path, default=Path(__file__).resolve().parents[1] / "kerfer" / "assets")
    ap.add_argument("--min-gain", type=float, default=DEFAULT_MIN_GAIN, help="int8 gain the rule asks (0.003)")
    ap.add_argument("--ship", action="store_true", help="replace the shipped files when the rule is met")
    args = ap.parse_args(argv)

    from kerfer.exporting import export

    config = json.loads((args.config or args.run / "config.json").read_text())
    best = args.run / "best.keras"
    if not best.exists():
        ap.error(f"{best}: the run has no best.keras")
    shipped = args.assets / f"{INT8_NAME}.tflite"
    if not shipped.exists():
        ap.error(f"{shipped}: no shipped int8 model to measure against")
    out = args.out or Path("exports") / args.run.name
    result = export(best, out, saved_model=False, tflite=("int8",), csv=args.csv, parity_split="auto")
    float16 = write_float16(best, config, out, args.note)

    rows = measure(
        {
            "shipped int8 (before)": shipped,
            "new int8": result.files["tflite_int8"],
            "new float (run's best.keras)": best,
            "new float16 weights": float16,
        },
        args.csv,
        args.split,
    )
    record_accuracy(out / f"{WEIGHTS_NAME}.json", rows["new float16 weights"]["accuracy"])
    ok, why = decide(rows["shipped int8 (before)"]["accuracy"], rows["new int8"]["accuracy"], args.min_gain)
    shipped_files = [str(p) for p in ship(out, args.assets)] if ok and args.ship else []
    summary = {"run": str(args.run), "split": args.split, "models": rows, "ships": ok, "why": why}
    summary["shipped_files"] = shipped_files
    (out / "stage.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(markdown(rows))
    print(why)
    if shipped_files:
        print("shipped: " + ", ".join(shipped_files))
    elif ok:
        print("(measured only: add --ship to replace the shipped files)")
    return summary


if __name__ == "__main__":
    main()
