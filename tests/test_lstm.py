"""LSTMCellX / LSTMX: parity with Keras (copied weights), NumPy float64,
gradients, cell protocol, serialization, training, bad input."""
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import has_gpu
from keras_rnnx import LSTMCellX, LSTMX
from layer_checks import (FULL_ROWS, IRREGULAR, RIGHT_PADDED, assert_close, build_pair,
                          gradients, np_lstm,
                          roundtrip_config, save_load_model)

B, T, D, H = 4, 5, 3, 6


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, T, D)).astype("float32")
    h0 = rng.normal(size=(B, H)).astype("float32")
    c0 = rng.normal(size=(B, H)).astype("float32")
    return x, h0, c0


@pytest.mark.parametrize(
    "return_sequences,return_state,go_backwards",
    list(itertools.product([False, True], repeat=3)),
)
def test_parity_with_keras_every_option(return_sequences, return_state, go_backwards):
    x, h0, c0 = data()
    kw = dict(return_sequences=return_sequences, return_state=return_state,
              go_backwards=go_backwards)
    ours, theirs = build_pair(LSTMX(H, **kw), keras.layers.LSTM(H, **kw), x)
    for init, mask in itertools.product([None, [h0, c0]], [None, RIGHT_PADDED, IRREGULAR]):
        call = {}
        if init is not None:
            call["initial_state"] = init
        if mask is not None:
            call["mask"] = mask
        assert_close(ours(x, **call), theirs(x, **call), 1e-5,
                     f"init={init is not None} mask={mask is not None}")


@pytest.mark.parametrize("go_backwards", [False, True])
def test_against_numpy_float64(go_backwards):
    x, h0, c0 = data(1)
    layer = LSTMX(H, return_sequences=True, return_state=True,
                  go_backwards=go_backwards, bias_initializer="random_normal")
    seq, h, c = layer(x, initial_state=[h0, c0], mask=RIGHT_PADDED)
    k, u, b = layer.get_weights()
    last, outs, (h_ref, c_ref) = np_lstm(x, h0, c0, k, u, b, RIGHT_PADDED, go_backwards)
    assert_close([seq, h, c], [outs, h_ref, c_ref], 1e-5)
    # all-masked row: states are the initial ones, output zeros
    np.testing.assert_allclose(np.asarray(h)[3], h0[3], atol=1e-6)
    np.testing.assert_array_equal(np.asarray(seq)[3], 0.0)


@pytest.mark.parametrize("mask", [None, RIGHT_PADDED, IRREGULAR])
def test_fast_gradients_match_keras(mask):
    x, h0, c0 = data(2)
    kw = dict(return_sequences=True, return_state=True)
    ours, theirs = build_pair(LSTMX(H, **kw), keras.layers.LSTM(H, **kw), x)
    g1 = gradients(ours, x, mask, [h0, c0])
    g2 = gradients(theirs, x, mask, [h0, c0])
    assert_close(g1, g2, 2e-5, "gradients")
    # training=False under a tape still differentiates correctly
    assert_close(gradients(ours, x, mask, [h0, c0], training=False), g2, 2e-5)


def test_fast_gradients_float64_exact():
    """In float64 the hand-written backward pass equals Keras' autodiff to 1e-10."""
    x, h0, c0 = (a.astype("float64") for a in data(3))
    kw = dict(return_sequences=True, return_state=True, go_backwards=True,
              dtype="float64", bias_initializer="random_normal")
    ours, theirs = build_pair(LSTMX(H, **kw), keras.layers.LSTM(H, **kw), x)
    for mask in (None, IRREGULAR):
        assert_close(gradients(ours, x, mask, [h0, c0]),
                     gradients(theirs, x, mask, [h0, c0]), 1e-10, "float64 grads")


def test_inference_loop_is_differentiable_by_autodiff():
    """The lean inference loop (chosen when no tape records at trace time)
    has autodiff gradients equal to the hand-written backward pass."""
    from keras_rnnx import kernels

    x, h0, c0 = (tf.constant(a.astype("float64")) for a in data(14))
    layer = LSTMX(H, dtype="float64", bias_initializer="random_normal")
    layer(x)
    k, u, b = [tf.constant(w) for w in layer.get_weights()]

    def loss(training):
        out = kernels.default_lstm_sequence(x, [h0, c0], k, u, b, mask=IRREGULAR,
                                            training=training)
        return tf.reduce_sum(out[1] ** 2) + tf.reduce_sum(out[2][1])

    lean = tf.function(lambda: loss(False))
    lean()  # traced with no tape recording: the lean loop
    with tf.GradientTape() as tape:
        tape.watch([x, u])
        lean_value = lean()  # same trace, differentiated by autodiff
    g_lean = tape.gradient(lean_value, [x, u])
    with tf.GradientTape() as tape:
        tape.watch([x, u])
        fast_value = loss(None)  # hand-written backward pass
    g_fast = tape.gradient(fast_value, [x, u])
    assert_close(lean(), fast_value, 1e-10)
    assert_close(g_lean, g_fast, 1e-10)


