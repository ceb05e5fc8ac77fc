"""Pooling a sequence `[B, T, D]` into one vector `[B, D]` over real steps only.

Every layer here reads the Keras mask (`[B, T]`, True at real steps) that an
`Embedding(mask_zero=True)` or a masked RNN passes along, and padded steps
never change the result, wherever the padding is. A row with no real step
pools to zeros. None of them passes a mask on.

* `LastStepPooling`: the output at the last real step; with
  `bidirectional=True` the first half of the features (the forward direction)
  is taken at the last real step and the second half (the backward direction,
  `BiDirectional(merge_mode="concat")`) at the first real step, so each
  direction contributes the step where it has read the whole sequence.
* `MaskedMeanPooling`, `MaskedMaxPooling`: mean or max over real steps.
* `AttentionPooling`: a learned score per step
  (`v . tanh(W x_t + b)`), softmax over real steps, weighted sum.
"""
import keras
from keras import ops

__all__ = [
    "LastStepPooling",
    "MaskedMeanPooling",
    "MaskedMaxPooling",
    "AttentionPooling",
    "get",
    "POOLINGS",
]


def _check_rank3(shape, name):
    if len(shape) != 3:
        raise ValueError(
            f"{name} expects inputs of shape [batch, time, features]; got {tuple(shape)}"
        )


def _float_mask(inputs, mask):
    """The mask as `[B, T, 1]` in the input dtype (all ones when None)."""
    if mask is None:
        return ops.ones_like(inputs[..., :1])
    return ops.expand_dims(ops.cast(mask, inputs.dtype), -1)


class _MaskedPooling(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def build(self, input_shape):
        _check_rank3(input_shape, type(self).__name__)
        self.built = True

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="keras_rnnx")
class MaskedMeanPooling(_MaskedPooling):
    """Mean over the real (unmasked) steps of a sequence.

    Args:
        **kwargs: base `Layer` arguments (`name`, `dtype`...).

    Call arguments:
        inputs: `[batch, time, features]`.
        mask: optional boolean `[batch, time]`, True at real steps; usually
            passed along by Keras from an `Embedding(mask_zero=True)`.

    Returns:
        `[batch, features]`; zeros for a row without real steps.

    Example:

    >>> import numpy as np
    >>> x = np.array([[[1.0], [3.0], [100.0]]], "float32")
    >>> mask = np.array([[True, True, False]])
    >>> float(MaskedMeanPooling()(x, mask=mask)[0, 0])
    2.0
    """

    def call(self, inputs, mask=None):
        m = _float_mask(inputs, mask)
        total = ops.sum(inputs * m, axis=1)
        count = ops.maximum(ops.sum(m, axis=1), ops.cast(1.0, inputs.dtype))
        return total / count


@keras.saving.register_keras_serializable(package="keras_rnnx")
class MaskedMaxPooling(_MaskedPooling):
    """Feature-wise max over the real (unmasked) steps of a sequence.

    Args:
        **kwargs: base `Layer` arguments (`name`, `dtype`...).

    Call arguments:
        inputs: `[batch, time, features]`.
        mask: optional boolean `[batch, time]`, True at real steps.

    Returns:
        `[batch, features]`; zeros for a row without real steps.

    Example:

    >>> import numpy as np
    >>> x = np.array([[[1.0], [-3.0], [100.0]]], "float32")
    >>> mask = np.array([[True, True, False]])
    >>> float(MaskedMaxPooling()(x, mask=mask)[0, 0])
    1.0
    """

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        m = ops.expand_dims(ops.cast(mask, "bool"), -1)
        lowest = ops.cast(-3.0e38 if inputs.dtype == "float32" else -6.0e4, inputs.dtype)
        pooled = ops.max(ops.where(m, inputs, lowest), axis=1)
        any_real = ops.any(m, axis=1)
        return ops.where(any_real, pooled, ops.zeros_like(pooled))


