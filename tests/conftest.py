import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest


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
