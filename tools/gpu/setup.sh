# Sourced on the GPU machine (see pack_tensorflow.sh): unpacks TensorFlow
# from the chunks in /tmp/p into /tmp/site, and points TensorFlow's CUDA 12
# library names at the image's CUDA 13 libraries, except the CUDA runtime,
# which is the real CUDA 12 one carried in .gpu/lib.
set -e
mkdir -p /tmp/site /tmp/shim
if [ ! -f /tmp/site/.tf_ok ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl
  cat /tmp/p/tf.part.* | xz -d -T0 | tar xf - -C /tmp/site
  touch /tmp/site/.tf_ok
fi
L=/usr/local/cuda-13.0/targets/x86_64-linux/lib
cp .gpu/lib/libcudart.so.12 /tmp/shim/
for pair in cublas.so.13:cublas.so.12 cublasLt.so.13:cublasLt.so.12 \
            cufft.so.12:cufft.so.11 cusolver.so.12:cusolver.so.11 cusparse.so.12:cusparse.so.12 \
            nvJitLink.so.13:nvJitLink.so.12 nvrtc.so.13:nvrtc.so.12 cupti.so.13:cupti.so.12 \
            curand.so.10:curand.so.10; do
  ln -sf $L/lib${pair%%:*} /tmp/shim/lib${pair##*:}
done
export LD_LIBRARY_PATH=/tmp/shim:$L:/usr/lib/x86_64-linux-gnu
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=tensorflow TF_FORCE_GPU_ALLOW_GROWTH=true
set +e