@keras.saving.register_keras_serializable(package="keras_rnnx")
class LastStepPooling(_MaskedPooling):
    """The output at the last real step (per direction when bidirectional).

    Args:
        bidirectional: the features are `[forward | backward]` halves as
            `BiDirectional(merge_mode="concat")` returns them; the forward
            half is read at the last real step, the backward half at the
            first real step (where the backward pass ends).
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: `[batch, time, features]` (features even when bidirectional).
        mask: optional boolean `[batch, time]`, True at real steps (a
            contiguous run; padding on either side). Without a mask the last
            (and first) step is used.

    Returns:
        `[batch, features]`; zeros for a row without real steps.

    Example:

    >>> import numpy as np
    >>> x = np.arange(6, dtype="float32").reshape(1, 3, 2)  # [[0,1],[2,3],[4,5]]
    >>> mask = np.array([[True, True, False]])
    >>> LastStepPooling(bidirectional=True)(x, mask=mask).numpy().tolist()
    [[2.0, 1.0]]
    """

    def __init__(self, bidirectional=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(bidirectional, bool):
            raise TypeError(f"`bidirectional` must be a bool; got {bidirectional!r}")
        self.bidirectional = bidirectional

    def build(self, input_shape):
        super().build(input_shape)
        if self.bidirectional and input_shape[-1] is not None and input_shape[-1] % 2:
            raise ValueError(
                "LastStepPooling(bidirectional=True) needs an even number of "
                f"features ([forward | backward]); got {input_shape[-1]}"
            )

    def call(self, inputs, mask=None):
        steps = ops.shape(inputs)[1]
        if mask is None:
            last = ops.zeros_like(inputs[:, 0, 0], dtype="int32") + (steps - 1)
            first = ops.zeros_like(last)
            valid = None
        else:
            m = ops.cast(mask, "int32")
            first = ops.cast(ops.argmax(m, axis=1), "int32")
            last = steps - 1 - ops.cast(ops.argmax(ops.flip(m, axis=1), axis=1), "int32")
            valid = ops.any(ops.cast(mask, "bool"), axis=1)

        def take(index):
            idx = ops.reshape(index, (-1, 1, 1))
            return ops.squeeze(ops.take_along_axis(inputs, idx, axis=1), 1)

        if self.bidirectional:
            half = inputs.shape[-1] // 2
            out = ops.concatenate([take(last)[:, :half], take(first)[:, half:]], axis=-1)
        else:
            out = take(last)
        if valid is not None:
            out = ops.where(ops.expand_dims(valid, -1), out, ops.zeros_like(out))
        return out

    def get_config(self):
        return {**super().get_config(), "bidirectional": self.bidirectional}


@keras.saving.register_keras_serializable(package="keras_rnnx")
class AttentionPooling(_MaskedPooling):
    """Attention pooling: softmax-weighted sum over real steps.

    `score_t = v . tanh(W x_t + b)`, `a = softmax(score)` over the real steps
    only, `output = sum_t a_t x_t`.

    Args:
        units: size of the hidden scoring layer (`W`); default: the number of
            input features.
        **kwargs: base `Layer` arguments.

    Call arguments:
        inputs: `[batch, time, features]`.
        mask: optional boolean `[batch, time]`, True at real steps.
        return_attention_scores: also return the weights `[batch, time]`
            (zero at padded steps).

    Returns:
        `[batch, features]` (and the weights when asked); zeros for a row
        without real steps.

    Example:

    >>> import numpy as np
    >>> x = np.random.rand(2, 5, 4).astype("float32")
    >>> mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    >>> AttentionPooling(units=8)(x, mask=mask).shape
    TensorShape([2, 4])
    """

    def __init__(self, units=None, **kwargs):
        super().__init__(**kwargs)
        if units is not None and (not isinstance(units, int) or units < 1):
            raise ValueError(f"`units` must be a positive int or None; got {units!r}")
        self.units = units

    def build(self, input_shape):
        super().build(input_shape)
        features = input_shape[-1]
        if features is None:
            raise ValueError("AttentionPooling needs a known number of features")
        units = self.units or features
        self.kernel = self.add_weight(
            name="kernel", shape=(features, units), initializer="glorot_uniform"
        )
        self.bias = self.add_weight(name="bias", shape=(units,), initializer="zeros")
        self.score_vector = self.add_weight(
            name="score_vector", shape=(units,), initializer="glorot_uniform"
        )

    def call(self, inputs, mask=None, return_attention_scores=False):
        hidden = ops.tanh(ops.matmul(inputs, self.kernel) + self.bias)
        scores = ops.cast(ops.sum(hidden * self.score_vector, axis=-1), "float32")
        if mask is None:
            weights = ops.softmax(scores, axis=-1)
        else:
            m = ops.cast(mask, "float32")
            scores = scores - ops.max(
                ops.where(m > 0, scores, ops.full_like(scores, -3.0e38)),
                axis=-1, keepdims=True,
            )
            e = ops.exp(ops.minimum(scores, 0.0)) * m
            weights = e / ops.maximum(ops.sum(e, axis=-1, keepdims=True), 1e-30)
        weights = ops.cast(weights, inputs.dtype)
        out = ops.sum(inputs * ops.expand_dims(weights, -1), axis=1)
        if return_attention_scores:
            return out, weights
        return out

    def get_config(self):
        return {**super().get_config(), "units": self.units}


POOLINGS = {
    "last": LastStepPooling,
    "mean": MaskedMeanPooling,
    "max": MaskedMaxPooling,
    "attention": AttentionPooling,
}


def get(pooling, bidirectional=False, name=None):
    """The pooling layer for a name in `POOLINGS` (last, mean, max, attention)."""
    if pooling not in POOLINGS:
        raise ValueError(f"`pooling` must be one of {sorted(POOLINGS)}; got {pooling!r}")
    if pooling == "last":
        return LastStepPooling(bidirectional=bidirectional, name=name)
    return POOLINGS[pooling](name=name)
