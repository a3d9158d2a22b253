"""Runs the README's "Use from Python" examples, and those of docs/usage.md that continue them, on a
tiny generated CSV (paths and sizes substituted); checks the README's set-up and Raspberry Pi
commands, that its headline figures are the ones in their home under docs/, and every link."""

from __future__ import annotations

import re
import unicodedata

import cv2
import numpy as np
from conftest import MEDIA, ROOT
from fakedata import tiny_fer_csv


def _section(path: str, heading: str) -> str:
    """The text under `heading` (a line of its own) up to the next heading of the same level."""
    text = (ROOT / path).read_text()
    level = heading.split(" ", 1)[0]
    return text.split(f"\n{heading}\n", 1)[1].split(f"\n{level} ", 1)[0]


def _python_blocks() -> list[tuple[str, str]]:
    """README's examples, then docs/usage.md's (they continue the README's namespace)."""
    blocks = []
    for path, heading, count in (("README.md", "## Use from Python", 3), ("docs/usage.md", "## The Python API", 3)):
        found = re.findall(r"```python\n(.*?)```", _section(path, heading), flags=re.S)
        assert len(found) == count, (path, len(found))
        blocks += [(path, block) for block in found]
    return blocks


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
    subs = {
        '"fer2013.csv.gz"': repr(str(csv)),
        '"two_people.jpg"': repr(photo),
        "epochs=30": "epochs=1, arch_options={'widths': [8, 16, 16, 32], 'stem_filters': 4}, batch_size=32",
    }
    namespace: dict = {}
    for path, block in blocks:
        for old, new in subs.items():
            block = block.replace(old, new)
        exec(compile(block, path, "exec"), namespace)
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
    section = _section("README.md", "### Raspberry Pi")
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


def test_readme_setup_is_two_commands_and_ci_runs_the_second():
    """The two set-up commands come first: one installs and runs the main job on the shipped
    model, one runs the tests, and .ci/run runs that same test target."""
    text = (ROOT / "README.md").read_text()
    first_heading = re.search(r"^## .*$", text, flags=re.M).group(0)
    assert first_heading == "## Set-up (two commands)"
    block = re.findall(r"```bash\n(.*?)```", _section("README.md", first_heading), flags=re.S)[0]
    install, test = block.strip().splitlines()
    assert install.startswith("python3 -m venv .venv && ") and 'pip install -e ".[test]"' in install
    assert install.endswith("&& kerfer predict ../shared/media/two_people.jpg")  # no --model: the shipped default
    assert test == "make test PYTHON=.venv/bin/python"
    assert re.search(r"^test:", (ROOT / "Makefile").read_text(), flags=re.M)
    assert 'make test PYTHON="$VENV/bin/python"' in (ROOT / ".ci" / "run").read_text()


def test_readme_headline_figures_are_their_homes_figures():
    """README states no measurement of its own: its headline table's figures are each written in
    the doc that is their home (model card or performance page), and no date of a measurement
    appears in README (dated figures live under docs/)."""
    text = (ROOT / "README.md").read_text()
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text)
    table = _section("README.md", "## kerfer beside the alternatives")
    figures = re.findall(r"\d[\d,]*(?:\.\d+)? (?:%|ms|MB|KB)", table)
    assert len(figures) >= 9, figures
    homes = (ROOT / "docs" / "model_card.md").read_text() + (ROOT / "docs" / "performance.md").read_text()
    homes = homes.replace("**", "")
    for figure in figures:
        assert figure in homes, figure
    assert "| 0.292 ms (0.66x `fer`) | 0.307 ms (0.69x `fer`) | 0.443 ms |" in homes  # the first row it cites


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = unicodedata.normalize("NFKC", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_links_in_readme_and_docs_lead_somewhere():
    """Every relative link of README.md and docs/*.md names a file that exists, and an anchor
    a heading of that file, so the figures README sends readers to are there."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    checked = 0
    for page in pages:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            assert dest.exists(), f"{page.name}: {target}"
            if anchor and dest.suffix == ".md":
                headings = re.findall(r"^#+ (.*)$", dest.read_text(), flags=re.M)
                assert anchor in {_anchor(h) for h in headings}, f"{page.name}: {target}"
            checked += 1
    assert checked > 20
