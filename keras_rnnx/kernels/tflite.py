"""TFLite lowerings of the LSTM and GRU sequence kernels.

The sequence layers (`LSTMX`, `GRUX`, `BiDirectional`) run through
`keras_rnnx.kernels.run_sequence`, which takes the active lowering's kernel
first. The exporter in `keras_rnnx.export` traces the model inside
`kernels.lowering("tflite_loop")` or `kernels.lowering("tflite_fused")`,
so the graph handed to the TFLite converter is built by the functions here
(each step is `steps.lstm_recurrence` / `steps.gru_recurrence` over the one
step math, `steps.lstm_step` / `steps.gru_step`, activations resolved to
builtin ops through `activations.resolve_activation`):

* ``"tflite_loop"`` (LSTM and GRU): the input projection of every step is one
  matrix product outside the loop; a builtin-op `WHILE` loop carries only the
  state and, for whole-sequence outputs, a preallocated ``[max(T, 1), B, H]``
  buffer written with ``dynamic_update_slice`` (sliced to ``T`` rows after the
  loop, so length 0 runs). LiteRT copies a loop-carried tensor whole at
  every step, so that buffer costs O(T) copies per step. Batch and time stay
  dynamic. Masks are exact for any pattern: the state is carried over masked
  steps and the output there is zero (or the previous output when the
  caller asks for ``zero_output_for_mask=False``, as a plain
  `keras.layers.LSTM` does).
* ``"tflite_loop_blocks"``: the same, except that whole-sequence outputs are
  written block by block (an inner WHILE per block of steps, see
  `_run_blocks`): O(block) copies per step, about 10 us of WHILE set-up
  per block. `export.to_tflite` uses it, except for streaming (chunks of a
  step or a few) and full-integer quantization, whose calibration
  (TensorFlow's own interpreter) crashes on a WHILE inside a WHILE.
* ``"tflite_fused"`` (LSTM only): a `tf.function` carrying the Keras-2
  composite attributes, which the converter turns into TFLite's
  ``UNIDIRECTIONAL_SEQUENCE_LSTM``. The fused op takes no mask, so a mask is
  treated as *right padding* (real steps first, padding after): the kernel
  runs unmasked, gathers the output at ``length - 1`` for the last output and
  final ``h`` (zeros at length 0, as the loop gives), and zeroes padded
  outputs; a backward direction first reverses each sequence within its length (``tf.reverse_sequence``). That is exact
  for right-padded batches and wrong for other mask patterns (documented
  limitation). The fused op exposes no cell state: a final ``c`` is computed
  by the loop kernel alongside (pruned by the converter when the model does
  not output it), and a non-zero initial state, which the fused op cannot
  take, makes the layer fall back to the loop kernel with a warning. GRU has
  no builtin fused kernel in TFLite and always uses the loop kernel (with
  blocks) under ``"tflite_fused"``.
"""
import functools
import warnings

import tensorflow as tf

from keras_rnnx.kernels.dispatch import register_lowering
from keras_rnnx.kernels.steps import gru_biases, gru_recurrence, lstm_recurrence

__all__ = [
    "lstm_loop",
    "gru_loop",
    "lstm_fused",
    "fused_lstm_sequence",
    "fused_lstm_unsupported",
    "FUSED_LSTM_ATTRIBUTE",
]

FUSED_LSTM_ATTRIBUTE = "lstm_keras_rnnx"


def _ifoc(w, units):
    """Reorders the last axis from gate order i, f, c, o to i, f, o, c."""
    w = tf.convert_to_tensor(w)
    return tf.concat([w[..., : 2 * units], w[..., 3 * units:], w[..., 2 * units: 3 * units]],
                     axis=-1)


# ------------------------------------------------------------------- helpers
def _project(inputs, kernel, bias):
    """[B, T, D] @ [D, G] (+ bias) -> batch-major [B, T, G], one product.

    One 3-D product (a FULLY_CONNECTED keeping the leading dimensions):
    no RESHAPE to a shape packed at run time (whose output the interpreter
    makes a dynamic tensor) and no TRANSPOSE between the input and the
    WHILE loop, which reads step t as `x_proj[:, t]`.
    """
    kernel = tf.cast(kernel, inputs.dtype)
    proj = tf.matmul(inputs, kernel)
    if bias is not None:
        proj = proj + tf.cast(bias, inputs.dtype)
    return proj


