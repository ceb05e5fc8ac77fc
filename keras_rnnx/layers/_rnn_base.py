"""Shared machinery of the cells and whole-sequence layers (private).

Cells compute one step with `keras_rnnx.kernels.lstm_step` / `gru_step`;
`SequenceRNN` runs a whole sequence: it hands plain tensors to
`keras_rnnx.kernels.run_sequence` (lowering, cuDNN or the default kernel)
and falls back to Keras' generic step loop only for recurrent dropout in
training.
"""
import keras
from keras import ops
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from keras_rnnx import _validation as V
from keras_rnnx import kernels
from keras_rnnx.kernels import cudnn


class CellBase(keras.layers.Layer, DropoutRNNCell):
    """Options every cell shares: activations, initializers, dropout, seed."""

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = V.check_units(units)
        self.activation = V.check_activation(activation, "activation")
        self.recurrent_activation = V.check_activation(
            recurrent_activation, "recurrent_activation"
        )
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.dropout = V.check_rate(dropout, "dropout")
        self.recurrent_dropout = V.check_rate(recurrent_dropout, "recurrent_dropout")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.output_size = self.units

    def _check_step_input(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) != 2 or shape[-1] is None:
            raise ValueError(
                f"Cell {self.name!r}: `inputs` of one step must be a 2D tensor "
                f"(batch, features) with known features; received "
                f"shape={shape}"
            )

    def _add_kernels(self, input_dim, gates):
        self.kernel = self.add_weight(
            shape=(input_dim, self.units * gates),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units * gates),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )

    def _add_bias(self, shape, initializer=None):
        self.bias = self.add_weight(
            shape=shape,
            name="bias",
            initializer=initializer or self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    def _dropped(self, inputs, h, training):
        """Step inputs and recurrent input with dropout applied in training."""
        if training and 0.0 < self.dropout < 1.0:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and 0.0 < self.recurrent_dropout < 1.0:
            h = h * self.get_recurrent_dropout_mask(h)
        return inputs, h

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [
            self.state_size]
        return [ops.zeros((batch_size, d), dtype=self.compute_dtype) for d in sizes]

    def get_config(self):
        config = {
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "recurrent_activation": keras.activations.serialize(
                self.recurrent_activation
            ),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(
                self.recurrent_initializer
            ),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": keras.regularizers.serialize(
                self.recurrent_regularizer
            ),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": keras.constraints.serialize(
                self.recurrent_constraint
            ),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


_CELL_ARGS = (
    "units", "activation", "recurrent_activation", "use_bias",
    "kernel_initializer", "recurrent_initializer", "bias_initializer",
    "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
    "kernel_constraint", "recurrent_constraint", "bias_constraint",
    "dropout", "recurrent_dropout", "seed",
)


def _zeros_step(sequences):
    """Zeros shaped like one step [B, D] of `sequences` (also when T = 0)."""
    return ops.zeros(
        (ops.shape(sequences)[0], ops.shape(sequences)[2]), dtype=sequences.dtype
    )


