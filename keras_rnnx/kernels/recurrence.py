"""Former home of the kernels, kept so that `from keras_rnnx.kernels import
recurrence` keeps working: the names below are re-exported from the modules
that now hold them (see `keras_rnnx.kernels`). New code imports from
`keras_rnnx.kernels` directly."""
from keras_rnnx.kernels.activations import activation_spec  # noqa: F401
from keras_rnnx.kernels.dispatch import (  # noqa: F401
    current_lowering, lowered_kernel, lowering, register_lowering,
    registered_kernel, run_sequence)
from keras_rnnx.kernels.gru import default_gru_sequence  # noqa: F401
from keras_rnnx.kernels.loop import in_xla_context  # noqa: F401
from keras_rnnx.kernels.lstm import default_lstm_sequence  # noqa: F401
from keras_rnnx.kernels.scheduling import gpu_available  # noqa: F401
