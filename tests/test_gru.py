"""GRUCellX / GRUX: parity with Keras (copied weights) for both reset_after
settings, the simplified variant against NumPy float64, gradients, cell
protocol, serialization, training, bad input."""
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import has_gpu
from keras_rnnx import GRUCellX, GRUX
from layer_checks import (FULL_ROWS, IRREGULAR, RIGHT_PADDED, assert_close, build_pair,
                          gradients, np_gru, roundtrip_config, save_load_model)

B, T, D, H = 4, 5, 3, 6


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, T, D)).astype("float32")
    h0 = rng.normal(size=(B, H)).astype("float32")
    return x, h0


@pytest.mark.parametrize(
    "reset_after,return_sequences,return_state,go_backwards",
    [(True,) + c for c in itertools.product([False, True], repeat=3)]
    + [(False, True, True, True), (False, False, False, False)],
)
def test_parity_with_keras_every_option(reset_after, return_sequences, return_state,
                                        go_backwards):
    x, h0 = data()
    kw = dict(return_sequences=return_sequences, return_state=return_state,
              go_backwards=go_backwards, reset_after=reset_after,
              bias_initializer="random_normal")
    ours, theirs = build_pair(GRUX(H, **kw), keras.layers.GRU(H, **kw), x)
    for init, mask in itertools.product([None, [h0]], [None, RIGHT_PADDED, IRREGULAR]):
        call = {}
        if init is not None:
            call["initial_state"] = init
        if mask is not None:
            call["mask"] = mask
        assert_close(ours(x, **call), theirs(x, **call), 1e-5,
                     f"init={init is not None} mask={mask is not None}")


@pytest.mark.parametrize("variant,reset_after", [("simplified", True), ("full", True),
                                                 ("full", False)])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_against_numpy_float64(variant, reset_after, go_backwards):
    x, h0 = data(1)
    layer = GRUX(H, return_sequences=True, return_state=True, variant=variant,
                 reset_after=reset_after, go_backwards=go_backwards,
                 bias_initializer="random_normal")
    for mask in (None, RIGHT_PADDED, IRREGULAR):
        seq, h = layer(x, initial_state=[h0], mask=mask)
        k, u, b = layer.get_weights()
        _, outs, (h_ref,) = np_gru(x, h0, k, u, b, mask, go_backwards, reset_after, variant)
        assert_close([seq, h], [outs, h_ref], 1e-5, f"mask={mask is not None}")


def test_simplified_weights_and_formula():
    layer = GRUX(H, variant="simplified", return_sequences=True)
    x, h0 = data(2)
    layer(x)
    k, u, b = layer.get_weights()
    assert k.shape == (D, 2 * H) and u.shape == (H, 2 * H) and b.shape == (2 * H,)
    # with u forced to 1 (huge update bias), c = c~ = tanh(W_c x + U_c c_prev + b_c)
    b = b.copy()
    b[:H] = 50.0
    layer.set_weights([k, u, b])
    seq = np.asarray(layer(x, initial_state=[h0]))
    c1 = np.tanh(x[:, 0] @ k[:, H:] + h0 @ u[:, H:] + b[H:])
    np.testing.assert_allclose(seq[:, 0], c1, atol=1e-5)


@pytest.mark.parametrize("variant,reset_after", [("full", True), ("full", False),
                                                 ("simplified", True)])
def test_fast_gradients_float64_against_autodiff(variant, reset_after):
    """Hand-written backward pass vs autodiff of the generic loop (float64)."""
    x, h0 = (a.astype("float64") for a in data(3))
    kw = dict(return_sequences=True, return_state=True, variant=variant,
              reset_after=reset_after, dtype="float64", bias_initializer="random_normal")
    fast = GRUX(H, **kw)
    # an activation the fast path does not take: the same math, autodiff loop
    slow = GRUX(H, activation=lambda z: tf.tanh(z), **kw)
    build_pair(fast, slow, x)
    for mask in (None, RIGHT_PADDED, IRREGULAR):
        assert_close(fast(x, mask=mask), slow(x, mask=mask), 1e-12)
        assert_close(gradients(fast, x, mask, [h0]), gradients(slow, x, mask, [h0]),
                     1e-10, f"grads mask={mask is not None}")