def _write_rows(buffer, rows, t):
    """buffer[t:t + len(rows)] = rows on a [T, B, H] buffer, as a builtin
    DYNAMIC_UPDATE_SLICE."""
    zero = tf.zeros([], tf.int32)
    from tensorflow.compiler.tf2xla.python import xla

    return xla.dynamic_update_slice(
        buffer, rows, tf.stack([tf.cast(t, tf.int32), zero, zero])
    )


# Rows of a block of the whole-sequence output (see `_run_blocks`): at least
# MIN_BLOCK, or T // BLOCKS when that is more.
MIN_BLOCK = 16
BLOCKS = 16


def _run_blocks(advance, steps, carry, invariants, batch, units, dtype):
    """`carry = advance(t, carry)[1]` for t = 0 .. steps - 1, writing each
    step's output (`advance(t, carry)[0]`, [B, H]) into a buffer; returns
    (the final carry, the outputs [steps, B, H]).

    Every tensor a WHILE loop carries is copied whole at every iteration
    (LiteRT copies the body's outputs to the loop's outputs, and
    DYNAMIC_UPDATE_SLICE its input to its output: a loop body's inputs and
    outputs never share memory), so one loop writing a [T, B, H] buffer
    copies O(T B H) per step, O(T^2 B H) in all. Here an outer WHILE runs
    blocks of `size` steps; an inner WHILE per block writes its steps into a
    [size, B, H] block, and the outer one writes each block into the
    buffer: O(size B H) per step and O(T B H) per block. `size` is
    max(MIN_BLOCK, T // BLOCKS), integer ops only (the file may be quantized);
    the buffer has a whole number of blocks, at least one, and is sliced to
    T rows after the loop (DYNAMIC_UPDATE_SLICE is prepared even when no step
    runs). The zero block comes from outside the loops, so every shape in
    the outer body follows its inputs' and the loops stay in LiteRT's static
    mode.
    """
    size = tf.maximum(steps // BLOCKS, MIN_BLOCK)
    count = tf.maximum((steps + size - 1) // size, 1)
    block0 = tf.zeros(tf.stack([size, batch, units]), dtype)
    buffer0 = tf.zeros(tf.stack([count * size, batch, units]), dtype)
    scalar, rows = tf.TensorShape([]), tf.TensorShape([None, None, units])

    def block_body(start, *loop):
        carry, block, buffer = list(loop[:-2]), loop[-2], loop[-1]
        end = tf.minimum(start + tf.shape(block)[0], steps)

        def step_body(t, *loop):
            output, new = advance(t, list(loop[:-1]))
            return [t + 1] + new + [_write_rows(loop[-1], tf.expand_dims(output, 0),
                                                t - start)]

        result = tf.while_loop(lambda t, *_: t < end, step_body,
                               [start] + carry + [block],
                               shape_invariants=[scalar] + invariants + [rows])
        buffer = _write_rows(buffer, result[-1], start)
        return [end] + list(result[1:-1]) + [block, buffer]

    result = tf.while_loop(lambda start, *_: start < steps, block_body,
                           [tf.constant(0)] + carry + [block0, buffer0],
                           shape_invariants=[scalar] + invariants + [rows, rows])
    outputs = tf.slice(result[-1], [0, 0, 0], tf.stack([steps, -1, -1]))
    return list(result[1:-2]), outputs


def _run_loop(step, x_proj, states, mask, return_sequences, units,
              zero_output_for_mask, carry_initial_output=False, blocks=False):
    """Runs `step(x_t, states) -> (output, new_states)` over batch-major
    input `x_proj` [B, T, G].

    Returns (last_output, outputs [T, B, H] or None, final_states). Masked
    steps output zeros, or the previous output, which starts as zeros or,
    with `carry_initial_output` (streaming: a chunk continues a sequence), as
    the initial h. With `blocks`, whole-sequence outputs are written block
    by block (`_run_blocks`); otherwise one WHILE carries the state and the
    [max(T, 1), B, H] output buffer (sliced to T rows after the loop), or
    only the state.
    """
    steps = tf.shape(x_proj)[1]
    batch = tf.shape(x_proj)[0]
    dtype = x_proj.dtype
    n = len(states)
    if mask is not None:
        mask_tm = tf.expand_dims(tf.transpose(tf.cast(mask, tf.bool), [1, 0]), -1)
    zeros_out = tf.zeros(tf.stack([batch, units]), dtype)

    # Without a mask the output is h itself: only the state is carried,
    # fewer tensors for WHILE to pass between steps.
    carry_out = mask is not None

    def advance(t, carry):
        """Step t: (output, carry) from carry = states (+ previous output)."""
        st = carry[:n]
        output, new_st = step(tf.gather(x_proj, t, axis=1), st)
        if not carry_out:
            return output, list(new_st)
        m = tf.gather(mask_tm, t)
        new_st = [tf.where(m, a, b) for a, b in zip(new_st, st)]
        output = tf.where(m, output, zeros_out if zero_output_for_mask else carry[n])
        return output, new_st + [output]

    carry = list(states)
    invariants = [tf.TensorShape([None, units])] * n
    if carry_out:
        carry.append(states[0] if carry_initial_output else zeros_out)
        invariants.append(tf.TensorShape([None, units]))
    outputs = None
    if return_sequences and blocks:
        carry, outputs = _run_blocks(advance, steps, carry, invariants, batch, units, dtype)
    elif return_sequences:
        # At least one row: the interpreter prepares DYNAMIC_UPDATE_SLICE's
        # [1, B, H] write even when the loop runs no step, and refuses a
        # zero-row buffer.
        buffer = tf.zeros(tf.stack([tf.maximum(steps, 1), batch, units]), dtype)

        def body(t, *loop):
            output, new = advance(t, list(loop[:-1]))
            return [t + 1] + new + [_write_rows(loop[-1], tf.expand_dims(output, 0), t)]

        result = tf.while_loop(
            lambda t, *_: t < steps, body, [tf.constant(0)] + carry + [buffer],
            shape_invariants=[tf.TensorShape([])] + invariants
            + [tf.TensorShape([None, None, units])])
        carry = list(result[1:-1])
        outputs = tf.slice(result[-1], [0, 0, 0], tf.stack([steps, -1, -1]))
    else:
        def body(t, *loop):
            return [t + 1] + advance(t, list(loop))[1]

        carry = list(tf.while_loop(lambda t, *_: t < steps, body,
                                   [tf.constant(0)] + carry,
                                   shape_invariants=[tf.TensorShape([])] + invariants)[1:])
    final_states = carry[:n]
    last_output = carry[n] if carry_out else final_states[0]
    return last_output, outputs, final_states


def _prepare(inputs, mask, go_backwards):
    inputs = tf.convert_to_tensor(inputs)
    if go_backwards:
        inputs = tf.reverse(inputs, [1])
        if mask is not None:
            mask = tf.reverse(mask, [1])
    return inputs, mask


def _batch_major(outputs):
    return None if outputs is None else tf.transpose(outputs, [1, 0, 2])


# ---------------------------------------------------------------- the kernels
def lstm_loop(inputs, initial_state, kernel, recurrent_kernel, bias, *,
              mask=None, go_backwards=False, return_sequences=True,
              activation="tanh", recurrent_activation="sigmoid",
              zero_output_for_mask=False, carry_initial_output=False, blocks=False,
              **unused):
    """LSTM over a sequence as a builtin-op WHILE loop (kernel contract of
    `keras_rnnx.kernels.dispatch`); `blocks`: write whole-sequence outputs
    block by block (`_run_blocks`)."""
    units = recurrent_kernel.shape[0]
    inputs, mask = _prepare(inputs, mask, go_backwards)
    # Gate columns i, f, c, o -> i, f, o, c (constant-folded by the converter)
    # so one sigmoid and one tanh cover all gates of a step.
    kernel, recurrent_kernel = _ifoc(kernel, units), _ifoc(recurrent_kernel, units)
    bias = None if bias is None else _ifoc(bias, units)
    x_proj = _project(inputs, kernel, bias)
    step = lstm_recurrence(recurrent_kernel, x_proj.dtype, activation,
                           recurrent_activation, gate_order="ifoc")
    h0, c0 = [tf.cast(s, x_proj.dtype) for s in initial_state]

    last, outputs, final = _run_loop(
        step, x_proj, [h0, c0], mask, return_sequences, units, zero_output_for_mask,
        carry_initial_output, blocks,
    )
    if mask is None:
        last = final[0]
    return last, _batch_major(outputs), final


def gru_loop(inputs, initial_state, kernel, recurrent_kernel, bias, *,
             mask=None, go_backwards=False, return_sequences=True,
             activation="tanh", recurrent_activation="sigmoid",
             reset_after=True, variant="full", zero_output_for_mask=False,
             carry_initial_output=False, blocks=False, **unused):
    """GRU (full or simplified) over a sequence as a builtin-op WHILE loop
    (`blocks` as for `lstm_loop`)."""
    units = recurrent_kernel.shape[0]
    inputs, mask = _prepare(inputs, mask, go_backwards)
    input_bias, recurrent_bias = gru_biases(bias, reset_after, variant)
    x_proj = _project(inputs, kernel, input_bias)
    step = gru_recurrence(recurrent_kernel, recurrent_bias, x_proj.dtype, activation,
                          recurrent_activation, reset_after, variant)
    (h0,) = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
    h0 = tf.cast(h0, x_proj.dtype)

    last, outputs, final = _run_loop(
        step, x_proj, [h0], mask, return_sequences, units, zero_output_for_mask,
        carry_initial_output, blocks,
    )
    if mask is None:
        last = final[0]
    return last, _batch_major(outputs), final


# -------------------------------------------------------------- fused LSTM
def _is_static_zero(t):
    """True when `t` is a graph constant (or zeros fill) equal to 0."""
    try:
        value = tf.get_static_value(t)
    except Exception:  # noqa: BLE001 - symbolic tensors we cannot evaluate
        value = None
    if value is not None:
        return not value.any()
    op = getattr(t, "op", None)
    while op is not None and op.type in ("Identity", "Cast"):
        op = op.inputs[0].op
    if op is None:
        return False
    if op.type == "Fill":
        fill = tf.get_static_value(op.inputs[1])
        return fill is not None and not fill.any()
    if op.type == "ZerosLike":
        return True
    if op.type in ("Mul", "MatMul", "BatchMatMulV2"):
        return any(_is_static_zero(x) for x in op.inputs)
    if op.type in ("BroadcastTo", "Tile", "Reshape", "ExpandDims"):
        return _is_static_zero(op.inputs[0])
    return False


def _make_fused_fn(units, api_name):
    """A tf.function with the Keras-2 composite LSTM interface."""

    def standard_lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
        # Body used by TensorFlow (and replaced by the TFLite converter with
        # UNIDIRECTIONAL_SEQUENCE_LSTM): init_h/init_c are [1, H] zeros that
        # broadcast over the batch.
        zeros = tf.zeros(tf.stack([tf.shape(inputs)[0], units]), inputs.dtype)
        last, outputs, (h, c) = lstm_loop(
            inputs, [init_h + zeros, init_c + zeros], kernel, recurrent_kernel,
            bias, return_sequences=True,
        )
        return last, outputs, h, c, tf.constant(1.0)

    return tf.function(
        standard_lstm,
        autograph=False,
        experimental_attributes={
            "api_implements": api_name,
            "api_preferred_device": "CPU",
            "time_major": False,
            "go_backwards": False,
        },
    )


_FUSED_COUNT = [0]


def _fallback(reason):
    warnings.warn(
        f"lstm_kernel='fused': {reason}; this LSTM is exported with the loop "
        "kernel instead (exact, builtin ops, not UNIDIRECTIONAL_SEQUENCE_LSTM).",
        stacklevel=3,
    )


def fused_lstm_unsupported(activation, recurrent_activation, bias, initial_state):
    """Why TFLite's UNIDIRECTIONAL_SEQUENCE_LSTM cannot run this LSTM (a
    phrase for a warning), or None when it can: the fused op computes
    tanh/sigmoid gates with a bias from a zero state."""
    if activation not in ("tanh", tf.tanh) or recurrent_activation not in (
            "sigmoid", tf.sigmoid):
        return ("the fused op supports only activation='tanh' with "
                "recurrent_activation='sigmoid'")
    if bias is None:
        return "use_bias=False"
    if not all(_is_static_zero(s) for s in initial_state):
        return ("the fused op starts from a zero state, and this layer has "
                "an initial_state")
    return None


def fused_lstm_sequence(inputs, kernel, recurrent_kernel, bias):
    """All outputs [B, T, H] of an LSTM (tanh/sigmoid, zero initial state,
    no mask, forward) over `inputs` [B, T, D], as a function the TFLite
    converter replaces with one UNIDIRECTIONAL_SEQUENCE_LSTM (float, or int8
    with an int16 cell state under full-integer quantization)."""
    inputs = tf.convert_to_tensor(inputs)
    units = recurrent_kernel.shape[0]
    _FUSED_COUNT[0] += 1
    fused = _make_fused_fn(units, f"{FUSED_LSTM_ATTRIBUTE}_{_FUSED_COUNT[0]}")
    zero_state = tf.zeros([1, units], inputs.dtype)
    _, seq, _, _, _ = fused(inputs, zero_state, zero_state, tf.convert_to_tensor(kernel),
                            tf.convert_to_tensor(recurrent_kernel),
                            tf.convert_to_tensor(bias))
    seq.set_shape(inputs.shape[:2].concatenate([units]))  # the body's shapes are dynamic
    return seq


def lstm_fused(inputs, initial_state, kernel, recurrent_kernel, bias, *,
               mask=None, go_backwards=False, return_sequences=True,
               activation="tanh", recurrent_activation="sigmoid",
               zero_output_for_mask=False, **unused):
    """LSTM as TFLite's fused UNIDIRECTIONAL_SEQUENCE_LSTM (see module doc).

    Masks are read as right padding. Falls back to `lstm_loop` (with a
    warning) for activations other than tanh/sigmoid, no bias, or a
    non-zero initial state.
    """
    kwargs = dict(mask=mask, go_backwards=go_backwards,
                  return_sequences=return_sequences, activation=activation,
                  recurrent_activation=recurrent_activation,
                  zero_output_for_mask=zero_output_for_mask)
    reason = fused_lstm_unsupported(activation, recurrent_activation, bias, initial_state)
    if reason is not None:
        _fallback(reason)
        return lstm_loop(inputs, initial_state, kernel, recurrent_kernel, bias,
                         blocks=True, **kwargs)

    lengths = None
    if mask is not None:
        mask = tf.cast(mask, tf.bool)
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
    x = inputs
    if go_backwards:
        if lengths is None:
            x = tf.reverse(x, [1])
        else:
            x = tf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0)
    seq = fused_lstm_sequence(x, kernel, recurrent_kernel, bias)

    # The last output of each row is read from [zeros, seq]: a zero row
    # first, so a length-0 sequence (or row) reads zeros (the zero initial
    # state), never an index past the end.
    first = tf.zeros(tf.stack([tf.shape(seq)[0], 1, tf.shape(seq)[2]]), seq.dtype)
    padded = tf.concat([first, seq], axis=1)
    if lengths is None:
        last = padded[:, -1]
        outputs = seq
    else:
        # Right padding: the last real output sits at length - 1 of seq,
        # at length of `padded`.
        last = tf.gather(padded, lengths, axis=1, batch_dims=1)
        valid = tf.expand_dims(mask, -1)
        if go_backwards:
            aligned = tf.reverse_sequence(seq, lengths, seq_axis=1, batch_axis=0)
            outputs = tf.reverse(tf.where(valid, aligned, tf.zeros_like(aligned)), [1])
        elif zero_output_for_mask:
            outputs = tf.where(valid, seq, tf.zeros_like(seq))
        else:
            outputs = tf.where(valid, seq, tf.expand_dims(last, 1))
    # The fused op exposes no cell state: the loop kernel computes c (the
    # converter prunes it when the model does not output it).
    _, _, (_, c) = lstm_loop(inputs, initial_state, kernel, recurrent_kernel, bias,
                             **dict(kwargs, return_sequences=False))
    return last, outputs if return_sequences else None, [last, c]


register_lowering("tflite_loop", lstm=lstm_loop, gru=gru_loop)
register_lowering("tflite_loop_blocks", lstm=functools.partial(lstm_loop, blocks=True),
                  gru=functools.partial(gru_loop, blocks=True))
register_lowering("tflite_fused", lstm=lstm_fused,
                  gru=functools.partial(gru_loop, blocks=True))

# The microcontroller lowering ("tflite_micro") lives beside these.
from keras_rnnx.kernels import micro as _micro  # noqa: E402,F401 - registers it
