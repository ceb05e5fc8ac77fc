"""The "tflite_micro" lowering: LSTM and GRU kernels for TensorFlow Lite for
Microcontrollers (TFLM).

TFLM allocates every tensor once, before the first inference, so a file it
runs has only static shapes and only the ops its resolver registers (no
`REDUCE_PROD`, `REVERSE_SEQUENCE`, `FILL` with run-time dims, `RESHAPE` to a
computed shape). The exporter traces the model inside
`kernels.lowering("tflite_micro")` with a fixed batch and time dimension, and
the kernels here unroll the sequence at trace time:

* the input projection of every step is one matrix product
  (`FULLY_CONNECTED`), split into steps with `UNPACK`;
* each step is `steps.lstm_recurrence` / `steps.gru_recurrence` (the
  lowerings' step over `steps.lstm_step` / `steps.gru_step`, the one step
  math);
* `go_backwards` walks the unpacked steps in reverse order (a static order,
  no reversal op);
* a mask (any pattern) is applied per step as in Keras: states carried over
  masked steps, the output there the previous output (zeros before the first
  real step); the selection is arithmetic on a 0/1 float mask, exact;
* whole-sequence outputs are stacked with `PACK`.

The "tflite_micro_fused" lowering runs each LSTM as TFLite's
`UNIDIRECTIONAL_SEQUENCE_LSTM` instead (`lstm_micro_fused`), the op TFLM's
integer LSTM kernel runs with int8 weights and activations and an int16
cell state under full-integer quantization; GRUs stay unrolled. The fused
op takes no mask: a mask is read as right padding (real steps first), as
with LiteRT's fused kernel, and everything around the op is static-shape
arithmetic (no `GATHER` by length, no `REVERSE_SEQUENCE`). An LSTM the op
cannot run (activations other than tanh/sigmoid, no bias, a non-zero
initial state) is unrolled, with a warning.

`reverse_within_length` is the lowering's sequence reversal for
`BiDirectional` (`tf.reverse_sequence` by the mask's lengths), built from a
static gather and a batch matrix product instead of `REVERSE_SEQUENCE`.
"""
import tensorflow as tf

from keras_rnnx.kernels.dispatch import register_lowering
from keras_rnnx.kernels.steps import gru_biases, gru_recurrence, lstm_recurrence

__all__ = ["lstm_micro", "lstm_micro_fused", "gru_micro", "reverse_within_length",
           "LOWERING", "FUSED_LOWERING"]

LOWERING = "tflite_micro"
FUSED_LOWERING = "tflite_micro_fused"


def _static_steps(inputs):
    steps = inputs.shape[1]
    batch = inputs.shape[0]
    if steps is None or batch is None:
        raise ValueError(
            "time_steps: the tflite_micro lowering needs a static batch and time "
            f"dimension, got input shape {tuple(inputs.shape)}"
        )
    return batch, steps


def _project(inputs, kernel, bias):
    """[B, T, D] @ [D, G] (+ bias) -> list of T [B, G], static shapes."""
    batch, steps = _static_steps(inputs)
    kernel = tf.cast(kernel, inputs.dtype)
    depth, width = kernel.shape
    proj = tf.matmul(tf.reshape(inputs, [batch * steps, depth]), kernel)
    if bias is not None:
        proj = proj + tf.cast(bias, inputs.dtype)
    return tf.unstack(tf.reshape(proj, [batch, steps, width]), axis=1)


def _unrolled(step, rows, states, mask, go_backwards, return_sequences):
    """Runs `step(x_t, states) -> (output, new_states)` over `rows` (a list
    of T projected steps, in time order). Returns the kernel contract's
    (last_output, outputs [B, T, H] in processing order or None,
    final_states)."""
    order = list(range(len(rows)))
    if go_backwards:
        order.reverse()
    weights = None
    if mask is not None:
        weights = tf.unstack(tf.cast(mask, rows[0].dtype), axis=1)
    output = tf.zeros_like(states[0]) if mask is not None else None
    outputs = []
    for t in order:
        out, new = step(rows[t], states)
        if weights is not None:
            # 0/1 float selection: a * 1 + b * 0 == a exactly.
            keep = tf.expand_dims(weights[t], -1)
            drop = 1.0 - keep
            new = [a * keep + b * drop for a, b in zip(new, states)]
            out = out * keep + output * drop
        states, output = list(new), out
        outputs.append(out)
    stacked = tf.stack(outputs, axis=1) if return_sequences else None
    return output, stacked, states


def lstm_micro(inputs, initial_state, kernel, recurrent_kernel, bias, *,
               mask=None, go_backwards=False, return_sequences=True,
               activation="tanh", recurrent_activation="sigmoid", **unused):
    """LSTM over a static-shape sequence, unrolled (kernel contract of
    `keras_rnnx.kernels.dispatch`; see the module docstring)."""
    inputs = tf.convert_to_tensor(inputs)
    rows = _project(inputs, kernel, bias)
    step = lstm_recurrence(recurrent_kernel, inputs.dtype, activation, recurrent_activation)
    h0, c0 = [tf.cast(s, inputs.dtype) for s in initial_state]

    return _unrolled(step, rows, [h0, c0], mask, go_backwards, return_sequences)


