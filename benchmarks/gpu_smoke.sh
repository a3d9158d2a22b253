#!/usr/bin/env bash
# The GPU route end to end, the day a GPU is at hand: one short epoch per --arch under mixed
# precision, then export (SavedModel + every TFLite kind, parity report) and predict with int8.
#
#   bash benchmarks/gpu_smoke.sh [CSV] [OUT]
#     CSV  FER2013 CSV (default ../shared/data/fer2013.csv.gz)
#     OUT  work folder (default runs/gpu_smoke; emptied first)
#   env: ARCHS="cnn vgg resnet edge"  PRECISION=mixed_float16  EPOCHS=1  BATCH=256
#        EXTRA="..." (more train flags, e.g. --arch-option ... for a quick CPU rehearsal)
#        PHOTO=../shared/media/two_people.jpg
#
# Prints `kerfer doctor`, then per arch: train / export seconds, best val accuracy, the parity
# table and the faces int8 finds in PHOTO. Stops at the first failure (set -e).
set -euo pipefail

HERE="$(cd "$(dirname "$0")/.." && pwd)"
CSV="${1:-$HERE/../shared/data/fer2013.csv.gz}"
OUT="${2:-runs/gpu_smoke}"
ARCHS="${ARCHS:-cnn vgg resnet edge}"
PRECISION="${PRECISION:-mixed_float16}"
EPOCHS="${EPOCHS:-1}"
BATCH="${BATCH:-256}"
EXTRA="${EXTRA:-}"
PHOTO="${PHOTO:-$HERE/../shared/media/two_people.jpg}"
KERFER="${KERFER:-kerfer}"

rm -rf "$OUT"
mkdir -p "$OUT"
$KERFER doctor
for arch in $ARCHS; do
  echo "=== $arch: $EPOCHS epoch(s), --precision $PRECISION, batch $BATCH"
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  $KERFER train --csv "$CSV" --arch "$arch" --epochs "$EPOCHS" --batch-size "$BATCH" \
    --precision "$PRECISION" --out "$OUT/$arch" $EXTRA | tail -n 1
  t1=$(date +%s.%N)
  $KERFER export "$OUT/$arch" --tflite float32 --tflite float16 --tflite dynamic --tflite int8 \
    --csv "$CSV" --out "$OUT/$arch/export"
  t2=$(date +%s.%N)
  if [ -f "$PHOTO" ]; then
    $KERFER predict "$PHOTO" --model "$OUT/$arch/export/model_int8.tflite"
  fi
  awk -v a="$t0" -v b="$t1" -v c="$t2" -v arch="$arch" \
    'BEGIN { printf "%s: train %.1f s, export %.1f s\n", arch, b - a, c - b }'
done