def test_generic_path_nonstandard_activations():
    x, h0, c0 = data(4)
    kw = dict(activation="relu", recurrent_activation="hard_sigmoid",
              return_sequences=True, return_state=True)
    ours, theirs = build_pair(LSTMX(H, **kw), keras.layers.LSTM(H, **kw), x)
    assert_close(ours(x, mask=IRREGULAR), theirs(x, mask=IRREGULAR), 1e-5)
    assert_close(gradients(ours, x, IRREGULAR), gradients(theirs, x, IRREGULAR), 2e-5)


def test_no_bias_and_no_forget_bias():
    x, _, _ = data(5)
    kw = dict(use_bias=False, return_sequences=True)
    ours, theirs = build_pair(LSTMX(H, **kw), keras.layers.LSTM(H, **kw), x)
    assert len(ours.get_weights()) == 2
    assert_close(ours(x), theirs(x), 1e-5)
    layer = LSTMX(H, unit_forget_bias=True)
    layer(x)
    np.testing.assert_array_equal(layer.get_weights()[2][H:2 * H], 1.0)


def test_cell_matches_keras_cell_and_protocol():
    x, h0, c0 = data(6)
    cell, kcell = LSTMCellX(H), keras.layers.LSTMCell(H)
    cell.build((B, D))
    kcell.build((B, D))
    cell.set_weights(kcell.get_weights())
    out, (h, c) = cell(x[:, 0], [h0, c0])
    kout, (kh, kc) = kcell(x[:, 0], [h0, c0])
    assert_close([out, h, c], [kout, kh, kc], 1e-6)
    assert cell.state_size == [H, H] and cell.output_size == H
    # keras.layers.RNN(cell) equals LSTMX with the same weights
    rnn = keras.layers.RNN(LSTMCellX(H), return_sequences=True)
    seq = LSTMX(H, return_sequences=True)
    build_pair(seq, rnn, x)
    assert_close(seq(x, mask=IRREGULAR), rnn(x, mask=IRREGULAR), 1e-5)
    # a hand-written step loop equals the sequence layer
    states = cell.get_initial_state(batch_size=B)
    outs = []
    for t in range(T):
        o, states = cell(x[:, t], states)
        outs.append(o)
    full = LSTMX(H, return_sequences=True)
    full(x)
    full.set_weights(cell.get_weights())
    assert_close(np.stack(outs, 1), full(x), 1e-5)


def test_stacked_cells_match_keras():
    x, _, _ = data(7)
    ours = keras.layers.RNN(keras.layers.StackedRNNCells([LSTMCellX(H), LSTMCellX(4)]),
                            return_sequences=True)
    theirs = keras.layers.RNN(keras.layers.StackedRNNCells(
        [keras.layers.LSTMCell(H), keras.layers.LSTMCell(4)]), return_sequences=True)
    build_pair(ours, theirs, x)
    assert_close(ours(x), theirs(x), 1e-5)


def test_tf_function_and_jit_compile():
    x, h0, c0 = data(8)
    layer = LSTMX(H, return_sequences=True, return_state=True)
    eager = layer(x, mask=RIGHT_PADDED, initial_state=[h0, c0])

    @tf.function(jit_compile=True)
    def fwd_bwd(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, mask=RIGHT_PADDED, initial_state=[h0, c0])
            loss = tf.reduce_sum(y[0]) + tf.reduce_sum(y[2])
        return y, tape.gradient(loss, [x] + layer.trainable_weights)

    y, grads = fwd_bwd(tf.constant(x))
    assert_close(y, eager, 1e-5)
    assert all(np.isfinite(g).all() for g in grads)
    assert_close(tf.function(lambda x: layer(x))(x), layer(x), 1e-6)


def test_model_fit_learns():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 3)).astype("float32")
    y = (x[:, :, 0].sum(1, keepdims=True) > 0).astype("float32")
    inp = keras.Input((6, 3))
    out = keras.layers.Dense(1, activation="sigmoid")(LSTMX(8, dropout=0.1)(inp))
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.Adam(0.03), "binary_crossentropy")
    hist = model.fit(x, y, epochs=6, batch_size=32, verbose=0)
    assert hist.history["loss"][-1] < 0.8 * hist.history["loss"][0]


