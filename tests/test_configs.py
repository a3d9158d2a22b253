"""The committed configs: each loads as a TrainConfig, and every file it names is in the repository
(tracked, not git-ignored), so a config runs on a fresh checkout without a hand-made file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kerfer.modelio import SHIPPED_MODELS
from kerfer.training import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.json"))
OUTSIDE = ("../shared/", "/work/runs/")
"""Data and earlier runs outside the repository, named on purpose (the data is never committed)."""


def _named_files(cfg: TrainConfig) -> list[str]:
    teachers = [cfg.teacher] if isinstance(cfg.teacher, str) else list(cfg.teacher or [])
    named = [*teachers, cfg.init_from, cfg.csv, cfg.data, cfg.ferplus_csv]
    return [str(p) for p in named if p and str(p) not in SHIPPED_MODELS and not str(p).startswith(OUTSIDE)]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_a_config_names_only_files_the_repository_holds(path):
    cfg = TrainConfig.from_file(path)
    for name in _named_files(cfg):
        assert (ROOT / name).exists(), f"{path.name}: {name} is not in the repository"
        ignored = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT, check=False)
        assert ignored.returncode != 0, f"{path.name}: {name} is git-ignored: a fresh checkout lacks it"
