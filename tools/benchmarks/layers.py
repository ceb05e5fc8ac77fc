"""Core layers: LSTMX / GRUX against keras.layers.LSTM / GRU.

Train step (forward + backward + Adam update, one tf.function each) and
inference forward at batch 64, 50 steps, 128 inputs, 256 units, same
weights, measured side by side in one process. ratio = keras_time /
our_time, so > 1 means keras_rnnx is faster.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

SECTION = "Core recurrent layers (LSTMX, GRUX) vs Keras"


def interleaved_medians(fn_a, fn_b, repeats=5, warmup=2):
    """Median wall times of `fn_a()` and `fn_b()`, called alternately so that
    both see the same machine noise (the machines are shared)."""
    import statistics
    import time

    for _ in range(warmup):
        fn_a()
        fn_b()
    ta, tb = [], []
    for _ in range(repeats):
        for fn, times in ((fn_a, ta), (fn_b, tb)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def _train_step_fn(layer, x):
    import keras
    import tensorflow as tf

    opt = keras.optimizers.Adam(1e-3)
    opt.build(layer.trainable_variables)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(layer(x, training=True)))
        grads = tape.gradient(loss, layer.trainable_variables)
        opt.apply_gradients(zip(grads, layer.trainable_variables))
        return loss

    return lambda: step().numpy()


def _forward_fn(layer, x):
    import tensorflow as tf

    f = tf.function(lambda: layer(x))
    return lambda: f().numpy()


def run(args):
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_rnnx import GRUX, LSTMX

    quick = getattr(args, "quick", False)
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
                           ("inference forward", _forward_fn)):
            f_ours, f_keras = make(ours, x), make(theirs, x)
            # alternate the two so that both share the machine's noise
            t_ours, t_keras = interleaved_medians(f_ours, f_keras, repeats=repeats)
            rows.append({
                "benchmark": f"{name}X {what}",
                "ours": t_ours * 1e3,
                "peer": t_keras * 1e3,
                "ratio": t_keras / t_ours,
                "unit": "ms",
                "notes": f"{shape}; peer=keras.layers.{name}; ratio=keras/ours, >1 = we are faster",
            })
    return rows
