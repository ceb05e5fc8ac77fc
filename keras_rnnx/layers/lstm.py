"""LSTM: `LSTMCellX` (one step) and `LSTMX` (a whole sequence, fast)."""
import keras
from keras import ops

from keras_rnnx.kernels.steps import lstm_step
from keras_rnnx.layers import _rnn_base


@keras.saving.register_keras_serializable(package="keras_rnnx")
class LSTMCellX(_rnn_base.CellBase):
    """One step of a Long Short-Term Memory network, weight-compatible with Keras.

    c~ = tanh(W_c x + U_c a + b_c); i, f, o = sigmoid(W x + U a + b);
    c = i * c~ + f * c_prev; a = o * tanh(c). Weights are
    `[kernel (D, 4H), recurrent_kernel (H, 4H), bias (4H,)]` with gate order
    i, f, c, o, exactly as `keras.layers.LSTMCell`, so
    `cell.set_weights(keras_cell.get_weights())` reproduces Keras' outputs.
    Follows the Keras cell protocol, so it works in `keras.layers.RNN`,
    `keras.layers.StackedRNNCells` and hand-written decoding loops.

    Args:
        units: Positive integer, size of the hidden and cell states.
        activation: Activation of the candidate and of the output
            (default "tanh").
        recurrent_activation: Activation of the gates (default "sigmoid").
        use_bias: Whether to add a bias.
        unit_forget_bias: If True, the forget-gate bias starts at 1.
        kernel_initializer, recurrent_initializer, bias_initializer:
            Initializers of the three weights.
        kernel_regularizer, recurrent_regularizer, bias_regularizer:
            Optional regularizers of the three weights.
        kernel_constraint, recurrent_constraint, bias_constraint:
            Optional constraints of the three weights.
        dropout: Fraction of the inputs dropped in training (one mask per
            sequence).
        recurrent_dropout: Fraction of the recurrent state dropped in
            training.
        seed: Random seed for dropout.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 2D tensor (batch, features): one time step.
        states: A list `[h, c]` of two 2D tensors (batch, units).
        training: Python boolean; dropout is applied only in training.

    Returns:
        `(h, [h, c])`: the output and the new states.

    Example:

    >>> import numpy as np, keras
    >>> from keras_rnnx import LSTMCellX
    >>> cell = LSTMCellX(4)
    >>> x = np.ones((2, 3), "float32")
    >>> h, (h2, c) = cell(x, cell.get_initial_state(batch_size=2))
    >>> tuple(h.shape)
    (2, 4)
    >>> tuple(keras.layers.RNN(LSTMCellX(4))(np.ones((2, 5, 3))).shape)
    (2, 4)
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 seed=None, **kwargs):
        super().__init__(
            units, activation=activation,
            recurrent_activation=recurrent_activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def build(self, input_shape):
        self._check_step_input(input_shape)
        self._add_kernels(input_shape[-1], 4)
        if self.use_bias:
            units, base = self.units, self.bias_initializer

            def forget_bias_one(_, *args, **kwargs):
                return ops.concatenate([
                    base((units,), *args, **kwargs),
                    keras.initializers.get("ones")((units,), *args, **kwargs),
                    base((units * 2,), *args, **kwargs),
                ])

            self._add_bias((self.units * 4,),
                           forget_bias_one if self.unit_forget_bias else None)
        else:
            self.bias = None
        self.built = True

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states[0], states[1]
        inputs, h_in = self._dropped(inputs, h_prev, training)
        x = ops.matmul(inputs, self.kernel)
        if self.use_bias:
            x = x + self.bias
        s = lstm_step(x, h_in, c_prev, self.recurrent_kernel, self.activation,
                      self.recurrent_activation)
        return s.h, [s.h, s.c]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


@keras.saving.register_keras_serializable(package="keras_rnnx")
class LSTMX(_rnn_base.SequenceRNN):
    """Long Short-Term Memory over a whole sequence: a fast drop-in for `keras.layers.LSTM`.

    Same constructor, weights and outputs as `keras.layers.LSTM`
    (`set_weights(keras_lstm.get_weights())` gives the same results), but the
    input projection of all steps is one matrix product, the loop body is
    minimal, and training uses a hand-written backward pass whose weight
    gradients are big matrix products after the loop. The kernel is chosen
    in `keras_rnnx.kernels.run_sequence` (default, cuDNN on a GPU, or an exporter's
    lowering). Masked steps carry the states over (Keras semantics).

    Args:
        units: Positive integer, size of the hidden and cell states.
        activation, recurrent_activation, use_bias, kernel_initializer,
            recurrent_initializer, bias_initializer, unit_forget_bias,
            kernel_regularizer, recurrent_regularizer, bias_regularizer,
            kernel_constraint, recurrent_constraint, bias_constraint,
            dropout, recurrent_dropout, seed: As in `LSTMCellX`.
        activity_regularizer: Regularizer of the layer's output.
        return_sequences: Return the output of every step (B, T, H) instead
            of the last one (B, H).
        return_state: Also return the final states `h, c`.
        go_backwards: Process the sequence backwards (outputs in that order).
        stateful: Carry the final states of batch i to batch i+1 (needs a
            fixed batch size).
        unroll: Accepted for compatibility; the loop is never unrolled.
        use_cudnn: "auto" (cuDNN when a GPU and the configuration allow,
            for any mask: unlike Keras, masks need not be right-padded),
            True (require it on a GPU) or False.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: A 3D float tensor (batch, timesteps, features).
        initial_state: Optional list `[h, c]` of (batch, units) tensors.
        mask: Optional boolean tensor (batch, timesteps); False steps are
            skipped.
        training: Python boolean; enables dropout.

    Example:

    >>> import numpy as np
    >>> from keras_rnnx import LSTMX
    >>> layer = LSTMX(8, return_sequences=True, return_state=True)
    >>> seq, h, c = layer(np.zeros((2, 5, 3), "float32"))
    >>> tuple(seq.shape), tuple(h.shape), tuple(c.shape)
    ((2, 5, 8), (2, 8), (2, 8))
    """

    _KIND = "lstm"
    _EXTRA_CELL_ARGS = ("unit_forget_bias",)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False,
                 unroll=False, use_cudnn="auto", **kwargs):
        cell = LSTMCellX(
            units, activation=activation,
            recurrent_activation=recurrent_activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout,
            recurrent_dropout=recurrent_dropout, seed=seed,
            dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
            name="lstm_cell")
        super().__init__(
            cell, return_sequences=return_sequences, return_state=return_state,
            go_backwards=go_backwards, stateful=stateful, unroll=unroll,
            use_cudnn=use_cudnn, activity_regularizer=activity_regularizer,
            **kwargs)


_rnn_base._forward_to_cell(LSTMX, ("unit_forget_bias",))
