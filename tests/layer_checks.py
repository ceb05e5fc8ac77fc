"""Shared checks for recurrent layers: parity, gradients, references.

Other test files may import these helpers (`from layer_checks import ...`;
pytest puts `tests/` on the path).
"""
import os
import subprocess
import sys
import textwrap

import numpy as np

# Right-padded lengths 5, 3, 1 and an all-masked row (B=4, T=5).
RIGHT_PADDED = np.array(
    [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], bool
)
# Right-padded lengths 5, 3, 1, 2, no empty row: what cuDNN itself takes.
FULL_ROWS = np.array(
    [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 0, 0, 0]], bool
)
# Left padding and a hole in the middle: only Keras' generic semantics apply.
IRREGULAR = np.array(
    [[0, 0, 1, 1, 1], [1, 0, 1, 0, 1], [1, 1, 1, 1, 0], [0, 0, 0, 0, 0]], bool
)


def as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def max_diff(a, b):
    """Max abs difference between two (nested lists of) arrays; shapes must match."""
    a, b = as_list(a), as_list(b)
    assert len(a) == len(b), f"{len(a)} outputs vs {len(b)}"
    worst = 0.0
    for u, v in zip(a, b):
        u = np.asarray(u, dtype="float64")
        v = np.asarray(v, dtype="float64")
        assert u.shape == v.shape, f"shape {u.shape} vs {v.shape}"
        if u.size:
            # equal (infinities included) or NaN on both sides counts as 0;
            # a NaN on one side is an infinite difference (Python's max()
            # would silently skip it)
            same = (u == v) | (np.isnan(u) & np.isnan(v))
            with np.errstate(invalid="ignore"):
                diff = np.where(same, 0.0, np.abs(u - v))
            if np.isnan(diff).any():
                return float("inf")
            worst = max(worst, float(diff.max()))
    return worst


def assert_close(a, b, atol=1e-5, what=""):
    d = max_diff(a, b)
    assert d < atol, f"{what} max abs diff {d:.3g} >= {atol:g}"


def build_pair(ours, theirs, x):
    """Builds both layers on `x`, copies `theirs`' weights into `ours`."""
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    return ours, theirs


def loss_weights(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def gradients(layer, x, mask=None, initial_state=None, seed=0, training=True):
    """Gradients of sum(output_i * fixed random w_i) w.r.t. inputs, the
    initial states and the trainable weights (as NumPy arrays).

    keras_rnnx layers take their hand-written backward pass whenever a tape
    records, whatever `training` says."""
    import tensorflow as tf

    x = tf.constant(x)
    states = [tf.constant(s) for s in initial_state] if initial_state else None
    with tf.GradientTape() as tape:
        tape.watch(x)
        if states:
            tape.watch(states)
        kwargs = {"mask": mask} if mask is not None else {}
        kwargs["training"] = training
        if states:
            kwargs["initial_state"] = states
        outs = as_list(layer(x, **kwargs))
        loss = 0.0
        for i, o in enumerate(outs):
            w = tf.constant(loss_weights(o.shape, seed + i), dtype=o.dtype)
            loss = loss + tf.reduce_sum(o * w)
    sources = [x] + (states or []) + list(layer.trainable_weights)
    return [np.asarray(g) for g in tape.gradient(loss, sources)]


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _np_loop(step, x, states, mask, go_backwards):
    """Keras' mask semantics in NumPy: masked steps keep the states and
    repeat the previous output (zeros at first)."""
    b, t, _ = x.shape
    order = range(t - 1, -1, -1) if go_backwards else range(t)
    out = np.zeros((b, states[0].shape[1]))
    outs = []
    for s in order:
        new_out, new_states = step(x[:, s], states)
        if mask is not None:
            m = mask[:, s][:, None]
            new_out = np.where(m, new_out, out)
            new_states = [np.where(m, n, o) for n, o in zip(new_states, states)]
        out, states = new_out, new_states
        outs.append(out)
    return out, np.stack(outs, axis=1), states


def np_lstm(x, h0, c0, kernel, recurrent_kernel, bias, mask=None,
            go_backwards=False):
    """Float64 NumPy LSTM (gate order i, f, c, o): (last, outputs, [h, c])."""
    x, kernel, recurrent_kernel = (np.asarray(a, "float64") for a in (x, kernel, recurrent_kernel))
    bias = np.zeros(kernel.shape[1]) if bias is None else np.asarray(bias, "float64")

    def step(xt, st):
        h, c = st
        z = xt @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = np.split(z, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        return h, [h, c]

    return _np_loop(step, x, [np.asarray(h0, "float64"), np.asarray(c0, "float64")],
                    mask, go_backwards)


def np_gru(x, h0, kernel, recurrent_kernel, bias, mask=None, go_backwards=False,
           reset_after=True, variant="full"):
    """Float64 NumPy GRU, both variants: (last, outputs, [h])."""
    x, kernel, u = (np.asarray(a, "float64") for a in (x, kernel, recurrent_kernel))
    n = u.shape[0]
    if bias is None:
        bias = np.zeros((2, 3 * n) if (variant == "full" and reset_after) else kernel.shape[1])
    bias = np.asarray(bias, "float64")

    def step(xt, st):
        (h,) = st
        if variant == "simplified":
            # c~ = tanh(W_c[c_prev, x] + b_c), u = sigmoid(W_u[c_prev, x] + b_u)
            a = xt @ kernel + h @ u + bias
            gu, cand = sigmoid(a[:, :n]), np.tanh(a[:, n:])
            h = gu * cand + (1 - gu) * h
            return h, [h]
        if reset_after:
            xz = xt @ kernel + bias[0]
            rec = h @ u + bias[1]
            z = sigmoid(xz[:, :n] + rec[:, :n])
            r = sigmoid(xz[:, n:2 * n] + rec[:, n:2 * n])
            hh = np.tanh(xz[:, 2 * n:] + r * rec[:, 2 * n:])
        else:
            xz = xt @ kernel + bias
            rec = h @ u[:, :2 * n]
            z = sigmoid(xz[:, :n] + rec[:, :n])
            r = sigmoid(xz[:, n:2 * n] + rec[:, n:])
            hh = np.tanh(xz[:, 2 * n:] + (r * h) @ u[:, 2 * n:])
        h = z * h + (1 - z) * hh
        return h, [h]

    return _np_loop(step, x, [np.asarray(h0, "float64")], mask, go_backwards)


def roundtrip_config(layer):
    """from_config(get_config()) rebuilds an equal configuration."""
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    return clone


def save_load_model(model, inputs, path, atol=1e-6):
    """Saves `model` as .keras, reloads it without custom_objects, compares."""
    import keras

    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert_close(reloaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0),
                 atol, "reloaded model")
    return reloaded


def load_in_fresh_process(path, inputs_npy, expected_npy, atol=1e-5):
    """Loads `path` in a new interpreter after only `import keras_rnnx`."""
    code = textwrap.dedent(f"""
        import numpy as np, keras, keras_rnnx
        m = keras.saving.load_model({str(path)!r})
        y = m.predict(np.load({str(inputs_npy)!r}), verbose=0)
        d = float(np.abs(y - np.load({str(expected_npy)!r})).max())
        assert d < {atol}, d
        print("OK", d)
    """)
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, env=env, timeout=300)
    assert res.returncode == 0 and "OK" in res.stdout, res.stderr[-3000:]