@pytest.mark.parametrize("reset_after", [True, False])
def test_fast_gradients_match_keras(reset_after):
    x, h0 = data(4)
    kw = dict(return_sequences=True, reset_after=reset_after,
              bias_initializer="random_normal")
    ours, theirs = build_pair(GRUX(H, **kw), keras.layers.GRU(H, **kw), x)
    for mask in (None, RIGHT_PADDED):
        assert_close(gradients(ours, x, mask, [h0]), gradients(theirs, x, mask, [h0]),
                     2e-5, "gradients")


def test_generic_path_and_no_bias():
    x, _ = data(5)
    kw = dict(activation="relu", recurrent_activation="hard_sigmoid",
              return_sequences=True, use_bias=False)
    ours, theirs = build_pair(GRUX(H, **kw), keras.layers.GRU(H, **kw), x)
    assert len(ours.get_weights()) == 2
    assert_close(ours(x, mask=IRREGULAR), theirs(x, mask=IRREGULAR), 1e-5)
    assert_close(gradients(ours, x), gradients(theirs, x), 2e-5)


@pytest.mark.parametrize("reset_after", [True, False])
def test_non_elementwise_recurrent_activation_per_gate_like_keras(reset_after):
    # softmax over z and r together is not softmax over each: the step must
    # apply it gate by gate, as Keras' GRUCell does (0.18 apart otherwise)
    x, _ = data(6)
    kw = dict(recurrent_activation="softmax", reset_after=reset_after,
              return_sequences=True)
    ours, theirs = build_pair(GRUX(H, **kw), keras.layers.GRU(H, **kw), x)
    assert_close(ours(x, mask=IRREGULAR), theirs(x, mask=IRREGULAR), 1e-5)
    assert_close(gradients(ours, x), gradients(theirs, x), 2e-5)
    cell = keras.layers.RNN(GRUCellX(H, recurrent_activation="softmax",
                                     reset_after=reset_after), return_sequences=True)
    build_pair(cell, theirs, x)
    assert_close(cell(x), theirs(x), 1e-5)


@pytest.mark.parametrize("reset_after", [True, False])
def test_cell_matches_keras_cell_and_protocol(reset_after):
    x, h0 = data(6)
    cell, kcell = GRUCellX(H, reset_after=reset_after), keras.layers.GRUCell(
        H, reset_after=reset_after)
    cell.build((B, D))
    kcell.build((B, D))
    cell.set_weights(kcell.get_weights())
    out, (h,) = cell(x[:, 0], [h0])
    kout, (kh,) = kcell(x[:, 0], [h0])
    assert_close([out, h], [kout, kh], 1e-6)
    out2, h2 = cell(x[:, 0], h0)  # unnested state, like Keras
    assert_close([out2, h2], [kout, kh], 1e-6)
    rnn = keras.layers.RNN(GRUCellX(H, reset_after=reset_after), return_sequences=True)
    seq = GRUX(H, return_sequences=True, reset_after=reset_after)
    build_pair(seq, rnn, x)
    assert_close(seq(x, mask=IRREGULAR), rnn(x, mask=IRREGULAR), 1e-5)
    stacked = keras.layers.RNN(keras.layers.StackedRNNCells(
        [GRUCellX(H, reset_after=reset_after), GRUCellX(4, variant="simplified")]))
    assert tuple(stacked(x).shape) == (B, 4)


def test_hand_written_loop_simplified():
    x, h0 = data(7)
    layer = GRUX(H, variant="simplified", return_sequences=True)
    layer(x)
    cell = GRUCellX(H, variant="simplified")
    cell.build((B, D))
    cell.set_weights(layer.get_weights())
    state, outs = [h0], []
    for t in range(T):
        o, state = cell(x[:, t], state)
        outs.append(o)
    assert_close(np.stack(outs, 1), layer(x, initial_state=[h0]), 1e-5)


def test_tf_function_and_jit_compile():
    x, h0 = data(8)
    # (reset_after=True runs under jit in test_recurrence.py)
    for variant, ra in (("full", False), ("simplified", True)):
        layer = GRUX(H, return_sequences=True, variant=variant, reset_after=ra)
        eager = layer(x, mask=IRREGULAR)

        @tf.function(jit_compile=True)
        def fwd_bwd(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, mask=IRREGULAR)
                loss = tf.reduce_sum(y * y)
            return y, tape.gradient(loss, [x] + layer.trainable_weights)

        y, grads = fwd_bwd(tf.constant(x))
        assert_close(y, eager, 1e-5, variant)
        assert all(np.isfinite(g).all() for g in grads)


