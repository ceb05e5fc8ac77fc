"""Core layers: LSTMX / GRUX against keras.layers.LSTM / GRU.

Train step (forward + backward + Adam update, one tf.function each) and
inference forward at batch 64, 50 steps, 128 inputs, 256 units, same
weights, measured side by side in one process. ratio = keras_time /
our_time, so > 1 means keras_rnnx is faster.

Rows come twice: wall time with TensorFlow's default threading, and
single-thread CPU time (`time.process_time`, intra/inter-op threads = 1) in
a fresh subprocess, which is much less sensitive to other load on the
machine. At this size both layers are bound by the same matrix products,
so the single-thread ratio is close to the ratio of arithmetic (Keras also
computes the unused input gradient inside its loop); `bench_results.md`
holds the figures. With 2 threads ours wins more: a traced batch runs as two independent row
groups, one recurrence per core, where one chain of 64-row products is
bound to one core (`kernels.loop._in_row_groups`; not with one thread).
"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from tools.timing import combine_processes, interleaved_medians, rows_from_process  # noqa: E402

SECTION = "Core recurrent layers (LSTMX, GRUX) vs Keras"


def _right_padded_mask(x):
    """A right-padded mask for `x` with lengths 10..T (seeded)."""
    import numpy as np
    import tensorflow as tf

    b, t = x.shape[0], x.shape[1]
    lengths = np.random.default_rng(1).integers(10, t + 1, size=b)
    return tf.constant(np.arange(t)[None, :] < lengths[:, None])


def _train_step_fn(layer, x, mask=None):
    import keras
    import tensorflow as tf

    opt = keras.optimizers.Adam(1e-3)
    opt.build(layer.trainable_variables)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(layer(x, mask=mask, training=True)))
        grads = tape.gradient(loss, layer.trainable_variables)
        opt.apply_gradients(zip(grads, layer.trainable_variables))
        return loss

    return lambda: step().numpy()


def _forward_fn(layer, x):
    import tensorflow as tf

    f = tf.function(lambda: layer(x))
    return lambda: f().numpy()


def _masked_train_step_fn(layer, x):
    """A train step on a right-padded batch (lengths 10..50): on a GPU both
    layers take cuDNN with sequence lengths, on a CPU both loop."""
    return _train_step_fn(layer, x, _right_padded_mask(x))


def _masked_forward_fn(layer, x):
    """Inference on a right-padded batch (lengths 10..50): on a GPU both
    layers take cuDNN with sequence lengths, on a CPU both loop."""
    import tensorflow as tf

    mask = _right_padded_mask(x)
    f = tf.function(lambda: layer(x, mask=mask))
    return lambda: f().numpy()


def _measure(quick, one_thread=False):
    """Rows for LSTM/GRU train step and inference, ours vs Keras."""
    import time

    import tensorflow as tf

    if one_thread:  # must run before TensorFlow initialises its thread pools
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    import numpy as np

    from keras_rnnx import GRUX, LSTMX

    clock = time.process_time if one_thread else time.perf_counter
    timing = "1-thread CPU time" if one_thread else "wall time"
    b, t, d, h = 64, 50, 128, 256
    repeats = 5 if quick else 21
    x = tf.constant(np.random.default_rng(0).normal(size=(b, t, d)).astype("float32"))
    shape = f"B{b} T{t} D{d} H{h}"
    rows = []
    for name, ours_cls, keras_cls in (("LSTM", LSTMX, keras.layers.LSTM),
                                      ("GRU", GRUX, keras.layers.GRU)):
        ours, theirs = ours_cls(h, return_sequences=True), keras_cls(h, return_sequences=True)
        theirs(x)
        ours(x)
        ours.set_weights(theirs.get_weights())
        for what, make in (("train step (fwd+bwd+Adam)", _train_step_fn),
                           ("train step, right-padded mask", _masked_train_step_fn),
                           ("inference forward", _forward_fn),
                           ("inference forward, right-padded mask", _masked_forward_fn)):
            f_ours, f_keras = make(ours, x), make(theirs, x)
            # alternate the two so that both share the machine's noise
            t_ours, t_keras = interleaved_medians(f_ours, f_keras, repeats=repeats,
                                                  clock=clock)
            rows.append({
                "benchmark": f"{name}X {what}, {timing}",
                "ours": t_ours * 1e3,
                "peer": t_keras * 1e3,
                "ratio": t_keras / t_ours,
                "unit": "ms",
                "notes": f"{shape}; peer=keras.layers.{name}; ratio=keras/ours, >1 = we are faster",
            })
    return rows


def _rows_from_process(quick, one_thread=False):
    """`_measure(quick, one_thread)` in a fresh process (thread pools can
    only be sized before TensorFlow starts); [] if that process fails."""
    return rows_from_process("layers", f"_measure({bool(quick)!r}, {bool(one_thread)!r})")


def run(args):
    """Wall-time rows (in this process, or the median of `--processes`
    fresh ones), then single-thread rows from one fresh process."""
    quick = getattr(args, "quick", False)
    processes = getattr(args, "processes", None) or (1 if quick else 3)
    if processes <= 1:
        wall = _measure(quick)
    else:
        wall = combine_processes([_rows_from_process(quick) for _ in range(processes)])
    return wall + _rows_from_process(quick, one_thread=True)
