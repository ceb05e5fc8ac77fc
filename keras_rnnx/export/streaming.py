"""Streaming exports: state inputs and outputs through a recurrence lowering.

The lowering "keras_rnnx_stream" wraps the TFLite loop kernels so that each
recurrent layer's initial state comes from an export input and its final
state becomes an export output (see `_stream_kernel`).
"""
from keras_rnnx._atomic import ExportError


class _StreamContext:
    """State plumbing for the streaming lowering (see `_stream_kernel`)."""

    def __init__(self, base, states=None):
        self.base = base  # lowering name whose kernels do the work
        self.states = states  # None: discovery run
        self.layout = []  # [(kind, units, dtype)] in call order
        self.finals = []
        self.index = 0


_STREAM = []


def _stream_kernel(kind):
    def kernel(inputs, initial_state, kernel, recurrent_kernel, bias, **kwargs):
        from keras_rnnx import kernels
        from keras_rnnx.kernels import tflite as tflite_kernels

        ctx = _STREAM[-1]
        if kwargs.get("go_backwards"):
            raise ExportError(
                "streaming=True: a layer runs backwards (go_backwards=True or "
                "BiDirectional); only uni-directional layers can stream"
            )
        i = ctx.index
        ctx.index += 1
        if ctx.states is None:
            ctx.layout.append((kind, int(recurrent_kernel.shape[0]), inputs.dtype))
        else:
            initial_state = ctx.states[i]
        base = kernels.registered_kernel(ctx.base, kind) if ctx.base else None
        if base is None or base is tflite_kernels.lstm_fused:
            base = tflite_kernels.lstm_loop if kind == "lstm" else tflite_kernels.gru_loop
        # A chunk continues the sequence: masked steps repeat the carried h.
        last, outputs, final = base(
            inputs, initial_state, kernel, recurrent_kernel, bias,
            carry_initial_output=True, **kwargs
        )
        ctx.finals.append(list(final))
        return last, outputs, final

    return kernel


def _register_stream_lowering():
    from keras_rnnx import kernels

    kernels.register_lowering(
        "keras_rnnx_stream", lstm=_stream_kernel("lstm"), gru=_stream_kernel("gru")
    )


def _state_names(layout):
    names = []
    for i, (kind, _, _) in enumerate(layout):
        names.append(f"state{i}_h")
        if kind == "lstm":
            names.append(f"state{i}_c")
    return names
