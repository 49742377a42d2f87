#!/usr/bin/env bash
# A shipped model's float generator from git history (assets/ holds only the current one), for
# fine-tuning runs:   training/shipped_weights.sh COMMIT OUT_FILE   (kept if OUT_FILE is already there)
set -uo pipefail
commit=$1; out=$2
mkdir -p "$(dirname "$out")"
[ -s "$out" ] || git show "$commit:assets/lgps_float.weights.h5" > "$out" \
  || { echo "no assets/lgps_float.weights.h5 at commit $commit"; rm -f "$out"; exit 1; }
