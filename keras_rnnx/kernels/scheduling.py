"""How the default kernels are scheduled on the machine: the CPU tunables.

Everything that shapes the default kernels' graphs without changing their
results lives in one frozen `Schedule`. The value in force is
`current_schedule()`; `schedule(**changes)` replaces fields for a block
(a context variable, like `lowering`), e.g. in tests or benchmarks:

    with kernels.schedule(unroll=1, row_groups=1):
        ...  # graphs traced here run one step per iteration, whole batch

Results are the same under any schedule (tested to float64 precision); only
the shape of the traced graph, and so the speed, changes. Measurements
behind the defaults: docs/kernels.md.
"""
import contextlib
import contextvars
import dataclasses
import os
from typing import Optional

__all__ = ["Schedule", "schedule", "current_schedule", "gpu_available",
           "parallel_cpu", "hoist_projection"]


@dataclasses.dataclass(frozen=True)
class Schedule:
    """The default kernels' scheduling choices.

    Attributes:
        unroll: Time steps per `tf.while_loop` iteration (>= 1); the
            remaining `T % unroll` steps run one per iteration.
        parallel_iterations: `tf.while_loop`'s `parallel_iterations` (lets
            TensorArray writes and off-chain work overlap the next step).
        row_groups: Independent row groups a traced CPU batch is split into
            (1: never split).
        min_group_rows: A known batch smaller than
            `row_groups * min_group_rows` rows runs whole.
        min_group_work: Multiply-adds of one group's `h @ U` per step below
            which the batch runs whole.
        assumed_group_rows: A group's rows when the batch size is unknown at
            trace time.
        hoist_projection: Whether `x @ W + b` of all steps is one product
            before the loop (True) or computed step by step inside it
            (False); None: hoisted exactly when a GPU is available.
        gpu: Whether a GPU is taken to be available (cuDNN, hoisting, no row
            groups); None: ask TensorFlow.
        parallel_cpu: Whether TensorFlow may run two ops at once on the CPU
            (needed for row groups); None: more than one CPU and an inter-op
            pool not limited to one thread.
    """

    unroll: int = 4
    parallel_iterations: int = 32
    row_groups: int = 2
    min_group_rows: int = 8
    min_group_work: int = 1 << 18
    assumed_group_rows: int = 16
    hoist_projection: Optional[bool] = None
    gpu: Optional[bool] = None
    parallel_cpu: Optional[bool] = None

    def __post_init__(self):
        if self.unroll < 1:
            raise ValueError(f"Schedule.unroll must be >= 1, got {self.unroll}")
        if self.row_groups < 1:
            raise ValueError(
                f"Schedule.row_groups must be >= 1, got {self.row_groups}")


_CURRENT = contextvars.ContextVar("keras_rnnx_schedule", default=Schedule())


def current_schedule():
    """The `Schedule` in force."""
    return _CURRENT.get()


@contextlib.contextmanager
def schedule(**changes):
    """Runs a block with the current `Schedule`'s fields replaced by
    `changes` (see `Schedule` for the names); yields the new `Schedule`."""
    token = _CURRENT.set(dataclasses.replace(_CURRENT.get(), **changes))
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)


def gpu_available():
    """Whether a GPU is available: `Schedule.gpu`, or TensorFlow's answer."""
    forced = _CURRENT.get().gpu
    if forced is not None:
        return bool(forced)
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def parallel_cpu():
    """Whether TensorFlow may run two ops at once on this CPU:
    `Schedule.parallel_cpu`, or more than one CPU and an inter-op pool not
    limited to one thread."""
    forced = _CURRENT.get().parallel_cpu
    if forced is not None:
        return bool(forced)
    import tensorflow as tf

    threads = tf.config.threading.get_inter_op_parallelism_threads()
    return (os.cpu_count() or 1) > 1 and threads != 1


def hoist_projection():
    """Whether the input projection of all steps is one product before the
    loop: `Schedule.hoist_projection`, by default when a GPU is available."""
    forced = _CURRENT.get().hoist_projection
    if forced is not None:
        return bool(forced)
    return gpu_available()
