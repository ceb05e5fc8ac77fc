"""Shared machinery of the cells and whole-sequence layers (private).

Cells know the math of one step; `SequenceRNN` knows how to run a whole
sequence: it hands plain tensors to a kernel in `keras_rnnx.kernels.recurrence`
(or, on a GPU when the configuration allows, to cuDNN) and falls back to
Keras' generic step loop only for recurrent dropout in training.
"""
import keras
from keras import ops
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from keras_rnnx import _validation as V
from keras_rnnx.kernels import recurrence


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


_gpu_available = recurrence.gpu_available  # module-level: tests pretend a GPU here


# True while tracing for XLA (`tf.function(jit_compile=True)`), where cuDNN's
# RNN ops cannot compile: the default kernel runs there instead.
_in_xla_context = recurrence.in_xla_context


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
        if self._cudnn_config_ok() and use_cudnn in ("auto", True) and _gpu_available():
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

    def _cudnn_config_ok(self):
        cell = self.cell
        return (
            recurrence.activation_spec(cell.activation) == "tanh"
            and recurrence.activation_spec(cell.recurrent_activation) == "sigmoid"
            and not self.unroll
            and cell.use_bias
            and not cell.recurrent_dropout
        )

    def _cudnn_applies(self):
        """Whether cuDNN runs this call.

        cuDNN is used on a GPU when the configuration allows (tanh/sigmoid,
        bias, no recurrent dropout, GRU reset_after), masked or not: there
        its results equal the default kernel's (`_cudnn_call` turns any mask
        into one cuDNN can take). Code traced for XLA never uses it (its ops
        cannot compile); lowered kernels (export) never do either."""
        return (
            self.use_cudnn in ("auto", True)
            and recurrence.lowered_kernel(self._KIND) is None
            and self._cudnn_config_ok()
            and _gpu_available()
            and not _in_xla_context()
        )

    def _cudnn_call(self, sequences, initial_state, mask):
        """(last, outputs or None, states) from Keras' cuDNN kernel, or None
        when Keras declines (NotImplementedError: it sees no GPU).

        cuDNN takes a mask only as per-row lengths of right-padded rows
        without empty ones (Keras asserts that). Keras' CPU mask semantics
        (the default kernel's: a masked step keeps the states, its output
        repeats the last one) depend only on each row's real steps in order,
        so any mask is run as one cuDNN can take, with no data-dependent
        branch (a per-batch check cost a train step on an H200 a host round
        trip and a cond, 4.52 ms against 3.63 ms without; Keras 3.45):

        * each row's real steps are moved to its front, in order (a gather
          by `searchsorted` on the running count of real steps); going
          backwards, the rows are reversed first, as the default kernel does;
        * cuDNN runs forwards with those counts as lengths (at least 1),
          the inputs past each row's length zeroed by a `where`, which also
          stops the undefined gradient cuDNN gives there;
        * the output at step t is cuDNN's output after the row's k-th real
          step, k = real steps up to t (zeros when k = 0); rows without a
          real step get the initial states and a zero last output.
        """
        import importlib

        import tensorflow as tf

        # `from keras.src.backend.tensorflow import rnn` would give the
        # function `rnn` that the package re-exports, not the module
        tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
        cell = self.cell
        common = dict(
            kernel=cell.kernel, recurrent_kernel=cell.recurrent_kernel,
            bias=cell.bias, activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            return_sequences=self.return_sequences,
            go_backwards=self.go_backwards, unroll=False,
        )
        x, run_mask = sequences, None
        if mask is not None:
            m = tf.cast(mask, tf.bool)
            if self.go_backwards:
                x, m = tf.reverse(x, [1]), tf.reverse(m, [1])
            seen = tf.math.cumsum(tf.cast(m, tf.int32), axis=1)  # [B, T]
            lengths = seen[:, -1]
            steps = tf.shape(m)[1]
            # the position of each row's (j+1)-th real step (T past its last)
            wanted = tf.broadcast_to(tf.range(1, steps + 1)[None, :], tf.shape(m))
            order = tf.minimum(tf.searchsorted(seen, wanted), steps - 1)
            x = tf.gather(x, order, axis=1, batch_dims=1)
            # cuDNN leaves its input gradient at padded steps undefined (an
            # H200 returned 1e164 there in float64): a `where`, not a
            # product, so none of it reaches the inputs
            real = tf.sequence_mask(lengths, steps)
            x = tf.where(real[:, :, None], x, tf.zeros_like(x))
            run_mask = tf.sequence_mask(tf.maximum(lengths, 1), steps)
            common.update(go_backwards=False, return_sequences=True)
        try:
            if self._KIND == "lstm":
                out = tf_rnn.lstm(x, initial_state[0], initial_state[1],
                                  run_mask, **common)
            else:
                out = tf_rnn.gru(x, initial_state[0], run_mask,
                                 reset_after=True, **common)
        except NotImplementedError:
            return None
        last, outputs, states = out
        states = list(states)
        if mask is not None:
            nonempty = (lengths > 0)[:, None]
            last = tf.where(nonempty, last, tf.zeros_like(last))
            states = [tf.where(nonempty, s, tf.cast(s0, s.dtype))
                      for s, s0 in zip(states, initial_state)]
            if self.return_sequences:
                outputs = tf.gather(outputs, tf.maximum(seen - 1, 0), axis=1,
                                    batch_dims=1)
                outputs = tf.where((seen > 0)[:, :, None], outputs,
                                   tf.zeros_like(outputs))
        return last, (outputs if self.return_sequences else None), states

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
        batches need no decision: `_cudnn_call` runs any mask on cuDNN.
        (An earlier per-batch check whether cuDNN could take the mask also
        had to avoid a cond in the other branch of a cond over CudnnRNNV3:
        on an H100 and an H200 TensorFlow failed to build its gradient.)"""
        import tensorflow as tf

        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        steps = sequences.shape[1]
        if steps == 0:
            return self._empty_result(sequences, initial_state)
        use_cudnn = self._cudnn_applies()
        dtype = sequences.dtype

        def run():  # both branches of the cond on the length give `dtype`
            last, outputs, states = self._inner_loop(
                sequences, initial_state, mask, training, use_cudnn)
            return (tf.cast(last, dtype), tf.cast(outputs, dtype),
                    [tf.cast(s, dtype) for s in states])

        lowered = recurrence.lowered_kernel(self._KIND) is not None
        dynamic = steps is None and not lowered
        if dynamic and _in_xla_context():
            # XLA cannot differentiate that cond: the empty branch would have
            # to fake the loop's TensorList intermediates (FakeParam of
            # DT_VARIANT, which XLA lacks). One extra masked step instead.
            return self._inner_loop(sequences, initial_state, mask, training,
                                    pad_step=True)
        if dynamic:
            return tf.cond(tf.shape(sequences)[1] > 0, run,
                           lambda: self._empty_result(sequences, initial_state))
        return self._inner_loop(sequences, initial_state, mask, training,
                                use_cudnn)

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
                    use_cudnn=False, pad_step=False):
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
        kernel = recurrence.lowered_kernel(self._KIND)
        lowered = kernel is not None
        if not lowered:
            kernel = (
                recurrence.default_lstm_sequence
                if self._KIND == "lstm"
                else recurrence.default_gru_sequence
            )
        extra = dict(self._kernel_kwargs())
        if not lowered:
            extra["training"] = bool(training)

        out = None
        if use_cudnn:
            out = self._cudnn_call(run_sequences, initial_state, run_mask)
        if (out is None and self.use_cudnn is True and _gpu_available()
                and not lowered):
            raise ValueError(
                "use_cudnn=True was specified, but cuDNN is not supported "
                "for this layer configuration. Pass use_cudnn='auto'."
            )
        if out is None:
            out = kernel(
                run_sequences,
                list(initial_state),
                cell.kernel,
                cell.recurrent_kernel,
                cell.bias if cell.use_bias else None,
                mask=run_mask,
                go_backwards=self.go_backwards,
                return_sequences=self.return_sequences,
                activation=recurrence.activation_spec(cell.activation),
                recurrent_activation=recurrence.activation_spec(
                    cell.recurrent_activation
                ),
                **extra,
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
