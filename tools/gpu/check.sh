#!/usr/bin/env bash
# The GPU checks, run on the lent machine after the chunks are in /tmp/p
# (see README.md here):  bash tools/gpu/check.sh   (writes to $OUT if set)
#  1. the layer tests in one process (pytest-xdist workers each take the GPU);
#  2. the core-layer benchmark rows (wall time, ours vs Keras, same process).
source .gpu/setup.sh
out=${OUT:-/tmp/gpu_out}; mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/card.txt"
python3 -m pytest -p no:cacheprovider -q -rs \
  tests/test_lstm.py tests/test_gru.py tests/test_bidirectional.py \
  tests/test_recurrence.py tests/test_mixed_precision_xla.py 2>&1 \
  | grep -v "^I0000\|^W0000\|cuda_\|gpu_device" | tee "$out/pytest.txt" | tail -25
python3 - <<'PY' 2>&1 | grep -v "^I0000\|^W0000" | tee "$out/bench.txt" | tail -20
import tensorflow as tf
print("GPUs:", tf.config.list_physical_devices("GPU"))
from tools.benchmarks import layers
for r in layers._measure(quick=False):
    print(f"| {r['benchmark'].replace(', wall time', '')} | {r['ours']:.2f} | {r['peer']:.2f} | {r['ratio']:.2f} | ms |")
PY
