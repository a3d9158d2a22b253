#!/usr/bin/env bash
# make test-pi, inside the emulated Raspberry Pi OS Lite (run by emulate.sh in a chroot, as root, so
# README's `sudo apt ...` is plain apt here). Writes what tests/test_pi_emulated.py compares to ~/out.
set -euo pipefail
cd /home/pi/kerfer
out=/home/pi/out
media=/home/pi/media
step() { printf '\n== %s\n' "$*"; }

step "README's Pi install: a venv that sees the system's packages (python3-picamera2), NumPy 1.x"
python3 -m venv --system-site-packages .venv && .venv/bin/pip install . "numpy<2"
.venv/bin/pip check >"$out/pip_check.txt" 2>&1 || true
cat "$out/pip_check.txt"

step "Lite as it comes: OpenCV's X/GL libraries are missing; doctor must name them"
.venv/bin/kerfer doctor >"$out/doctor_lite.txt" 2>&1 || true
cat "$out/doctor_lite.txt"
.venv/bin/kerfer predict "$media/two_people.jpg" >"$out/predict_lite.txt" 2>&1 && echo "predict ran on Lite" || true

step "README's apt line for Lite"
export DEBIAN_FRONTEND=noninteractive
apt install -y libgl1 libglib2.0-0

step "kerfer doctor"
.venv/bin/kerfer doctor >"$out/doctor.txt" 2>&1 || true
cat "$out/doctor.txt"

step "kerfer predict"
.venv/bin/kerfer predict "$media/two_people.jpg" --json >"$out/predict.jsonl"
cat "$out/predict.jsonl"

step "kerfer predict on a Pi 5's Cortex-A76 (dot-product instructions: other XNNPACK kernels)"
QEMU_CPU=cortex-a76 .venv/bin/kerfer predict "$media/two_people.jpg" --json >"$out/predict_pi5.jsonl"
cat "$out/predict_pi5.jsonl"

step "kerfer live on a clip"
.venv/bin/kerfer live --source "$media/test.mp4" --headless --output "$out/live.csv" 2>&1 | tee "$out/live.txt"

step "kerfer live --picamera (the fake picamera2 serves test.mp4)"
FAKE_PICAMERA2_VIDEO=$media/test.mp4 FAKE_PICAMERA2_LOG=$out/picamera_calls.jsonl \
    .venv/bin/kerfer live --picamera --detect-every 3 --headless --max-frames 60 --output "$out/picamera.csv" 2>&1 | tee "$out/picamera.txt"

step "versions"
.venv/bin/python - >"$out/versions.json" <<'PY'
import json, platform
import numpy, cv2, numexpr, picamera2, ai_edge_litert
print(json.dumps({
    "machine": platform.machine(),
    "numpy": numpy.__version__, "numpy_file": numpy.__file__,
    "opencv": cv2.__version__, "numexpr": numexpr.__version__,
    "picamera2": picamera2.__file__, "ai_edge_litert": getattr(ai_edge_litert, "__version__", "?"),
}))
PY
cat "$out/versions.json"
du -sm .venv | cut -f1 >"$out/venv_mb.txt"
