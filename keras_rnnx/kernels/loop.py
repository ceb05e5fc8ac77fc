"""Plumbing shared by the default kernels: time-major preparation, the
unrolled `tf.while_loop`, TensorArray step readers, the input projection,
mask handling forwards and backwards, gradient helpers and CPU row groups.

Every scheduling choice made here reads the `Schedule` in force
(`scheduling.current_schedule()`); none changes a result.
"""
from keras_rnnx.kernels.activations import activation_name
from keras_rnnx.kernels.scheduling import (current_schedule, gpu_available,
                                           hoist_projection, parallel_cpu)

def _inference_only(training):
    """True when nothing will differentiate this call: `training=False` and
    no gradient tape is recording (a custom training loop that forgets
    `training=True` still gets the hand-written backward pass)."""
    if training is not False:
        return False
    try:
        from tensorflow.python.eager import record
    except ImportError:  # private module moved: be safe, keep the fast path
        return False
    return not record.could_possibly_record()


def _is_fast(activation, recurrent_activation):
    """Whether the tanh/sigmoid fast kernels apply."""
    return (activation_name(activation) == "tanh"
            and activation_name(recurrent_activation) == "sigmoid")


# --------------------------------------------------------------------------
# Shared plumbing
# --------------------------------------------------------------------------


def _prepare(inputs, kernel, bias, mask, go_backwards):
    """Time-major inputs, mask and weights in the inputs' dtype.

    Returns (x [T, B, D], mask_tb [T, B] bool or None, kernel [D, G],
    bias [G], dtype). A missing bias comes back as zeros so that every kernel
    projects with the same ops.
    """
    import tensorflow as tf

    inputs = tf.convert_to_tensor(inputs)
    dtype = inputs.dtype
    kernel = tf.cast(tf.convert_to_tensor(kernel), dtype)
    if bias is None:
        bias = tf.zeros([kernel.shape[-1]], dtype)
    else:
        bias = tf.cast(tf.convert_to_tensor(bias), dtype)
    x = tf.transpose(inputs, [1, 0, 2])
    mask_tb = None
    if mask is not None:
        mask_tb = tf.transpose(tf.cast(mask, tf.bool), [1, 0])
    if go_backwards:
        x = tf.reverse(x, [0])
        if mask_tb is not None:
            mask_tb = tf.reverse(mask_tb, [0])
    return x, mask_tb, kernel, bias, dtype


def _finish(hs, final_state, mask_tb, return_sequences):
    """(last_output, outputs, final_state) from carried states hs [T, B, H].

    With a mask the output at step t is the carried state if some step <= t
    was unmasked and zeros otherwise, which is exactly Keras' rule (output
    repeats the previous output, starting from zeros).
    """
    import tensorflow as tf

    h_last = final_state[0]
    if mask_tb is None:
        last = h_last
        outputs = tf.transpose(hs, [1, 0, 2]) if return_sequences else None
        return last, outputs, final_state
    seen = tf.math.cumsum(tf.cast(mask_tb, tf.int32), axis=0) > 0  # [T, B]
    last = tf.where(seen[-1][:, None], h_last, tf.zeros_like(h_last))
    outputs = None
    if return_sequences:
        outputs = tf.transpose(
            tf.where(seen[:, :, None], hs, tf.zeros_like(hs)), [1, 0, 2]
        )
    return last, outputs, final_state


def _zeros_if_none(g, like):
    import tensorflow as tf

    return tf.zeros_like(like) if g is None else g


def _shift_prev(first, seq):
    """[first, seq[0], ..., seq[T-2]]: the state before each step."""
    import tensorflow as tf

    return tf.concat([first[None], seq[:-1]], axis=0)


def _time_steps(x):
    """The length of time-major `x`: a Python int when known while tracing
    (so `_loop` can leave out a loop with no iterations), else a tensor."""
    import tensorflow as tf

    return x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]


