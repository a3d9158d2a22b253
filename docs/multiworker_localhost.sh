#!/usr/bin/env bash
# Two MultiWorkerMirroredStrategy workers on this machine (localhost only), one epoch, in sync.
# Usage: bash docs/multiworker_localhost.sh path/to/fer2013.csv.gz [OUT_DIR]
set -euo pipefail
CSV="${1:?path to fer2013.csv(.gz)}"
OUT="${2:-$(mktemp -d)}"
mkdir -p "$OUT"
CLUSTER='{"worker": ["127.0.0.1:12345", "127.0.0.1:12346"]}'
common=(train --csv "$CSV" --strategy multiworker --epochs 1 --batch-size 128 --no-augment
        --arch-option 'widths=[16,32,64,128]')
TF_CONFIG="{\"cluster\": $CLUSTER, \"task\": {\"type\": \"worker\", \"index\": 0}}" \
  kerfer "${common[@]}" --out "$OUT/chief" > "$OUT/worker0.log" 2>&1 &
TF_CONFIG="{\"cluster\": $CLUSTER, \"task\": {\"type\": \"worker\", \"index\": 1}}" \
  kerfer "${common[@]}" --out "$OUT/worker1" > "$OUT/worker1.log" 2>&1 &
wait
tail -n 2 "$OUT/worker0.log" "$OUT/worker1.log"
echo "run directory: $OUT/chief"
