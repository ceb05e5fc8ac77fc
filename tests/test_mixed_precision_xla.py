"""Mixed precision (`mixed_float16`) and XLA (`jit_compile=True`) for every
public layer.

Tolerances (max abs difference):
* XLA vs eager, float32: outputs 1e-5, gradients 1e-4;
* mixed_float16 vs float32 with the same weights: 2e-2 on outputs bounded by
  tanh/softmax (h, attention weights, contexts of inputs in [-1, 1]); the
  LSTM cell state c gets 2e-2 relative to its magnitude. float16 has a
  10-bit mantissa (~1e-3 relative per operation), accumulated over the steps.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_rnnx
from keras_rnnx import (AttentionDecoder, AttentionDecoderCell, BahdanauAttention,
                        BiDirectional, GRUCellX, GRUX, LSTMCellX, LSTMX)

B, T, D = 3, 6, 4
MASK = np.array([[1] * 6, [1, 1, 1, 0, 0, 0], [0] * 6], bool)


def _x(seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, size=(B, T, D)).astype("float32")


# name -> (factory(dtype), call(layer, x) -> outputs, masked)
def _attention_call(layer, x):
    return layer(x[:, 0, :], x, mask=MASK[:2].repeat(2, 0)[:B])


def _decoder_call(layer, x):
    return layer(x[:, :4, :], x)


LAYERS = {
    "lstmx": (lambda dt: LSTMX(5, return_sequences=True, return_state=True, dtype=dt), True),
    "lstmx_backwards": (lambda dt: LSTMX(5, go_backwards=True, dtype=dt), True),
    "grux_after": (lambda dt: GRUX(5, return_sequences=True, return_state=True, dtype=dt), True),
    "grux_before": (lambda dt: GRUX(5, reset_after=False, return_sequences=True, dtype=dt), True),
    "grux_simplified": (lambda dt: GRUX(5, variant="simplified", return_sequences=True,
                                        dtype=dt), True),
    "bi_concat": (lambda dt: BiDirectional(LSTMX(3, return_sequences=True), dtype=dt), True),
    "bi_sum": (lambda dt: BiDirectional(GRUX(3), merge_mode="sum", dtype=dt), True),
    "bi_mul": (lambda dt: BiDirectional(GRUX(3, variant="simplified", return_sequences=True),
                                        merge_mode="mul", dtype=dt), True),
    "bi_ave": (lambda dt: BiDirectional(LSTMX(3), merge_mode="ave", dtype=dt), True),
    "bi_none": (lambda dt: BiDirectional(LSTMX(3, return_sequences=True, return_state=True),
                                         merge_mode=None, dtype=dt), True),
    "rnn_lstmcellx": (lambda dt: keras.layers.RNN(LSTMCellX(5, dtype=dt),
                                                  return_sequences=True, dtype=dt), True),
    "rnn_grucellx": (lambda dt: keras.layers.RNN(GRUCellX(5, variant="simplified", dtype=dt),
                                                 dtype=dt), True),
    "attention": (lambda dt: BahdanauAttention(4, dtype=dt), "attention"),
    "decoder": (lambda dt: AttentionDecoder(AttentionDecoderCell(
        LSTMCellX(4, dtype=dt), BahdanauAttention(3, dtype=dt), dtype=dt), dtype=dt),
        "decoder"),
}


def _call(name, layer, x, training=False):
    kind = LAYERS[name][1]
    if kind == "attention":
        return _attention_call(layer, x)
    if kind == "decoder":
        return _decoder_call(layer, x)
    return layer(x, mask=tf.constant(MASK), training=training)


def _flat(out):
    return [o for o in tf.nest.flatten(out)]


def _pair(name, dtype):
    """A float32 layer and a `dtype` layer with the same (random) weights."""
    x = _x()
    ref = LAYERS[name][0]("float32")
    _call(name, ref, x)
    rng = np.random.default_rng(4)
    ref.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in ref.get_weights()])
    keras.config.set_dtype_policy(dtype)  # inner layers follow the global policy
    other = LAYERS[name][0](dtype)
    _call(name, other, x)
    other.set_weights(ref.get_weights())
    return ref, other, x


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_mixed_float16_close_to_float32(name):
    ref, half, x = _pair(name, "mixed_float16")
    want = [np.asarray(o, "float64") for o in _flat(_call(name, ref, x))]
    got_t = _flat(_call(name, half, x))
    assert all(o.dtype == tf.float16 for o in got_t), [o.dtype for o in got_t]
    assert all(v.dtype == "float32" for v in half.weights)  # float32 master weights
    for i, (g, w) in enumerate(zip(got_t, want)):
        g = np.asarray(g, "float64")
        assert np.all(np.isfinite(g))
        d = float(np.abs(g - w).max()) if w.size else 0.0
        assert d <= 2e-2 * max(1.0, float(np.abs(w).max())), f"{name} output {i}: {d:.3g}"


# XLA compiles are slow on CI: merge modes differ only in one elementwise op,
# so "sum" and "mul" are covered by the mixed precision test only.
XLA_LAYERS = sorted(set(LAYERS) - {"bi_sum", "bi_mul"})


@pytest.mark.parametrize("name", XLA_LAYERS)
def test_xla_matches_eager(name):
    layer = LAYERS[name][0]("float32")
    x = _x(1)
    _call(name, layer, x)
    rng = np.random.default_rng(5)
    layer.set_weights([rng.normal(0, 0.5, w.shape).astype("float32")
                       for w in layer.get_weights()])
    xt = tf.constant(x)

    def f(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outs = _flat(_call(name, layer, x))
            loss = tf.add_n([tf.reduce_sum(o * (i + 1.0)) for i, o in enumerate(outs)])
        return outs, tape.gradient(loss, [x] + layer.trainable_weights)

    eager_out, eager_g = f(xt)
    xla_out, xla_g = tf.function(f, jit_compile=True)(xt)
    for a, b in zip(xla_out, eager_out):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=0)
    for a, b in zip(xla_g, eager_g):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-4, rtol=1e-4)


def _classifier():
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(20, 8, mask_zero=True)(ids)
    x = GRUX(8, return_sequences=True)(x)
    x = LSTMX(8)(x)
    return keras.Model(ids, keras.layers.Dense(1, activation="sigmoid", dtype="float32")(x))


def _data():
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 20, size=(64, 7)).astype("int32")
    ids[::3, 4:] = 0
    return ids, (ids[:, 0] % 2).astype("float32")[:, None]


@pytest.mark.parametrize("policy, jit", [
    ("mixed_float16", False), pytest.param("mixed_float16", True, marks=pytest.mark.slow)])
def test_fit_under_mixed_precision_and_xla(policy, jit):
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(0)
    model = _classifier()
    model.compile(keras.optimizers.Adam(0.01), "binary_crossentropy", jit_compile=jit)
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    x, y = _data()
    hist = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    loss = hist.history["loss"]
    assert all(np.isfinite(loss)), loss
    assert loss[-1] < loss[0], loss
