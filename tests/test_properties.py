"""Property-based tests (hypothesis) of every public recurrent layer.

Random batch, length, feature and unit sizes, masks (right-padded, arbitrary,
rows of length 0 = all masked), dtypes and layer options:

* LSTMX and GRUX (full, reset_after True/False) equal Keras' LSTM/GRU with
  copied weights; the simplified GRU equals a float64 NumPy implementation;
* BiDirectional (every merge mode, LSTMX or any GRUX variant inside) equals
  running the wrapper on each sequence alone, unpadded; padded positions are
  exactly zero; without a mask it equals `keras.layers.Bidirectional`;
* outputs stay finite for huge inputs;
* invalid arguments raise a ValueError naming the argument.

Everything runs eagerly on tiny shapes (no retracing per example).
Examples per property are in MAX_EXAMPLES; the README states the totals.
"""
import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_rnnx import GRUCellX, GRUX, BiDirectional, LSTMCellX, LSTMX
from layer_checks import np_gru, np_lstm

MAX_EXAMPLES = {"lstm": 30, "gru": 30, "bidirectional": 30, "finite": 15, "errors": 40}


def _settings(kind):
    return settings(max_examples=MAX_EXAMPLES[kind], deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _close(ours, ref, dtype, what):
    ours, ref = _as_list(ours), _as_list(ref)
    assert len(ours) == len(ref), what
    tol = 1e-5 if dtype == "float32" else 1e-10
    for i, (a, b) in enumerate(zip(ours, ref)):
        a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
        assert a.shape == b.shape, f"{what}[{i}]: shape {a.shape} vs {b.shape}"
        assert np.all(np.isfinite(a)), f"{what}[{i}]: non-finite output"
        if a.size:
            d = float(np.abs(a - b).max())
            assert d <= tol * max(1.0, float(np.abs(b).max())), f"{what}[{i}]: diff {d:.3g}"


@st.composite
def sequence_case(draw, max_t=5):
    b = draw(st.integers(1, 3))
    t = draw(st.integers(1, max_t))
    mask_kind = draw(st.sampled_from([None, "right", "any"]))
    if mask_kind == "right":
        lengths = np.array(draw(st.lists(st.integers(0, t), min_size=b, max_size=b)))
        mask = np.arange(t)[None, :] < lengths[:, None]
    elif mask_kind == "any":
        bits = draw(st.lists(st.booleans(), min_size=b * t, max_size=b * t))
        mask = np.array(bits, bool).reshape(b, t)
    else:
        mask = None
    return {
        "b": b, "t": t, "d": draw(st.integers(1, 3)), "units": draw(st.integers(1, 4)),
        "mask": mask, "seed": draw(st.integers(0, 2**16)),
        "scale": draw(st.sampled_from([0.1, 1.0, 3.0])),
        "dtype": draw(st.sampled_from(["float32", "float32", "float64"])),
        "return_sequences": draw(st.booleans()), "return_state": draw(st.booleans()),
        "go_backwards": draw(st.booleans()), "initial_state": draw(st.booleans()),
        "use_bias": draw(st.booleans()),
    }


def _inputs(c, n_states):
    rng = np.random.default_rng(c["seed"])
    x = (rng.normal(size=(c["b"], c["t"], c["d"])) * c["scale"]).astype(c["dtype"])
    states = None
    if c["initial_state"]:
        states = [rng.normal(size=(c["b"], c["units"])).astype(c["dtype"])
                  for _ in range(n_states)]
    return rng, x, states


def _randomize(layer, rng):
    layer.set_weights([rng.normal(0, 0.5, w.shape).astype(w.dtype)
                       for w in layer.get_weights()])


def _call(layer, x, mask, states):
    kwargs = {}
    if mask is not None:
        kwargs["mask"] = mask
    if states is not None:
        kwargs["initial_state"] = states
    return layer(x, **kwargs)


def _common(c):
    return dict(units=c["units"], return_sequences=c["return_sequences"],
                return_state=c["return_state"], go_backwards=c["go_backwards"],
                use_bias=c["use_bias"], dtype=c["dtype"])


@_settings("lstm")
@given(c=sequence_case(), act=st.sampled_from(
    [("tanh", "sigmoid"), ("tanh", "sigmoid"), ("relu", "hard_sigmoid")]))
def test_lstmx_equals_keras_lstm(c, act):
    rng, x, states = _inputs(c, 2)
    kw = dict(_common(c), activation=act[0], recurrent_activation=act[1])
    ref = keras.layers.LSTM(**kw)
    ours = LSTMX(**kw)
    _call(ref, x, c["mask"], states)
    _call(ours, x, c["mask"], states)
    _randomize(ref, rng)
    ours.set_weights(ref.get_weights())
    _close(_call(ours, x, c["mask"], states), _call(ref, x, c["mask"], states), c["dtype"],
           f"LSTMX {c} {act}")


@_settings("gru")
@given(c=sequence_case(), variant=st.sampled_from(["full_after", "full_before", "simplified"]))
def test_grux_equals_reference(c, variant):
    rng, x, states = _inputs(c, 1)
    kw = _common(c)
    if variant == "simplified":
        ours = GRUX(variant="simplified", **kw)
        _call(ours, x, c["mask"], states)
        _randomize(ours, rng)
        w = ours.get_weights()
        bias = w[2] if c["use_bias"] else None
        h0 = states[0] if states else np.zeros((c["b"], c["units"]))
        last, outs, (h,) = np_gru(x, h0, w[0], w[1], bias, mask=c["mask"],
                                  go_backwards=c["go_backwards"], variant="simplified")
        ref = [outs if c["return_sequences"] else last]
        if c["return_state"]:
            ref.append(h)
        ref = ref if c["return_state"] else ref[0]
    else:
        kw["reset_after"] = variant == "full_after"
        keras_gru = keras.layers.GRU(**kw)
        ours = GRUX(**kw)
        _call(keras_gru, x, c["mask"], states)
        _call(ours, x, c["mask"], states)
        _randomize(keras_gru, rng)
        ours.set_weights(keras_gru.get_weights())
        ref = _call(keras_gru, x, c["mask"], states)
    _close(_call(ours, x, c["mask"], states), ref, c["dtype"], f"GRUX {variant} {c}")


INNER = ["lstm", "gru_after", "gru_before", "gru_simplified"]


def _inner(kind, units, return_sequences, return_state, keras_layer=False):
    kw = dict(return_sequences=return_sequences, return_state=return_state)
    if kind == "lstm":
        return (keras.layers.LSTM if keras_layer else LSTMX)(units, **kw)
    if kind == "gru_simplified":
        return GRUX(units, variant="simplified", **kw)
    cls = keras.layers.GRU if keras_layer else GRUX
    return cls(units, reset_after=kind == "gru_after", **kw)


@_settings("bidirectional")
@given(b=st.integers(1, 3), t=st.integers(1, 5), d=st.integers(1, 3), units=st.integers(1, 3),
       kind=st.sampled_from(INNER), merge=st.sampled_from(["concat", "sum", "mul", "ave", None]),
       return_sequences=st.booleans(), return_state=st.booleans(), masked=st.booleans(),
       data=st.data())
def test_bidirectional_equals_unpadded_runs(b, t, d, units, kind, merge, return_sequences,
                                            return_state, masked, data):
    lengths = np.array(data.draw(st.lists(st.integers(0, t), min_size=b, max_size=b)))
    if not masked:
        lengths[:] = t
    seed = data.draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(b, t, d)).astype("float32")
    mask = np.arange(t)[None, :] < lengths[:, None]
    x[~mask] = rng.normal(size=x[~mask].shape) * 100  # padding must not leak
    bi = BiDirectional(_inner(kind, units, return_sequences, return_state), merge_mode=merge)
    out = _as_list(bi(x, mask=mask) if masked else bi(x))
    _randomize(bi, rng)
    out = _as_list(bi(x, mask=mask) if masked else bi(x))
    n_out = 2 if merge is None else 1
    for row in range(b):
        n = int(lengths[row])
        got = [np.asarray(o)[row] for o in out]
        if n == 0:
            # All masked: outputs are zeros, states the (zero) initial states.
            for g in got:
                assert np.all(g == 0), f"all-masked row {row}: {g}"
            continue
        alone = [np.asarray(o)[0] for o in _as_list(bi(x[row:row + 1, :n]))]
        for i in range(len(got)):
            g = got[i]
            if return_sequences and i < n_out:
                assert np.all(g[n:] == 0), f"row {row}: nonzero output at padding"
                g = g[:n]
            np.testing.assert_allclose(g, alone[i], atol=1e-5, rtol=1e-5,
                                       err_msg=f"row {row} output {i}")
    if not masked and kind != "gru_simplified":
        ref = keras.layers.Bidirectional(
            _inner(kind, units, return_sequences, return_state, keras_layer=True),
            merge_mode=merge)
        ref(x)
        ref.set_weights(bi.get_weights())
        _close(out, ref(x), "float32", f"BiDirectional vs keras {kind} {merge}")


