"""Additive (Bahdanau) attention."""
import keras
from keras import ops


def _large_negative(dtype):
    """A finite number whose exp underflows to 0 in `dtype`."""
    return -1e9 if str(dtype) in ("float32", "float64") else -3e4


@keras.saving.register_keras_serializable(package="keras_rnnx")
class BahdanauAttention(keras.layers.Layer):
    """Additive attention of Bahdanau et al. (2014).

    Scores each source position t' against a query s with
    `e[t'] = v . tanh(W_q s + W_k a[t'] + b)`, normalises them with a softmax
    over the source positions, `alpha = softmax(e)`, and returns the context
    `c = sum_t' alpha[t'] a[t']` together with the weights `alpha`.

    The key projection `W_k a (+ b)` depends only on the source sequence: call
    `compute_keys(values)` once and pass the result to `attend(...)` at every
    decoder step (the attention decoder does so).

    Args:
        units: positive int, the size of the hidden energy layer.
        normalize: bool, weight-normalised energy as TensorFlow Addons'
            `BahdanauAttention(normalize=True)`: `v` is replaced by
            `g * v / ||v||` with a trainable scalar `g` initialised to
            `sqrt(1 / units)`. With `use_bias=True` (the default) this is
            exactly TFA's normalised form.
        use_bias: bool, whether the energy has the bias `b`.
        kernel_initializer: initializer of `W_q` and `W_k`.
        energy_initializer: initializer of `v`.
        bias_initializer: initializer of `b`.
        **kwargs: standard layer arguments (`name`, `dtype`, ...).

    Call arguments:
        query: float tensor `(B, Hq)` (one decoder step) or `(B, Tq, Hq)`
            (all steps at once, for teacher forcing).
        values: float tensor `(B, Tv, Hv)`, the encoder outputs.
        mask: optional bool tensor `(B, Tv)`, True at real source positions.
            Masked positions get exactly zero weight; a row whose positions
            are all masked gets zero weights and a zero context. When not
            given, the Keras mask attached to `values` (for example from
            `Embedding(mask_zero=True)`) is used.
        values_mask: alias of `mask`, filled in by Keras from `values`.

    Returns:
        `(context, weights)`: `(B, Hv)` and `(B, Tv)` for a 2-D query,
        `(B, Tq, Hv)` and `(B, Tq, Tv)` for a 3-D query.

    Example:

    >>> import numpy as np
    >>> layer = BahdanauAttention(8)
    >>> query = np.random.rand(2, 5).astype("float32")
    >>> values = np.random.rand(2, 7, 4).astype("float32")
    >>> mask = np.array([[True] * 7, [True] * 3 + [False] * 4])
    >>> context, weights = layer(query, values, mask=mask)
    >>> tuple(context.shape), tuple(weights.shape)
    ((2, 4), (2, 7))
    >>> float(weights[1, 3:].numpy().sum())
    0.0
    """

    def __init__(
        self,
        units,
        normalize=False,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        energy_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(
                f"BahdanauAttention: `units` must be a positive int, got {units!r}"
            )
        for name, value in (("normalize", normalize), ("use_bias", use_bias)):
            if not isinstance(value, bool):
                raise TypeError(
                    f"BahdanauAttention: `{name}` must be a bool, got {value!r}"
                )
        self.units = units
        self.normalize = normalize
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.energy_initializer = keras.initializers.get(energy_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    # ------------------------------------------------------------------ build
    def build(self, query_shape, values_shape=None):
        if values_shape is None:
            raise ValueError(
                "BahdanauAttention: call the layer as `layer(query, values)`; "
                "`values` is missing"
            )
        query_shape, values_shape = tuple(query_shape), tuple(values_shape)
        self._check_shapes(query_shape, values_shape)
        self.query_kernel = self.add_weight(
            name="query_kernel",
            shape=(query_shape[-1], self.units),
            initializer=self.kernel_initializer,
        )
        self.key_kernel = self.add_weight(
            name="key_kernel",
            shape=(values_shape[-1], self.units),
            initializer=self.kernel_initializer,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.units,), initializer=self.bias_initializer
            )
        else:
            self.bias = None
        self.energy = self.add_weight(
            name="energy",
            shape=(self.units,),
            initializer=self.energy_initializer,
        )
        if self.normalize:
            self.energy_scale = self.add_weight(
                name="energy_scale",
                shape=(),
                initializer=keras.initializers.Constant((1.0 / self.units) ** 0.5),
            )
        self._query_dim = query_shape[-1]
        self._values_dim = values_shape[-1]
        self.built = True

    def _check_shapes(self, query_shape, values_shape):
        if len(query_shape) not in (2, 3):
            raise ValueError(
                "BahdanauAttention: `query` must have rank 2 (batch, features) "
                f"or 3 (batch, time, features), got shape {query_shape}"
            )
        if len(values_shape) != 3:
            raise ValueError(
                "BahdanauAttention: `values` must have rank 3 "
                f"(batch, source_time, features), got shape {values_shape}"
            )
        if query_shape[-1] is None or values_shape[-1] is None:
            raise ValueError(
                "BahdanauAttention: the last dimension of `query` and `values` "
                f"must be known, got {query_shape} and {values_shape}"
            )
        bq, bv = query_shape[0], values_shape[0]
        if bq is not None and bv is not None and bq != bv:
            raise ValueError(
                "BahdanauAttention: `query` and `values` must have the same "
                f"batch size, got {bq} (query shape {query_shape}) and {bv} "
                f"(values shape {values_shape})"
            )
        if getattr(self, "built", False):
            for arg, got, want in (
                ("query", query_shape[-1], self._query_dim),
                ("values", values_shape[-1], self._values_dim),
            ):
                if got != want:
                    raise ValueError(
                        f"BahdanauAttention: `{arg}` last dimension must be "
                        f"{want} (as when the layer was built), got {got}"
                    )

    # ------------------------------------------------------------- the maths
    def compute_keys(self, values):
        """`W_k a + b` for every source position: `(B, Tv, units)`.

        Computed once per source sequence and reused at every decoder step.
        """
        keys = ops.matmul(values, self.key_kernel)
        if self.bias is not None:
            keys = keys + self.bias
        return keys

    def _energy_vector(self):
        if not self.normalize:
            return self.energy
        v = self.energy
        return self.energy_scale * v * ops.rsqrt(ops.sum(ops.square(v)))

    def attend(self, query, values, keys, mask=None):
        """Attention with precomputed `keys = compute_keys(values)`.

        `query` is `(B, Hq)` or `(B, Tq, Hq)`; returns `(context, weights)`.
        """
        processed = ops.matmul(query, self.query_kernel)
        rank = len(query.shape)
        if rank == 2:
            hidden = ops.tanh(ops.expand_dims(processed, 1) + keys)  # B,Tv,U
        else:
            hidden = ops.tanh(
                ops.expand_dims(processed, 2) + ops.expand_dims(keys, 1)
            )  # B,Tq,Tv,U
        scores = ops.sum(hidden * self._energy_vector(), axis=-1)
        if mask is not None:
            mask = ops.cast(mask, "bool")
            if rank == 3:
                mask = ops.expand_dims(mask, 1)
            scores = ops.where(
                mask, scores, ops.cast(_large_negative(scores.dtype), scores.dtype)
            )
        weights = ops.softmax(scores, axis=-1)
        if mask is not None:
            # exact zeros at masked positions, and a zero row when all are
            # masked (the softmax of an all-masked row is uniform, not NaN)
            weights = weights * ops.cast(mask, weights.dtype)
        if rank == 2:
            context = ops.squeeze(ops.matmul(ops.expand_dims(weights, 1), values), 1)
        else:
            context = ops.matmul(weights, values)
        return context, weights

    def call(self, query, values, mask=None, values_mask=None):
        if mask is None:
            mask = values_mask
        if isinstance(mask, (list, tuple)):
            # [query_mask, values_mask] as keras.layers.Attention takes it
            if len(mask) != 2:
                raise ValueError(
                    "BahdanauAttention: `mask` must be the values mask (B, Tv) "
                    f"or a list [query_mask, values_mask], got {len(mask)} items"
                )
            mask = mask[1]
        self._check_shapes(tuple(query.shape), tuple(values.shape))
        if mask is not None:
            mask_shape = tuple(mask.shape)
            if len(mask_shape) != 2:
                raise ValueError(
                    "BahdanauAttention: `mask` must have shape (batch, "
                    f"source_time), got {mask_shape} for values {tuple(values.shape)}"
                )
            for i in (0, 1):
                if (
                    mask_shape[i] is not None
                    and values.shape[i] is not None
                    and mask_shape[i] != values.shape[i]
                ):
                    raise ValueError(
                        "BahdanauAttention: `mask` shape must match the first "
                        f"two dimensions of `values` {tuple(values.shape)}, got "
                        f"{mask_shape}"
                    )
        return self.attend(query, values, self.compute_keys(values), mask)

    def compute_mask(self, query, values=None, mask=None, values_mask=None):
        return None

    def compute_output_shape(self, query_shape, values_shape):
        query_shape, values_shape = tuple(query_shape), tuple(values_shape)
        context = query_shape[:-1] + (values_shape[-1],)
        weights = query_shape[:-1] + (values_shape[1],)
        return context, weights

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            normalize=self.normalize,
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            energy_initializer=keras.initializers.serialize(self.energy_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config
