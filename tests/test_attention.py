"""BahdanauAttention against a NumPy float64 reference."""
import os

import numpy as np
import pytest

import keras
import tensorflow as tf

from keras_rnnx import BahdanauAttention


def reference(query, values, mask, w):
    """NumPy float64 Bahdanau attention with the layer's weights `w`."""
    q = query.astype(np.float64)
    a = values.astype(np.float64)
    squeeze = q.ndim == 2
    if squeeze:
        q = q[:, None]
    v = w["energy"].astype(np.float64)
    if "energy_scale" in w:
        v = w["energy_scale"] * v / np.sqrt(np.sum(v**2))
    keys = a @ w["key_kernel"]  # B,Tv,U
    if "bias" in w:
        keys = keys + w["bias"]
    proc = q @ w["query_kernel"]  # B,Tq,U
    e = np.tanh(proc[:, :, None, :] + keys[:, None, :, :]) @ v  # B,Tq,Tv
    if mask is None:
        mask = np.ones(values.shape[:2], bool)
    m = np.broadcast_to(mask[:, None, :], e.shape)
    weights = np.zeros_like(e)
    for idx in np.ndindex(*e.shape[:2]):
        row = m[idx]
        if row.any():
            x = np.exp(e[idx][row] - e[idx][row].max())
            weights[idx][row] = x / x.sum()
    context = weights @ a
    if squeeze:
        return context[:, 0], weights[:, 0]
    return context, weights


def weights_of(layer):
    return {v.path.split("/")[-1]: v.numpy().astype(np.float64) for v in layer.weights}


def randomize(layer, rng):
    for v in layer.weights:
        v.assign(rng.normal(size=v.shape).astype("float32") * (0.5 if v.shape else 1.0) + (1.0 if not v.shape else 0.0))


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("query_rank", [2, 3])
def test_matches_numpy_float64(normalize, use_bias, query_rank):
    rng = np.random.default_rng(0)
    B, Tq, Tv, Hq, Hv, U = 3, 4, 6, 5, 7, 8
    query = rng.normal(size=(B, Hq) if query_rank == 2 else (B, Tq, Hq)).astype("float32")
    values = rng.normal(size=(B, Tv, Hv)).astype("float32")
    mask = np.array([[1] * 6, [1] * 2 + [0] * 4, [0] * 6], bool)  # incl. all-masked
    layer = BahdanauAttention(U, normalize=normalize, use_bias=use_bias)
    layer(query, values)
    randomize(layer, rng)
    w = weights_of(layer)
    assert ("bias" in w) == use_bias and ("energy_scale" in w) == normalize
    for m in (None, mask):
        context, weights = layer(query, values, mask=m)
        ref_c, ref_w = reference(query, values, m, w)
        np.testing.assert_allclose(context.numpy(), ref_c, atol=2e-5)
        np.testing.assert_allclose(weights.numpy(), ref_w, atol=2e-6)
        expected_shape = query.shape[:-1]
        assert context.shape == expected_shape + (Hv,)
        assert weights.shape == expected_shape + (Tv,)


def test_masks_exact_zero_and_all_masked_rows():
    rng = np.random.default_rng(1)
    query = rng.normal(size=(3, 4)).astype("float32")
    values = rng.normal(size=(3, 5, 2)).astype("float32") * 100
    mask = np.array([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], bool)
    context, weights = BahdanauAttention(6)(query, values, mask=mask)
    w = weights.numpy()
    assert np.all(w[~mask] == 0.0)  # exactly zero, not tiny
    np.testing.assert_allclose(w[:2].sum(-1), 1.0, rtol=1e-6)
    assert w[1, 0] == 1.0
    assert np.all(context.numpy()[2] == 0.0)
    assert np.all(np.isfinite(context.numpy()))


def test_finite_gradients_with_all_masked_rows():
    rng = np.random.default_rng(2)
    layer = BahdanauAttention(4, normalize=True)
    query = tf.constant(rng.normal(size=(2, 3, 3)).astype("float32"))
    values = tf.constant(rng.normal(size=(2, 5, 2)).astype("float32"))
    mask = tf.constant([[True] * 5, [False] * 5])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([query, values])
        context, weights = layer(query, values, mask=mask)
        loss = tf.reduce_sum(context**2) + tf.reduce_sum(weights)
    grads = tape.gradient(loss, [query, values] + layer.trainable_weights)
    for g in grads:
        assert g is not None and np.all(np.isfinite(g.numpy()))
    # the all-masked row contributes nothing
    assert np.all(tape.gradient(loss, values).numpy()[1] == 0.0)


def test_keras_mask_from_embedding_is_used():
    ids = np.array([[3, 4, 0, 0], [5, 0, 0, 0]])
    emb = keras.layers.Embedding(10, 4, mask_zero=True)
    layer = BahdanauAttention(5)
    query = np.ones((2, 3), "float32")
    _, weights = layer(query, emb(ids))
    np.testing.assert_array_equal(weights.numpy() > 0, ids > 0)


