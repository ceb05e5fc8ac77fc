"""The kernel seam: default kernels against NumPy float64, the lowering API
that exporters use, and the contract layers call kernels with."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_rnnx import GRUX, LSTMX, BiDirectional
from keras_rnnx import kernels
from keras_rnnx.kernels import loop
from conftest import has_gpu
from layer_checks import FULL_ROWS, IRREGULAR, RIGHT_PADDED, assert_close, np_gru, np_lstm

B, T, D, H = 4, 5, 3, 6


def weights(gates, bias_shape, seed=0, t=T):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(B, t, D)), rng.normal(size=(B, H)), rng.normal(size=(B, H)),
            rng.normal(size=(D, gates * H)) * 0.5, rng.normal(size=(H, gates * H)) * 0.5,
            rng.normal(size=bias_shape))


KINDS = ["lstm", "gru_after", "gru_before", "gru_simplified"]


def kind_weights(kind, seed, t=T):
    """float64 (x, h0, c0, kernel, recurrent_kernel, bias) for a kernel kind."""
    gates = 4 if kind == "lstm" else 2 if kind == "gru_simplified" else 3
    bias_shape = (2, 3 * H) if kind == "gru_after" else (gates * H,)
    return tuple(tf.constant(a) for a in weights(gates, bias_shape, seed=seed, t=t))


def run_kernel(kind, x, h0, c0, k, u, b, **options):
    """The default kernel of `kind` (one of KINDS): (last, outputs, states)."""
    if kind == "lstm":
        return kernels.default_lstm_sequence(x, [h0, c0], k, u, b, **options)
    return kernels.default_gru_sequence(
        x, [h0], k, u, b, reset_after=kind == "gru_after",
        variant="simplified" if kind == "gru_simplified" else "full", **options)


@pytest.mark.parametrize("mask", [None, RIGHT_PADDED, IRREGULAR])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("training", [None, False])
def test_default_lstm_kernel_against_numpy(mask, go_backwards, training):
    x, h0, c0, k, u, b = weights(4, (4 * H,))
    last, outs, (h, c) = kernels.default_lstm_sequence(
        x, [h0, c0], k, u, b, mask=mask, go_backwards=go_backwards, training=training)
    ref_last, ref_outs, (ref_h, ref_c) = np_lstm(x, h0, c0, k, u, b, mask, go_backwards)
    assert_close([last, outs, h, c], [ref_last, ref_outs, ref_h, ref_c], 1e-12)


@pytest.mark.parametrize("variant,reset_after,bias_shape", [
    ("full", True, (2, 3 * H)), ("full", False, (3 * H,)), ("simplified", True, (2 * H,))])
@pytest.mark.parametrize("mask", [None, RIGHT_PADDED, IRREGULAR])
def test_default_gru_kernel_against_numpy(variant, reset_after, bias_shape, mask):
    gates = 2 if variant == "simplified" else 3
    x, h0, _, k, u, b = weights(gates, bias_shape, 1)
    for go_backwards, training in ((False, None), (True, None), (True, False)):
        last, outs, (h,) = kernels.default_gru_sequence(
            x, [h0], k, u, b, mask=mask, go_backwards=go_backwards,
            reset_after=reset_after, variant=variant, training=training)
        ref = np_gru(x, h0, k, u, b, mask, go_backwards, reset_after, variant)
        assert_close([last, outs, h], [ref[0], ref[1], ref[2][0]], 1e-12)
    # return_sequences=False gives no outputs
    assert kernels.default_gru_sequence(
        x, [h0], k, u, b, return_sequences=False, reset_after=reset_after,
        variant=variant)[1] is None


def test_activation_spec_passes_names_for_standard_activations():
    assert kernels.activation_spec(keras.activations.tanh) == "tanh"
    assert kernels.activation_spec(keras.activations.get("hard_sigmoid")) == "hard_sigmoid"
    custom = lambda z: tf.tanh(z)  # noqa: E731
    assert kernels.activation_spec(custom) is custom


def test_lowering_api():
    assert kernels.current_lowering() is None
    with pytest.raises(ValueError, match="Unknown lowering"):
        with kernels.lowering("no_such_lowering"):
            pass
    kernels.register_lowering("test_nothing")
    with kernels.lowering("test_nothing"):
        assert kernels.current_lowering() == "test_nothing"
        assert kernels.lowered_kernel("lstm") is None
    assert kernels.current_lowering() is None


def test_layers_call_the_lowered_kernel_with_the_contract():
    calls = []

    def spy(kind, default):
        def kernel(inputs, initial_state, kernel, recurrent_kernel, bias, **kw):
            calls.append((kind, tuple(inputs.shape), len(initial_state), kw))
            return default(inputs, initial_state, kernel, recurrent_kernel, bias, **kw)
        return kernel

    kernels.register_lowering(
        "test_spy", lstm=spy("lstm", kernels.default_lstm_sequence),
        gru=spy("gru", kernels.default_gru_sequence))
    x = np.random.default_rng(0).normal(size=(B, T, D)).astype("float32")
    lstm = LSTMX(H, return_sequences=True, go_backwards=True)
    gru = GRUX(H, reset_after=False, recurrent_activation="hard_sigmoid")
    bi = BiDirectional(GRUX(H, variant="simplified", return_sequences=True))
    plain = [lstm(x, mask=RIGHT_PADDED), gru(x), bi(x, mask=RIGHT_PADDED)]
    with kernels.lowering("test_spy"):
        lowered = [lstm(x, mask=RIGHT_PADDED), gru(x), bi(x, mask=RIGHT_PADDED)]
    assert_close(lowered, plain, 1e-6)
    kinds = [c[0] for c in calls]
    assert kinds == ["lstm", "gru", "gru", "gru"]
    _, shape, n_states, kw = calls[0]
    assert shape == (B, T, D) and n_states == 2
    assert kw["go_backwards"] is True and kw["return_sequences"] is True
    assert kw["activation"] == "tanh" and kw["recurrent_activation"] == "sigmoid"
    assert tuple(kw["mask"].shape) == (B, T)
    assert "training" not in kw  # lowerings get exactly the documented contract
    assert calls[1][3]["reset_after"] is False and calls[1][3]["variant"] == "full"
    assert calls[1][3]["recurrent_activation"] == "hard_sigmoid"
    assert calls[2][3]["variant"] == "simplified"
    # the backward direction of BiDirectional runs forward in time on reversed input
    assert calls[3][3]["go_backwards"] is False


def test_dispatch_functions_use_active_lowering():
    seen = []

    def fake(inputs, initial_state, *args, **kw):
        seen.append(kw)
        return kernels.default_lstm_sequence(inputs, initial_state, *args, **kw)

    kernels.register_lowering("test_dispatch", lstm=fake)
    x, h0, c0, k, u, b = weights(4, (4 * H,))
    ref = kernels.run_sequence("lstm", x, [h0, c0], k, u, b)
    with kernels.lowering("test_dispatch"):
        out = kernels.run_sequence("lstm", x, [h0, c0], k, u, b)
        # GRU has no kernel in this lowering: the default runs
        kernels.run_sequence("gru", x, [h0], k[:, :3 * H], u[:, :3 * H], None)
    assert len(seen) == 1
    assert_close(out[1], ref[1], 1e-12)


def test_gru_kernel_under_jit_with_dynamic_batch():
    x, h0, _, k, u, b = (tf.constant(a, tf.float32) for a in weights(3, (2, 3 * H)))

    @tf.function(jit_compile=True, input_signature=[
        tf.TensorSpec([None, T, D]), tf.TensorSpec([None, H]), tf.TensorSpec([None, T], tf.bool)])
    def run(x, h0, mask):
        with tf.GradientTape() as tape:
            tape.watch([x, u])
            last, outs, _ = kernels.default_gru_sequence(x, [h0], k, u, b, mask=mask)
            loss = tf.reduce_sum(outs) + tf.reduce_sum(last)
        return outs, tape.gradient(loss, [x, u])

    outs, grads = run(x, h0, tf.constant(IRREGULAR))
    ref = kernels.default_gru_sequence(x, [h0], k, u, b, mask=IRREGULAR)[1]
    assert_close(outs, ref, 1e-5)
    assert all(np.isfinite(g).all() for g in grads)


def test_docstring_examples_run():
    import doctest

    from keras_rnnx.layers import bidirectional
    from keras_rnnx.layers import gru
    from keras_rnnx.layers import lstm

    for module in (lstm, gru, bidirectional):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0, module.__name__


# -- zero-length sequences ----------------------------------------------------

ZERO_LENGTH_LAYERS = {
    "lstm": lambda: LSTMX(3, return_sequences=True, return_state=True),
    "lstm_back": lambda: LSTMX(3, return_sequences=True, return_state=True,
                               go_backwards=True),
    "gru_after": lambda: GRUX(3, return_sequences=True, return_state=True),
    "gru_before": lambda: GRUX(3, return_sequences=True, return_state=True,
                               reset_after=False),
    "gru_simplified": lambda: GRUX(3, return_sequences=True, return_state=True,
                                   variant="simplified"),
    "bi": lambda: BiDirectional(LSTMX(3, return_sequences=True, return_state=True)),
}


def _states0(layer_name, batch, seed=0):
    rng = np.random.default_rng(seed)
    n = {"lstm": 2, "lstm_back": 2, "bi": 4}.get(layer_name, 1)
    return [tf.constant(rng.normal(size=(batch, 3)).astype("float32")) for _ in range(n)]


def _check_empty_result(out, states0, batch, bi=False):
    seq, last_states = out[0], out[1:]
    assert tuple(seq.shape) == (batch, 0, 6 if bi else 3)
    assert len(last_states) == len(states0)
    for got, want in zip(last_states, states0):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("name", sorted(ZERO_LENGTH_LAYERS))
def test_zero_length_sequences_static_and_dynamic(name):
    layer = ZERO_LENGTH_LAYERS[name]()
    layer(tf.ones((2, 4, 5)))  # build
    states0 = _states0(name, 2)
    empty = tf.zeros((2, 0, 5))
    _check_empty_result(layer(empty, initial_state=states0), states0, 2, name == "bi")
    mask = tf.zeros((2, 0), tf.bool)
    _check_empty_result(layer(empty, initial_state=states0, mask=mask), states0, 2,
                        name == "bi")

    @tf.function(input_signature=[tf.TensorSpec([None, None, 5]),
                                  tf.TensorSpec([None, None], tf.bool)])
    def dynamic(x, m):
        return layer(x, initial_state=states0, mask=m)

    _check_empty_result(dynamic(empty, mask), states0, 2, name == "bi")
    # The dynamic-time graph still gives the normal result for T > 0.
    x = tf.constant(np.random.default_rng(1).normal(size=(2, 4, 5)).astype("float32"))
    m = tf.constant([[True] * 4, [True, True, False, False]])
    for got, want in zip(dynamic(x, m), layer(x, initial_state=states0, mask=m)):
        assert_close(got, want, atol=1e-6)


@pytest.mark.parametrize("layer_cls", [LSTMX, GRUX])
def test_zero_length_last_output_is_zeros_and_gradients_flow(layer_cls):
    emb = keras.layers.Embedding(9, 4, mask_zero=True)
    layer = layer_cls(3)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def step(ids):
        with tf.GradientTape() as tape:
            y = layer(emb(ids), mask=emb.compute_mask(ids))
            loss = tf.reduce_sum(tf.square(y - 1.0))
        return y, tape.gradient(loss, layer.trainable_variables)

    y, grads = step(tf.zeros((2, 0), tf.int32))  # a batch of empty texts
    np.testing.assert_array_equal(y.numpy(), np.zeros((2, 3), "float32"))
    assert all(np.all(g.numpy() == 0) for g in grads)
    y, grads = step(tf.constant([[1, 2, 0], [3, 0, 0]]))
    assert y.shape == (2, 3) and any(np.any(g.numpy() != 0) for g in grads)


def test_zero_length_under_jit_compile():
    layer = GRUX(3, return_sequences=True)
    f = tf.function(lambda x: layer(x), jit_compile=True)
    assert tuple(f(tf.zeros((2, 0, 4))).shape) == (2, 0, 3)
    x = tf.ones((2, 5, 4))
    assert_close(f(x), layer(x), atol=1e-5)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("name", sorted(ZERO_LENGTH_LAYERS))
def test_dynamic_length_gradients_under_jit_compile(name, masked):
    """A train step traced for XLA with the time dimension unknown (what
    `fit(jit_compile=True)` does with a text pipeline): XLA cannot
    differentiate a cond on the length (FakeParam of DT_VARIANT), so there
    the layer runs one extra masked step instead. Outputs, states and
    gradients equal the eager ones, and T = 0 gives the empty result."""
    layer = ZERO_LENGTH_LAYERS[name]()
    layer(tf.ones((2, 4, 5)))
    states0 = _states0(name, 2)

    def step(x, m):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, initial_state=states0, mask=m if masked else None)
            loss = sum(tf.reduce_sum(o * (i + 1.5)) for i, o in enumerate(out))
        return list(out) + tape.gradient(loss, [x] + layer.trainable_weights)

    xla = tf.function(step, jit_compile=True, input_signature=[
        tf.TensorSpec([None, None, 5]), tf.TensorSpec([None, None], tf.bool)])
    x = tf.constant(np.random.default_rng(2).normal(size=(2, 4, 5)).astype("float32"))
    m = tf.constant([[True] * 4, [True, True, False, False]])
    for got, want in zip(xla(x, m), step(x, m)):
        assert_close(got, want, atol=1e-5)
    empty = xla(tf.zeros((2, 0, 5)), tf.zeros((2, 0), tf.bool))
    n_out = 1 + len(states0)
    _check_empty_result(empty[:n_out], states0, 2, name == "bi")
    for grad in empty[n_out + 1:]:  # no step ran: nothing reaches the weights
        assert_close(grad, np.zeros(grad.shape), 1e-12)


@pytest.mark.parametrize("layer_cls", [LSTMX, GRUX])
def test_fit_jit_compile_on_dynamic_length_batches(layer_cls):
    """`fit(jit_compile=True)` on batches of unknown length, masked and not,
    trains to the weights that plain `fit` gives (it raised InvalidArgument
    from XLA before; on a GPU Keras picks XLA by itself)."""
    rng = np.random.default_rng(10)
    tokens = rng.integers(1, 30, size=(16, 7))
    for row, length in enumerate(rng.integers(1, 8, size=16)):
        tokens[row, length:] = 0
    labels = rng.integers(0, 2, size=(16,))
    for mask_zero in (True, False):
        weights = []
        for jit in (False, True):
            keras.utils.set_random_seed(5)
            inputs = keras.Input((None,), dtype="int32")
            x = keras.layers.Embedding(30, 6, mask_zero=mask_zero)(inputs)
            x = layer_cls(8, recurrent_dropout=0.0)(x)
            net = keras.Model(inputs, keras.layers.Dense(2)(x))
            net.compile(keras.optimizers.SGD(0.5), jit_compile=jit,
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            net.fit(_dynamic_length_batches(tokens, labels, 8), epochs=2,
                    shuffle=False, verbose=0)
            weights.append(net.get_weights())
        for a, b in zip(*weights):
            assert_close(a, b, 1e-5, f"mask_zero={mask_zero}")


def test_recurrent_dropout_under_jit_compile_with_dynamic_length():
    layer = LSTMX(3, return_sequences=True, recurrent_dropout=0.5, seed=1)
    f = tf.function(lambda x: layer(x, training=True), jit_compile=True,
                    input_signature=[tf.TensorSpec([None, None, 4])])
    assert tuple(f(tf.ones((2, 5, 4))).shape) == (2, 5, 3)
    assert tuple(f(tf.zeros((2, 0, 4))).shape) == (2, 0, 3)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("training", [None, False])
def test_hoisted_projection_equals_per_step_projection(kind, training):
    """The GPU layout (x @ W for all steps before the loop) and the CPU one
    (x[t] @ W inside the loop) give the same outputs and gradients, for the
    hand-written backward pass (training=None) and the lean loop (False)."""
    x, h0, c0, k, u, b = kind_weights(kind, seed=7)

    def run(hoist):
        with kernels.schedule(hoist_projection=hoist):
            assert loop.hoist_projection() is hoist  # the schedule is in force
            with tf.GradientTape() as tape:
                tape.watch([x, h0, k, u, b])
                last, outs, states = run_kernel(kind, x, h0, c0, k, u, b, mask=IRREGULAR,
                                                training=training)
                loss = (tf.reduce_sum(outs ** 2) + tf.reduce_sum(last)
                        + tf.reduce_sum(states[-1]))
            return [outs, last] + tape.gradient(loss, [x, h0, k, u, b])

    per_step, hoisted = run(False), run(True)
    for a, c in zip(per_step, hoisted):
        assert_close(a, c, 1e-12)


@pytest.mark.parametrize("layer_cls", [LSTMX, GRUX])
def test_cudnn_dispatch_calls_keras_cudnn_kernel_and_falls_back(monkeypatch, layer_cls):
    """On a CPU-only machine, pretend a GPU is there: the layer must reach
    Keras' own `keras.src.backend.tensorflow.rnn.lstm/gru` with its weights
    (a GPU run once found it calling a wrong object there), and when Keras
    says no (NotImplementedError: Keras itself sees no GPU) fall back to
    the default kernel with the same result. Masked batches go there too,
    forwards (the layer reverses and compacts them itself)."""
    import importlib


    tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
    name = "lstm" if layer_cls is LSTMX else "gru"
    seen = []
    original = getattr(tf_rnn, name)

    def spy(inputs, *args, **kwargs):
        seen.append((tuple(inputs.shape), kwargs["go_backwards"], kwargs["return_sequences"]))
        return original(inputs, *args, **kwargs)

    x = np.random.default_rng(3).normal(size=(B, T, D)).astype("float32")
    layer = layer_cls(H, return_sequences=True, go_backwards=True)
    expected = np.asarray(layer(x))
    expected_masked = np.asarray(layer(x, mask=IRREGULAR))
    with kernels.schedule(gpu=True):  # pretend a GPU is there
        monkeypatch.setattr(tf_rnn, name, spy)
        assert_close(layer(x), expected, 1e-6)
        assert seen == [((B, T, D), True, True)]
        assert_close(layer(x, mask=IRREGULAR), expected_masked, 1e-6)
        assert seen == [((B, T, D), True, True), ((B, T, D), False, True)]


def test_cudnn_is_not_tried_under_jit_compile(monkeypatch):
    """cuDNN's RNN ops don't compile with XLA (a GPU run found
    `jit_compile=True` failing on CudnnRNNV3): when tracing for XLA the layer
    takes the default kernel even where a GPU is there."""
    import importlib

    tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
    seen = []
    with kernels.schedule(gpu=True):  # pretend a GPU is there
        monkeypatch.setattr(tf_rnn, "lstm", lambda *a, **k: seen.append(1) or (_ for _ in ()).throw(NotImplementedError()))
        layer = LSTMX(H, return_sequences=True)
        x = tf.constant(np.random.default_rng(4).normal(size=(B, T, D)), tf.float32)
        expected = layer(x)
        assert len(seen) == 1  # eager: cuDNN is tried (and declines here)
        assert kernels.in_xla_context() is False
        assert_close(tf.function(layer, jit_compile=True)(x), expected, 1e-5)
        assert len(seen) == 1  # traced for XLA: not tried
        assert_close(tf.function(layer)(x), expected, 1e-6)
        assert len(seen) == 2  # plain tf.function: tried again


def _outputs_and_grads(layer, x, mask):
    """The outputs of `layer(x, mask=mask)` and the gradients of a fixed
    weighted sum of them w.r.t. `x` and the layer's trainable weights."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        outs = layer(x, mask=tf.convert_to_tensor(mask))
        loss = sum(tf.reduce_sum(o * (i + 1.5)) for i, o in enumerate(outs))
    return list(outs) + tape.gradient(loss, [x] + layer.trainable_weights)