@_settings("finite")
@given(layer=st.sampled_from(["lstm", "gru_after", "gru_before", "gru_simplified", "bi"]),
       scale=st.sampled_from([1e2, 1e4, 1e6]), seed=st.integers(0, 2**16),
       all_masked=st.booleans())
def test_outputs_finite_for_huge_inputs(layer, scale, seed, all_masked):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(2, 4, 3)) * scale).astype("float32")
    mask = np.array([[True, True, False, False], [False] * 4]) if all_masked else None
    if layer == "bi":
        lay = BiDirectional(LSTMX(3, return_sequences=True, return_state=True))
    else:
        lay = _inner(layer, 3, True, True)
    outs = _as_list(lay(x, mask=mask) if mask is not None else lay(x))
    for o in outs:
        assert np.all(np.isfinite(np.asarray(o))), f"{layer} x{scale}: non-finite"
    if all_masked and layer != "bi":
        assert np.all(np.asarray(outs[0])[1] == 0)


# -- invalid arguments --------------------------------------------------------

bad_units = st.one_of(st.integers(max_value=0), st.floats(allow_nan=True), st.text(max_size=4),
                      st.booleans(), st.none(), st.just([4]))


@_settings("errors")
@given(units=bad_units, cls=st.sampled_from([LSTMX, GRUX, LSTMCellX, GRUCellX]))
def test_bad_units_raise_value_error(units, cls):
    with pytest.raises(ValueError, match="units"):
        cls(units)