def test_config_roundtrip_and_properties():
    layer = LSTMX(5, activation="relu", return_sequences=True, go_backwards=True,
                  dropout=0.2, recurrent_dropout=0.1, seed=3, unit_forget_bias=False,
                  kernel_regularizer="l2", use_cudnn=False, name="enc")
    clone = roundtrip_config(layer)
    assert clone.units == 5 and clone.go_backwards and clone.dropout == 0.2
    assert clone.unit_forget_bias is False and clone.use_cudnn is False
    cell = LSTMCellX(3, recurrent_activation="hard_sigmoid")
    assert roundtrip_config(cell).recurrent_activation is keras.activations.hard_sigmoid


def test_save_load_keras_file(tmp_path):
    # (loading in a fresh process is tested once, in test_bidirectional.py)
    x, _, _ = data(9)
    inp = keras.Input((None, D))
    h = LSTMX(H, return_sequences=True)(inp)
    out = keras.layers.RNN(LSTMCellX(4))(h)
    save_load_model(keras.Model(inp, out), x, tmp_path / "lstm.keras")


def test_mixed_float16_close_to_float32():
    x, _, _ = data(10)
    ref = LSTMX(H, return_sequences=True)
    ref(x)
    keras.config.set_dtype_policy("mixed_float16")
    half = LSTMX(H, return_sequences=True)
    half(x)
    half.set_weights(ref.get_weights())
    y = half(x, mask=RIGHT_PADDED)
    assert y.dtype == tf.float16
    # float16 has ~3 decimal digits; outputs are in [-1, 1]
    assert_close(y, ref(x, mask=RIGHT_PADDED), 1e-2, "float16 vs float32")


def test_stateful_carries_state_across_batches():
    x, _, _ = data(11)
    stateful = LSTMX(H, stateful=True, return_sequences=True)
    plain = LSTMX(H, return_sequences=True)
    build_pair(stateful, plain, x)
    stateful.reset_state()
    first = stateful(x[:, :2])
    second = stateful(x[:, 2:])
    assert_close(np.concatenate([first, second], 1), plain(x), 1e-5)
    stateful.reset_state()
    assert_close(stateful(x[:, :2]), first, 1e-6)


def test_dropout_only_in_training():
    x, _, _ = data(12)
    layer = LSTMX(H, dropout=0.5, recurrent_dropout=0.5, seed=1)
    infer = layer(x, training=False)
    assert_close(infer, layer(x), 1e-6)
    trained = layer(x, training=True)
    assert float(np.abs(np.asarray(trained) - np.asarray(infer)).max()) > 1e-3
    only_input = LSTMX(H, dropout=0.5, seed=1)
    only_input(x)
    assert float(np.abs(np.asarray(only_input(x, training=True)) - only_input(x)).max()) > 1e-3
    g = gradients(LSTMX(H, dropout=0.3, recurrent_dropout=0.3), x)
    assert all(np.isfinite(a).all() for a in g)


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        (dict(units=0), "units"),
        (dict(units=-3), "units"),
        (dict(units=2.5), "units"),
        (dict(units=4, activation="nope"), "activation"),
        (dict(units=4, recurrent_activation="nope"), "recurrent_activation"),
        (dict(units=4, dropout=1.5), "dropout"),
        (dict(units=4, use_cudnn="yes"), "use_cudnn"),
    ],
)
def test_bad_constructor_arguments(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        LSTMX(**kwargs)


def test_bad_inputs():
    layer = LSTMX(4)
    with pytest.raises(ValueError, match="inputs.*3D"):
        layer(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="inputs.*floating"):
        LSTMX(4)(np.zeros((2, 3, 4), "int32"))
    with pytest.raises(ValueError, match="units"):
        LSTMCellX(0)


@pytest.mark.gpu
@pytest.mark.skipif(not has_gpu(), reason="needs a GPU")
def test_gpu_cudnn_matches_default_kernel():
    """cuDNN (any mask: each row's real steps are moved to its front and run
    with lengths) against the default kernel, both directions."""
    x, h0, c0 = data(13)
    for go_backwards in (False, True):
        kw = dict(return_sequences=True, return_state=True, go_backwards=go_backwards)
        cudnn = LSTMX(H, **kw)
        plain = LSTMX(H, use_cudnn=False, **kw)
        build_pair(cudnn, plain, x)
        for mask in (None, RIGHT_PADDED, FULL_ROWS, IRREGULAR):
            assert_close(cudnn(x, mask=mask, initial_state=[h0, c0]),
                         plain(x, mask=mask, initial_state=[h0, c0]), 1e-4)
            assert_close(gradients(cudnn, x, mask, [h0, c0]),
                         gradients(plain, x, mask, [h0, c0]), 1e-4)