def test_model_fit_learns():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 3)).astype("float32")
    y = (x[:, :, 0].sum(1, keepdims=True) > 0).astype("float32")
    inp = keras.Input((6, 3))
    out = keras.layers.Dense(1, activation="sigmoid")(GRUX(8, variant="simplified")(inp))
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.Adam(0.03), "binary_crossentropy")
    hist = model.fit(x, y, epochs=6, batch_size=32, verbose=0)
    assert hist.history["loss"][-1] < 0.8 * hist.history["loss"][0]


def test_config_roundtrip_and_save(tmp_path):
    layer = GRUX(5, reset_after=False, variant="full", return_state=True,
                 recurrent_dropout=0.1, seed=2, name="g")
    clone = roundtrip_config(layer)
    assert clone.reset_after is False and clone.variant == "full" and clone.return_state
    assert roundtrip_config(GRUCellX(3, variant="simplified")).variant == "simplified"
    x, _ = data(9)
    inp = keras.Input((None, D))
    h = GRUX(H, return_sequences=True, variant="simplified")(inp)
    out = keras.layers.RNN(GRUCellX(4, reset_after=False))(h)
    save_load_model(keras.Model(inp, out), x, tmp_path / "gru.keras")


def test_mixed_float16_close_to_float32():
    x, _ = data(10)
    ref = GRUX(H, return_sequences=True)
    ref(x)
    keras.config.set_dtype_policy("mixed_float16")
    half = GRUX(H, return_sequences=True)
    half(x)
    half.set_weights(ref.get_weights())
    y = half(x, mask=RIGHT_PADDED)
    assert y.dtype == tf.float16
    assert_close(y, ref(x, mask=RIGHT_PADDED), 1e-2, "float16 vs float32")


def test_stateful_and_dropout():
    x, _ = data(11)
    stateful = GRUX(H, stateful=True, return_sequences=True)
    plain = GRUX(H, return_sequences=True)
    build_pair(stateful, plain, x)
    stateful.reset_state()
    both = np.concatenate([stateful(x[:, :3]), stateful(x[:, 3:])], 1)
    assert_close(both, plain(x), 1e-5)
    drop = GRUX(H, dropout=0.5, recurrent_dropout=0.5, seed=1)
    infer = drop(x)
    assert float(np.abs(np.asarray(drop(x, training=True)) - infer).max()) > 1e-3
    assert_close(drop(x, training=False), infer, 1e-6)


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        (dict(units=0), "units"),
        (dict(units=4, variant="minimal"), "variant"),
        (dict(units=4, activation="nope"), "activation"),
        (dict(units=4, recurrent_dropout=-0.1), "recurrent_dropout"),
    ],
)
def test_bad_constructor_arguments(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        GRUX(**kwargs)
    with pytest.raises(ValueError, match=needle):
        GRUCellX(**kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match="inputs.*3D"):
        GRUX(4)(np.zeros((2, 3, 4, 5), "float32"))
    with pytest.raises(ValueError, match="inputs.*floating"):
        GRUX(4)(np.zeros((2, 3, 4), "int64"))


@pytest.mark.gpu
@pytest.mark.skipif(not has_gpu(), reason="needs a GPU")
def test_gpu_cudnn_matches_default_kernel():
    """cuDNN (any mask: each row's real steps are moved to its front and run
    with lengths) against the default kernel, both directions."""
    x, h0 = data(13)
    for go_backwards in (False, True):
        kw = dict(return_sequences=True, return_state=True, go_backwards=go_backwards,
                  bias_initializer="random_normal")
        cudnn = GRUX(H, **kw)
        plain = GRUX(H, use_cudnn=False, **kw)
        build_pair(cudnn, plain, x)
        for mask in (None, RIGHT_PADDED, FULL_ROWS, IRREGULAR):
            assert_close(cudnn(x, mask=mask, initial_state=[h0]),
                         plain(x, mask=mask, initial_state=[h0]), 1e-4)
            assert_close(gradients(cudnn, x, mask, [h0]),
                         gradients(plain, x, mask, [h0]), 1e-4)