def test_precomputed_keys_equal_call():
    rng = np.random.default_rng(3)
    layer = BahdanauAttention(6)
    query = rng.normal(size=(2, 4)).astype("float32")
    values = rng.normal(size=(2, 5, 3)).astype("float32")
    c1, w1 = layer(query, values)
    keys = layer.compute_keys(values)
    c2, w2 = layer.attend(query, values, keys)
    np.testing.assert_array_equal(c1.numpy(), c2.numpy())
    np.testing.assert_array_equal(w1.numpy(), w2.numpy())


def test_functional_fit_serialization_and_jit(tmp_path):
    rng = np.random.default_rng(4)
    q_in = keras.Input((3, 4))
    ids = keras.Input((6,), dtype="int32")
    values = keras.layers.Embedding(20, 5, mask_zero=True)(ids)
    context, weights = BahdanauAttention(8, normalize=True, name="att")(q_in, values)
    out = keras.layers.Dense(1)(keras.layers.Flatten()(context))
    model = keras.Model([q_in, ids], out)
    model.compile("adam", "mse")
    x = [rng.normal(size=(16, 3, 4)).astype("float32"), rng.integers(0, 20, (16, 6))]
    y = rng.normal(size=(16, 1)).astype("float32")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    layer = model.get_layer("att")
    clone = BahdanauAttention.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    fn = tf.function(lambda q, v: layer(q, v), jit_compile=True)
    vals = rng.normal(size=(16, 6, 5)).astype("float32")
    got = fn(x[0], vals)
    want = layer(x[0], vals)
    np.testing.assert_allclose(got[0].numpy(), want[0].numpy(), atol=1e-5)


def test_mixed_precision_runs():
    keras.config.set_dtype_policy("mixed_float16")
    layer = BahdanauAttention(4)
    mask = np.array([[1, 1, 0], [0, 0, 0]], bool)
    context, weights = layer(np.ones((2, 3), "float32"), np.ones((2, 3, 2), "float32"), mask=mask)
    assert np.all(np.isfinite(context.numpy())) and np.all(weights.numpy()[~mask] == 0)


@pytest.mark.parametrize(
    "query_shape, values_shape, match",
    [
        ((3, 4), (2, 5, 6), "same batch size"),
        ((2, 3, 4), (3, 5, 6), "same batch size"),
        ((4,), (2, 5, 6), "`query` must have rank 2"),
        ((2, 1, 1, 4), (2, 5, 6), "`query` must have rank 2"),
        ((2, 4), (2, 6), "`values` must have rank 3"),
    ],
)
def test_bad_shapes_raise_value_error(query_shape, values_shape, match):
    layer = BahdanauAttention(4)
    with pytest.raises(ValueError, match=match):
        layer(np.ones(query_shape, "float32"), np.ones(values_shape, "float32"))


def test_bad_arguments():
    for units in (0, -3, 2.5, None, True):
        with pytest.raises(ValueError, match="units"):
            BahdanauAttention(units)
    with pytest.raises(TypeError, match="normalize"):
        BahdanauAttention(4, normalize="yes")
    layer = BahdanauAttention(4)
    with pytest.raises(ValueError, match="mask"):
        layer(np.ones((2, 3), "float32"), np.ones((2, 5, 6), "float32"),
              mask=np.ones((2, 4), bool))
    layer(np.ones((2, 3), "float32"), np.ones((2, 5, 6), "float32"))
    with pytest.raises(ValueError, match="`query` last dimension must be 3"):
        layer(np.ones((2, 7), "float32"), np.ones((2, 5, 6), "float32"))


def test_matches_keras_additive_attention_with_copied_weights():
    """Keras' AdditiveAttention over Dense projections is the same maths:
    scale * tanh(q + k) summed, with q = W_q s and k = W_k a + b."""
    rng = np.random.default_rng(6)
    B, Tq, Tv, Hq, Hv, U = 2, 3, 5, 4, 6, 7
    query = rng.normal(size=(B, Tq, Hq)).astype("float32")
    values = rng.normal(size=(B, Tv, Hv)).astype("float32")
    mask = np.array([[1] * 5, [1, 1, 1, 0, 0]], bool)
    ours = BahdanauAttention(U)
    ours(query, values)
    randomize(ours, rng)
    dq = keras.layers.Dense(U, use_bias=False)
    dk = keras.layers.Dense(U)
    dq.build((None, Hq))
    dk.build((None, Hv))
    dq.set_weights([ours.query_kernel.numpy()])
    dk.set_weights([ours.key_kernel.numpy(), ours.bias.numpy()])
    peer = keras.layers.AdditiveAttention()
    peer.build([(B, Tq, U), (B, Tv, Hv), (B, Tv, U)])
    peer.set_weights([ours.energy.numpy()])
    want, want_w = peer([dq(query), values, dk(values)], mask=[None, mask],
                        return_attention_scores=True)
    got, got_w = ours(query, values, mask=mask)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)
    np.testing.assert_allclose(got_w.numpy(), want_w.numpy(), atol=1e-6)