def _loop(n, body, loop_vars, *, reverse=False):
    """`loop_vars = body(t, *loop_vars)` for t = 0 .. n-1 (n-1 .. 0 with
    `reverse`); returns the final `loop_vars`.

    Runs `Schedule.unroll` steps per while-loop iteration and the last
    n % unroll steps one per iteration in a second loop (the body is traced
    unroll + 1 times). Works for any n, a Python int or a scalar tensor,
    including 0; a length known when tracing leaves out a loop with no
    iterations. Iterations may overlap up to `Schedule.parallel_iterations`.
    """
    import tensorflow as tf

    sched = current_schedule()
    k = sched.unroll
    step = -1 if reverse else 1

    def unrolled(i, *vs):
        for j in range(k):
            vs = body(i + j * step, *vs)
        return (i + k * step,) + tuple(vs)

    def single(i, *vs):
        return (i + step,) + tuple(body(i, *vs))

    res = (n - 1 if reverse else 0,) + tuple(loop_vars)
    loops = [(single, n)] if k == 1 else [(unrolled, n // k), (single, n % k)]
    for fn, count in loops:
        if isinstance(count, int) and count == 0:  # n known (`_time_steps`)
            continue
        res = tf.while_loop(
            lambda i, *_: True, fn, res, maximum_iterations=count,
            parallel_iterations=sched.parallel_iterations)
    return res[1:]


def _ta(dtype, n, element_shape=None):
    import tensorflow as tf

    return tf.TensorArray(dtype, size=n, element_shape=element_shape,
                          clear_after_read=False)


class _Steps:
    """`seq[t]` for a time-major tensor, read from a TensorArray: one split
    up front, then reads that neither copy nor add ops per step (see
    docs/kernels.md)."""

    def __init__(self, x, n):
        self._ta = _ta(x.dtype, n).unstack(x)

    def __getitem__(self, t):
        return self._ta.read(t)


class _Projection:
    """`proj[t]` = x[t] @ W + b for the loop body.

    x: [T, B, D] time-major inputs; w: [D, G]; b: [G]. With `hoist` (by
    default `scheduling.hoist_projection()`) the product for all steps is
    one matmul before the loop, else it is computed per step inside the loop
    body, off the recurrent chain. The weight gradient is one big matmul
    after the backward loop either way (`_input_grads`).
    """

    def __init__(self, x, w, b, n, hoist=None):
        import tensorflow as tf

        self._w, self._b = w, b
        if hoist_projection() if hoist is None else hoist:
            z = tf.matmul(tf.reshape(x, [-1, w.shape[0]]), w) + b
            z = tf.reshape(z, tf.concat([tf.shape(x)[:2], [w.shape[1]]], 0))
            self._zs, self._xs = _Steps(z, n), None
        else:
            self._zs, self._xs = None, _Steps(x, n)

    def __getitem__(self, t):
        import tensorflow as tf

        if self._xs is None:
            return self._zs[t]
        # `+`, not tf.nn.bias_add: grappler would fuse MatMul+BiasAdd into
        # a slower _FusedMatMul (docs/kernels.md)
        return tf.matmul(self._xs[t], self._w) + self._b


def _input_grads(x, w, dz):
    """(dx, dW, db) of z = x @ W + b from dz [T, B, G], each one big op
    (dx is pruned from the graph when nothing needs it)."""
    import tensorflow as tf

    d, g = w.shape[0], w.shape[1]
    dz_flat = tf.reshape(dz, [-1, g])
    dx = tf.reshape(tf.matmul(dz_flat, w, transpose_b=True), tf.shape(x))
    dw = tf.matmul(tf.reshape(x, [-1, d]), dz_flat, transpose_a=True)
    return dx, dw, tf.reduce_sum(dz_flat, axis=0)


def _outer(a, b):
    """a^T @ b for one step: that step's share of a weight gradient. The
    backward loops accumulate it as they go, so the product can run on a
    free core while the loop's chain of dh @ U^T waits."""
    import tensorflow as tf

    return tf.matmul(a, b, transpose_a=True)


def _outer_all(a, b):
    """sum_t a[t]^T @ b[t] for time-major a [T, B, K], b [T, B, G]: a weight
    gradient as one large product after the loop. `_in_row_groups` runs
    the kernels this way (`du_in_loop=False`): with every core on a chain
    there is no idle one for `_outer`'s per-step products."""
    import tensorflow as tf

    return tf.matmul(tf.reshape(a, [-1, a.shape[-1]]),
                     tf.reshape(b, [-1, b.shape[-1]]), transpose_a=True)


def _sigmoid_grad(y, dy):
    """dy * y * (1 - y) for y = sigmoid(x), in one fused op."""
    import tensorflow as tf

    return tf.raw_ops.SigmoidGrad(y=y, dy=dy)


def _tanh_grad(y, dy):
    """dy * (1 - y * y) for y = tanh(x), in one fused op."""
    import tensorflow as tf

    return tf.raw_ops.TanhGrad(y=y, dy=dy)


def _mask_float(mask_tb, dtype):
    import tensorflow as tf

    return tf.cast(mask_tb, dtype)[:, :, None]


class _StepMask:
    """The mask inside a forward loop (Keras' rule: a masked step carries
    the states over). `keep(t, new, old)` is `new` where step t is real and
    `old` where it is masked, for a tensor or a tuple of them (one
    TensorArray read); without a mask it is `new`."""

    def __init__(self, mask_tb, n):
        self._m = _Steps(mask_tb, n) if mask_tb is not None else None

    def keep(self, t, new, old):
        import tensorflow as tf

        if self._m is None:
            return new
        m = self._m[t][:, None]
        return tf.nest.map_structure(lambda a, b: tf.where(m, a, b), new, old)


class _BackwardSteps:
    """What every hand-written backward loop reads at step t besides its
    own saved values: the upstream gradient of the step's output
    (`upstream`), the state before the step (`h_prev`) and the mask as
    floats [B, 1] (`mask`, None without one).

    Keras' mask rule seen backwards: a masked step carried its states over,
    so their gradient passes it unchanged. `_into_step(m, g)` is what flows
    into the step's own math; `_past_step(m, g_prev, g, g_in)` adds back
    the part that went around it. A loop whose saved values already
    vanish at masked steps (`_lstm_fast`) only needs `skip` for dh, and
    asks for the mask as booleans (`mask_as="bool"`).
    """

    def __init__(self, dhs, hs, h0, mask_tb, n, mask_as="float"):
        self._dhs = _Steps(_zeros_if_none(dhs, hs), n)
        self.h_prevs = _shift_prev(h0, hs)  # [T, B, H], for `_outer_all`
        self._h_prev = _Steps(self.h_prevs, n)
        self._mf = self._mb = None
        if mask_tb is not None and mask_as == "float":
            self._mf = _Steps(_mask_float(mask_tb, hs.dtype), n)
        elif mask_tb is not None:
            self._mb = _Steps(mask_tb, n)

    def upstream(self, t, dh):
        return dh + self._dhs[t]

    def h_prev(self, t):
        return self._h_prev[t]

    def mask(self, t):
        """The mask at step t as floats [B, 1] (`mask_as="float"`)."""
        return self._mf[t] if self._mf is not None else None

    def skip(self, t, new, old):
        """`new` where step t is real, `old` (the gradient that went around
        a masked step) where it is masked (`mask_as="bool"`); `new` without
        a mask."""
        import tensorflow as tf

        if self._mb is None:
            return new
        return tf.where(self._mb[t][:, None], new, old)


def _into_step(m, g):
    return g if m is None else g * m


def _past_step(m, g_prev, g, g_in):
    return g_prev if m is None else g_prev + (g - g_in)


# --------------------------------------------------------------------------
# Row groups
# --------------------------------------------------------------------------


def in_xla_context():
    """True while tracing for XLA (`tf.function(jit_compile=True)`)."""
    import tensorflow as tf

    try:
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # private module moved: assume XLA, stay safe
        return True
    return control_flow_util.GraphOrParentsInXlaContext(
        tf.compat.v1.get_default_graph())


def _splits_rows(inputs, recurrent_kernel):
    """Whether `_in_row_groups` splits this call's batch.

    Only in a traced graph on a CPU (`gpu_available()` false) where two ops
    may run at once (`parallel_cpu()`), outside XLA and export lowerings,
    and only when each group's recurrent product is big enough: a known
    batch of at least `row_groups * min_group_rows` rows whose group's
    h @ U, (rows / row_groups) x H x G multiply-adds, reaches
    `min_group_work`; a batch of unknown size is taken as groups of
    `assumed_group_rows` rows (all fields of the current `Schedule`).

    The rows of a batch never interact, so the groups are independent
    recurrences TensorFlow can run on separate cores.
    """
    import tensorflow as tf

    from keras_rnnx.kernels.dispatch import current_lowering

    sched = current_schedule()
    if (sched.row_groups < 2 or tf.executing_eagerly() or current_lowering()
            is not None or in_xla_context() or gpu_available()
            or not parallel_cpu()):
        return False
    rows = inputs.shape[0]
    if rows is not None and rows < sched.row_groups * sched.min_group_rows:
        return False
    group_rows = (sched.assumed_group_rows if rows is None
                  else rows // sched.row_groups)
    shape = tf.TensorShape(getattr(recurrent_kernel, "shape", None))
    if shape.rank != 2 or not shape.is_fully_defined():
        return True
    h, g = shape.as_list()
    return group_rows * h * g >= sched.min_group_work


def _in_row_groups(run, inputs, initial_state, mask, weights, options):
    """`run(inputs, initial_state, *weights, mask=mask, **options)` on the
    batch, or (see `_splits_rows`) on `Schedule.row_groups` row groups
    joined back:
    the same result (weight gradients add up over the groups)."""
    import tensorflow as tf

    inputs = tf.convert_to_tensor(inputs)
    groups = current_schedule().row_groups
    if not _splits_rows(inputs, weights[1]):
        return run(inputs, initial_state, *weights, mask=mask, **options)
    rows = inputs.shape[0]
    if rows is None:
        rows = tf.shape(inputs)[0]
    sizes = [rows // groups] * (groups - 1)
    sizes.append(rows - (rows // groups) * (groups - 1))
    if not isinstance(rows, int):
        sizes = tf.stack(sizes)

    def split(t):
        return tf.split(tf.convert_to_tensor(t), sizes, axis=0, num=groups)

    xs = split(inputs)
    states = [split(s) for s in initial_state]
    masks = split(mask) if mask is not None else [None] * groups
    parts = [run(xs[g], [s[g] for s in states], *weights, mask=masks[g],
                 grouped=True, **options) for g in range(groups)]

    def join(pieces):
        return tf.concat(pieces, axis=0)

    last = join([p[0] for p in parts])
    outputs = None if parts[0][1] is None else join([p[1] for p in parts])
    final = [join(list(group)) for group in zip(*[p[2] for p in parts])]
    return last, outputs, final