class SequenceRNN(keras.layers.RNN):
    """Base of `LSTMX`/`GRUX`: runs the cell's weights through a kernel."""

    _KIND = None  # "lstm" | "gru"
    _EXTRA_CELL_ARGS = ()

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        use_cudnn="auto",
        activity_regularizer=None,
        **kwargs,
    ):
        if use_cudnn not in ("auto", True, False):
            raise ValueError(
                "`use_cudnn` must be one of 'auto', True, False; received "
                f"use_cudnn={use_cudnn!r}"
            )
        super().__init__(
            cell,
            return_sequences=bool(return_sequences),
            return_state=bool(return_state),
            go_backwards=bool(go_backwards),
            stateful=bool(stateful),
            unroll=bool(unroll),
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.use_cudnn = use_cudnn
        if (self._cudnn_config_ok() and use_cudnn in ("auto", True)
                and kernels.gpu_available()):
            # cuDNN ops are not XLA-compatible.
            self.supports_jit = False

    # -- validation --------------------------------------------------------
    def build(self, sequences_shape, initial_state_shape=None):
        V.check_sequence_shape(sequences_shape, self.name)
        super().build(sequences_shape, initial_state_shape)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        # Keras' `RNN.call` with one change: dropout masks are configured
        # from a zeros tensor shaped like one step instead of
        # `sequences[:, 0, :]`, which fails for zero-length sequences.
        V.check_float_dtype(sequences, self.name)
        if len(sequences.shape) != 3:
            V.check_sequence_shape(sequences.shape, self.name)
        if initial_state is None:
            if self.stateful:
                initial_state = self.states
            else:
                initial_state = self.get_initial_state(
                    batch_size=ops.shape(sequences)[0]
                )
        if self.stateful:
            actual = sequences.shape[0]
            expected = self._expected_batch_size
            if expected is not None and actual is not None and actual != expected:
                raise ValueError(
                    "If an RNN is stateful, the batch size of the input "
                    "sequences must be the same as the batch size of the "
                    f"initial state. Expected batch size: {expected}; "
                    f"received: {actual}"
                )
        if not keras.tree.is_nested(initial_state):
            initial_state = [initial_state]
        initial_state = [
            ops.convert_to_tensor(s, dtype=self.cell.compute_dtype)
            for s in initial_state
        ]
        cell = self.cell
        if cell.dropout or cell.recurrent_dropout:
            cell.get_dropout_mask(_zeros_step(sequences))
            cell.get_recurrent_dropout_mask(initial_state[0])
        last_output, outputs, states = self.inner_loop(
            sequences=sequences, initial_state=initial_state, mask=mask,
            training=training,
        )
        last_output = ops.cast(last_output, self.compute_dtype)
        outputs = ops.cast(outputs, self.compute_dtype)
        states = [ops.cast(s, self.compute_dtype) for s in states]
        self._maybe_reset_dropout_masks(cell)
        if self.stateful:
            for var, state in zip(self.states, states):
                var.assign(state)
        output = outputs if self.return_sequences else last_output
        if self.return_state:
            return output, *states
        return output

    # -- kernels -----------------------------------------------------------
    def _kernel_kwargs(self):
        return {}

    def _cudnn_layer_ok(self):
        """What cuDNN needs of the layer beyond the kernel arguments."""
        return not self.unroll and not self.cell.recurrent_dropout

    def _cudnn_config_ok(self):
        cell = self.cell
        return self._cudnn_layer_ok() and cudnn.supports(
            self._KIND, activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            use_bias=cell.use_bias, **self._kernel_kwargs())

    def _empty_result(self, sequences, initial_state):
        """The result for zero-length sequences: no step runs, so the final
        states are the initial states, the last output is zeros and the
        sequence of outputs is empty ([B, 0, H])."""
        dtype = sequences.dtype
        batch = ops.shape(sequences)[0]
        units = self.cell.units
        last = ops.zeros((batch, units), dtype=dtype)
        steps = 0 if self.return_sequences else 1
        outputs = ops.zeros((batch, steps, units), dtype=dtype)
        return last, outputs, [ops.cast(s, dtype) for s in initial_state]

    def inner_loop(self, sequences, initial_state, mask, training=False):
        """Runs the sequence; zero-length sequences get `_empty_result`.

        The only data-dependent decision: when the time dimension is only
        known at run time, zero-length sequences go to `_empty_result` (a
        cond on the shape, known on the host without waiting for the GPU;
        lowered kernels, used for export, are called as they are). Masked
        batches need no decision: the cuDNN adapter runs any mask (see
        docs/kernels.md for why no per-batch check exists)."""
        import tensorflow as tf

        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        steps = sequences.shape[1]
        if steps == 0:
            return self._empty_result(sequences, initial_state)
        dtype = sequences.dtype

        def run():  # both branches of the cond on the length give `dtype`
            last, outputs, states = self._inner_loop(
                sequences, initial_state, mask, training)
            return (tf.cast(last, dtype), tf.cast(outputs, dtype),
                    [tf.cast(s, dtype) for s in states])

        lowered = kernels.lowered_kernel(self._KIND) is not None
        dynamic = steps is None and not lowered
        if dynamic and kernels.in_xla_context():
            # XLA cannot differentiate that cond: the empty branch would have
            # to fake the loop's TensorList intermediates (FakeParam of
            # DT_VARIANT, which XLA lacks). One extra masked step instead.
            return self._inner_loop(sequences, initial_state, mask, training,
                                    pad_step=True)
        if dynamic:
            return tf.cond(tf.shape(sequences)[1] > 0, run,
                           lambda: self._empty_result(sequences, initial_state))
        return self._inner_loop(sequences, initial_state, mask, training)

    def _with_masked_step(self, sequences, mask):
        """`sequences` and `mask` with one masked step added where it is run
        last (the end; the start with go_backwards). A masked step keeps the
        states and repeats the last output, so the result is unchanged; with
        T = 0 it is `_empty_result`'s, without a data-dependent branch."""
        batch = ops.shape(sequences)[0]
        pad = ops.zeros((batch, 1, ops.shape(sequences)[2]), sequences.dtype)
        if mask is None:
            keep = ops.ones((batch, ops.shape(sequences)[1]), "bool")
        else:
            keep = ops.cast(mask, "bool")
        off = ops.zeros((batch, 1), "bool")
        if self.go_backwards:
            return (ops.concatenate([pad, sequences], axis=1),
                    ops.concatenate([off, keep], axis=1))
        return (ops.concatenate([sequences, pad], axis=1),
                ops.concatenate([keep, off], axis=1))

    def _inner_loop(self, sequences, initial_state, mask, training=False,
                    pad_step=False):
        """One run of the kernel. `pad_step` (dynamic length under XLA):
        run it with `_with_masked_step` and drop that step's output."""
        cell = self.cell
        run_sequences, run_mask = sequences, mask
        if pad_step:
            run_sequences, run_mask = self._with_masked_step(sequences, mask)
        if training and cell.recurrent_dropout > 0:
            # Recurrent dropout changes the step itself: generic cell loop.
            last, outputs, states = super().inner_loop(
                run_sequences, initial_state, mask=run_mask, training=training
            )
            if pad_step and self.return_sequences:
                outputs = outputs[:, :-1]
            return last, outputs, states
        if training and 0.0 < cell.dropout < 1.0:
            dp = cell.get_dropout_mask(_zeros_step(sequences))
            run_sequences = run_sequences * ops.expand_dims(dp, 1)
        out = kernels.run_sequence(
            self._KIND,
            run_sequences,
            list(initial_state),
            cell.kernel,
            cell.recurrent_kernel,
            cell.bias if cell.use_bias else None,
            mask=run_mask,
            go_backwards=self.go_backwards,
            return_sequences=self.return_sequences,
            activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            training=bool(training),
            use_cudnn=self.use_cudnn,
            cudnn_allowed=self._cudnn_layer_ok(),
            **self._kernel_kwargs(),
        )
        last, outputs, states = out
        states = list(states)
        if pad_step and outputs is not None:
            outputs = outputs[:, :-1]
        if mask is not None and self.zero_output_for_mask:
            m = ops.cast(mask, "bool")
            if self.go_backwards:
                m = ops.flip(m, axis=1)
            # any() of the last step: [B, 1] also when T = 0 (then False)
            if m.shape[1]:  # static T > 0: the last step itself (no REDUCE_ANY)
                ended = m[:, -1:]
            else:
                ended = ops.any(m[:, -1:], axis=1, keepdims=True)
            last = ops.where(ended, last, ops.zeros_like(last))
            if outputs is not None:
                outputs = ops.where(ops.expand_dims(m, -1), outputs, ops.zeros_like(outputs))
        if outputs is None:
            outputs = ops.expand_dims(last, 1)
        return last, outputs, states

    def get_config(self):
        cell_config = self.cell.get_config()
        config = {k: cell_config[k] for k in _CELL_ARGS + self._EXTRA_CELL_ARGS}
        config["activity_regularizer"] = keras.regularizers.serialize(
            self.activity_regularizer
        )
        config["use_cudnn"] = self.use_cudnn
        base_config = super().get_config()
        del base_config["cell"]
        return {**base_config, **config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _forward_to_cell(cls, names):
    """Read-only properties `layer.units` etc. that read the cell's option."""
    for name in names:
        setattr(cls, name, property(lambda self, n=name: getattr(self.cell, n)))


_forward_to_cell(SequenceRNN, _CELL_ARGS)