def lstm_micro_fused(inputs, initial_state, kernel, recurrent_kernel, bias, *,
                     mask=None, go_backwards=False, return_sequences=True,
                     activation="tanh", recurrent_activation="sigmoid", **unused):
    """LSTM as one UNIDIRECTIONAL_SEQUENCE_LSTM over a static-shape sequence
    (kernel contract; a mask is read as right padding; see the module
    docstring). Unrolls (`lstm_micro`, with a warning) what the op cannot
    run."""
    import warnings

    from keras_rnnx.kernels.tflite import fused_lstm_sequence, fused_lstm_unsupported

    kwargs = dict(mask=mask, go_backwards=go_backwards, return_sequences=return_sequences,
                  activation=activation, recurrent_activation=recurrent_activation)
    reason = fused_lstm_unsupported(activation, recurrent_activation, bias, initial_state)
    if reason is not None:
        warnings.warn(f"lstm_kernel='fused': {reason}; this LSTM is unrolled instead "
                      "(exact, not UNIDIRECTIONAL_SEQUENCE_LSTM).", stacklevel=2)
        return lstm_micro(inputs, initial_state, kernel, recurrent_kernel, bias, **kwargs)
    inputs = tf.convert_to_tensor(inputs)
    _static_steps(inputs)
    if mask is None:
        x = tf.reverse(inputs, [1]) if go_backwards else inputs
        seq = fused_lstm_sequence(x, kernel, recurrent_kernel, bias)
        last, outputs = seq[:, -1], seq
    else:
        # Right padding, L real steps: the op's outputs 0..L-1 are the real
        # ones; `end` is one-hot at L - 1 (all zero when L = 0).
        m = tf.cast(mask, inputs.dtype)
        x = reverse_within_length(inputs, mask) if go_backwards else inputs
        seq = fused_lstm_sequence(x, kernel, recurrent_kernel, bias)
        end = m - tf.concat([m[:, 1:], tf.zeros_like(m[:, :1])], axis=1)
        last = tf.matmul(tf.expand_dims(end, 1), seq)[:, 0]
        keep = tf.expand_dims(m, -1)
        if go_backwards:
            # Processing order: the T - L padded steps first (zeros), then
            # the real steps from time L - 1 down to 0.
            outputs = tf.reverse(reverse_within_length(seq, mask) * keep, [1])
        else:
            # Masked steps repeat the previous output: the last real one.
            outputs = seq * keep + tf.expand_dims(last, 1) * (1.0 - keep)
    # The op exposes no cell state: the unrolled kernel computes c (pruned
    # by the converter when the model does not output it).
    _, _, (_, c) = lstm_micro(inputs, initial_state, kernel, recurrent_kernel, bias,
                              **dict(kwargs, return_sequences=False))
    return last, outputs if return_sequences else None, [last, c]


def gru_micro(inputs, initial_state, kernel, recurrent_kernel, bias, *,
              mask=None, go_backwards=False, return_sequences=True,
              activation="tanh", recurrent_activation="sigmoid",
              reset_after=True, variant="full", **unused):
    """GRU (full, either reset_after, or simplified) over a static-shape
    sequence, unrolled (kernel contract; see the module docstring)."""
    inputs = tf.convert_to_tensor(inputs)
    input_bias, recurrent_bias = gru_biases(bias, reset_after, variant)
    rows = _project(inputs, kernel, input_bias)
    step = gru_recurrence(recurrent_kernel, recurrent_bias, inputs.dtype, activation,
                          recurrent_activation, reset_after, variant)
    (h0,) = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
    h0 = tf.cast(h0, inputs.dtype)

    return _unrolled(step, rows, [h0], mask, go_backwards, return_sequences)


def reverse_within_length(x, mask):
    """Reverses the first L steps of each row of `x` [B, T, F], L the row's
    number of unmasked steps (as `tf.reverse_sequence` with the mask's
    lengths; the rest stays in place), with static-shape TFLM ops.

    With m the 0/1 mask of the first L steps, the one-hot row
    "t + s == L - 1" is d[t + s] with d[k] = m[k] - m[k + 1]; the
    permutation is P[t, s] = d[t + s] + (1 - m[t]) * [t == s] and the result
    P @ x, exact for a permutation.
    """
    batch, steps = _static_steps(x)
    length = tf.reduce_sum(tf.cast(mask, x.dtype), axis=1, keepdims=True)
    m = tf.cast(tf.constant([list(range(steps))], x.dtype) < length, x.dtype)
    padded = tf.concat([m, tf.zeros([batch, steps + 1], x.dtype)], axis=1)
    d = padded[:, : 2 * steps] - padded[:, 1: 2 * steps + 1]
    index = [[t + s for s in range(steps)] for t in range(steps)]
    perm = tf.gather(d, tf.constant(index, tf.int32), axis=1)  # [B, T, T]
    eye = tf.eye(steps, dtype=x.dtype)
    perm = perm + tf.expand_dims(1.0 - m, -1) * eye
    return tf.matmul(perm, x)


register_lowering(LOWERING, lstm=lstm_micro, gru=gru_micro,
                  reverse=reverse_within_length)
register_lowering(FUSED_LOWERING, lstm=lstm_micro_fused, gru=gru_micro,
                  reverse=reverse_within_length)
