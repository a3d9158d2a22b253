"""One training stage from run to shipped files: export, measure beside the shipped model, ship by the rule.

    python -m tools.ship_stage /work/runs/warm_ens --csv ../shared/data/fer2013.csv.gz \\
        --note "stage 4: ..."                                               # measure, change nothing
    python -m tools.ship_stage ... --ship                                   # and ship if the rule says so
    python -m tools.ship_stage /work/runs/long --task ferplus --csv ... --note "..."   # the FER+ model

``--task`` picks the shipped model: ``fer2013`` (``kerfer_fer2013_int8.tflite``, the default
model) or ``ferplus`` (``kerfer_ferplus_int8.tflite``, evaluated on FER+ labels by FERPlus'
majority rule, from ``fer2013new.csv.gz`` beside ``--csv``). A two-head run (``ferplus_head``)
is first cut to the task's head (``kerfer.multihead.split_run``) in ``<out>/run_<task>``. When
nothing is shipped for the task yet, the candidate is measured alone and ships with ``--ship``.

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

from tools.ship_weights import write_weights

TASKS = ("fer2013", "ferplus")
DEFAULT_MIN_GAIN = 0.003


def asset_names(task: str) -> tuple[str, str]:
    """The shipped int8 file's stem and the float weights' stem of a task."""
    return f"kerfer_{task}_int8", f"kerfer_{task}_vgg"


def decide(shipped_int8: float | None, new_int8: float, min_gain: float = DEFAULT_MIN_GAIN) -> tuple[bool, str]:
    """Whether the new int8 model ships, and the sentence that says why (accuracies as fractions;
    ``shipped_int8`` None: nothing is shipped for the task yet, so the first model ships)."""
    if shipped_int8 is None:
        return True, f"new int8 {new_int8:.2%}; nothing is shipped for this task yet: it ships"
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


def write_float16(best: Path, config: Mapping, out: Path, note: str, task: str = "fer2013") -> Path:
    """The run's weights as the shipped float16 asset in ``out``, and a ``.keras`` rebuilt from
    them (with labels) so that they are measured exactly as users load them."""
    import keras

    from kerfer.modelio import load_contract
    from kerfer.models import build_model

    contract = load_contract(best)
    npz, _ = write_weights(
        best, dict(config), out / asset_names(task)[1], note, name=task, class_names=contract.class_names
    )
    rebuilt = build_model(config["arch"], weights=npz)
    folder = out / "float16"
    folder.mkdir(exist_ok=True)
    keras.saving.save_model(rebuilt, folder / "model.keras")
    contract.save(folder / "labels.json")
    return folder / "model.keras"


def record_accuracy(meta_path: Path, accuracy: float) -> None:
    from kerfer.io import atomic_write_text

    meta = json.loads(meta_path.read_text())
    meta["publictest_accuracy"] = round(accuracy, 4)
    atomic_write_text(meta_path, json.dumps(meta, indent=2) + "\n")


def ship(out: Path, assets: Path, task: str = "fer2013") -> list[Path]:
    """Copies the exported int8 file, its labels and the float16 weights into ``assets``, each
    file written whole or not at all (an interrupted copy never leaves a truncated asset)."""
    from kerfer.io import atomic_write_bytes

    int8, weights = asset_names(task)
    pairs = [
        (out / "model_int8.tflite", assets / f"{int8}.tflite"),
        (out / "labels.json", assets / f"{int8}.json"),
        (out / f"{weights}.npz", assets / f"{weights}.npz"),
        (out / f"{weights}.json", assets / f"{weights}.json"),
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
    ap.add_argument("--task", choices=TASKS, default="fer2013", help="which shipped model the run competes for")
    ap.add_argument("--note", required=True, help="where the weights come from (recorded in their metadata)")
    ap.add_argument("--split", default="PublicTest", help="the selection split (never PrivateTest)")
    ap.add_argument("--out", type=Path, help="export folder (default: exports/<run name>)")
    ap.add_argument("--assets", type=Path, default=Path(__file__).resolve().parents[1] / "kerfer" / "assets")
    ap.add_argument("--min-gain", type=float, default=DEFAULT_MIN_GAIN, help="int8 gain the rule asks (0.003)")
    ap.add_argument("--ship", action="store_true", help="replace the shipped files when the rule is met")
    args = ap.parse_args(argv)

    from kerfer.exporting import export

    run = args.run
    config = json.loads((args.config or run / "config.json").read_text())
    if not (run / "best.keras").exists():
        ap.error(f"{run / 'best.keras'}: the run has no best.keras")
    out = args.out or Path("exports") / f"{run.name}_{args.task}"
    if config.get("ferplus_head"):  # a two-head run: the task's head as a plain run
        from kerfer.multihead import PRIMARY, split_run

        run = split_run(run, PRIMARY if args.task == "fer2013" else "ferplus", out / f"run_{args.task}")
        config = json.loads((run / "config.json").read_text())
    best = run / "best.keras"
    int8_name, weights_name = asset_names(args.task)
    shipped = args.assets / f"{int8_name}.tflite"
    result = export(best, out, saved_model=False, tflite=("int8",), csv=args.csv, parity_split="auto")
    float16 = write_float16(best, config, out, args.note, args.task)

    candidates = {
        "new int8": result.files["tflite_int8"],
        "new float (run's best.keras)": best,
        "new float16 weights": float16,
    }
    if shipped.exists():
        candidates = {"shipped int8 (before)": shipped, **candidates}
    rows = measure(candidates, args.csv, args.split)
    record_accuracy(out / f"{weights_name}.json", rows["new float16 weights"]["accuracy"])
    before = rows["shipped int8 (before)"]["accuracy"] if shipped.exists() else None
    ok, why = decide(before, rows["new int8"]["accuracy"], args.min_gain)
    shipped_files = [str(p) for p in ship(out, args.assets, args.task)] if ok and args.ship else []
    summary = {"run": str(args.run), "task": args.task, "split": args.split, "models": rows, "ships": ok, "why": why}
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
