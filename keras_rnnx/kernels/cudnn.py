"""The cuDNN adapter: runs an LSTM or GRU sequence on Keras' own cuDNN
kernels (`keras.src.backend.tensorflow.rnn.lstm/gru`) under the kernel
contract of `keras_rnnx.kernels.dispatch`, for any mask.

cuDNN takes a mask only as per-row lengths of right-padded rows without
empty ones (Keras asserts that). Keras' CPU mask semantics (the default
kernel's: a masked step keeps the states, its output repeats the last one)
depend only on each row's real steps in order, so any mask is run as one
cuDNN can take, with no data-dependent branch:

* each row's real steps are moved to its front, in order (a gather by
  `searchsorted` on the running count of real steps); going backwards, the
  rows are reversed first, as the default kernel does;
* cuDNN runs forwards with those counts as lengths (at least 1), the inputs
  past each row's length zeroed by a `where`, which also stops the
  undefined gradient cuDNN gives there;
* the output at step t is cuDNN's output after the row's k-th real step,
  k = real steps up to t (zeros when k = 0); rows without a real step get
  the initial states and a zero last output.

Results equal the default kernel's (tested against an emulation of Keras'
cuDNN contract on CPU and on GPUs; see docs/kernels.md).
"""
from keras_rnnx.kernels.activations import (activation_name,
                                            resolve_activation)
from keras_rnnx.kernels.loop import in_xla_context
from keras_rnnx.kernels.scheduling import gpu_available

__all__ = ["supports", "applies", "cudnn_sequence", "unsupported_error"]


def supports(kind, *, activation, recurrent_activation, use_bias,
             reset_after=True, variant="full"):
    """Whether cuDNN can run this configuration: tanh/sigmoid, a bias, and
    for GRU the full variant with reset_after=True."""
    ok = (activation_name(activation) == "tanh"
          and activation_name(recurrent_activation) == "sigmoid"
          and bool(use_bias))
    if kind == "gru":
        ok = ok and reset_after and variant == "full"
    return ok


def applies(kind, *, activation, recurrent_activation, use_bias,
            reset_after=True, variant="full"):
    """Whether cuDNN runs a call: `supports(...)`, a GPU is available, and
    the code is not traced for XLA (cuDNN's RNN ops do not compile there)."""
    return (supports(kind, activation=activation,
                     recurrent_activation=recurrent_activation,
                     use_bias=use_bias, reset_after=reset_after,
                     variant=variant)
            and gpu_available() and not in_xla_context())


def unsupported_error():
    """The error for `use_cudnn=True` where cuDNN cannot run on a GPU."""
    return ValueError(
        "use_cudnn=True was specified, but cuDNN is not supported "
        "for this layer configuration. Pass use_cudnn='auto'."
    )


def cudnn_sequence(kind, inputs, initial_state, kernel, recurrent_kernel,
                   bias, *, mask=None, go_backwards=False,
                   return_sequences=True, activation="tanh",
                   recurrent_activation="sigmoid"):
    """Runs `kind` ("lstm" | "gru", GRU with reset_after=True) on cuDNN.

    Args and mask semantics: the kernel contract (`dispatch`).

    Returns:
        (last_output, outputs or None, final_state), or None when Keras
        declines (NotImplementedError: Keras sees no GPU).
    """
    import importlib

    import tensorflow as tf

    # `from keras.src.backend.tensorflow import rnn` would give the
    # function `rnn` that the package re-exports, not the module
    tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
    common = dict(
        kernel=kernel, recurrent_kernel=recurrent_kernel, bias=bias,
        # tf.tanh / tf.sigmoid, which Keras' cuDNN check accepts
        activation=resolve_activation(activation),
        recurrent_activation=resolve_activation(recurrent_activation),
        return_sequences=return_sequences, go_backwards=go_backwards,
        unroll=False,
    )
    x, run_mask = inputs, None
    if mask is not None:
        m = tf.cast(mask, tf.bool)
        if go_backwards:
            x, m = tf.reverse(x, [1]), tf.reverse(m, [1])
        seen = tf.math.cumsum(tf.cast(m, tf.int32), axis=1)  # [B, T]
        lengths = seen[:, -1]
        steps = tf.shape(m)[1]
        # the position of each row's (j+1)-th real step (T past its last)
        wanted = tf.broadcast_to(tf.range(1, steps + 1)[None, :], tf.shape(m))
        order = tf.minimum(tf.searchsorted(seen, wanted), steps - 1)
        x = tf.gather(x, order, axis=1, batch_dims=1)
        # cuDNN leaves its input gradient at padded steps undefined: a
        # `where`, not a product, so none of it reaches the inputs
        real = tf.sequence_mask(lengths, steps)
        x = tf.where(real[:, :, None], x, tf.zeros_like(x))
        run_mask = tf.sequence_mask(tf.maximum(lengths, 1), steps)
        common.update(go_backwards=False, return_sequences=True)
    try:
        if kind == "lstm":
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
        if return_sequences:
            outputs = tf.gather(outputs, tf.maximum(seen - 1, 0), axis=1,
                                batch_dims=1)
            outputs = tf.where((seen > 0)[:, :, None], outputs,
                               tf.zeros_like(outputs))
    return last, (outputs if return_sequences else None), states
