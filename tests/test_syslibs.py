"""A system library that pip cannot install (OpenCV's libGL/libxcb on Raspberry Pi OS Lite): every
command and doctor name the library and the apt package, and doctor sends no one to pip for it.
The emulated Pi (tests/test_pi_emulated.py, make test-pi) checks the same on the real failure."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kerfer.doctor import cpu_summary, delegated, detect_every_advice
from kerfer.syslibs import install_line, missing_library, missing_library_message

LITE_ERROR = "libxcb.so.1: cannot open shared object file: No such file or directory"

PI4_CPUINFO = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

Revision\t: c03114
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""


def test_the_missing_library_is_read_from_the_loaders_message():
    assert missing_library(ImportError(LITE_ERROR)) == "libxcb.so.1"
    assert missing_library(ImportError("libGL.so.1: cannot open shared object file: No such file")) == "libGL.so.1"
    assert missing_library(ImportError("numpy.core.multiarray failed to import")) is None
    assert missing_library_message(ImportError("No module named 'cv2'")) is None


def test_the_apt_line_holds_what_opencv_needs_and_the_named_library():
    assert install_line("libxcb.so.1") == "sudo apt install libgl1 libglib2.0-0"
    assert install_line("libgthread-2.0.so.0") == "sudo apt install libgl1 libglib2.0-0"
    assert install_line("libSM.so.6") == "sudo apt install libgl1 libglib2.0-0 libsm6"
    assert install_line("libfoo.so.3").endswith("(and the package holding libfoo.so.3: apt-file search libfoo.so.3)")
    message = missing_library_message(ImportError(LITE_ERROR))
    assert message.startswith("OpenCV cannot load the system library libxcb.so.1")
    assert message.endswith("sudo apt install libgl1 libglib2.0-0")


@pytest.fixture
def lite_env(tmp_path):
    """A Python whose `import cv2` fails the way it does on Raspberry Pi OS Lite."""
    fake = tmp_path / "site" / "cv2"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(f"raise ImportError({LITE_ERROR!r}, name='cv2')\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), os.environ.get("PYTHONPATH", "")])}


def _kerfer(args, env):
    code = "import sys; from kerfer.cli import main; main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300)


def test_a_command_says_which_library_and_package_in_one_line(lite_env, tmp_path):
    photo = tmp_path / "face.jpg"
    photo.write_bytes(b"\xff\xd8 not really a jpeg")
    r = _kerfer(["predict", str(photo)], lite_env)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert "OpenCV cannot load the system library libxcb.so.1" in lines[0]
    assert "sudo apt install libgl1 libglib2.0-0" in lines[0]


def test_doctor_names_the_library_and_points_the_other_rows_at_it(lite_env):
    r = _kerfer(["doctor"], lite_env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("✗ OpenCV"))
    assert "cannot load the system library libxcb.so.1" in lines[i]
    assert lines[i + 1].strip() == "→ sudo apt install libgl1 libglib2.0-0"
    for row in ("BlazeFace face detector", "Haar face detector", "YuNet detector support", "shipped model"):
        j = next(j for j, line in enumerate(lines) if line.startswith(f"✗ {row}"))
        assert lines[j + 1].strip() == "→ see the OpenCV row", (row, r.stdout)
    # the advice of a broken pip install would be wrong here
    assert "pip install ai-edge-litert" not in r.stdout and "opencv-python" not in r.stdout


@pytest.mark.parametrize(
    "cpuinfo, machine, cpu, simd",
    [
        (PI4_CPUINFO, "aarch64", "Raspberry Pi 4 Model B Rev 1.4: Cortex-A72 (Raspberry Pi 4, 400, CM4)", "NEON"),
        (PI4_CPUINFO.replace("0xd08", "0xd0b").replace("Model\t\t: Raspberry Pi 4 Model B Rev 1.4\n", ""),
         "aarch64", "Cortex-A76 (Raspberry Pi 5)", "NEON"),
        ("processor : 0\nmodel name : AMD EPYC\nflags : fpu sse4_2 avx2 fma\n", "x86_64", "AMD EPYC", "AVX2"),
        ("processor : 0\nmodel name : Xeon\nflags : avx2 avx512f avx512_vnni\n", "x86_64", "Xeon", "AVX512-VNNI"),
        # QEMU's user mode shows an emulated ARM program the host's /proc/cpuinfo
        ("processor : 0\nmodel name : AMD EPYC\nflags : avx2\n", "aarch64",
         "aarch64, but /proc/cpuinfo describes another CPU (an emulator?)", "NEON (every aarch64 core)"),
    ],
)  # fmt: skip
def test_cpu_summary(cpuinfo, machine, cpu, simd):
    assert cpu_summary(cpuinfo, machine) == (cpu, simd)


def test_detect_every_advice_is_the_smallest_k_that_fits_the_frame_period():
    # 30 fps = 33.3 ms a frame; classify 3 ms + detect 40 ms / k fits from k = 2 (23 ms)
    assert detect_every_advice(40.0, 3.0).startswith("--detect-every 2 keeps 1 face at 30 fps (~23.0 ms")
    assert detect_every_advice(10.0, 1.0).startswith("--detect-every 1 ")
    assert detect_every_advice(200.0, 1.0).startswith("--detect-every 7 ")  # 1 + 200/7 = 29.6 ms
    assert detect_every_advice(400.0, 40.0).startswith("this CPU cannot keep 30 fps; --detect-every 4 gives ~7.1 fps")


def test_xnnpack_is_seen_in_the_prepared_graph():
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from kerfer.modelio import default_model_path

    content = default_model_path().read_bytes()
    assert delegated(content)
    plain = Interpreter(
        model_content=content, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    plain.allocate_tensors()
    assert not any(op["op_name"] == "DELEGATE" for op in plain._get_ops_details())
