"""The one seam between sequence layers and the kernels that run them.

`LSTMX`, `GRUX` and `BiDirectional` never loop themselves: they call
`lstm_sequence` / `gru_sequence` here with plain tensors (inputs, initial
states, weights, mask, direction). Which kernel runs is decided here:

* default (training and inference in Keras): hoisted input projection, a
  minimal `tf.while_loop`, a hand-written backward pass; cuDNN on a GPU when
  the configuration allows.
* a *lowering* chosen by an exporter at trace time with
  `with lowering("tflite_loop"):` or `with lowering("tflite_fused"):`; the
  exporter registers the implementation with `register_lowering`.

Kernel contract (both functions):

    lstm_sequence(inputs, initial_state, kernel, recurrent_kernel, bias, *,
                  mask=None, go_backwards=False, return_sequences=True,
                  activation="tanh", recurrent_activation="sigmoid")
        -> (last_output, outputs, final_state)

    inputs [B, T, D]; initial_state: [h, c] each [B, H] (GRU: [h]);
    mask [B, T] bool or None; outputs [B, T, H] (None when
    return_sequences=False); final_state a list like initial_state.
    GRU also takes reset_after= and variant= ("full" | "simplified").
"""
import contextlib
import contextvars

_CURRENT = contextvars.ContextVar("keras_rnnx_lowering", default=None)
_LOWERINGS = {}


def register_lowering(name, *, lstm=None, gru=None):
    """Registers kernels for a lowering; `None` means the default is used."""
    _LOWERINGS[name] = {"lstm": lstm, "gru": gru}


@contextlib.contextmanager
def lowering(name):
    """Traces sequence layers with the kernels registered under `name`."""
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
    return _CURRENT.get()


def lowered_kernel(kind):
    """The kernel of the active lowering for `kind` ("lstm"/"gru"), or None."""
    name = _CURRENT.get()
    if name is None:
        return None
    return _LOWERINGS[name].get(kind)
