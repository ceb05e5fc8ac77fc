"""The one seam between sequence layers and the kernels that run them.

`LSTMX`, `GRUX` and `BiDirectional` never loop themselves: they call
`lstm_sequence` / `gru_sequence` here with plain tensors (inputs, initial
states, weights, mask, direction). Which kernel runs is decided here:

* default (training and inference in Keras): a minimal `tf.while_loop`
  with the input projection off the recurrent chain (`_hoist_projection`),
  a hand-written backward pass whose weight gradients are large matrix
  products; on a CPU a traced batch runs as two independent row groups
  (`_in_row_groups`); cuDNN on a GPU when the configuration allows.
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
  Keras activation (see `activation_spec`), otherwise as the callable itself.
  A lowering that only fuses "tanh"/"sigmoid" may fall back to
  `default_lstm_sequence` / `default_gru_sequence` for anything else.
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
* GRU full update rule (Keras): h = z * h_prev + (1 - z) * hh.
  GRU simplified: c = u * c~ + (1 - u) * c_prev.
"""
import contextlib
import contextvars

_CURRENT = contextvars.ContextVar("keras_rnnx_lowering", default=None)
_LOWERINGS = {}
_PARALLEL_ITERATIONS = 32  # lets TensorArray writes overlap the next step
_UNROLL = 4  # time steps per while-loop iteration (see `_loop`)


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


# --------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------


def activation_spec(fn):
    """What a layer passes to a kernel for activation `fn`.

    The Keras name (e.g. "tanh") when `fn` is a standard Keras activation,
    otherwise `fn` itself.
    """
    import keras

    if isinstance(fn, str):
        return fn
    name = getattr(fn, "__name__", None)
    if name:
        try:
            if keras.activations.get(name) is fn:
                return name
        except (ValueError, TypeError):
            pass
    return fn