def _fake_keras_cudnn(kind):
    """Keras' cuDNN kernel's contract, emulated on a CPU: a mask must be
    right-padded without empty rows (Keras' assertion); with one, the last
    output is the final h, and what cuDNN gives at padded steps is taken as
    undefined: NaN outputs there, and NaN as the input gradient there (an
    H200 returned 1e164 in float64), so a layer that let either through
    fails the comparisons."""
    import importlib

    tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")

    def fake(inputs, *args, **kw):
        if kind == "lstm":
            h0, c0, mask = args
            states = [h0, c0]
            run = kernels.default_lstm_sequence
        else:
            h0, mask = args
            states = [h0]
            run = kernels.default_gru_sequence
            kw.pop("reset_after")
        kw.pop("unroll")
        if mask is not None:  # Keras' own check: right-padded, no empty row
            tf_rnn._assert_valid_mask(mask)
            real = tf.cast(mask, tf.bool)[:, :, None]

            @tf.custom_gradient
            def undefined_gradient_past_length(x):
                def grad(dy):
                    return tf.where(real, dy, tf.fill(tf.shape(dy), tf.constant(np.nan, dy.dtype)))
                return tf.identity(x), grad

            inputs = undefined_gradient_past_length(inputs)
        return_sequences = kw.pop("return_sequences")
        last, outs, final = run(inputs, states, mask=mask, return_sequences=True, **kw)
        if mask is not None:
            last = final[0]
            if not kw["go_backwards"]:
                outs = tf.where(real, outs, tf.fill(tf.shape(outs), tf.constant(np.nan, outs.dtype)))
        if not return_sequences:
            outs = last[:, None]
        return last, outs, final
    return fake


