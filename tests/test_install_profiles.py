"""A runtime-only install (no TensorFlow): training commands say what to install in one line,
``--help`` and ``doctor`` say which commands run, and ``.tflite`` models fall back from LiteRT
to TensorFlow's interpreter. Simulated here by blocking imports in a subprocess; the real
fresh-venv install is tests/test_runtime_install.py."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from kerfer.cli import main
from kerfer.kit import TRAIN_INSTALL

TRAINING_KIT = ("tensorflow", "keras", "pandas", "matplotlib", "tensorflow_datasets", "importlib_resources")


def _run_blocked(blocked: tuple[str, ...], code: str) -> subprocess.CompletedProcess:
    """Runs ``code`` in a fresh Python where the ``blocked`` modules cannot be imported."""
    prelude = f"import sys\nfor m in {blocked!r}: sys.modules[m] = None\n"
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=300)


def test_training_commands_say_what_to_install_in_one_line(tmp_path):
    code = (
        "import subprocess\n"
        "from click.testing import CliRunner\n"
        "from kerfer.cli import main\n"
        "for args in (['train', '--csv', 'x.csv', '--out', 'r'], ['evaluate'], ['export', '--model', '.'], ['archs']):\n"
        "    r = CliRunner().invoke(main, args)\n"
        "    print(r.exit_code, repr(r.output))\n"
        "print('HELP', repr(CliRunner().invoke(main, ['--help']).output))\n"
        "import os; print('WROTE', os.path.exists('r'))\n"
    )
    out = _run_blocked(TRAINING_KIT, code.replace("'r'", repr(str(tmp_path / "r"))))
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    for name, line in zip(("train", "evaluate", "export", "archs"), lines):
        status, text = line.split(" ", 1)
        text = eval(text)  # noqa: S307 - our own repr()
        assert status == "1", line
        assert text.count("\n") == 1 and "Traceback" not in text, text
        assert text.startswith(f"Error: kerfer {name} needs the training kit (tensorflow, keras"), text
        assert text.rstrip().endswith(TRAIN_INSTALL), text
    help_text = eval(lines[4].split(" ", 1)[1])  # noqa: S307
    runtime, training = help_text.split("Runtime commands")[1].split("Training commands")
    assert {"predict", "live", "doctor"} <= {w.split()[0] for w in runtime.splitlines()[1:] if w.strip()}
    assert f"not in this install: {TRAIN_INSTALL}" in training.splitlines()[0]
    assert {"train", "evaluate", "export", "archs"} <= {w.split()[0] for w in training.splitlines()[1:] if w.strip()}
    assert lines[5] == "WROTE False", "nothing is written before the check"


def test_help_on_a_full_install_says_installed():
    out = CliRunner().invoke(main, ["--help"]).output
    assert "Training commands (need the training kit, TensorFlow; installed)" in out


def test_python_api_and_keras_models_need_the_kit(tmp_path):
    (tmp_path / "m.keras").write_bytes(b"not really")
    code = (
        "import kerfer, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "from kerfer.kit import MissingTrainingKit\n"
        "try:\n    kerfer.train\nexcept MissingTrainingKit as e:\n    print('API', e)\n"
        "import kerfer.data\n"
        "try:\n    kerfer.data.make_dataset\nexcept MissingTrainingKit as e:\n    print('DATA', e)\n"
        f"try:\n    kerfer.Classifier({str(tmp_path / 'm.keras')!r})\n"
        "except MissingTrainingKit as e:\n    print('KERAS', e)\n"
    )
    out = _run_blocked(TRAINING_KIT, code)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert lines["API"].startswith("kerfer.train needs the training kit (tensorflow"), out.stdout
    assert lines["API"].endswith(TRAIN_INSTALL)
    assert lines["DATA"].startswith("kerfer.data.make_dataset needs the training kit (tensorflow"), out.stdout
    assert (
        lines["KERAS"]
        == f"{tmp_path / 'm.keras'}: a .keras model needs the training kit (tensorflow, keras not installed): {TRAIN_INSTALL}"
    )


def test_tflite_without_any_interpreter_says_what_to_install():
    code = (
        "from click.testing import CliRunner\n"
        "from kerfer.cli import main\n"
        "r = CliRunner().invoke(main, ['predict', 'nothing.jpg'])\n"
        "print(r.exit_code, repr(r.output))\n"
    )
    out = _run_blocked(("ai_edge_litert", "tflite_runtime", *TRAINING_KIT), code)
    assert out.returncode == 0, out.stderr[-2000:]
    status, text = out.stdout.strip().split(" ", 1)
    text = eval(text)  # noqa: S307
    assert status == "1" and text.count("\n") == 1, text
    assert "needs a TFLite interpreter and none is installed: pip install ai-edge-litert" in text


def test_without_litert_tflite_runs_on_tensorflows_interpreter():
    code = (
        "import numpy as np\n"
        "from kerfer.runtime import Classifier\n"
        "c = Classifier()\n"
        "p = c.predict_faces(np.zeros((2, c.input_size, c.input_size, c.channels), np.uint8))\n"
        "print(type(c.backend.interpreter).__module__.split('.')[0], p.shape, round(float(p.sum()), 3))\n"
    )
    out = _run_blocked(("ai_edge_litert", "tflite_runtime"), code)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["tensorflow", "(2,", "7)", "2.0"], out.stdout


def test_a_canonical_csv_reads_without_the_kit_and_the_rest_says_what_to_install(tmp_path):
    """``kerfer.data`` is lazy: NumPy's fast parser reads the Kaggle layout in a runtime-only
    install; the tf.data parser (irregular files) and ``load_fer2013`` name the kit in one line."""
    from fakedata import make_images, split_usages, write_csv

    images, labels = make_images(6)
    good = write_csv(tmp_path / "good.csv", images, labels, split_usages(6))
    odd = tmp_path / "odd.csv"
    odd.write_bytes(good.read_bytes().replace(b"\n", b"\r\n"))
    code = (
        "import kerfer\n"
        "from kerfer.kit import MissingTrainingKit\n"
        f"t = kerfer.read_fer2013({str(good)!r}, cache=False)\n"
        "print('READ', len(t), int(t.images.sum()), sorted(t.labels.tolist()))\n"
        "for call in ('kerfer.read_fer2013(%r, cache=False)' % " + repr(str(odd)) + ", "
        "'kerfer.load_fer2013(%r)' % " + repr(str(good)) + "):\n"
        "    try:\n        eval(call)\n    except MissingTrainingKit as e:\n        print('KIT', e)\n"
    )
    out = _run_blocked(TRAINING_KIT, code)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0] == f"READ 6 {int(images.sum())} {sorted(labels.tolist())}"
    assert lines[1] == (
        f"KIT parsing {odd} (not in the canonical Kaggle layout) needs the training kit "
        f"(tensorflow not installed): {TRAIN_INSTALL}"
    )
    assert lines[2].startswith("KIT kerfer.load_fer2013 needs the training kit (tensorflow") and lines[2].endswith(
        TRAIN_INSTALL
    )
