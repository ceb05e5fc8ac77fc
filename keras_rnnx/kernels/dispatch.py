"""The one seam between sequence layers and the kernels that run them.

`LSTMX`, `GRUX` and `BiDirectional` never loop themselves: they call
`run_sequence` here with plain tensors (inputs, initial states, weights,
mask, direction). Which kernel runs is decided here, in this order:

1. the *lowering* an exporter chose at trace time with
   `with lowering("tflite_loop"):` (or "tflite_fused", ...), when it
   registered a kernel for this kind with `register_lowering`;
2. cuDNN (`cudnn.cudnn_sequence`) when the caller asks for it
   (`use_cudnn="auto"` or True), a GPU is available, the code is not traced
   for XLA and the configuration allows (`cudnn.supports`);
3. the default kernel (`lstm.default_lstm_sequence`,
   `gru.default_gru_sequence`): a minimal `tf.while_loop` with a
   hand-written backward pass for tanh/sigmoid, scheduled by the current
   `scheduling.Schedule`.

Kernel contract (every kernel, default, cuDNN or lowered):

    kernel(inputs, initial_state, kernel, recurrent_kernel, bias, *,
           mask=None, go_backwards=False, return_sequences=True,
           activation="tanh", recurrent_activation="sigmoid")
        -> (last_output, outputs, final_state)

    inputs [B, T, D]; initial_state: [h, c] each [B, H] (GRU: [h]);
    mask [B, T] bool or None; outputs [B, T, H] (None when
    return_sequences=False); final_state a list like initial_state.
    GRU also takes reset_after= and variant= ("full" | "simplified").

Details every kernel (default or lowered) must follow:

* Weights are passed as tensors (or variables) in Keras' layout:
  LSTM kernel [D, 4H], recurrent_kernel [H, 4H], bias [4H] or None, gate
  order i, f, c, o. GRU "full": kernel [D, 3H], recurrent_kernel [H, 3H],
  gate order z, r, h; bias [2, 3H] (row 0 input bias, row 1 recurrent bias)
  when reset_after=True, [3H] when reset_after=False, or None. GRU
  "simplified": kernel [D, 2H], recurrent_kernel [H, 2H], bias [2H] or None,
  gate order u (update), c (candidate).
* Activations are passed as the Keras name string ("tanh", "sigmoid",
  "relu", "hard_sigmoid", ...) whenever the layer's activation is a standard
  Keras activation (see `activations.activation_spec`), otherwise as the
  callable itself; `activations.resolve_activation` turns either into a
  function. A lowering that only fuses "tanh"/"sigmoid" may fall back to
  another kernel for anything else.
* Default kernels also take `training=` (False with no gradient tape
  recording: a lean loop that saves nothing for a backward pass); lowered
  kernels are called with exactly the arguments above.
* go_backwards=True processes the sequence from the last step to the first
  (mask reversed with it) and returns `outputs` in that processing order,
  exactly like Keras.
* Mask semantics (Keras' own, `zero_output_for_mask=False`): at a masked step
  the states are carried over unchanged and the output repeats the previous
  output (zeros before the first unmasked step). `last_output` is the output
  of the last processed step, so it is zeros for an all-masked row while the
  final states equal the initial states. Layers that want zeros at masked
  positions (`zero_output_for_mask=True`, used by `BiDirectional`) multiply
  by the mask themselves.
* The step math of every kernel is `steps.lstm_step` / `steps.gru_step`.
  GRU full update rule (Keras): h = z * h_prev + (1 - z) * hh.
  GRU simplified: c = u * c~ + (1 - u) * c_prev.
"""
import contextlib
import contextvars

from keras_rnnx.kernels import cudnn
from keras_rnnx.kernels.activations import activation_spec
from keras_rnnx.kernels.gru import default_gru_sequence
from keras_rnnx.kernels.lstm import default_lstm_sequence
from keras_rnnx.kernels.scheduling import gpu_available

__all__ = ["run_sequence", "register_lowering", "lowering",
           "current_lowering", "lowered_kernel", "registered_kernel",
           "default_kernel"]

