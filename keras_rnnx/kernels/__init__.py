"""Kernels: the one seam between sequence layers and the code that runs them.

Public surface:

* `run_sequence(kind, ...)`: runs an LSTM/GRU over a sequence with the
  active lowering, cuDNN, or the default kernel; the kernel contract is the
  docstring of `keras_rnnx.kernels.dispatch`.
* `lowering(name)`, `register_lowering(name, lstm=, gru=)`,
  `current_lowering()`, `lowered_kernel(kind)`, `registered_kernel(name,
  kind)`: exporters' lowerings (`tflite` registers "tflite_loop",
  "tflite_loop_blocks" and "tflite_fused"; `micro`, imported with it, "tflite_micro", which also
  registers a "reverse" for `BiDirectional`).
* `Schedule`, `schedule(**changes)`, `current_schedule()`,
  `gpu_available()`: the default kernels' CPU scheduling tunables;
  `in_xla_context()`: whether code is being traced for XLA.
* `lstm_step`, `gru_step`: the step math, the only place it is written.
* `activation_spec`, `resolve_activation`: the activation resolver.

Modules: `dispatch` (contract, lowerings, `run_sequence`), `steps`,
`activations`, `scheduling`, `loop` (plumbing shared by the default
kernels), `lstm` / `gru` (default kernels), `cudnn` (the cuDNN adapter),
`tflite` (TFLite lowerings, imported by exporters), `micro` (the
microcontroller lowering).
"""
from keras_rnnx.kernels.activations import (activation_spec,
                                            resolve_activation)
from keras_rnnx.kernels.dispatch import (current_lowering, default_kernel,
                                         lowered_kernel, lowering,
                                         register_lowering, registered_kernel,
                                         run_sequence)
from keras_rnnx.kernels.gru import default_gru_sequence
from keras_rnnx.kernels.loop import in_xla_context
from keras_rnnx.kernels.lstm import default_lstm_sequence
from keras_rnnx.kernels.scheduling import (Schedule, current_schedule,
                                           gpu_available, schedule)
from keras_rnnx.kernels.steps import (GRUStep, LSTMStep, gru_biases, gru_step,
                                     lstm_step)

__all__ = [
    "run_sequence", "lowering", "register_lowering", "current_lowering",
    "lowered_kernel", "registered_kernel", "default_kernel",
    "default_lstm_sequence", "default_gru_sequence",
    "Schedule", "schedule", "current_schedule", "gpu_available",
    "in_xla_context",
    "lstm_step", "gru_step", "gru_biases", "LSTMStep", "GRUStep",
    "activation_spec", "resolve_activation",
]
