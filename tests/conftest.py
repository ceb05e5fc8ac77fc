import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest


def pytest_configure(config):
    """On Ampere and newer GPUs TensorFlow multiplies float32 matrices in
    TF32 (10-bit mantissa) unless told not to; the references here hold
    float32 results to 1e-5, so GPU runs use full float32."""
    import tensorflow as tf

    tf.config.experimental.enable_tensor_float_32_execution(False)


@pytest.fixture(autouse=True)
def _seed_and_policy():
    """Every test starts from a fixed seed and the float32 policy."""
    import keras

    keras.utils.set_random_seed(1234)
    np.random.seed(1234)
    yield
    keras.config.set_dtype_policy("float32")


def has_gpu():
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))