@_settings("errors")
@given(mode=st.text(max_size=8).filter(lambda s: s not in ("concat", "sum", "mul", "ave")))
def test_bad_merge_mode_raises(mode):
    with pytest.raises(ValueError, match="merge_mode"):
        BiDirectional(LSTMX(2), merge_mode=mode)


@_settings("errors")
@given(variant=st.one_of(st.text(max_size=8), st.integers(), st.none()).filter(
    lambda s: s not in ("full", "simplified")), cls=st.sampled_from([GRUX, GRUCellX]))
def test_bad_variant_raises(variant, cls):
    with pytest.raises(ValueError, match="variant"):
        cls(2, variant=variant)


def _not_a_rate(s):
    try:
        return not 0.0 <= float(s) <= 1.0
    except ValueError:
        return True


@_settings("errors")
@given(rate=st.one_of(st.floats(min_value=1.0001, max_value=1e9), st.floats(max_value=-1e-6),
                      st.just(float("nan")), st.text(min_size=1, max_size=3).filter(_not_a_rate)),
       arg=st.sampled_from(["dropout", "recurrent_dropout"]),
       cls=st.sampled_from([LSTMX, GRUX]))
def test_bad_dropout_raises(rate, arg, cls):
    with pytest.raises(ValueError, match=arg):
        cls(2, **{arg: rate})


@_settings("errors")
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=5).filter(lambda s: len(s) != 3),
       layer=st.sampled_from(["lstm", "gru_after", "bi"]))
def test_wrong_rank_raises(shape, layer):
    lay = BiDirectional(LSTMX(2)) if layer == "bi" else _inner(layer, 2, False, False)
    with pytest.raises(ValueError, match="3D"):
        lay(np.zeros(shape, "float32"))


@_settings("errors")
@given(dtype=st.sampled_from(["int32", "int64", "bool", "uint8"]),
       layer=st.sampled_from(["lstm", "gru_after", "gru_simplified", "bi"]))