@pytest.mark.parametrize("layer_cls", [LSTMX, GRUX])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_masked_cudnn_branch_keeps_keras_cpu_semantics(monkeypatch, layer_cls, go_backwards,
                                                       return_sequences):
    """On a GPU every masked batch goes to cuDNN, its rows compacted to a
    mask cuDNN takes. With Keras' cuDNN contract emulated, outputs and
    states equal the default kernel's for right-padded, irregular and
    empty-row masks, both directions, at inference and in training, and so
    do the gradients."""
    import importlib


    tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
    kind = "lstm" if layer_cls is LSTMX else "gru"
    x = tf.constant(np.random.default_rng(5).normal(size=(B, T, D)), tf.float32)
    kw = dict(return_sequences=return_sequences, return_state=True, go_backwards=go_backwards)
    plain = layer_cls(H, use_cudnn=False, **kw)
    gpu = layer_cls(H, **kw)
    plain(x)
    gpu(x)
    gpu.set_weights(plain.get_weights())
    masks = {"right": FULL_ROWS, "empty row": RIGHT_PADDED, "irregular": IRREGULAR}

    def grads(layer, mask):
        return _outputs_and_grads(layer, x, mask)

    expected = {k: [plain(x, mask=m), grads(plain, m)] for k, m in masks.items()}
    calls = []
    fake = _fake_keras_cudnn(kind)
    with kernels.schedule(gpu=True):  # pretend a GPU is there
        monkeypatch.setattr(tf_rnn, kind, lambda *a, **k: calls.append(1) or fake(*a, **k))
        infer = tf.function(lambda m: gpu(x, mask=m))
        for name, m in masks.items():
            assert_close(gpu(x, mask=m), expected[name][0], 1e-5, name)
            assert_close(infer(tf.constant(m)), expected[name][0], 1e-5, name)
        assert calls  # inference reached the cuDNN branch
        before = len(calls)
        for name, m in masks.items():
            assert_close(grads(gpu, m), expected[name][1], 1e-5, name)
        assert len(calls) > before  # differentiated batches reach cuDNN too


