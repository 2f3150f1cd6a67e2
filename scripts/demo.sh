#!/usr/bin/env bash
# Quickstart, part 1: set up, then export every module of v1_050_160.
# Offline, it exports from a SYNTHETIC checkpoint (random weights) that it
# creates; pass --published to download the published checkpoint instead.
# Extra arguments go to `python -m export.one`.
set -euo pipefail
cd "$(dirname "$0")/.."
SETUP_BAZEL=${SETUP_BAZEL:-0} bash scripts/setup.sh
OUT=${OUT:-out}
if [[ ${1:-} == --published ]]; then
  shift
  exec .venv/bin/python -m export.one --config v1_050_160.yaml \
    --output_dir "$OUT" "$@"
fi
CKPT=$OUT/synthetic_checkpoints/v1_050_160/model.ckpt
echo "=================================================================="
echo " DEMO ON A SYNTHETIC CHECKPOINT: the weights are RANDOM, not the"
echo " published ones. The modules load and run but classify nothing."
echo "=================================================================="
.venv/bin/python -m export.synthetic_checkpoint --config v1_050_160.yaml \
  --output_prefix "$CKPT"
.venv/bin/python -m export.one --config v1_050_160.yaml \
  --checkpoint "$CKPT" --output_dir "$OUT" "$@"
echo "Modules are under $OUT/google/imagenet/mobilenet_v1_050_160/, its TF.js"
echo "models under $OUT/google/tfjs-model/imagenet/mobilenet_v1_050_160/, its"
echo "Lite files under $OUT/tensorflow/lite-model/mobilenet_v1_0.50_160/"
echo "(synthetic weights)."