def test_non_float_inputs_raise(dtype, layer):
    lay = BiDirectional(LSTMX(2)) if layer == "bi" else _inner(layer, 2, False, False)
    with pytest.raises(ValueError, match="floating point"):
        lay(np.zeros((2, 3, 4), dtype))


@pytest.mark.parametrize("layer", ["lstm", "gru_after", "bi"])
def test_zero_length_sequences_defined_or_clear_error(layer):
    lay = BiDirectional(LSTMX(2)) if layer == "bi" else _inner(layer, 2, False, False)
    x = np.zeros((2, 0, 3), "float32")
    try:
        y = np.asarray(lay(x))
    except ValueError as e:
        assert "sequences" in str(e) or "inputs" in str(e) or "timesteps" in str(e)
        return
    assert y.shape[0] == 2 and np.all(y == 0)


# -- exporters ---------------------------------------------------------------

EXPORT_LAYERS = ["lstm", "lstm_back", "gru_after", "gru_before", "gru_simplified",
                 "bi_concat", "bi_sum", "bi_mul", "bi_ave"]
EXPORT_EXAMPLES = {"saved_model": 6, "tflite": 5}


def _export_model(kind, return_sequences, masked, units, seed):
    ids = keras.Input((None,), dtype="int32", name="ids")
    x = keras.layers.Embedding(9, 3, mask_zero=masked)(ids)
    kw = dict(return_sequences=return_sequences)
    if kind.startswith("bi_"):
        layer = BiDirectional(LSTMX(units, **kw) if seed % 2 else GRUX(units, **kw),
                              merge_mode=kind[3:])
    elif kind.startswith("lstm"):
        layer = LSTMX(units, go_backwards=kind == "lstm_back", **kw)
    else:
        layer = _inner(kind, units, return_sequences, False)
    model = keras.Model(ids, layer(x))
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    return model


def _export_inputs(rng, batch, steps):
    ids = rng.integers(1, 9, size=(batch, steps)).astype("int32")
    for b, n in enumerate(rng.integers(0, steps + 1, size=batch)):
        ids[b, n:] = 0
    ids[0, :] = rng.integers(1, 9, size=steps)  # one full-length row
    return ids


export_case = dict(
    kind=st.sampled_from(EXPORT_LAYERS), return_sequences=st.booleans(), masked=st.booleans(),
    units=st.integers(1, 3), seed=st.integers(0, 2**16),
    shapes=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 6)), min_size=2, max_size=2))


@pytest.mark.slow
@settings(max_examples=EXPORT_EXAMPLES["saved_model"], deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(**export_case)
def test_saved_model_export_equals_keras(tmp_path_factory, kind, return_sequences, masked,
                                         units, seed, shapes):
    import tensorflow as tf

    from keras_rnnx import export

    model = _export_model(kind, return_sequences, masked, units, seed)
    path = str(tmp_path_factory.mktemp("sm") / "m")
    export.to_saved_model(model, path)
    fn = tf.saved_model.load(path).signatures["serving_default"]
    rng = np.random.default_rng(seed)
    for batch, steps in shapes:
        ids = _export_inputs(rng, batch, steps)
        (got,) = fn(ids=tf.constant(ids)).values()
        np.testing.assert_allclose(got.numpy(), np.asarray(model(ids)), atol=1e-5, rtol=0)


@pytest.mark.slow
@settings(max_examples=EXPORT_EXAMPLES["tflite"], deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(lstm_kernel=st.sampled_from(["loop", "fused"]), **export_case)
def test_tflite_export_equals_keras(tmp_path_factory, lstm_kernel, kind, return_sequences,
                                    masked, units, seed, shapes):
    from keras_rnnx import export

    model = _export_model(kind, return_sequences, masked, units, seed)
    path = str(tmp_path_factory.mktemp("tfl") / "m.tflite")
    info = export.to_tflite(model, path, lstm_kernel=lstm_kernel)
    assert not [op for op in info["ops"] if "FLEX" in op.upper() or "CUSTOM" in op.upper()]
    runner = export.load_tflite(path)
    rng = np.random.default_rng(seed)
    for batch, steps in shapes:
        ids = _export_inputs(rng, batch, steps)
        np.testing.assert_allclose(np.asarray(runner(ids)), np.asarray(model(ids)),
                                   atol=1e-4, rtol=0)
