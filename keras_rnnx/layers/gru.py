"""GRU: `GRUCellX` (one step) and `GRUX` (a whole sequence, fast)."""
import keras
from keras import ops

from keras_rnnx.kernels.steps import gru_biases, gru_step
from keras_rnnx.layers import _rnn_base
from keras_rnnx import _validation as V

VARIANTS = ("full", "simplified")


@keras.saving.register_keras_serializable(package="keras_rnnx")
class GRUCellX(_rnn_base.CellBase):
    """One step of a Gated Recurrent Unit: Keras' full GRU or the update-gate-only GRU.

    `variant="full"` is the GRU with update gate z and reset gate r,
    weight-compatible with `keras.layers.GRUCell` (gate order z, r, h;
    h = z * h_prev + (1 - z) * hh). With `reset_after=True` (cuDNN
    compatible) the reset gate multiplies the recurrent projection and the
    bias has shape (2, 3H); with `reset_after=False` it multiplies the state
    before its projection and the bias has shape (3H,).

    `variant="simplified"` has only an update gate u:
    c~ = tanh(W_c [c_prev, x] + b_c), u = sigmoid(W_u [c_prev, x] + b_u),
    c = u * c~ + (1 - u) * c_prev; weights kernel (D, 2H),
    recurrent_kernel (H, 2H), bias (2H,), gate order u, c.
    `reset_after` is ignored for the simplified variant.

    Args:
        units: Positive integer, size of the state.
        activation: Activation of the candidate (default "tanh").
        recurrent_activation: Activation of the gates (default "sigmoid").
        use_bias: Whether to add a bias.
        kernel_initializer, recurrent_initializer, bias_initializer:
            Initializers of the three weights.
        kernel_regularizer, recurrent_regularizer, bias_regularizer:
            Optional regularizers of the three weights.
        kernel_constraint, recurrent_constraint, bias_constraint:
            Optional constraints of the three weights.
        dropout: Fraction of the inputs dropped in training.
        recurrent_dropout: Fraction of the recurrent state dropped in
            training.
        reset_after: Full variant only: apply the reset gate after the
            recurrent matrix product (True, Keras' default) or before.
        variant: "full" or "simplified".
        seed: Random seed for dropout.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: A 2D tensor (batch, features): one time step.
        states: The state (batch, units), or a list holding it.
        training: Python boolean; dropout is applied only in training.

    Returns:
        `(h, new_states)`: the output and the new state (a list when
        `states` was a list).

    Example:

    >>> import numpy as np, keras
    >>> from keras_rnnx import GRUCellX
    >>> cell = GRUCellX(4, variant="simplified")
    >>> h, [h2] = cell(np.ones((2, 3), "float32"), [np.zeros((2, 4), "float32")])
    >>> tuple(h.shape)
    (2, 4)
    >>> tuple(keras.layers.RNN(GRUCellX(4))(np.ones((2, 5, 3))).shape)
    (2, 4)
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, reset_after=True, variant="full",
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
        self.variant = V.check_choice(variant, "variant", VARIANTS)
        self.reset_after = bool(reset_after)
        self.state_size = self.units

    @property
    def _gates(self):
        return 2 if self.variant == "simplified" else 3

    def build(self, input_shape):
        self._check_step_input(input_shape)
        self._add_kernels(input_shape[-1], self._gates)
        if self.use_bias:
            if self.variant == "full" and self.reset_after:
                self._add_bias((2, 3 * self.units))
            else:
                self._add_bias((self._gates * self.units,))
        else:
            self.bias = None
        self.built = True

    def call(self, inputs, states, training=False):
        nested = isinstance(states, (list, tuple))
        h_prev = states[0] if nested else states
        inputs, h_in = self._dropped(inputs, h_prev, training)
        x = ops.matmul(inputs, self.kernel)
        input_bias, recurrent_bias = gru_biases(
            self.bias if self.use_bias else None, self.reset_after, self.variant)
        if input_bias is not None:
            x = x + input_bias
        h = gru_step(x, h_in, self.recurrent_kernel, recurrent_bias,
                     self.activation, self.recurrent_activation,
                     reset_after=self.reset_after, variant=self.variant,
                     h_prev=h_prev).h
        return h, ([h] if nested else h)

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after,
                "variant": self.variant}


@keras.saving.register_keras_serializable(package="keras_rnnx")
class GRUX(_rnn_base.SequenceRNN):
    """Gated Recurrent Unit over a whole sequence: a fast drop-in for `keras.layers.GRU`.

    Same constructor, weights and outputs as `keras.layers.GRU` for
    `variant="full"` (both `reset_after` settings), plus the update-gate-only
    `variant="simplified"` (see `GRUCellX`). The input projection of all
    steps is one matrix product, the loop body is minimal, and training uses
    a hand-written backward pass. The kernel is chosen in
    `keras_rnnx.kernels.run_sequence` (default, cuDNN on a GPU, or an exporter's
    lowering). Masked steps carry the state over (Keras semantics).

    Args:
        units: Positive integer, size of the state.
        activation, recurrent_activation, use_bias, kernel_initializer,
            recurrent_initializer, bias_initializer, kernel_regularizer,
            recurrent_regularizer, bias_regularizer, kernel_constraint,
            recurrent_constraint, bias_constraint, dropout,
            recurrent_dropout, reset_after, variant, seed: As in `GRUCellX`.
        activity_regularizer: Regularizer of the layer's output.
        return_sequences: Return the output of every step (B, T, H) instead
            of the last one (B, H).
        return_state: Also return the final state.
        go_backwards: Process the sequence backwards (outputs in that order).
        stateful: Carry the final state of batch i to batch i+1 (needs a
            fixed batch size).
        unroll: Accepted for compatibility; the loop is never unrolled.
        use_cudnn: "auto" (cuDNN when a GPU and the configuration allow:
            full variant, reset_after=True; any mask), True (require it on
            a GPU) or False.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: A 3D float tensor (batch, timesteps, features).
        initial_state: Optional list `[h]` with a (batch, units) tensor.
        mask: Optional boolean tensor (batch, timesteps); False steps are
            skipped.
        training: Python boolean; enables dropout.

    Example:

    >>> import numpy as np
    >>> from keras_rnnx import GRUX
    >>> layer = GRUX(8, return_sequences=True, return_state=True)
    >>> seq, h = layer(np.zeros((2, 5, 3), "float32"))
    >>> tuple(seq.shape), tuple(h.shape)
    ((2, 5, 8), (2, 8))
    """

    _KIND = "gru"
    _EXTRA_CELL_ARGS = ("reset_after", "variant")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False,
                 reset_after=True, variant="full", use_cudnn="auto", **kwargs):
        cell = GRUCellX(
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
            recurrent_dropout=recurrent_dropout, reset_after=reset_after,
            variant=variant, seed=seed, dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True), name="gru_cell")
        super().__init__(
            cell, return_sequences=return_sequences, return_state=return_state,
            go_backwards=go_backwards, stateful=stateful, unroll=unroll,
            use_cudnn=use_cudnn, activity_regularizer=activity_regularizer,
            **kwargs)

    def _kernel_kwargs(self):
        return {"reset_after": self.cell.reset_after, "variant": self.cell.variant}


_rnn_base._forward_to_cell(GRUX, ("reset_after", "variant"))