def _resolve_activation(spec):
    """(name or None, callable) for an activation passed to a kernel."""
    import keras

    if isinstance(spec, str):
        return spec, keras.activations.get(spec)
    name = activation_spec(spec)
    return (name if isinstance(name, str) else None), spec


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
    a, _ = _resolve_activation(activation)
    r, _ = _resolve_activation(recurrent_activation)
    return a == "tanh" and r == "sigmoid"


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
    `reverse`), `_UNROLL` steps per while-loop iteration and the last
    n % _UNROLL steps one per iteration in a second loop.

    Each iteration of a TensorFlow while loop costs ~20 us of executor work
    on top of its ops (frame bookkeeping, the loop variables' Merge/Switch/
    NextIteration, the body's constants run again). Measured side by side
    (2 cores, B64 T50 D128 H256, paired medians over 31 rounds): 4 steps per
    iteration made the GRUX train step 1.04-1.06x faster and LSTMX's
    1.02-1.05x, inference 1.04-1.07x; 8 was no better than 4 or 5. Small,
    long batches gain most (B8 T200 H64, two runs: train GRUX 1.14-1.15x,
    LSTMX 1.27-1.39x; inference 1.06-1.08x / 1.09-1.24x). The cost is
    tracing the body `_UNROLL + 1` times (a train step's first call ~0.5 s
    longer). Works for any n, known or not,
    including 0; a length known when tracing leaves out a loop with no
    iterations (at T=3 the empty unrolled loop cost 4-13%; without it,
    0.97-1.06x of one step per iteration).
    """
    import tensorflow as tf

    k = _UNROLL
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
            parallel_iterations=_PARALLEL_ITERATIONS)
    return res[1:]


def _ta(dtype, n, element_shape=None):
    import tensorflow as tf

    return tf.TensorArray(dtype, size=n, element_shape=element_shape,
                          clear_after_read=False)


class _Steps:
    """`seq[t]` for a time-major tensor, read from a TensorArray: one split
    up front, then reads that neither copy nor add ops per step (slicing a
    captured tensor inside the loop measured twice as slow in training)."""

    def __init__(self, x, n):
        self._ta = _ta(x.dtype, n).unstack(x)

    def __getitem__(self, t):
        return self._ta.read(t)


def _hoist_projection():
    """Whether `_Projection` computes x @ W + b for all steps before the loop.

    On a CPU it does not: the projection is then computed step by step
    inside the loop body, where it does not depend on the recurrent state,
    so with `parallel_iterations` > 1 TensorFlow runs it for later steps on
    a core the step's chain of small ops leaves idle. On 2 cores
    (B64 T50 D128 H256) that made GRUX's forward pass 1.1-1.15x faster and
    its train step 1.05-1.15x faster than one big matmul before the loop
    (LSTMX: equal). On a GPU the per-step launches would cost more than they
    hide, so there the projection is one matrix product before the loop.
    """
    return gpu_available()


def gpu_available():
    """Whether TensorFlow sees a GPU (the layers' cuDNN choice asks too)."""
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


class _Projection:
    """`proj[t]` = x[t] @ W + b for the loop body (see `_hoist_projection`).

    x: [T, B, D] time-major inputs; w: [D, G]; b: [G]. The weight gradient
    is one big matmul after the backward loop either way (`_input_grads`).
    """

    def __init__(self, x, w, b, n, hoist=None):
        import tensorflow as tf

        self._w, self._b = w, b
        if _hoist_projection() if hoist is None else hoist:
            z = tf.matmul(tf.reshape(x, [-1, w.shape[0]]), w) + b
            z = tf.reshape(z, tf.concat([tf.shape(x)[:2], [w.shape[1]]], 0))
            self._zs, self._xs = _Steps(z, n), None
        else:
            self._zs, self._xs = None, _Steps(x, n)

    def __getitem__(self, t):
        import tensorflow as tf

        if self._xs is None:
            return self._zs[t]
        # `+`, not tf.nn.bias_add: grappler fuses MatMul+BiasAdd into a
        # _FusedMatMul that measured 70 us slower per step at these sizes
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
    backward loops accumulate it as they go, so the product runs on a free
    core while the loop's chain of dh @ U^T waits (1.15x over one big
    matmul after the loop on 2 cores)."""
    import tensorflow as tf

    return tf.matmul(a, b, transpose_a=True)


def _outer_all(a, b):
    """sum_t a[t]^T @ b[t] for time-major a [T, B, K], b [T, B, G]: a weight
    gradient as one large product after the loop. `_in_row_groups` runs
    the kernels this way (`du_in_loop=False`): with both cores on a chain
    there is no idle core for `_outer`'s per-step products, and each group
    adding its own per-step products to a [H, G] sum doubled that traffic
    (LSTMX train step 1.63x Keras this way against 1.32x in the loop)."""
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

_ROW_GROUPS = 2  # independent recurrences a CPU batch is split into
_MIN_GROUP_ROWS = 8  # a known batch smaller than 2 groups of this runs whole
_MIN_GROUP_WORK = 1 << 18  # multiply-adds of one group's h @ U per step
_ASSUMED_GROUP_ROWS = 16  # a group's rows when the batch size is unknown


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

    Only in a traced graph on a CPU, outside XLA and export lowerings, and
    only when each group's recurrent product is big enough to pay for the
    second loop. The rows of a batch never interact, so two halves are two
    independent recurrences that TensorFlow runs on two cores at once: one
    chain of 64-row products is bound to one core (a chain of 50 products
    of 64x256 by 256x1024 took the same time on 1 and 2 threads), two chains
    of 32-row products take 1.4-1.6x less. Eager calls run op by op, where
    two loops only cost twice the ops; XLA and a GPU have their own
    parallelism.

    Big enough: a known batch of at least `_ROW_GROUPS * _MIN_GROUP_ROWS`
    rows whose group's h @ U, (rows / groups) x H x G multiply-adds, reaches
    `_MIN_GROUP_WORK`; a batch of unknown size is taken as groups of
    `_ASSUMED_GROUP_ROWS` rows. Measured on 2 cores, groups against one
    loop (Keras/ours): B16 T20 H64 inference 0.81x / 0.87x of Keras'
    speed against 1.21x / 1.16x (GRU / LSTM), train step 1.00x / 1.08x
    against 1.23x / 1.27x (8 x 64 x 192 = 98K multiply-adds per group
    step); break-even near 400K (B64 H64, B16 H128: +-10% either way);
    from 800K on the groups win (B32 H128 train 1.32x / 1.37x against
    1.22x / 1.16x; B64 H256 is 6.3M).
    """
    import tensorflow as tf

    if (_ROW_GROUPS < 2 or tf.executing_eagerly() or current_lowering()
            is not None or in_xla_context() or gpu_available()
            or not _parallel_cpu()):
        return False
    rows = inputs.shape[0]
    if rows is not None and rows < _ROW_GROUPS * _MIN_GROUP_ROWS:
        return False
    group_rows = _ASSUMED_GROUP_ROWS if rows is None else rows // _ROW_GROUPS
    shape = tf.TensorShape(getattr(recurrent_kernel, "shape", None))
    if shape.rank != 2 or not shape.is_fully_defined():
        return True
    h, g = shape.as_list()
    return group_rows * h * g >= _MIN_GROUP_WORK


def _parallel_cpu():
    """Whether TensorFlow may run two ops at once here: more than one CPU
    and no inter-op pool limited to one thread (with one, two groups only
    add ops: inference measured 0.90-0.96x of one group)."""
    import os

    import tensorflow as tf

    threads = tf.config.threading.get_inter_op_parallelism_threads()
    return (os.cpu_count() or 1) > 1 and threads != 1


def _in_row_groups(run, inputs, initial_state, mask, weights, options):
    """`run(inputs, initial_state, *weights, mask=mask, **options)` on the
    batch, or (see `_splits_rows`) on `_ROW_GROUPS` row groups joined back:
    the same result (weight gradients add up over the groups)."""
    import tensorflow as tf

    inputs = tf.convert_to_tensor(inputs)
    if not _splits_rows(inputs, weights[1]):
        return run(inputs, initial_state, *weights, mask=mask, **options)
    rows = inputs.shape[0]
    if rows is None:
        rows = tf.shape(inputs)[0]
    sizes = [rows // _ROW_GROUPS] * (_ROW_GROUPS - 1)
    sizes.append(rows - (rows // _ROW_GROUPS) * (_ROW_GROUPS - 1))
    if not isinstance(rows, int):
        sizes = tf.stack(sizes)

    def split(t):
        return tf.split(tf.convert_to_tensor(t), sizes, axis=0, num=_ROW_GROUPS)

    xs = split(inputs)
    states = [split(s) for s in initial_state]
    masks = split(mask) if mask is not None else [None] * _ROW_GROUPS
    parts = [run(xs[g], [s[g] for s in states], *weights, mask=masks[g],
                 grouped=True, **options) for g in range(_ROW_GROUPS)]

    def join(pieces):
        return tf.concat(pieces, axis=0)

    last = join([p[0] for p in parts])
    outputs = None if parts[0][1] is None else join([p[1] for p in parts])
    final = [join(list(group)) for group in zip(*[p[2] for p in parts])]
    return last, outputs, final


# --------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------


def _lstm_fast(x, w, b, h0, c0, u, mask_tb, du_in_loop=True):
    """tanh/sigmoid LSTM recurrence with a hand-written backward pass.

    x: [T, B, D] time-major inputs, projected step by step inside the loop
    (`_Projection`). Returns (hs, c_T): the carried h after every step
    [T, B, H] and the final c.

    The backward pass is linear in the incoming gradients, so the forward
    loop saves its coefficients instead of the gate values: with
    dct = dc + dh * o * (1 - tanh(c)^2) (the gradient reaching c),

        dz = [dct, dct, dct, dh] * [i(1-i) g, f(1-f) c_prev, (1-g^2) i,
                                     o(1-o) tanh(c)]
        dc_prev = dct * f,   dh_prev = dz @ U^T

    The coefficients are computed in the forward loop off the recurrent
    chain (the chain waits on h @ U, so they run on the idle core), which
    leaves the backward loop's chain a multiply-add, a concat, a multiply
    and dh @ U^T per step instead of about fifteen ops; that measured ~5%
    off a train step on 2 cores. A masked step saves zero coefficients and
    f = 1, so its dc passes unchanged and its dz is zero; its dh passes by
    one `where`. Same memory as saving the gates (7H floats per step and
    row). dU accumulates inside the backward loop (`_outer`), or is one
    product after it for a row group (`du_in_loop=False`, `_outer_all`);
    dW, db and dx are one big matrix product each after it.
    """
    import tensorflow as tf

    dtype = x.dtype
    hdim = u.shape[0]

    @tf.custom_gradient
    def core(x, w, b, h0, c0, u):
        n = _time_steps(x)

        zx_s = _Projection(x, w, b, n)
        step_mask = _StepMask(mask_tb, n)

        def body(t, h, c, hs_ta, g_ta, a_ta, f_ta):
            z = zx_s[t] + tf.matmul(h, u)
            zi, zf, zc, zo = tf.split(z, 4, axis=1)
            i = tf.sigmoid(zi)
            f = tf.sigmoid(zf)
            g = tf.tanh(zc)
            o = tf.sigmoid(zo)
            c_new = f * c + i * g
            tc = tf.tanh(c_new)
            h_new = o * tc
            h_new, c_new = step_mask.keep(t, (h_new, c_new), (h, c))
            # backward coefficients: not on the chain, nothing here waits
            coef = tf.concat([_sigmoid_grad(i, g), _sigmoid_grad(f, c),
                              _tanh_grad(g, i), _sigmoid_grad(o, tc)], axis=1)
            a = _tanh_grad(tc, o)
            if mask_tb is not None:
                coef, a, f = step_mask.keep(
                    t, (coef, a, f),
                    (tf.zeros_like(coef), tf.zeros_like(a), tf.ones_like(f)))
            return (h_new, c_new, hs_ta.write(t, h_new), g_ta.write(t, coef),
                    a_ta.write(t, a), f_ta.write(t, f))

        h_t, c_t, hs_ta, g_ta, a_ta, f_ta = _loop(
            n, body, (h0, c0) + tuple(_ta(dtype, n) for _ in range(4)))
        hs = hs_ta.stack()
        hs.set_shape(x.shape[:2].concatenate([hdim]))

        def grad(dhs, dc_final):
            dc_final = _zeros_if_none(dc_final, c_t)
            ut = tf.transpose(u)
            steps = _BackwardSteps(dhs, hs, h0, mask_tb, n, mask_as="bool")

            def bbody(t, dh, dc, du, dz_ta):
                dh = steps.upstream(t, dh)
                dct = dc + dh * a_ta.read(t)
                dz = tf.concat([dct, dct, dct, dh], axis=1) * g_ta.read(t)
                dh_prev = steps.skip(t, tf.matmul(dz, ut), dh)
                if du_in_loop:
                    du = du + _outer(steps.h_prev(t), dz)
                return dh_prev, dct * f_ta.read(t), du, dz_ta.write(t, dz)

            dh0, dc0, du, dz_ta = _loop(
                n, bbody,
                (tf.zeros_like(h0), dc_final, tf.zeros_like(u), _ta(dtype, n)),
                reverse=True,
            )
            dzs = dz_ta.stack()
            if not du_in_loop:
                du = _outer_all(steps.h_prevs, dzs)
            dx, dw, db = _input_grads(x, w, dzs)
            return dx, dw, db, dh0, dc0, du

        return (hs, c_t), grad

    return core(x, w, b, h0, c0, u)


def _lstm_generic(x, w, b, h0, c0, u, mask_tb, act, ract):
    """Any-activation LSTM recurrence, differentiated by autodiff; also the
    tanh/sigmoid inference loop (nothing is saved for a backward pass)."""
    import tensorflow as tf

    dtype = x.dtype
    n = _time_steps(x)

    zx_s = _Projection(x, w, b, n)
    step_mask = _StepMask(mask_tb, n)

    def body(t, h, c, hs_ta):
        z = zx_s[t] + tf.matmul(h, u)
        zi, zf, zc, zo = tf.split(z, 4, axis=1)
        c_new = ract(zf) * c + ract(zi) * act(zc)
        h_new = ract(zo) * act(c_new)
        h_new, c_new = step_mask.keep(t, (h_new, c_new), (h, c))
        return h_new, c_new, hs_ta.write(t, h_new)

    _, c_t, hs_ta = _loop(n, body, (h0, c0, _ta(dtype, n)))
    hs = hs_ta.stack()
    hs.set_shape(x.shape[:2].concatenate([u.shape[0]]))
    return hs, c_t


def default_lstm_sequence(inputs, initial_state, kernel, recurrent_kernel,
                          bias, *, mask=None, go_backwards=False,
                          return_sequences=True, activation="tanh",
                          recurrent_activation="sigmoid", training=None):
    """The default LSTM kernel (see the module docstring for the contract).

    `training=False` with no gradient tape recording (inference) runs a lean
    loop that saves nothing for a backward pass; otherwise tanh/sigmoid LSTMs
    use the loop with the hand-written backward pass. On a CPU the batch
    runs as independent row groups (`_in_row_groups`).
    """
    return _in_row_groups(
        _lstm_rows, inputs, initial_state, mask,
        (kernel, recurrent_kernel, bias),
        dict(go_backwards=go_backwards, return_sequences=return_sequences,
             activation=activation, recurrent_activation=recurrent_activation,
             training=training))


def _lstm_rows(inputs, initial_state, kernel, recurrent_kernel, bias, *,
               mask, go_backwards, return_sequences, activation,
               recurrent_activation, training, grouped=False):
    """`default_lstm_sequence` for one group of rows (`grouped`: one of
    several, see `_outer_all`)."""
    import tensorflow as tf

    x, mask_tb, w, b, dtype = _prepare(inputs, kernel, bias, mask, go_backwards)
    u = tf.cast(tf.convert_to_tensor(recurrent_kernel), dtype)
    h0, c0 = [tf.cast(tf.convert_to_tensor(s), dtype) for s in initial_state]
    if not _inference_only(training) and _is_fast(activation, recurrent_activation):
        hs, c_t = _lstm_fast(x, w, b, h0, c0, u, mask_tb,
                             du_in_loop=not grouped)
    else:
        _, a = _resolve_activation(activation)
        _, r = _resolve_activation(recurrent_activation)
        hs, c_t = _lstm_generic(x, w, b, h0, c0, u, mask_tb, a, r)
    return _finish(hs, [hs[-1], c_t], mask_tb, return_sequences)


def lstm_sequence(inputs, initial_state, kernel, recurrent_kernel, bias, *,
                  mask=None, go_backwards=False, return_sequences=True,
                  activation="tanh", recurrent_activation="sigmoid"):
    """Runs an LSTM over a sequence with the active lowering or the default."""
    k = lowered_kernel("lstm") or default_lstm_sequence
    return k(inputs, initial_state, kernel, recurrent_kernel, bias, mask=mask,
             go_backwards=go_backwards, return_sequences=return_sequences,
             activation=activation, recurrent_activation=recurrent_activation)


# --------------------------------------------------------------------------
# GRU
# --------------------------------------------------------------------------


def _gru_fast_reset_after(x, w, b, h0, u, b_rec, mask_tb, du_in_loop=True):
    """Full GRU, reset_after=True, tanh/sigmoid, hand-written backward."""
    import tensorflow as tf

    dtype = x.dtype
    hdim = u.shape[0]

    @tf.custom_gradient
    def core(x, w, b, h0, u, b_rec):
        n = _time_steps(x)

        zx_s = _Projection(x, w, b, n)
        step_mask = _StepMask(mask_tb, n)

        def body(t, h, hs_ta, zr_ta, hh_ta, rh_ta):
            xt = zx_s[t]
            rec = tf.matmul(h, u) + b_rec  # not bias_add: see _Projection
            zr = tf.sigmoid(xt[:, : 2 * hdim] + rec[:, : 2 * hdim])
            rh = rec[:, 2 * hdim:]
            hh = tf.tanh(xt[:, 2 * hdim:] + zr[:, hdim:] * rh)
            h_new = hh + zr[:, :hdim] * (h - hh)
            h_new = step_mask.keep(t, h_new, h)
            return (h_new, hs_ta.write(t, h_new), zr_ta.write(t, zr),
                    hh_ta.write(t, hh), rh_ta.write(t, rh))

        h_t, hs_ta, zr_ta, hh_ta, rh_ta = _loop(
            n, body, (h0,) + tuple(_ta(dtype, n) for _ in range(4)))
        hs = hs_ta.stack()
        hs.set_shape(x.shape[:2].concatenate([hdim]))

        def grad(dhs):
            ut = tf.transpose(u)
            steps = _BackwardSteps(dhs, hs, h0, mask_tb, n)

            def bbody(t, dh, du, db_rec, dx_ta, drec_ta):
                dh = steps.upstream(t, dh)
                m = steps.mask(t)
                dhn = _into_step(m, dh)
                z, r = tf.split(zr_ta.read(t), 2, axis=1)
                hh, hp = hh_ta.read(t), steps.h_prev(t)
                da_h = _tanh_grad(hh, dhn - dhn * z)
                da_z = _sigmoid_grad(z, dhn * (hp - hh))
                da_r = _sigmoid_grad(r, da_h * rh_ta.read(t))
                drec = tf.concat([da_z, da_r, da_h * r], axis=1)
                dh_prev = _past_step(m, dhn * z + tf.matmul(drec, ut), dh, dhn)
                dx_ta = dx_ta.write(t, tf.concat([da_z, da_r, da_h], axis=1))
                if du_in_loop:
                    du = du + _outer(hp, drec)
                    db_rec = db_rec + tf.reduce_sum(drec, axis=0)
                else:
                    drec_ta = drec_ta.write(t, drec)
                return dh_prev, du, db_rec, dx_ta, drec_ta

            dh0, du, db_rec, dx_ta, drec_ta = _loop(
                n, bbody,
                (tf.zeros_like(h0), tf.zeros_like(u), tf.zeros_like(b_rec),
                 _ta(dtype, n), _ta(dtype, n)),
                reverse=True)
            if not du_in_loop:
                drecs = drec_ta.stack()
                du = _outer_all(steps.h_prevs, drecs)
                db_rec = tf.reduce_sum(drecs, axis=[0, 1])
            dx, dw, db = _input_grads(x, w, dx_ta.stack())
            return dx, dw, db, dh0, du, db_rec

        return hs, grad

    return core(x, w, b, h0, u, b_rec)


def _gru_fast_reset_before(x, w, b, h0, u, mask_tb, du_in_loop=True):
    """Full GRU, reset_after=False, tanh/sigmoid, hand-written backward."""
    import tensorflow as tf

    dtype = x.dtype
    hdim = u.shape[0]

    @tf.custom_gradient
    def core(x, w, b, h0, u):
        n = _time_steps(x)
        u_zr, u_h = u[:, : 2 * hdim], u[:, 2 * hdim:]

        zx_s = _Projection(x, w, b, n)
        step_mask = _StepMask(mask_tb, n)

        def body(t, h, hs_ta, zr_ta, hh_ta):
            xt = zx_s[t]
            zr = tf.sigmoid(xt[:, : 2 * hdim] + tf.matmul(h, u_zr))
            hh = tf.tanh(xt[:, 2 * hdim:] + tf.matmul(zr[:, hdim:] * h, u_h))
            h_new = hh + zr[:, :hdim] * (h - hh)
            h_new = step_mask.keep(t, h_new, h)
            return (h_new, hs_ta.write(t, h_new), zr_ta.write(t, zr),
                    hh_ta.write(t, hh))

        h_t, hs_ta, zr_ta, hh_ta = _loop(
            n, body, (h0,) + tuple(_ta(dtype, n) for _ in range(3)))
        hs = hs_ta.stack()
        hs.set_shape(x.shape[:2].concatenate([hdim]))

        def grad(dhs):
            u_zr_t, u_h_t = tf.transpose(u_zr), tf.transpose(u_h)
            steps = _BackwardSteps(dhs, hs, h0, mask_tb, n)

            def bbody(t, dh, du_zr, du_h, dx_ta, rhp_ta):
                dh = steps.upstream(t, dh)
                m = steps.mask(t)
                dhn = _into_step(m, dh)
                z, r = tf.split(zr_ta.read(t), 2, axis=1)
                hh, hp = hh_ta.read(t), steps.h_prev(t)
                da_h = _tanh_grad(hh, dhn - dhn * z)
                d_rh = tf.matmul(da_h, u_h_t)
                da_zr = tf.concat([_sigmoid_grad(z, dhn * (hp - hh)),
                                   _sigmoid_grad(r, d_rh * hp)], axis=1)
                dh_prev = _past_step(m, dhn * z + d_rh * r + tf.matmul(da_zr, u_zr_t),
                                     dh, dhn)
                dx_ta = dx_ta.write(t, tf.concat([da_zr, da_h], axis=1))
                if du_in_loop:
                    du_zr = du_zr + _outer(hp, da_zr)
                    du_h = du_h + _outer(r * hp, da_h)
                else:
                    rhp_ta = rhp_ta.write(t, r * hp)
                return dh_prev, du_zr, du_h, dx_ta, rhp_ta

            dh0, du_zr, du_h, dx_ta, rhp_ta = _loop(
                n, bbody,
                (tf.zeros_like(h0), tf.zeros_like(u_zr), tf.zeros_like(u_h),
                 _ta(dtype, n), _ta(dtype, n)),
                reverse=True)
            dxs = dx_ta.stack()
            if not du_in_loop:
                da_zr_all, da_h_all = tf.split(dxs, [2 * hdim, hdim], axis=2)
                du_zr = _outer_all(steps.h_prevs, da_zr_all)
                du_h = _outer_all(rhp_ta.stack(), da_h_all)
            dx, dw, db = _input_grads(x, w, dxs)
            return dx, dw, db, dh0, tf.concat([du_zr, du_h], axis=1)

        return hs, grad

    return core(x, w, b, h0, u)


def _gru_fast_simplified(x, w, b, h0, u, mask_tb, du_in_loop=True):
    """Update-gate-only GRU, tanh/sigmoid, hand-written backward."""
    import tensorflow as tf

    dtype = x.dtype
    hdim = u.shape[0]

    @tf.custom_gradient
    def core(x, w, b, h0, u):
        n = _time_steps(x)

        zx_s = _Projection(x, w, b, n)
        step_mask = _StepMask(mask_tb, n)

        def body(t, h, hs_ta, u_ta, c_ta):
            a = zx_s[t] + tf.matmul(h, u)
            uu = tf.sigmoid(a[:, :hdim])
            cc = tf.tanh(a[:, hdim:])
            h_new = h + uu * (cc - h)
            h_new = step_mask.keep(t, h_new, h)
            return (h_new, hs_ta.write(t, h_new), u_ta.write(t, uu),
                    c_ta.write(t, cc))

        h_t, hs_ta, u_ta, c_ta = _loop(
            n, body, (h0,) + tuple(_ta(dtype, n) for _ in range(3)))
        hs = hs_ta.stack()
        hs.set_shape(x.shape[:2].concatenate([hdim]))

        def grad(dhs):
            ut = tf.transpose(u)
            steps = _BackwardSteps(dhs, hs, h0, mask_tb, n)

            def bbody(t, dh, du, dz_ta):
                dh = steps.upstream(t, dh)
                m = steps.mask(t)
                dhn = _into_step(m, dh)
                uu, cc, hp = u_ta.read(t), c_ta.read(t), steps.h_prev(t)
                dhu = dhn * uu
                dz = tf.concat([_sigmoid_grad(uu, dhn * (cc - hp)),
                                _tanh_grad(cc, dhu)], axis=1)
                dh_prev = _past_step(m, (dhn - dhu) + tf.matmul(dz, ut), dh, dhn)
                if du_in_loop:
                    du = du + _outer(hp, dz)
                return dh_prev, du, dz_ta.write(t, dz)

            dh0, du, dz_ta = _loop(
                n, bbody, (tf.zeros_like(h0), tf.zeros_like(u), _ta(dtype, n)),
                reverse=True)
            dzs = dz_ta.stack()
            if not du_in_loop:
                du = _outer_all(steps.h_prevs, dzs)
            dx, dw, db = _input_grads(x, w, dzs)
            return dx, dw, db, dh0, du

        return hs, grad

    return core(x, w, b, h0, u)


def _gru_lean(x, w, b, h0, u, b_rec, mask_tb, reset_after, variant):
    """tanh/sigmoid GRU inference loop: the fast kernels' step, nothing saved
    for a backward pass (still differentiable by autodiff)."""
    import tensorflow as tf

    dtype = x.dtype
    hdim = u.shape[0]
    n = _time_steps(x)
    zx_s = _Projection(x, w, b, n)
    step_mask = _StepMask(mask_tb, n)

    def body(t, h, hs_ta):
        xt = zx_s[t]
        if variant == "simplified":
            a = xt + tf.matmul(h, u)
            cc = tf.tanh(a[:, hdim:])
            h_new = h + tf.sigmoid(a[:, :hdim]) * (cc - h)
        else:
            if reset_after:
                rec = tf.matmul(h, u)
                if b_rec is not None:
                    rec = rec + b_rec
                zr = tf.sigmoid(xt[:, : 2 * hdim] + rec[:, : 2 * hdim])
                hh = tf.tanh(xt[:, 2 * hdim:] + zr[:, hdim:] * rec[:, 2 * hdim:])
            else:
                zr = tf.sigmoid(xt[:, : 2 * hdim] + tf.matmul(h, u[:, : 2 * hdim]))
                hh = tf.tanh(xt[:, 2 * hdim:]
                             + tf.matmul(zr[:, hdim:] * h, u[:, 2 * hdim:]))
            h_new = hh + zr[:, :hdim] * (h - hh)
        h_new = step_mask.keep(t, h_new, h)
        return h_new, hs_ta.write(t, h_new)

    _, hs_ta = _loop(n, body, (h0, _ta(dtype, n)))
    hs = hs_ta.stack()
    hs.set_shape(x.shape[:2].concatenate([hdim]))
    return hs


def _gru_generic(x, w, b, h0, u, b_rec, mask_tb, act, ract, reset_after,
                 variant):
    """Any-activation GRU recurrence, differentiated by autodiff."""
    import tensorflow as tf

    dtype = x.dtype
    hdim = u.shape[0]
    n = _time_steps(x)

    zx_s = _Projection(x, w, b, n)
    step_mask = _StepMask(mask_tb, n)

    def body(t, h, hs_ta):
        xt = zx_s[t]
        if variant == "simplified":
            a = xt + tf.matmul(h, u)
            uu = ract(a[:, :hdim])
            h_new = uu * act(a[:, hdim:]) + (1.0 - uu) * h
        else:
            if reset_after:
                rec = tf.matmul(h, u)
                if b_rec is not None:
                    rec = rec + b_rec
                z = ract(xt[:, :hdim] + rec[:, :hdim])
                r = ract(xt[:, hdim: 2 * hdim] + rec[:, hdim: 2 * hdim])
                hh = act(xt[:, 2 * hdim:] + r * rec[:, 2 * hdim:])
            else:
                rec = tf.matmul(h, u[:, : 2 * hdim])
                z = ract(xt[:, :hdim] + rec[:, :hdim])
                r = ract(xt[:, hdim: 2 * hdim] + rec[:, hdim:])
                hh = act(xt[:, 2 * hdim:] + tf.matmul(r * h, u[:, 2 * hdim:]))
            h_new = z * h + (1.0 - z) * hh
        h_new = step_mask.keep(t, h_new, h)
        return h_new, hs_ta.write(t, h_new)

    _, hs_ta = _loop(n, body, (h0, _ta(dtype, n)))
    hs = hs_ta.stack()
    hs.set_shape(x.shape[:2].concatenate([hdim]))
    return hs


def default_gru_sequence(inputs, initial_state, kernel, recurrent_kernel, bias,
                         *, mask=None, go_backwards=False,
                         return_sequences=True, activation="tanh",
                         recurrent_activation="sigmoid", reset_after=True,
                         variant="full", training=None):
    """The default GRU kernel (see the module docstring for the contract).

    `training=False` with no gradient tape recording runs a lean inference
    loop; otherwise tanh/sigmoid GRUs use the hand-written backward pass.
    On a CPU the batch runs as independent row groups (`_in_row_groups`).
    """
    return _in_row_groups(
        _gru_rows, inputs, initial_state, mask,
        (kernel, recurrent_kernel, bias),
        dict(go_backwards=go_backwards, return_sequences=return_sequences,
             activation=activation, recurrent_activation=recurrent_activation,
             reset_after=reset_after, variant=variant, training=training))


def _gru_rows(inputs, initial_state, kernel, recurrent_kernel, bias, *, mask,
              go_backwards, return_sequences, activation, recurrent_activation,
              reset_after, variant, training, grouped=False):
    """`default_gru_sequence` for one group of rows (`grouped`: one of
    several, see `_outer_all`)."""
    import tensorflow as tf

    full_after = variant == "full" and reset_after
    b_in = b_rec = None
    if bias is not None:
        if full_after:
            bias = tf.convert_to_tensor(bias)
            b_in, b_rec = bias[0], bias[1]
        else:
            b_in = bias
    x, mask_tb, w, b_in, dtype = _prepare(inputs, kernel, b_in, mask,
                                          go_backwards)
    u = tf.cast(tf.convert_to_tensor(recurrent_kernel), dtype)
    h0 = tf.cast(tf.convert_to_tensor(initial_state[0]), dtype)
    if b_rec is not None:
        b_rec = tf.cast(b_rec, dtype)
    fast = _is_fast(activation, recurrent_activation)
    if fast and _inference_only(training):
        hs = _gru_lean(x, w, b_in, h0, u, b_rec, mask_tb, reset_after, variant)
    elif fast:
        in_loop = not grouped
        if variant == "simplified":
            hs = _gru_fast_simplified(x, w, b_in, h0, u, mask_tb, in_loop)
        elif reset_after:
            if b_rec is None:
                b_rec = tf.zeros([u.shape[1]], dtype)
            hs = _gru_fast_reset_after(x, w, b_in, h0, u, b_rec, mask_tb,
                                       in_loop)
        else:
            hs = _gru_fast_reset_before(x, w, b_in, h0, u, mask_tb, in_loop)
    else:
        _, a = _resolve_activation(activation)
        _, r = _resolve_activation(recurrent_activation)
        hs = _gru_generic(x, w, b_in, h0, u, b_rec, mask_tb, a, r,
                          reset_after, variant)
    return _finish(hs, [hs[-1]], mask_tb, return_sequences)


def gru_sequence(inputs, initial_state, kernel, recurrent_kernel, bias, *,
                 mask=None, go_backwards=False, return_sequences=True,
                 activation="tanh", recurrent_activation="sigmoid",
                 reset_after=True, variant="full"):
    """Runs a GRU over a sequence with the active lowering or the default."""
    k = lowered_kernel("gru") or default_gru_sequence
    return k(inputs, initial_state, kernel, recurrent_kernel, bias, mask=mask,
             go_backwards=go_backwards, return_sequences=return_sequences,
             activation=activation, recurrent_activation=recurrent_activation,
             reset_after=reset_after, variant=variant)