KINDS = ("lstm", "gru")
_CURRENT = contextvars.ContextVar("keras_rnnx_lowering", default=None)
_LOWERINGS = {}


def register_lowering(name, *, lstm=None, gru=None, reverse=None):
    """Registers the kernels of lowering `name` (None: the default runs for
    that kind). Registering a name again replaces its kernels.

    `reverse`, optional: `reverse(x, mask) -> x` reversing the real steps of
    each right-padded row of `x` [B, T, F] (mask [B, T] bool), which
    `BiDirectional` uses instead of `tf.reverse_sequence` under this
    lowering (`lowered_kernel("reverse")`)."""
    _LOWERINGS[name] = {"lstm": lstm, "gru": gru, "reverse": reverse}


@contextlib.contextmanager
def lowering(name):
    """Traces sequence layers with the kernels registered under `name`
    (None: no lowering). Raises ValueError for an unregistered name."""
    if name is not None and name not in _LOWERINGS:
        raise ValueError(
            f"Unknown lowering {name!r}; registered: {sorted(_LOWERINGS)}"
        )
    token = _CURRENT.set(name)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current_lowering():
    """The name of the active lowering, or None."""
    return _CURRENT.get()


def registered_kernel(name, kind):
    """The kernel lowering `name` registered for `kind` ("lstm" | "gru"),
    or None (none registered, or no such lowering)."""
    return _LOWERINGS.get(name, {}).get(kind)


def lowered_kernel(kind):
    """The kernel of the active lowering for `kind` ("lstm", "gru" or
    "reverse"), or None."""
    name = _CURRENT.get()
    return None if name is None else registered_kernel(name, kind)


def default_kernel(kind):
    """The default kernel for `kind` ("lstm" | "gru")."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return default_lstm_sequence if kind == "lstm" else default_gru_sequence


def run_sequence(kind, inputs, initial_state, kernel, recurrent_kernel, bias,
                 *, mask=None, go_backwards=False, return_sequences=True,
                 activation="tanh", recurrent_activation="sigmoid",
                 training=None, use_cudnn=False, cudnn_allowed=True,
                 **variant_args):
    """Runs an LSTM or GRU over a sequence with the kernel chosen as the
    module docstring says (lowering, then cuDNN, then the default).

    Args:
        kind: "lstm" or "gru".
        inputs, initial_state, kernel, recurrent_kernel, bias, mask,
            go_backwards, return_sequences: the kernel contract.
        activation, recurrent_activation: names or callables (callables of
            standard Keras activations are passed on as their names).
        training: passed to the default kernel only (lean inference loop
            when False and no tape records).
        use_cudnn: False (never), "auto" (when `cudnn.applies`) or True
            (the same, and a ValueError where a GPU is available but cuDNN
            cannot run this call).
        cudnn_allowed: False when the caller's configuration rules cuDNN
            out beyond the kernel arguments (a layer's `unroll=True` or
            recurrent dropout): cuDNN is then not used, and
            `use_cudnn=True` raises where a GPU is available.
        **variant_args: GRU's `reset_after=` and `variant=`.

    Returns:
        (last_output, outputs or None, final_state) per the contract.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    args = (inputs, list(initial_state), kernel, recurrent_kernel, bias)
    common = dict(mask=mask, go_backwards=go_backwards,
                  return_sequences=return_sequences,
                  activation=activation_spec(activation),
                  recurrent_activation=activation_spec(recurrent_activation))
    lowered = lowered_kernel(kind)
    if lowered is not None:
        return lowered(*args, **common, **variant_args)
    if use_cudnn not in (False, "auto", True):
        raise ValueError(
            f"use_cudnn must be False, 'auto' or True, got {use_cudnn!r}")
    if use_cudnn:
        out = None
        if cudnn_allowed and cudnn.applies(
                kind, activation=activation,
                recurrent_activation=recurrent_activation,
                use_bias=bias is not None, **variant_args):
            out = cudnn.cudnn_sequence(kind, *args, **common)
        if out is not None:
            return out
        if use_cudnn is True and gpu_available():
            raise cudnn.unsupported_error()
    return default_kernel(kind)(*args, training=training, **common,
                                **variant_args)
