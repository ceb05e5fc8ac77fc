#!/usr/bin/env bash
# The GPU checks, run on the lent machine after the chunks are in /tmp/p
# (see README.md here):  bash tools/gpu/check.sh   (writes to $OUT if set)
#  1. the layer tests in one process (pytest-xdist workers each take the GPU);
#  2. the core-layer benchmark rows (wall time, ours vs Keras, same process);
#  3. the word2vec row: ours on the GPU (the chunk loop,
#     layers/skipgram.sgd_negative_sampling_chunk) against gensim with a
#     worker for every core of the machine, end to end, same process, on the
#     carried corpus (.gpu/w2v_corpus.txt.xz); with the devices the chunk
#     function's ops were placed on (w2v_placement.txt: any op on the CPU
#     inside the loop is a host round trip per block). Not yet run on a GPU.
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
xz -dc .gpu/w2v_corpus.txt.xz > /tmp/w2v_corpus.txt
RNNX_W2V_CORPUS=/tmp/w2v_corpus.txt python3 - <<'PY' 2>&1 | grep -v "^I0000\|^W0000" | tee "$out/word2vec.txt" | tail -12
import os
import tensorflow as tf
from tools.benchmarks import word2vec
print("GPUs:", tf.config.list_physical_devices("GPU"), "cores:", os.cpu_count())
for r in word2vec.compare(os.environ["RNNX_W2V_CORPUS"], "kjv+wiki500", gensim_workers=os.cpu_count()):
    print(f"| {r['benchmark']} | {r['ours']:.4g} | {r['peer']:.4g} | {r['ratio']:.3g} | {r['unit']} |")
PY
# where the chunk function's ops ran (TensorFlow logs each node's device)
python3 - <<'PY' > "$out/w2v_placement_log.txt" 2>&1
import tensorflow as tf
tf.debugging.set_log_device_placement(True)
from keras_rnnx import Word2Vec
Word2Vec(vector_size=16, min_count=1, epochs=1, batch_size=64).fit(["the cat sat on the mat"] * 200)
PY
# (the training loop's nodes are while/...; int32 kernels registered on the GPU
# with host memory count as GPU here)
grep -o "^while/[^ ]*: ([A-Za-z0-9_]*): /job[^ ]*" "$out/w2v_placement_log.txt" \
  | sed 's/.*: (\(.*\)): .*device:\(.*\)/\2 \1/' | sort | uniq -c | sort -k2,2 -k1,1nr \
  | tee "$out/w2v_placement.txt" | grep CPU | head -30
