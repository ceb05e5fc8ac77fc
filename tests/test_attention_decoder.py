"""AttentionDecoderCell / AttentionDecoder: step mode == whole-sequence mode,
and both against a NumPy float64 reference of the recurrence."""
import os

import numpy as np
import pytest

import keras

from keras_rnnx import (
    AttentionDecoder,
    AttentionDecoderCell,
    BahdanauAttention,
    GRUCellX,
    LSTMCellX,
)

B, TT, TS, D, HV, H, U = 3, 5, 6, 4, 7, 8, 6
SOURCE_MASK = np.array([[1] * 6, [1] * 3 + [0] * 3, [1] + [0] * 5], bool)


def make(cell_kind, unroll=False, return_state=False):
    cell = LSTMCellX(H) if cell_kind == "lstm" else GRUCellX(H)
    return AttentionDecoder(
        AttentionDecoderCell(cell, BahdanauAttention(U)),
        unroll=unroll, return_state=return_state,
    )


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, TT, D)).astype("float32")
    values = rng.normal(size=(B, TS, HV)).astype("float32")
    return x, values


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_decoder(x, values, mask, cell_kind, w):
    """Float64 reference: Bahdanau attention with the previous h as query,
    context fed into a Keras-layout LSTM/GRU cell, output [h, context]."""
    x, values = x.astype(np.float64), values.astype(np.float64)
    keys = values @ w["key_kernel"] + w["bias_att"]
    h = np.zeros((B, H))
    c = np.zeros((B, H))
    outs, alphas = [], []
    for t in range(TT):
        e = np.tanh((h @ w["query_kernel"])[:, None, :] + keys) @ w["energy"]
        e = np.where(mask, e, -np.inf)
        a = np.exp(e - e.max(-1, keepdims=True))
        a = a / a.sum(-1, keepdims=True)
        ctx = np.einsum("bt,bth->bh", a, values)
        inp = np.concatenate([x[:, t], ctx], -1)
        if cell_kind == "lstm":
            z = inp @ w["kernel"] + h @ w["recurrent_kernel"] + w["bias"]
            i, f, g, o = np.split(z, 4, axis=-1)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
        else:  # GRU, reset_after=True, gate order z, r, h
            xz = inp @ w["kernel"] + w["bias"][0]
            hz = h @ w["recurrent_kernel"] + w["bias"][1]
            xz_, xr_, xh_ = np.split(xz, 3, -1)
            hz_, hr_, hh_ = np.split(hz, 3, -1)
            z = sigmoid(xz_ + hz_)
            r = sigmoid(xr_ + hr_)
            hh = np.tanh(xh_ + r * hh_)
            h = z * h + (1 - z) * hh
        outs.append(np.concatenate([h, ctx], -1))
        alphas.append(a)
    return np.stack(outs, 1), np.stack(alphas, 1)


@pytest.mark.parametrize("cell_kind", ["lstm", "gru"])
def test_whole_sequence_matches_numpy_float64(cell_kind):
    x, values = data()
    decoder = make(cell_kind)
    outputs, weights = decoder(x, values, values_mask=SOURCE_MASK)
    cell = decoder.cell
    w = {
        "kernel": cell.cell.kernel.numpy(),
        "recurrent_kernel": cell.cell.recurrent_kernel.numpy(),
        "bias": cell.cell.bias.numpy(),
        "query_kernel": cell.attention.query_kernel.numpy(),
        "key_kernel": cell.attention.key_kernel.numpy(),
        "bias_att": cell.attention.bias.numpy(),
        "energy": cell.attention.energy.numpy(),
    }
    # non-trivial attention bias so it is exercised
    w["bias_att"] = np.linspace(-0.5, 0.5, U).astype("float32")
    cell.attention.bias.assign(w["bias_att"])
    outputs, weights = decoder(x, values, values_mask=SOURCE_MASK)
    w = {k: v.astype(np.float64) for k, v in w.items()}
    ref_out, ref_w = numpy_decoder(x, values, SOURCE_MASK[:, None, :][:, 0], cell_kind, w)
    np.testing.assert_allclose(outputs.numpy(), ref_out, atol=2e-5)
    np.testing.assert_allclose(weights.numpy(), ref_w, atol=2e-5)
    assert np.all(weights.numpy()[~np.broadcast_to(SOURCE_MASK[:, None], weights.shape)] == 0)


