"""Runs the README's "Use from Python" examples on a tiny generated CSV (paths and sizes substituted)."""

from __future__ import annotations

import re

import cv2
import numpy as np
from conftest import MEDIA, ROOT
from fakedata import tiny_fer_csv


def _python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Use from Python", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_python_examples_run(tmp_path, monkeypatch):
    csv, _, _, usages = tiny_fer_csv(tmp_path / "fer.csv.gz", n=210, gz=True)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "fer2013.csv.gz").write_bytes(csv.read_bytes())
    photo = str(MEDIA / "two_people.jpg") if MEDIA.exists() else str(tmp_path / "grey.png")
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((120, 160, 3), 128, np.uint8))
    for cls in ("happy", "sad"):  # photos/<class>/: the shared photo where present, else a faceless one
        (tmp_path / "photos" / cls).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "photos" / cls / "a.jpg"), cv2.imread(photo))
    monkeypatch.chdir(tmp_path)
    blocks = _python_blocks()
    assert len(blocks) == 4
    subs = {
        '"fer2013.csv.gz"': repr(str(csv)),
        '"two_people.jpg"': repr(photo),
        "epochs=30": "epochs=1, arch_options={'widths': [8, 16, 16, 32], 'stem_filters': 4}, batch_size=32",
    }
    namespace: dict = {}
    for block in blocks:
        for old, new in subs.items():
            block = block.replace(old, new)
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["probs"].shape == (4, 7)
    assert namespace["model"].output_shape == (None, 7)
    assert (tmp_path / "exports" / "my-run" / "model_int8.tflite").exists()
    assert (tmp_path / "runs" / "my-run" / "history.csv").exists()
    assert sum(1 for _ in namespace["ds"]) == usages.count("PublicTest")  # validation = PublicTest
    assert namespace["report"].rows and (tmp_path / "data" / "faces" / "crop_report.csv").exists()
    if MEDIA.exists():
        assert len(namespace["pipe"](cv2.imread(photo))) == 2


def test_public_api_names_stay_functions():
    import kerfer
    import kerfer.evaluation  # noqa: F401
    import kerfer.exporting  # noqa: F401
    import kerfer.training  # noqa: F401

    for name in ("train", "evaluate", "export", "load_fer2013", "build_model", "list_architectures"):
        assert callable(getattr(kerfer, name)) and not isinstance(getattr(kerfer, name), type(kerfer)), name
    assert kerfer.Classifier.__name__ == "Classifier"


def test_readme_pi_commands_are_what_make_test_pi_runs():
    """Every command of README's Raspberry Pi block runs, verbatim (less sudo), inside the emulated
    Pi (tests/pi/inside.sh), so the tested install is the documented one."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Raspberry Pi", 1)[1].split("\n## ", 1)[0]
    block = re.findall(r"```bash\n(.*?)```", section, flags=re.S)[0]
    commands = [
        part.strip().removeprefix("sudo ")
        for line in block.splitlines()
        for part in line.split("#", 1)[0].split("&&")
        if part.strip()
    ]
    assert len(commands) == 4, commands
    inside = (ROOT / "tests" / "pi" / "inside.sh").read_text()
    for command in commands:
        assert command in inside, command
