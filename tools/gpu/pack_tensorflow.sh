#!/usr/bin/env bash
# Packs TensorFlow 2.21 (GPU build) for a machine that has a GPU, CUDA 13
# libraries and no network (this workplace's H100/H200 image), in chunks
# small enough to carry one per call (the device tool carries 64 MiB), with
# what check.sh's word2vec row needs: tensorflow-text (our tokenizer's ops;
# a 60 MB wheel, so it travels in the chunks), gensim and smart_open (gensim's
# numpy and scipy come with the image's PyTorch/JAX: unverified until a GPU
# session runs it), and the benchmark corpus in .gpu/.
#
#   tools/gpu/pack_tensorflow.sh            # writes .gpu/ and .gpuc1 ... .gpucN
#
# Then, with the device tool: one call per chunk, each carrying `.gpucK` and
# running `mkdir -p /tmp/p && cp .gpucK/* /tmp/p/` (back to back: the machine
# is given back after 30 s idle), and a last call carrying `.gpu` that runs
# `source .gpu/setup.sh` before pytest or tools/bench.py. See README.md here.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
work=$(mktemp -d)
plat=(--only-binary=:all: --no-deps --python-version 3.12 --implementation cp
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
      --platform manylinux1_x86_64)
python3 -m pip download -q "${plat[@]}" -d "$work/tf" tensorflow==2.21.0
python3 -m pip download -q "${plat[@]}" -d "$work/tf" "tensorflow-text==2.21.1" gensim==4.4.0 smart_open
python3 -m pip download -q "${plat[@]}" -d .gpu/whl keras==3.15.1 namex optree \
    astunparse gast google_pasta termcolor "protobuf>=6.31.1,<7" "h5py<3.15" \
    "ml_dtypes>=0.5.1,<1" wrapt
# TensorFlow's own CUDA kernels need the CUDA 12 runtime (with CUDA 13's they
# load silently broken: split, slice, concat, random ops return garbage);
# cuBLAS, cuDNN and friends from the image's CUDA 13 work.
python3 -m pip download -q "${plat[@]}" -d "$work/rt" "nvidia-cuda-runtime-cu12==12.9.*"
mkdir -p .gpu/lib
unzip -q -o -j "$work"/rt/*.whl 'nvidia/cuda_runtime/lib/libcudart.so.12' -d .gpu/lib
mkdir -p "$work/site"
for whl in "$work"/tf/*.whl; do unzip -q -o "$whl" -d "$work/site"; done
# not needed at run time: TensorFlow's C++ headers, gensim's C sources and its
# test data except the evaluation sets (and the small corpus of --quick)
rm -rf "$work/site/tensorflow/include" "$work"/site/gensim/*.c "$work"/site/gensim/*/*.c
find "$work/site/gensim/test/test_data" -mindepth 1 -maxdepth 1 ! -name questions-words.txt \
     ! -name wordsim353.tsv ! -name lee_background.cor -exec rm -rf {} +
(cd "$work/site" && tar cf - . | xz -6 -T0 > "$work/tf.tar.xz")
n=$(( ($(stat -c %s "$work/tf.tar.xz") + 55000000 - 1) / 55000000 ))
(cd "$work" && split -n "$n" -d -a 1 tf.tar.xz tf.part.)
for i in $(seq 0 $((n - 1))); do
  mkdir -p ".gpuc$((i + 1))" && mv "$work/tf.part.$i" ".gpuc$((i + 1))/"
done
cp tools/gpu/setup.sh .gpu/setup.sh
# the word2vec row's corpus (tools/benchmarks/word2vec.big_corpus(): needs
# gensim here and Debian's bible-kjv), compressed; check.sh unpacks it
py=${PYTHON:-python3}; [ -x .venv/bin/python ] && py=${PYTHON:-.venv/bin/python}
corpus=$(PYTHONPATH=$PWD "$py" -c "from tools.benchmarks.word2vec import big_corpus; print(big_corpus() or '')")
[ -n "$corpus" ] || { echo "no word2vec corpus: apt-get install bible-kjv (or set RNNX_W2V_CORPUS)" >&2; exit 1; }
xz -9 -c "$corpus" > .gpu/w2v_corpus.txt.xz
exclude=$(git rev-parse --git-path info/exclude)  # .git is a file in a worktree
mkdir -p "$(dirname "$exclude")"
grep -qx '/.gpu/' "$exclude" 2>/dev/null || printf '/.gpu/\n/.gpuc*/\n' >> "$exclude"
rm -rf "$work"
echo "chunks: .gpuc1 .. .gpuc$n; then carry .gpu and run: source .gpu/setup.sh"