@pytest.mark.parametrize("cell_kind", ["lstm", "gru"])
@pytest.mark.parametrize("unroll", [False, True])
def test_step_mode_equals_whole_sequence(cell_kind, unroll):
    x, values = data(1)
    rng = np.random.default_rng(5)
    initial = [rng.normal(size=(B, H)).astype("float32") for _ in range(2 if cell_kind == "lstm" else 1)]
    decoder = make(cell_kind, unroll=unroll, return_state=True)
    outputs, weights, *final = decoder(x, values, initial_state=initial, values_mask=SOURCE_MASK)
    cell = decoder.cell
    state = cell.get_initial_state(values, SOURCE_MASK, initial)
    step_out, step_w = [], []
    for t in range(TT):
        (out, w), state = cell(x[:, t], state)
        step_out.append(out.numpy())
        step_w.append(w.numpy())
    np.testing.assert_allclose(outputs.numpy(), np.stack(step_out, 1), atol=1e-6)
    np.testing.assert_allclose(weights.numpy(), np.stack(step_w, 1), atol=1e-6)
    for a, b in zip(final, state["cell"]):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def test_target_mask_holds_state_and_zeroes_outputs():
    x, values = data(2)
    decoder = make("lstm", return_state=True)
    tmask = np.array([[1] * 5, [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], bool)
    outputs, weights, h, c = decoder(x, values, mask=tmask)
    assert np.all(outputs.numpy()[~tmask] == 0) and np.all(weights.numpy()[~tmask] == 0)
    # row 1 alone, truncated to its 3 steps, gives the same final state
    short = make("lstm", return_state=True)
    short.build(x.shape, values.shape)
    short.set_weights(decoder.get_weights())
    _, _, h1, c1 = short(x[1:2, :3], values[1:2])
    np.testing.assert_allclose(h.numpy()[1:2], h1.numpy(), atol=1e-6)
    np.testing.assert_allclose(c.numpy()[1:2], c1.numpy(), atol=1e-6)


def test_jit_fit_and_saving(tmp_path):
    rng = np.random.default_rng(3)
    tgt = keras.Input((TT, D))
    src = keras.Input((TS,), dtype="int32")
    values = keras.layers.Embedding(20, HV, mask_zero=True)(src)
    out, w = make("gru")(tgt, values)
    model = keras.Model([tgt, src], keras.layers.Dense(2)(out))
    model.compile(keras.optimizers.Adam(0.01), "mse", jit_compile=True)
    x = [rng.normal(size=(8, TT, D)).astype("float32"), rng.integers(0, 20, (8, TS))]
    x[1][:, 0] = 1  # no all-padding source
    y = rng.normal(size=(8, TT, 2)).astype("float32")
    history = model.fit(x, y, epochs=4, batch_size=8, verbose=0).history["loss"]
    assert history[-1] < history[0]
    path = os.path.join(tmp_path, "dec.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-5)


def test_mixed_precision_runs():
    keras.config.set_dtype_policy("mixed_float16")
    x, values = data(4)
    outputs, weights = make("lstm")(x, values, values_mask=SOURCE_MASK)
    assert outputs.dtype == "float16" and np.all(np.isfinite(outputs.numpy()))
    assert np.all(weights.numpy()[~np.broadcast_to(SOURCE_MASK[:, None], weights.shape)] == 0)


def test_bad_input():
    x, values = data()
    decoder = make("lstm")
    with pytest.raises(ValueError, match="same batch size"):
        decoder(x[:2], values)
    with pytest.raises(ValueError, match="`inputs` must have rank 3"):
        decoder(x[:, 0], values)
    with pytest.raises(ValueError, match="`values` must have rank 3"):
        decoder(x, values[:, 0])
    with pytest.raises(ValueError, match="`cell` must be a recurrent cell"):
        AttentionDecoderCell("lstm", BahdanauAttention(4))
    with pytest.raises(ValueError, match="`attention` must be"):
        AttentionDecoderCell(LSTMCellX(4), keras.layers.Attention())
    with pytest.raises(ValueError, match="`cell` must be an AttentionDecoderCell"):
        AttentionDecoder(LSTMCellX(4))
    cell = AttentionDecoderCell(LSTMCellX(4), BahdanauAttention(4))
    with pytest.raises(ValueError, match="`cell_state` must hold 2"):
        cell.get_initial_state(values, cell_state=[np.zeros((B, 4), "float32")])
