"""Preprocessing layers for id inputs: `SanitizeIds` (out-of-range ids to the
OOV id) and `TokenDropout` (word dropout to the OOV id while training).

The string-to-ids layer is `keras_rnnx.text.TextToIds`.
"""
import keras
import numpy as np  # noqa: F401 - the examples use it
from keras import ops


@keras.saving.register_keras_serializable(package="keras_rnnx")
class SanitizeIds(keras.layers.Layer):
    """Maps token ids outside `[0, vocabulary_size)` to the OOV id.

    Keeps a bad id from reaching the embedding (where TensorFlow would fail
    deep inside a gather, and TFLite would read out of bounds).

    Args:
        vocabulary_size: number of ids, padding and OOV included.
        oov_id: the id that replaces out-of-range ids.

    Call arguments:
        inputs: integer ids of any shape.

    Example:

    >>> SanitizeIds(10)(np.array([[3, 12, -1, 0]])).numpy().tolist()
    [[3, 1, 1, 0]]
    """

    def __init__(self, vocabulary_size, oov_id=1, **kwargs):
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        if not isinstance(vocabulary_size, int) or vocabulary_size < 2:
            raise ValueError(f"`vocabulary_size` must be an int >= 2; got {vocabulary_size!r}")
        if not isinstance(oov_id, int) or not 0 <= oov_id < vocabulary_size:
            raise ValueError(f"`oov_id` must be an int in [0, {vocabulary_size}); got {oov_id!r}")
        self.vocabulary_size = vocabulary_size
        self.oov_id = oov_id

    def call(self, inputs):
        ids = ops.cast(inputs, "int32")
        bad = ops.logical_or(ids < 0, ids >= self.vocabulary_size)
        return ops.where(bad, ops.full_like(ids, self.oov_id), ids)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "oov_id": self.oov_id,
        }


@keras.saving.register_keras_serializable(package="keras_rnnx")
class TokenDropout(keras.layers.Layer):
    """Word dropout: in training, replaces real tokens by the OOV id at `rate`.

    Teaches the model what an unknown word means (the OOV id never occurs in
    the training texts otherwise, since the vocabulary is built from them).
    Padding (id 0) is never touched; at inference it is the identity.

    Args:
        rate: float in [0, 1), the probability of replacing a real token.
        oov_id: the OOV id; ids below it (padding) are left alone.
        seed: optional int seed.

    Call arguments:
        inputs: integer ids of any shape.
        training: whether to drop tokens.

    Example:

    >>> layer = TokenDropout(0.5, seed=1)
    >>> layer(np.array([[5, 6, 0]]), training=False).numpy().tolist()
    [[5, 6, 0]]
    """

    def __init__(self, rate, oov_id=1, seed=None, **kwargs):
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise ValueError(f"`rate` must be a float in [0, 1); got {rate!r}")
        self.rate = float(rate)
        self.oov_id = int(oov_id)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        ids = ops.cast(inputs, "int32")
        if not training or self.rate == 0.0:
            return ids
        drop = keras.random.uniform(ops.shape(ids), seed=self.seed_generator) < self.rate
        drop = ops.logical_and(drop, ids > self.oov_id)
        return ops.where(drop, ops.full_like(ids, self.oov_id), ids)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "oov_id": self.oov_id, "seed": self.seed}
