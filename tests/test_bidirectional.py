"""BiDirectional: parity with keras.layers.Bidirectional without masks,
per-sequence unpadded equality with right-padded masks, merge modes, states,
serialization (also in a fresh process), bad input."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_rnnx import BiDirectional, GRUX, LSTMX
from layer_checks import (RIGHT_PADDED, assert_close, as_list, build_pair,
                          gradients, load_in_fresh_process, roundtrip_config,
                          save_load_model)

B, T, D, H = 4, 5, 3, 6
LAYERS = {
    "lstm": (LSTMX, keras.layers.LSTM),
    "gru": (GRUX, keras.layers.GRU),
}


def data(seed=0):
    return np.random.default_rng(seed).normal(size=(B, T, D)).astype("float32")


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_parity_with_keras_bidirectional(kind, merge_mode):
    ours_cls, keras_cls = LAYERS[kind]
    x = data()
    for rs in (True, False):
        ours = BiDirectional(ours_cls(H, return_sequences=rs), merge_mode=merge_mode)
        theirs = keras.layers.Bidirectional(keras_cls(H, return_sequences=rs),
                                            merge_mode=merge_mode)
        build_pair(ours, theirs, x)
        assert_close(ours(x), theirs(x), 1e-5, f"return_sequences={rs}")


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_return_state_and_initial_state_match_keras(kind):
    ours_cls, keras_cls = LAYERS[kind]
    x = data(1)
    kw = dict(return_sequences=True, return_state=True)
    ours = BiDirectional(ours_cls(H, **kw))
    theirs = keras.layers.Bidirectional(keras_cls(H, **kw))
    build_pair(ours, theirs, x)
    n = 4 if kind == "lstm" else 2
    init = [np.random.default_rng(i).normal(size=(B, H)).astype("float32") for i in range(n)]
    out, ref = ours(x, initial_state=init), theirs(x, initial_state=init)
    assert len(out) == 1 + n
    assert_close(out, ref, 1e-5)
    assert_close(gradients(ours, x), gradients(theirs, x), 2e-5, "gradients")


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_masked_batch_equals_each_sequence_unpadded(kind, return_sequences):
    ours_cls, _ = LAYERS[kind]
    x = data(2)
    layer = BiDirectional(ours_cls(H, return_sequences=return_sequences,
                                   return_state=True))
    out = layer(x, mask=RIGHT_PADDED)
    lengths = RIGHT_PADDED.sum(1)
    for b, n in enumerate(lengths):
        if n == 0:
            continue
        alone = layer(x[b:b + 1, :n])
        if return_sequences:
            assert_close(np.asarray(out[0])[b:b + 1, :n], alone[0], 1e-5, f"row {b}")
            np.testing.assert_array_equal(np.asarray(out[0])[b, n:], 0.0)
        else:
            assert_close(np.asarray(out[0])[b:b + 1], alone[0], 1e-5, f"row {b}")
        for s, s_alone in zip(out[1:], alone[1:]):
            assert_close(np.asarray(s)[b:b + 1], s_alone, 1e-5, f"state row {b}")
    # all-masked row: zero output, initial (zero) states
    for t in as_list(out):
        np.testing.assert_array_equal(np.asarray(t)[3], 0.0)


def test_masked_gradients_ignore_padding():
    x = data(3)
    layer = BiDirectional(LSTMX(H, return_sequences=True))
    g = gradients(layer, x, RIGHT_PADDED)[0]
    np.testing.assert_array_equal(g[~RIGHT_PADDED], 0.0)
    assert np.abs(g[RIGHT_PADDED]).min() > 0


def test_embedding_mask_and_mask_propagation():
    ids = np.array([[3, 4, 5, 0, 0], [1, 2, 0, 0, 0]])
    inp = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(10, 4, mask_zero=True)(inp)
    h = BiDirectional(GRUX(H, return_sequences=True), merge_mode="sum")(h)
    h = BiDirectional(LSTMX(H))(h)  # receives the propagated mask
    model = keras.Model(inp, h)
    padded = model.predict(ids, verbose=0)
    assert_close(padded[1:], model.predict(ids[1:, :2], verbose=0), 1e-5)
    layer = BiDirectional(GRUX(2, return_sequences=True))
    m = tf.constant(RIGHT_PADDED)
    assert np.array_equal(layer.compute_mask(None, m), RIGHT_PADDED)
    assert BiDirectional(GRUX(2)).compute_mask(None, m) is None


def test_explicit_backward_layer_and_weights():
    x = data(4)
    fw = GRUX(H, return_sequences=True)
    bw = GRUX(H, return_sequences=True, go_backwards=True, variant="simplified")
    layer = BiDirectional(fw, backward_layer=bw, merge_mode=None)
    y_fw, y_bw = layer(x)
    assert_close(y_fw, fw(x), 1e-6)
    assert_close(y_bw, np.flip(np.asarray(bw(x)), 1), 1e-6)
    weights = layer.get_weights()
    again = BiDirectional(GRUX(H, return_sequences=True), merge_mode=None,
                          backward_layer=GRUX(H, return_sequences=True, go_backwards=True,
                                              variant="simplified"),
                          weights=weights)
    assert_close(again(x), layer(x), 1e-6)


def test_fit_with_mask():
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 20, size=(32, 6))
    ids[:10, 3:] = 0
    y = (ids[:, 0] > 10).astype("float32")[:, None]
    inp = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(20, 8, mask_zero=True)(inp)
    h = BiDirectional(LSTMX(8))(h)
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(h))
    model.compile(keras.optimizers.Adam(0.02), "binary_crossentropy")
    hist = model.fit(ids, y, epochs=5, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]


@pytest.mark.slow
def test_save_load_all_layers_fresh_process(tmp_path):
    """One .keras file with every core layer, reloaded after `import keras_rnnx`."""
    from keras_rnnx import GRUCellX, LSTMCellX

    ids = np.array([[3, 4, 5, 0, 0], [1, 2, 0, 0, 0], [6, 7, 8, 9, 1]])
    inp = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(10, 4, mask_zero=True)(inp)
    h = BiDirectional(GRUX(H, return_sequences=True, variant="simplified"))(h)
    h = BiDirectional(LSTMX(H, return_sequences=True), merge_mode="ave")(h)
    h = keras.layers.RNN(keras.layers.StackedRNNCells([LSTMCellX(4), GRUCellX(3)]))(h)
    model = keras.Model(inp, h)
    path = tmp_path / "all.keras"
    save_load_model(model, ids, path)
    np.save(tmp_path / "x.npy", ids)
    np.save(tmp_path / "y.npy", model.predict(ids, verbose=0))
    load_in_fresh_process(path, tmp_path / "x.npy", tmp_path / "y.npy")


def test_config_roundtrip():
    layer = BiDirectional(LSTMX(5, return_sequences=True), merge_mode="mul", name="bi")
    clone = BiDirectional.from_config(layer.get_config())
    assert clone.merge_mode == "mul" and clone.backward_layer.go_backwards
    assert clone.get_config() == layer.get_config()
    roundtrip_config(clone.forward_layer)


def test_mixed_float16():
    keras.config.set_dtype_policy("mixed_float16")
    y = BiDirectional(GRUX(4, return_sequences=True))(data(5), mask=RIGHT_PADDED)
    assert y.dtype == tf.float16 and tuple(y.shape) == (B, T, 8)


def test_bad_arguments():
    with pytest.raises(ValueError, match="merge_mode"):
        BiDirectional(LSTMX(4), merge_mode="max")
    with pytest.raises(ValueError, match="`layer`"):
        BiDirectional(keras.layers.Dense(4))
    with pytest.raises(ValueError, match="backward_layer"):
        BiDirectional(LSTMX(4), backward_layer=keras.layers.Dense(4))
    with pytest.raises(ValueError, match="go_backwards"):
        BiDirectional(LSTMX(4), backward_layer=LSTMX(4))
    with pytest.raises(ValueError, match="return_sequences"):
        BiDirectional(LSTMX(4), backward_layer=LSTMX(4, go_backwards=True,
                                                      return_sequences=True))
    with pytest.raises(ValueError, match="inputs"):
        BiDirectional(LSTMX(4))(np.zeros((2, 3), "float32"))