def _dynamic_length_batches(tokens, labels, batch_size):
    """What `fit` gets from a text pipeline: batches whose time dimension is
    unknown when the train step is traced."""
    def batches():
        for i in range(0, len(tokens), batch_size):
            yield tokens[i:i + batch_size], labels[i:i + batch_size]
    data = tf.data.Dataset.from_generator(batches, output_signature=(
        tf.TensorSpec((None, None), tf.int64), tf.TensorSpec((None,), tf.int64)))
    return data.apply(tf.data.experimental.assert_cardinality(-(-len(tokens) // batch_size)))


@pytest.mark.parametrize("layer_cls", [LSTMX, GRUX])
def test_masked_cudnn_fit_with_dynamic_length(monkeypatch, layer_cls):
    """What `fit` does with `Embedding(mask_zero=True)` on `Input((None,))`:
    a traced train step whose time dimension may be dynamic. With a
    (pretend) GPU every batch, empty rows included, runs cuDNN under the one
    cond on the length; training gives the weights that the default kernel
    gives, and batches of length 0 still give the empty result."""
    import importlib


    tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
    kind = "lstm" if layer_cls is LSTMX else "gru"
    rng = np.random.default_rng(8)
    tokens = rng.integers(1, 20, size=(8, 6))
    for row, length in enumerate([6, 5, 3, 1, 6, 2, 4, 0]):
        tokens[row, length:] = 0  # right-padded; one empty row
    labels = rng.integers(0, 2, size=(8,))

    def model():
        keras.utils.set_random_seed(3)
        inputs = keras.Input((None,), dtype="int32")
        x = keras.layers.Embedding(20, 6, mask_zero=True)(inputs)
        x = layer_cls(5)(x)
        return keras.Model(inputs, keras.layers.Dense(2)(x))

    def trained(net):
        net.compile(keras.optimizers.SGD(0.5),
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        # the second batch has an empty row
        net.fit(_dynamic_length_batches(tokens, labels, 4), epochs=2, shuffle=False, verbose=0)
        return net.get_weights()

    expected = trained(model())
    calls = []
    fake = _fake_keras_cudnn(kind)
    with kernels.schedule(gpu=True):  # pretend a GPU is there
        monkeypatch.setattr(tf_rnn, kind, lambda *a, **k: calls.append(1) or fake(*a, **k))
        got = trained(model())
        assert calls
        for a, b in zip(got, expected):
            assert_close(a, b, 1e-5)
        layer = layer_cls(5, return_sequences=True, return_state=True)
        step = tf.function(lambda x, m: layer(x, mask=m),
                           input_signature=[tf.TensorSpec((None, None, 3)),
                                            tf.TensorSpec((None, None), tf.bool)])
        out = step(tf.zeros((2, 0, 3)), tf.zeros((2, 0), tf.bool))
        assert out[0].shape == (2, 0, 5)
        for state in out[1:]:
            assert_close(state, np.zeros((2, 5)), 1e-12)


@pytest.mark.gpu
@pytest.mark.skipif(not has_gpu(), reason="needs a GPU")
@pytest.mark.parametrize("layer_cls", [LSTMX, GRUX])
def test_gpu_masked_fit_with_dynamic_length_uses_cudnn(monkeypatch, layer_cls):
    """The real thing on a GPU: `fit` with `Embedding(mask_zero=True)` on
    `Input((None,))` differentiates Keras' cuDNN kernel inside the layer's
    one cond (on the length), and trains to the weights of the default
    kernel, with `use_cudnn` "auto" and True."""
    import importlib

    tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
    kind = "lstm" if layer_cls is LSTMX else "gru"
    original, calls = getattr(tf_rnn, kind), []
    rng = np.random.default_rng(9)
    tokens = rng.integers(1, 50, size=(64, 12))
    for row, length in enumerate(rng.integers(1, 13, size=64)):
        tokens[row, length:] = 0
    labels = rng.integers(0, 2, size=(64,))

    def trained(use_cudnn):
        keras.utils.set_random_seed(4)
        inputs = keras.Input((None,), dtype="int32")
        x = keras.layers.Embedding(50, 8, mask_zero=True)(inputs)
        x = layer_cls(16, use_cudnn=use_cudnn)(x)
        net = keras.Model(inputs, keras.layers.Dense(2)(x))
        net.compile(keras.optimizers.SGD(0.1),
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        net.fit(_dynamic_length_batches(tokens, labels, 16), epochs=2, shuffle=False, verbose=0)
        return net.get_weights()

    expected = trained(False)
    monkeypatch.setattr(tf_rnn, kind, lambda *a, **k: calls.append(1) or original(*a, **k))
    for use_cudnn in ("auto", True):
        calls.clear()
        got = trained(use_cudnn)
        assert calls
        for a, b in zip(got, expected):
            assert_close(a, b, 1e-4, f"use_cudnn={use_cudnn!r}")


def test_use_cudnn_true_rejects_a_configuration_cudnn_cannot_run(monkeypatch):

    with kernels.schedule(gpu=True):  # pretend a GPU is there
        x = np.zeros((2, 3, 4), "float32")
        with pytest.raises(ValueError, match="use_cudnn=True"):
            LSTMX(3, activation="relu", use_cudnn=True)(x)
        GRUX(3, activation="relu", use_cudnn="auto")(x)  # auto: default kernel


@pytest.mark.parametrize("layer_cls", [LSTMX, GRUX])
def test_masked_cudnn_has_no_data_dependent_branch(monkeypatch, layer_cls):
    """Every masked batch goes to cuDNN with no cond on the data (a per-batch
    check cost a GPU train step a host round trip and a cond, ~25%): the
    traced train step has no If/Case op, each batch calls Keras' kernel once
    with a mask that passes Keras' assertion, and results and gradients
    equal the default kernel's for right-padded, empty-row and irregular
    masks, with use_cudnn "auto" and True."""
    import importlib


    tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
    kind = "lstm" if layer_cls is LSTMX else "gru"
    x = tf.constant(np.random.default_rng(11).normal(size=(B, T, D)), tf.float32)
    masks = [FULL_ROWS, RIGHT_PADDED, IRREGULAR]
    plain = layer_cls(H, return_sequences=True, return_state=True, use_cudnn=False)
    plain(x)

    def grads(layer, mask):
        return _outputs_and_grads(layer, x, mask)

    expected = [grads(plain, tf.constant(m)) for m in masks]
    calls = []
    fake = _fake_keras_cudnn(kind)
    with kernels.schedule(gpu=True):  # pretend a GPU is there
        monkeypatch.setattr(tf_rnn, kind, lambda *a, **k: calls.append(1) or fake(*a, **k))
        for use_cudnn in ("auto", True):
            layer = layer_cls(H, return_sequences=True, return_state=True, use_cudnn=use_cudnn)
            layer(x)
            layer.set_weights(plain.get_weights())
            step = tf.function(lambda m: grads(layer, m))
            graph = step.get_concrete_function(tf.constant(FULL_ROWS)).graph
            assert not {op.type for op in graph.get_operations()} & {
                "If", "StatelessIf", "Case", "StatelessCase"}
            calls.clear()
            for m, want in zip(masks, expected):
                assert_close(step(tf.constant(m)), want, 1e-5, f"use_cudnn={use_cudnn!r}")
            assert calls == []  # traced once above: the calls happened at trace time
            eager_calls = len(calls)
            for m, want in zip(masks, expected):
                assert_close(grads(layer, tf.constant(m)), want, 1e-5, f"eager {use_cudnn!r}")
            assert len(calls) == eager_calls + len(masks)  # one cuDNN call per batch


def _while_loops(concrete):
    """The number of while loops in a traced function's graph."""
    return sum(op.type in ("While", "StatelessWhile") for op in concrete.graph.get_operations())


@pytest.mark.parametrize("kind", KINDS)
def test_row_groups_equal_one_batch(kind):
    """On a CPU a traced batch runs as two independent row groups (two
    recurrences on two cores; their weight gradients as one product after
    the loop). Outputs, states and every gradient equal the whole batch's
    in float64, with masks, both directions, training and inference, and
    for a dynamic batch of one row (an empty group)."""
    x, h0, c0, k, u, b = kind_weights(kind, seed=12)

    def results(x, h0, c0, mask, go_backwards, training):
        with tf.GradientTape() as tape:
            tape.watch([x, h0, c0, k, u, b])
            last, outs, states = run_kernel(kind, x, h0, c0, k, u, b, mask=mask,
                                            go_backwards=go_backwards, training=training)
            loss = (tf.reduce_sum(outs * outs) + tf.reduce_sum(last)
                    + sum(tf.reduce_sum(s * (i + 2.0)) for i, s in enumerate(states)))
        grads = tape.gradient(loss, [x, h0, c0, k, u, b])
        return [last, outs] + list(states) + [g for g in grads if g is not None]

    spec = [tf.TensorSpec([None, T, D], tf.float64), tf.TensorSpec([None, H], tf.float64),
            tf.TensorSpec([None, H], tf.float64), tf.TensorSpec([None, T], tf.bool)]
    # the groups are a CPU schedule; here they are forced on any machine
    # (on a GPU machine they then run on the GPU, which tests the same sums)
    cpu = dict(gpu=False, parallel_cpu=True, min_group_work=0)  # tiny H here
    with kernels.schedule(**cpu):
        for go_backwards in (False, True):
            for training in (None, False):
                def f(x, h0, c0, mask):
                    return results(x, h0, c0, mask, go_backwards, training)
                with kernels.schedule(row_groups=1):
                    whole = tf.function(f, input_signature=spec).get_concrete_function()
                with kernels.schedule(row_groups=2):
                    grouped = tf.function(f, input_signature=spec).get_concrete_function()
                # two groups are two recurrences: twice the loops (forward
                # and backward) in the traced graph
                assert _while_loops(grouped) == 2 * _while_loops(whole) > 0
                for mask in (IRREGULAR, RIGHT_PADDED, np.ones((B, T), bool)):
                    m = tf.constant(mask)
                    assert_close(grouped(x, h0, c0, m), whole(x, h0, c0, m), 1e-10,
                                 f"go_backwards={go_backwards} training={training}")
                one = [x[:1], h0[:1], c0[:1], tf.constant(IRREGULAR[:1])]
                assert_close(grouped(*one), whole(*one), 1e-10, "one row")
        # eager calls run whole
        assert not loop._splits_rows(x, u)


@pytest.mark.parametrize("rows, units, gates, splits", [
    (16, 64, 3, False),   # 8 x 64 x 192 = 98K multiply-adds per group step
    (16, 64, 4, False),
    (64, 64, 3, True),    # 32 x 64 x 192 = 393K
    (16, 256, 3, True),
    (14, 256, 4, False),  # fewer than 2 x Schedule.min_group_rows rows
    (None, 64, 3, False),  # unknown batch: groups of 16 rows assumed (196K)
    (None, 64, 4, True),   # 262K
    (None, 256, 3, True),
])
def test_row_groups_only_when_each_group_has_enough_work(rows, units,
                                                         gates, splits):
    """Small recurrences run as one loop: below ~300K multiply-adds per
    group step a second loop costs more than the second core gives."""
    u = tf.zeros([units, gates * units])
    seen = []

    @tf.function(input_signature=[tf.TensorSpec([rows, 5, 3])])
    def f(x):
        seen.append(loop._splits_rows(x, u))
        return x

    with kernels.schedule(gpu=False, parallel_cpu=True):
        f.get_concrete_function()
        assert seen == [splits]
        assert not loop._splits_rows(tf.zeros([64, 5, 3]), u)  # eager: never


@pytest.mark.parametrize("unroll", [1, 3, 4])
def test_loop_visits_every_step_once_in_order(unroll):
    """`_loop` runs `Schedule.unroll` steps per while iteration and the remainder
    one by one: every t in 0..n-1 (or n-1..0) exactly once, in order, for
    n known when tracing or not, including 0 and n below, at and above
    multiples of the unroll."""
    def visits(n, reverse):
        def body(t, count, order):
            return count + 1, order.write(count, t)

        with kernels.schedule(unroll=unroll):
            count, order = loop._loop(
                n, body, (tf.constant(0), tf.TensorArray(tf.int32, size=n)), reverse=reverse)
        return count, order.stack()

    for reverse in (False, True):
        dynamic = tf.function(lambda n, reverse=reverse: visits(n, reverse),
                              input_signature=[tf.TensorSpec([], tf.int32)])
        for n in range(0, 10):
            expected = list(range(n))[::-1] if reverse else list(range(n))
            for count, order in (visits(n, reverse), dynamic(tf.constant(n))):
                assert int(count) == n
                assert order.numpy().tolist() == expected, (n, reverse, unroll)


@pytest.mark.parametrize("kind", KINDS)
def test_unrolled_kernels_equal_one_step_per_iteration(kind):
    """The fast kernels give the same outputs and gradients (float64) with
    4 steps per loop iteration as with 1, over a length that leaves a
    remainder, with a mask and in both directions."""
    t = 11
    x, h0, c0, k, u, b = kind_weights(kind, seed=3, t=t)
    mask = tf.constant(np.arange(t)[None, :] < np.array([t, 7, 1, 4])[:, None])

    def results(go_backwards):
        with tf.GradientTape() as tape:
            tape.watch([x, h0, c0, k, u, b])
            last, outs, states = run_kernel(kind, x, h0, c0, k, u, b, mask=mask,
                                            go_backwards=go_backwards)
            loss = tf.reduce_sum(outs * outs) + sum(tf.reduce_sum(s) for s in states)
        grads = tape.gradient(loss, [x, h0, c0, k, u, b])
        return [last, outs] + list(states) + [g for g in grads if g is not None]

    for go_backwards in (False, True):
        with kernels.schedule(unroll=1):
            one = tf.function(results)(go_backwards)
        with kernels.schedule(unroll=4):
            four = tf.function(results)(go_backwards)
        assert len(one) == len(four)
        assert_close(four, one, 1e-12, f"go_backwards={go_backwards}")


def _np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.mark.parametrize("variant,reset_after", [
    ("full", True), ("full", False), ("simplified", True)])
def test_gru_step_against_numpy_with_dropped_recurrent_input(variant, reset_after):
    """`gru_step` takes the state entering the recurrent products (`h`,
    dropped by recurrent dropout in a cell) apart from the state the update
    interpolates from (`h_prev`), as Keras' GRUCell does."""
    rng = np.random.default_rng(21)
    gates = 2 if variant == "simplified" else 3
    xp = rng.normal(size=(B, gates * H))
    h_in, h_prev = rng.normal(size=(B, H)), rng.normal(size=(B, H))
    u = rng.normal(size=(H, gates * H)) * 0.5
    b_rec = rng.normal(size=(gates * H,)) if variant == "full" and reset_after else None
    got = kernels.gru_step(tf.constant(xp), tf.constant(h_in), tf.constant(u),
                           None if b_rec is None else tf.constant(b_rec),
                           tf.tanh, tf.sigmoid, reset_after=reset_after,
                           variant=variant, h_prev=tf.constant(h_prev))
    if variant == "simplified":
        a = xp + h_in @ u
        g = _np_sigmoid(a[:, :H])
        want = g * np.tanh(a[:, H:]) + (1 - g) * h_prev
    else:
        if reset_after:
            rec = h_in @ u + b_rec
            z = _np_sigmoid(xp[:, :H] + rec[:, :H])
            r = _np_sigmoid(xp[:, H:2 * H] + rec[:, H:2 * H])
            hh = np.tanh(xp[:, 2 * H:] + r * rec[:, 2 * H:])
        else:
            z = _np_sigmoid(xp[:, :H] + h_in @ u[:, :H])
            r = _np_sigmoid(xp[:, H:2 * H] + h_in @ u[:, H:2 * H])
            hh = np.tanh(xp[:, 2 * H:] + (r * h_in) @ u[:, 2 * H:])
        want = z * h_prev + (1 - z) * hh
    assert_close(got.h, want, 1e-12)
    if variant == "full" and not reset_after:  # U pre-split gives the same
        split = kernels.gru_step(tf.constant(xp), tf.constant(h_in),
                                 (tf.constant(u[:, :2 * H]), tf.constant(u[:, 2 * H:])),
                                 None, tf.tanh, tf.sigmoid, reset_after=False,
                                 h_prev=tf.constant(h_prev))
        assert_close(split.h, want, 1e-12)


def test_lstm_step_gate_orders_agree_with_numpy():
    rng = np.random.default_rng(22)
    xp, h, c = rng.normal(size=(B, 4 * H)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    u = rng.normal(size=(H, 4 * H)) * 0.5
    z = xp + h @ u
    i, f, o = (_np_sigmoid(z[:, k * H:(k + 1) * H]) for k in (0, 1, 3))
    c_want = f * c + i * np.tanh(z[:, 2 * H:3 * H])
    h_want = o * np.tanh(c_want)
    s = kernels.lstm_step(tf.constant(xp), tf.constant(h), tf.constant(c), tf.constant(u),
                          tf.tanh, tf.sigmoid)
    assert_close([s.h, s.c, s.i, s.f, s.o], [h_want, c_want, i, f, o], 1e-12)

    def ifoc(w):
        return np.concatenate([w[..., :2 * H], w[..., 3 * H:], w[..., 2 * H:3 * H]], -1)

    s2 = kernels.lstm_step(tf.constant(ifoc(xp)), tf.constant(h), tf.constant(c),
                           tf.constant(ifoc(u)), tf.tanh, tf.sigmoid, gate_order="ifoc")
    assert_close([s2.h, s2.c], [h_want, c_want], 1e-12)
    with pytest.raises(ValueError, match="gate_order"):
        kernels.lstm_step(tf.constant(xp), tf.constant(h), tf.constant(c), tf.constant(u),
                          gate_order="cfio")


def test_schedule_is_one_documented_object_set_per_block():
    default = kernels.current_schedule()
    assert default == kernels.Schedule()
    assert (default.unroll, default.row_groups) == (4, 2)
    with kernels.schedule(unroll=1, gpu=True) as inner:
        assert kernels.current_schedule() is inner
        assert inner.unroll == 1 and kernels.gpu_available() is True
        with kernels.schedule(row_groups=1):
            assert kernels.current_schedule().unroll == 1  # nested: fields kept
            assert kernels.current_schedule().row_groups == 1
        assert kernels.current_schedule().row_groups == 2
    assert kernels.current_schedule() == default  # restored
    with pytest.raises(ValueError, match="unroll"):
        kernels.Schedule(unroll=0)
    with pytest.raises(TypeError):
        with kernels.schedule(no_such_field=1):
            pass
    with pytest.raises(Exception):
        default.unroll = 2  # frozen


def test_registered_kernels_are_looked_up_publicly():
    def fake(*args, **kw):
        raise AssertionError("not called")

    kernels.register_lowering("test_lookup", gru=fake)
    assert kernels.registered_kernel("test_lookup", "gru") is fake
    assert kernels.registered_kernel("test_lookup", "lstm") is None
    assert kernels.registered_kernel("no_such_lowering", "gru") is None
    assert kernels.default_kernel("lstm") is kernels.default_lstm_sequence
    with pytest.raises(ValueError, match="kind"):
        kernels.run_sequence("rnn", None, [], None, None, None)


def test_use_cudnn_true_rejects_a_layer_configuration_cudnn_cannot_run():
    """unroll=True or recurrent dropout rule cuDNN out in the layer
    (`cudnn_allowed=False` to the dispatch): "auto" runs the default
    kernel, True is an error where a GPU is there."""
    x = np.zeros((2, 3, 4), "float32")
    with kernels.schedule(gpu=True):  # pretend a GPU is there
        for kw in (dict(unroll=True), dict(recurrent_dropout=0.5)):
            with pytest.raises(ValueError, match="use_cudnn=True"):
                LSTMX(3, use_cudnn=True, **kw)(x)
            GRUX(3, use_cudnn="auto", **kw)(x)
    LSTMX(3, use_cudnn=True, unroll=True)(x)  # no GPU: the default kernel
