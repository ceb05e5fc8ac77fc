"""An attention decoder: a recurrent cell that attends over encoder outputs.

`AttentionDecoderCell` is one decoder step (Bahdanau et al. 2014): the
previous state `s[t-1]` queries a `BahdanauAttention` over the encoder outputs,
the context `c[t]` is fed into the recurrent cell together with the input
(input feeding), and the step emits `[s[t], c[t]]` and the attention weights.

`AttentionDecoder` runs the cell over a whole target sequence (teacher
forcing). Both give identical numbers for identical inputs.
"""
import keras
import tensorflow as tf
from keras import ops

from keras_rnnx.layers.attention import BahdanauAttention

# keys of the decoder state nest (see AttentionDecoderCell.get_initial_state)
_MEMORY_KEYS = ("values", "keys", "values_mask")


def _state_list(cell):
    size = cell.state_size
    return list(size) if isinstance(size, (list, tuple)) else [size]


@keras.saving.register_keras_serializable(package="keras_rnnx")
class AttentionDecoderCell(keras.layers.Layer):
    """One step of a Bahdanau attention decoder with input feeding.

    At step t, with input `x[t]` (for example the embedding of the previous
    target token) and the cell's previous state `s[t-1]` (its first state, `h`):

        c[t], alpha[t] = attention(query=h[t-1], values=encoder outputs)
        h[t], states[t] = cell([x[t], c[t]], states[t-1])
        output[t] = [h[t], c[t]]

    The decoder state is a dict, so a beam search that tiles and reorders
    every tensor of the state handles the encoder memory too:
    `{"cell": [cell states], "values": (B, Ts, Hv), "keys": (B, Ts, units)
    (the precomputed key projection), "values_mask": (B, Ts) float}`. Build
    it with `get_initial_state(values, values_mask, cell_state)`.

    Args:
        cell: a recurrent cell following the Keras cell protocol, normally
            `keras_rnnx.LSTMCellX(units)` or `keras_rnnx.GRUCellX(units)`.
        attention: a `keras_rnnx.BahdanauAttention` layer.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: float tensor `(B, D)`, the step input.
        states: the state dict described above.
        training: Python bool, passed to the cell (dropout).

    Returns:
        `((output, weights), new_states)`: output `(B, units + Hv)`, weights
        `(B, Ts)`, new_states a dict like `states`.

    Example:

    >>> import numpy as np, keras_rnnx
    >>> cell = AttentionDecoderCell(
    ...     keras_rnnx.LSTMCellX(16), keras_rnnx.BahdanauAttention(8))
    >>> values = np.random.rand(2, 5, 6).astype("float32")
    >>> state = cell.get_initial_state(values)
    >>> (out, weights), state = cell(np.zeros((2, 3), "float32"), state)
    >>> tuple(out.shape), tuple(weights.shape)
    ((2, 22), (2, 5))
    """

    def __init__(self, cell, attention, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        if isinstance(attention, dict):
            attention = keras.saving.deserialize_keras_object(attention)
        if not hasattr(cell, "state_size") or not callable(cell):
            raise ValueError(
                "AttentionDecoderCell: `cell` must be a recurrent cell with a "
                f"`state_size` (e.g. keras_rnnx.LSTMCellX), got {cell!r}"
            )
        if not isinstance(attention, BahdanauAttention):
            raise ValueError(
                "AttentionDecoderCell: `attention` must be a "
                f"keras_rnnx.BahdanauAttention, got {attention!r}"
            )
        self.cell = cell
        self.attention = attention

    @property
    def units(self):
        return _state_list(self.cell)[0]

    @property
    def state_size(self):
        return _state_list(self.cell)

    def build(self, inputs_shape, states_shape=None):
        # `states_shape`: the state dict's shapes (as Keras passes them when
        # the cell is first called) or directly the encoder outputs' shape
        values_shape = states_shape
        if isinstance(states_shape, dict):
            values_shape = states_shape.get("values")
        if values_shape is None:
            raise ValueError(
                "AttentionDecoderCell: build(inputs_shape, states_shape) needs "
                "the encoder outputs' shape (states['values'])"
            )
        inputs_shape, values_shape = tuple(inputs_shape), tuple(values_shape)
        if len(values_shape) != 3:
            raise ValueError(
                "AttentionDecoderCell: `values` must have rank 3 (batch, "
                f"source_time, features), got shape {values_shape}"
            )
        if not self.attention.built:
            self.attention.build((None, self.units), values_shape)
        if not self.cell.built:
            self.cell.build((None, inputs_shape[-1] + values_shape[-1]))
        self._input_dim = inputs_shape[-1]
        self.built = True

    def get_initial_state(self, values, values_mask=None, cell_state=None):
        """The state dict for encoder outputs `values` (B, Ts, Hv).

        `cell_state`: the cell's initial state (a list like the cell's
        `state_size`, e.g. from a bridge over the encoder's final states);
        zeros when None. The key projection is computed here, once.
        """
        values = ops.convert_to_tensor(values, dtype=self.compute_dtype)
        if len(values.shape) != 3:
            raise ValueError(
                "AttentionDecoderCell: `values` must have rank 3 (batch, "
                f"source_time, features), got shape {tuple(values.shape)}"
            )
        if not self.attention.built:
            self.attention.build((None, self.units), tuple(values.shape))
        batch = ops.shape(values)[0]
        if values_mask is None:
            values_mask = ops.ones(ops.shape(values)[:2], dtype=self.compute_dtype)
        else:
            values_mask = ops.cast(values_mask, self.compute_dtype)
        if cell_state is None:
            cell_state = [
                ops.zeros((batch, size), dtype=self.compute_dtype)
                for size in self.state_size
            ]
        else:
            cell_state = list(cell_state) if isinstance(cell_state, (list, tuple)) else [cell_state]
            if len(cell_state) != len(self.state_size):
                raise ValueError(
                    f"AttentionDecoderCell: `cell_state` must hold "
                    f"{len(self.state_size)} tensors (the cell's state_size "
                    f"{self.state_size}), got {len(cell_state)}"
                )
        return {
            "cell": cell_state,
            "values": values,
            "keys": self.attention.compute_keys(values),
            "values_mask": values_mask,
        }

    def call(self, inputs, states, training=None):
        cell_state = list(states["cell"])
        context, weights = self.attention.attend(
            cell_state[0], states["values"], states["keys"], states["values_mask"]
        )
        cell_inputs = ops.concatenate([inputs, context], axis=-1)
        h, new_cell_state = self.cell(cell_inputs, cell_state, training=training)
        if not isinstance(new_cell_state, (list, tuple)):
            new_cell_state = [new_cell_state]
        output = ops.concatenate([h, context], axis=-1)
        new_states = dict(states)
        new_states["cell"] = list(new_cell_state)
        return (output, weights), new_states

    def get_config(self):
        config = super().get_config()
        config.update(
            cell=keras.saving.serialize_keras_object(self.cell),
            attention=keras.saving.serialize_keras_object(self.attention),
        )
        return config


@keras.saving.register_keras_serializable(package="keras_rnnx")
class AttentionDecoder(keras.layers.Layer):
    """Runs an `AttentionDecoderCell` over a whole target sequence.

    For training with teacher forcing: `inputs` are the embedded previous
    target tokens. Gives the same numbers as calling the cell step by step
    (see `AttentionDecoderCell`), which is what inference does.

    Args:
        cell: an `AttentionDecoderCell`.
        return_state: bool, also return the cell's final states.
        unroll: bool, unroll the time loop in Python (needs a static target
            length; good for short targets, and for TFLite export).
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: float tensor `(B, Tt, D)`.
        values: float tensor `(B, Ts, Hv)`, the encoder outputs.
        initial_state: optional list of the cell's initial states (e.g. from a
            bridge Dense over the encoder's final states); zeros when None.
        mask: optional bool `(B, Tt)` target mask (default: the Keras mask of
            `inputs`). At masked steps the state is carried unchanged and the
            output and weights are zero.
        values_mask: optional bool `(B, Ts)` source mask (default: the Keras
            mask of `values`, e.g. from `Embedding(mask_zero=True)`).
        training: Python bool, passed to the cell.

    Returns:
        `(outputs, weights)`: `(B, Tt, units + Hv)` and `(B, Tt, Ts)`;
        with `return_state=True`, followed by the cell's final states.

    Example:

    >>> import numpy as np, keras_rnnx
    >>> decoder = AttentionDecoder(AttentionDecoderCell(
    ...     keras_rnnx.GRUCellX(16), keras_rnnx.BahdanauAttention(8)))
    >>> targets = np.random.rand(2, 4, 3).astype("float32")
    >>> values = np.random.rand(2, 5, 6).astype("float32")
    >>> outputs, weights = decoder(targets, values)
    >>> tuple(outputs.shape), tuple(weights.shape)
    ((2, 4, 22), (2, 4, 5))
    """

    def __init__(self, cell, return_state=False, unroll=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        if not isinstance(cell, AttentionDecoderCell):
            raise ValueError(
                "AttentionDecoder: `cell` must be an AttentionDecoderCell, got "
                f"{cell!r}"
            )
        self.cell = cell
        self.return_state = bool(return_state)
        self.unroll = bool(unroll)
        self.supports_masking = True

    def build(self, inputs_shape, values_shape=None, *args, **kwargs):
        if values_shape is None:
            raise ValueError(
                "AttentionDecoder: call the layer as `layer(inputs, values)`; "
                "`values` is missing"
            )
        inputs_shape, values_shape = tuple(inputs_shape), tuple(values_shape)
        self._check_shapes(inputs_shape, values_shape)
        self.cell.build(inputs_shape[-1:], values_shape)
        self.built = True

    def _check_shapes(self, inputs_shape, values_shape):
        if len(inputs_shape) != 3:
            raise ValueError(
                "AttentionDecoder: `inputs` must have rank 3 (batch, "
                f"target_time, features), got shape {inputs_shape}"
            )
        if len(values_shape) != 3:
            raise ValueError(
                "AttentionDecoder: `values` must have rank 3 (batch, "
                f"source_time, features), got shape {values_shape}"
            )
        if (
            inputs_shape[0] is not None
            and values_shape[0] is not None
            and inputs_shape[0] != values_shape[0]
        ):
            raise ValueError(
                "AttentionDecoder: `inputs` and `values` must have the same "
                f"batch size, got {inputs_shape[0]} and {values_shape[0]}"
            )

    def call(
        self,
        inputs,
        values,
        initial_state=None,
        mask=None,
        values_mask=None,
        training=None,
    ):
        self._check_shapes(tuple(inputs.shape), tuple(values.shape))
        if mask is None:
            mask = getattr(inputs, "_keras_mask", None)
        if values_mask is None:
            values_mask = getattr(values, "_keras_mask", None)
        state = self.cell.get_initial_state(values, values_mask, initial_state)
        memory = {k: state[k] for k in _MEMORY_KEYS}
        cell_state = state["cell"]
        inputs_tm = tf.transpose(inputs, [1, 0, 2])  # T, B, D
        mask_tm = None if mask is None else tf.transpose(tf.cast(mask, "bool"))

        def step(t, cell_state):
            (out, weights), new = self.cell(
                inputs_tm[t], dict(memory, cell=cell_state), training=training
            )
            new_state = new["cell"]
            if mask_tm is not None:
                m = tf.expand_dims(mask_tm[t], -1)
                out = tf.where(m, out, tf.zeros_like(out))
                weights = tf.where(m, weights, tf.zeros_like(weights))
                new_state = [
                    tf.where(m, n, o) for n, o in zip(new_state, cell_state)
                ]
            return out, weights, new_state

        steps = inputs.shape[1]
        if self.unroll:
            if steps is None:
                raise ValueError(
                    "AttentionDecoder: `unroll=True` needs a static target "
                    f"length, got inputs of shape {tuple(inputs.shape)}"
                )
            outs, alphas = [], []
            for t in range(steps):
                out, weights, cell_state = step(t, cell_state)
                outs.append(out)
                alphas.append(weights)
            outputs = tf.stack(outs, axis=1)
            weights = tf.stack(alphas, axis=1)
        else:
            n = steps if steps is not None else tf.shape(inputs)[1]
            out_ta = tf.TensorArray(self.compute_dtype, size=n)
            w_ta = tf.TensorArray(self.compute_dtype, size=n)

            def body(t, cell_state, out_ta, w_ta):
                out, weights, new_state = step(t, cell_state)
                return t + 1, new_state, out_ta.write(t, out), w_ta.write(t, weights)

            _, cell_state, out_ta, w_ta = tf.while_loop(
                lambda t, *_: t < n,
                body,
                (tf.constant(0), cell_state, out_ta, w_ta),
                maximum_iterations=n,  # XLA needs a fixed TensorArray size
            )
            outputs = tf.transpose(out_ta.stack(), [1, 0, 2])
            weights = tf.transpose(w_ta.stack(), [1, 0, 2])
            outputs.set_shape(
                inputs.shape[:2] + (self.cell.units + values.shape[-1],)
            )
            weights.set_shape(inputs.shape[:2] + (values.shape[1],))
        if self.return_state:
            return (outputs, weights, *cell_state)
        return outputs, weights

    def compute_mask(self, inputs, values=None, *args, **kwargs):
        return None

    def compute_output_shape(self, inputs_shape, values_shape, *args, **kwargs):
        inputs_shape, values_shape = tuple(inputs_shape), tuple(values_shape)
        outputs = inputs_shape[:2] + (self.cell.units + values_shape[-1],)
        weights = inputs_shape[:2] + (values_shape[1],)
        if self.return_state:
            states = [(inputs_shape[0], s) for s in self.cell.state_size]
            return (outputs, weights, *states)
        return outputs, weights

    def get_config(self):
        config = super().get_config()
        config.update(
            cell=keras.saving.serialize_keras_object(self.cell),
            return_state=self.return_state,
            unroll=self.unroll,
        )
        return config
