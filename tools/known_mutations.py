"""Replays the one-line mutations of issue 25 and shows the test that kills each.

    .venv/bin/python tools/known_mutations.py [--only NAME ...] [--list]

Each mutation is applied to a copy of ``kerfer/`` and ``tests/`` in a temporary folder (the
checkout is never edited); its tests run there once on the code as it is (they must pass) and
once mutated (they must fail). Prints one line per mutation and exits 1 if any test passes on
a mutant or fails on the code.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


TB = "tests/test_behaviour.py::"
TO = "tests/test_training_options.py::"
MUTATIONS = (
    Mutation(
        "init-from into a throwaway model",
        "kerfer/training.py",
        "print(init_weights(model, cfg.init_from, splits.class_names))",
        "print(init_weights(build_model(cfg.arch, len(splits.class_names), _input_shape(cfg), **cfg.arch_options), cfg.init_from))",
        (
            TO + "test_init_from_starts_fit_from_the_source_weights",
            "tests/test_train_cli.py::test_init_from_a_previous_run",
        ),
    ),
    Mutation(
        "confusion matrix transposed",
        "kerfer/evaluation.py",
        ".reshape(k, k)",
        ".reshape(k, k).T",
        (TB + "test_precision_and_recall_are_per_predicted_and_per_true_class",),
    ),
    Mutation(
        "class weights never passed to fit",
        "kerfer/data/splits.py",
        "    if cfg.class_weight_power:\n        weights = class_weights(",
        "    if None:\n        weights = class_weights(",
        (TO + "test_balanced_class_weights_reach_fit_as_sample_weights",),
    ),
    Mutation(
        "training flip made vertical",
        "kerfer/data/augment.py",
        'RandomFlip("horizontal"',
        'RandomFlip("vertical"',
        (TB + "test_training_flip_mirrors_left_right_only",),
    ),
    Mutation(
        "--align does nothing",
        "kerfer/runtime/pipeline.py",
        "angles = [level_angle(d.roll_degrees()) for d in dets] if self.align else None",
        "angles = None",
        (TB + "test_align_levels_a_tilted_eye_line_and_no_align_keeps_it",),
    ),
    Mutation(
        "smoothing history never trimmed",
        "kerfer/runtime/track.py",
        "deque(maxlen=self.window)",
        "deque()",
        (TB + "test_smoother_averages_only_the_last_window_frames",),
    ),
    Mutation(
        "--detect-every ignored",
        "kerfer/runtime/live.py",
        "if i % detect_every == 0:",
        "if True:",
        (TB + "test_detect_every_detects_on_every_nth_frame_and_classifies_all",),
    ),
    Mutation(
        "cache's content hash a constant",
        "kerfer/data/cache.py",
        '"sha256": file_sha256(path)',
        '"sha256": "0"',
        (TB + "test_parse_cache_sees_a_same_size_same_mtime_change",),
    ),
    # The training options the issue lists as untested, each dropped on the way to fit.
    Mutation(
        "cosine warmup starts at the full rate",
        "kerfer/optim.py",
        "cfg.learning_rate if not warmup else cfg.learning_rate * 0.05",
        "cfg.learning_rate",
        (TO + "test_cosine_schedule_warms_up_then_decays_to_zero",),
    ),
    Mutation(
        "--label-smoothing ignored",
        "kerfer/optim.py",
        "loss = keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)",
        "loss = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)",
        (TO + "test_label_smoothing_reaches_the_loss",),
    ),
    Mutation(
        "--early-stopping patience ignored",
        "kerfer/callbacks.py",
        "patience=cfg.early_stopping_patience, restore_best_weights",
        "patience=1, restore_best_weights",
        (TO + "test_early_stopping_callback_watches_validation_accuracy",),
    ),
    Mutation(
        "--teacher targets computed but not trained on",
        "kerfer/data/splits.py",
        "        y, note = teacher_targets(cfg.teacher, splits, cfg.teacher_weight)\n",
        "        _, note = teacher_targets(cfg.teacher, splits, cfg.teacher_weight)\n"
        "        y = targets(splits.y_train, k)\n",
        (TO + "test_teacher_targets_are_what_fit_trains_on",),
    ),
)


def _copy(dest: Path) -> None:
    for name in ("kerfer", "tests"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
    for name in ("pyproject.toml", "setup.cfg"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)


def _pytest(where: Path, tests: tuple[str, ...]) -> bool:
    env = {
        **os.environ,
        "PYTHONPATH": str(where),
        "KERFER_SHARED": os.environ.get("KERFER_SHARED", str(ROOT.parent / "shared")),
    }
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-n", "0", "-p", "no:cacheprovider", *tests]
    return subprocess.run(cmd, cwd=where, env=env, capture_output=True).returncode == 0


def _which_kerfer(where: Path) -> str:
    code = "import kerfer, os; print(os.path.dirname(kerfer.__file__))"
    env = {**os.environ, "PYTHONPATH": str(where)}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=where, env=env, capture_output=True, text=True
    ).stdout.strip()


def replay(m: Mutation) -> tuple[bool, bool]:
    """(the tests pass on the code, they fail on the mutant)."""
    with tempfile.TemporaryDirectory(prefix="kerfer-mutant-") as tmp:
        where = Path(tmp)
        _copy(where)
        if Path(_which_kerfer(where)) != where / "kerfer":
            raise SystemExit(f"the copy in {where} does not import its own kerfer; is it installed non-editable?")
        passes = _pytest(where, m.tests)
        target = where / m.path
        text = target.read_text()
        if text.count(m.old) != 1:
            raise SystemExit(f"{m.name}: {m.path} holds {text.count(m.old)} copies of the line to mutate, not one")
        target.write_text(text.replace(m.old, m.new))
        killed = not _pytest(where, m.tests)
    return passes, killed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", help="mutation names (substrings) to replay")
    p.add_argument("--list", action="store_true", help="list the mutations and their tests")
    args = p.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or any(s in m.name for s in args.only)]
    if args.list:
        for m in chosen:
            print(f"{m.name}: {m.path}: {m.old.strip()!r} -> {m.new.strip()!r}; {', '.join(m.tests)}")
        return 0
    bad = 0
    for m in chosen:
        start = time.time()
        passes, killed = replay(m)
        ok = passes and killed
        bad += not ok
        print(
            f"{'ok ' if ok else 'BAD'} {m.name}: code {'passes' if passes else 'FAILS'}, "
            f"mutant {'killed' if killed else 'SURVIVES'} by {', '.join(t.split('::')[-1] for t in m.tests)} "
            f"({time.time() - start:.0f} s)",
            flush=True,
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
