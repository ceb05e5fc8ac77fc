"""Microcontroller exports (`to_tflite(target="micro")`), each run with the
TensorFlow Lite for Microcontrollers reference interpreter (`tflite-micro`)
and compared with Keras."""
import os

import keras
import numpy as np
import pytest

from keras_rnnx import GRUX, LSTMX, BiDirectional, export
from keras_rnnx._atomic import ExportError

pytest.importorskip("tflite_micro")

TOL = 1e-4
T, D = 6, 3


def _export_and_run(model, x, path, **kwargs):
    info = export.to_tflite(model, str(path), target="micro", **kwargs)
    run = export.load_micro(str(path))
    return info, run, run(x)


def _layer(kind, rs, **kw):
    if kind == "lstm":
        return LSTMX(5, return_sequences=rs, **kw)
    if kind == "gru_after":
        return GRUX(5, return_sequences=rs, **kw)
    if kind == "gru_before":
        return GRUX(5, reset_after=False, return_sequences=rs, **kw)
    return GRUX(5, variant="simplified", return_sequences=rs, **kw)


@pytest.mark.parametrize("rs", [False, True])
@pytest.mark.parametrize("kind", ["lstm", "gru_after", "gru_before", "gru_simplified"])
def test_float_layers_match_keras_on_tflm(tmp_path, kind, rs):
    x = np.random.default_rng(0).normal(size=(1, T, D)).astype("float32")
    inp = keras.Input((T, D), name="frames")
    model = keras.Model(inp, _layer(kind, rs)(inp))
    info, run, y = _export_and_run(model, x, tmp_path / "m.tflite")
    ref = model(x).numpy()
    assert y.shape == ref.shape == ((1, T, 5) if rs else (1, 5))
    assert np.abs(ref).max() > 1e-2
    np.testing.assert_allclose(y, ref, atol=TOL)
    assert info["target"] == "micro" and set(info["ops"]) <= export.MICRO_OPS
    assert "WHILE" not in info["ops"]
    assert export.is_micro_file(str(tmp_path / "m.tflite"))


@pytest.mark.parametrize("rs", [False, True])
def test_go_backwards_and_dynamic_time_with_time_steps(tmp_path, rs):
    x = np.random.default_rng(1).normal(size=(1, T, D)).astype("float32")
    inp = keras.Input((None, D))
    model = keras.Model(inp, LSTMX(4, go_backwards=True, return_sequences=rs)(inp))
    info, run, y = _export_and_run(model, x, tmp_path / "m.tflite", time_steps=T)
    np.testing.assert_allclose(y, model(x).numpy(), atol=TOL)
    assert run.input_details[0]["shape"].tolist() == [1, T, D]


def _ids_model(body):
    ids = keras.Input((8,), dtype="int32", name="ids")
    e = keras.layers.Embedding(30, 4, mask_zero=True)(ids)
    return keras.Model(ids, body(e))


IDS = [np.array([[3, 4, 5, 9, 2, 0, 0, 0]], "int32"),
       np.array([[7, 1, 1, 1, 1, 1, 1, 6]], "int32"),
       np.array([[0, 0, 0, 0, 0, 0, 0, 0]], "int32")]


def test_masked_embedding_two_layers_and_dense_head(tmp_path):
    def body(e):
        h = GRUX(6, return_sequences=True)(e)
        h = LSTMX(5)(h)
        return keras.layers.Dense(3, name="logits")(h)

    model = _ids_model(body)
    path = tmp_path / "m.tflite"
    info = export.to_tflite(model, str(path), target="micro")
    run = export.load_micro(str(path))
    assert run.input_details[0]["dtype"] == np.int32
    for ids in IDS:
        np.testing.assert_allclose(run(ids), model(ids).numpy(), atol=TOL)
    assert "SELECT" not in info["ops"]


@pytest.mark.parametrize("rs", [False, True])
@pytest.mark.parametrize("merge", ["concat", "sum", "ave", "mul", None])
def test_bidirectional_all_merge_modes_masked(tmp_path, merge, rs):
    model = _ids_model(lambda e: BiDirectional(GRUX(5, return_sequences=rs),
                                               merge_mode=merge)(e))
    path = tmp_path / "m.tflite"
    export.to_tflite(model, str(path), target="micro")
    run = export.load_micro(str(path))
    for ids in IDS[:2]:
        ref = model(ids)
        got = run(ids)
        if merge is None:
            got = [got[n] for n in run.outputs]
            assert len(got) == len(ref) == 2
            for g, r in zip(got, ref):
                np.testing.assert_allclose(g, r.numpy(), atol=TOL)
        else:
            np.testing.assert_allclose(got, ref.numpy(), atol=TOL)


def test_bidirectional_lstm_unmasked(tmp_path):
    x = np.random.default_rng(2).normal(size=(1, T, D)).astype("float32")
    inp = keras.Input((T, D))
    model = keras.Model(inp, BiDirectional(LSTMX(4, return_sequences=True))(inp))
    _, _, y = _export_and_run(model, x, tmp_path / "m.tflite")
    np.testing.assert_allclose(y, model(x).numpy(), atol=TOL)


def _seq_model(layer, steps=T):
    inp = keras.Input((steps, D))
    return keras.Model(inp, layer(inp))


@pytest.mark.parametrize("make, words", [
    (lambda: _seq_model(keras.layers.Dense(2)), ["time_steps"]),
    (lambda: _seq_model(LSTMX(3, activation="softplus"), steps=None),
     ["lstmx", "activation", "softplus"]),
    (lambda: _seq_model(GRUX(3, recurrent_activation="gelu")),
     ["grux", "recurrent_activation", "gelu"]),
])
def test_refusals_name_the_setting_and_write_nothing(tmp_path, make, words):
    model = make()
    path = tmp_path / "m.tflite"
    kwargs = {"time_steps": 4} if words[0] == "time_steps" else {}
    with pytest.raises(ExportError) as err:
        export.to_tflite(model, str(path), target="micro", **kwargs)
    for w in words:
        assert w in str(err.value)
    assert not path.exists()


def test_stateful_and_bad_arguments_refused(tmp_path):
    inp = keras.Input((T, D), batch_size=1)
    stateful = keras.Model(inp, LSTMX(3, stateful=True)(inp))
    dynamic = _seq_model(GRUX(3), steps=None)
    path = str(tmp_path / "m.tflite")
    cases = [
        (stateful, {}, ["stateful"]),
        (dynamic, {}, ["time_steps", "dynamic time"]),
        (dynamic, {"time_steps": 0}, ["time_steps"]),
        (dynamic, {"quantize": "dynamic"}, ["quantize"]),
        (dynamic, {"time_steps": 4, "lstm_kernel": "cudnn"}, ["lstm_kernel"]),
        (dynamic, {"time_steps": 4, "streaming": True}, ["streaming"]),
        (dynamic, {"target": "mcu"}, ["target"]),
    ]
    for model, kwargs, words in cases:
        kwargs = dict({"target": "micro"}, **kwargs)
        with pytest.raises(ExportError) as err:
            export.to_tflite(model, path, **kwargs)
        for w in words:
            assert w in str(err.value), (kwargs, str(err.value))
        assert not os.path.exists(path)
    with pytest.raises(ExportError, match="time_steps"):
        export.to_tflite(dynamic, path, time_steps=4)


def test_arena_is_the_smallest_that_allocates_and_c_source(tmp_path):
    model = _seq_model(GRUX(4))
    path = str(tmp_path / "m.tflite")
    export.to_tflite(model, path, target="micro")
    arena = export.arena_size(path)
    from keras_rnnx.export.micro import _allocates

    data = open(path, "rb").read()
    assert _allocates(data, arena) and not _allocates(data, arena - 16)
    x = np.random.default_rng(3).normal(size=(1, T, D)).astype("float32")
    np.testing.assert_allclose(export.load_micro(path, arena=arena)(x),
                               model(x).numpy(), atol=TOL)

    cc = str(tmp_path / "model_data.cc")
    assert export.to_c_source(path, cc, "g_model") == len(data)
    text = open(cc).read()
    assert "alignas(16) const unsigned char g_model[] = {" in text
    assert f"const unsigned int g_model_len = {len(data)};" in text
    body = text.split("{", 1)[1].split("}", 1)[0]
    assert bytes(int(b, 16) for b in body.replace(",", " ").split()) == data
    with pytest.raises(ExportError, match="out_path"):
        export.to_c_source(path, cc, "g_model")
    with pytest.raises(ExportError, match="name"):
        export.to_c_source(path, str(tmp_path / "x.cc"), "1bad")
    assert not os.path.exists(tmp_path / "x.cc")


@pytest.mark.parametrize("layer", [
    lambda: LSTMX(4, activation="relu", recurrent_activation="hard_sigmoid"),
    lambda: GRUX(4, activation="linear", recurrent_activation="hard_sigmoid"),
])
def test_supported_activations_run_on_tflm(tmp_path, layer):
    x = np.random.default_rng(4).normal(size=(1, T, D)).astype("float32")
    model = _seq_model(layer())
    _, _, y = _export_and_run(model, x, tmp_path / "m.tflite")
    np.testing.assert_allclose(y, model(x).numpy(), atol=TOL)


def test_cli_export_micro_c_source_and_verify_with_tflm(tmp_path, capsys):
    from keras_rnnx.cli import main

    keras.utils.set_random_seed(5)
    ids = keras.Input((None,), dtype="int32", name="ids")
    h = keras.layers.Embedding(17, 4, mask_zero=True)(ids)
    h = BiDirectional(GRUX(3, return_sequences=True))(h)
    model = keras.Model(ids, keras.layers.Dense(2, name="logits")(LSTMX(3)(h)))
    model_file = tmp_path / "tiny.keras"
    model.save(model_file)
    out, cc = tmp_path / "tiny_micro.tflite", tmp_path / "model_data.cc"
    rc = main(["export", str(model_file), "--format", "tflite", "--target", "micro",
               "--time-steps", "6", "--c-source", str(cc), "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    arena = export.arena_size(str(out))
    assert f"tensor arena {arena} bytes" in text and f"flash {out.stat().st_size}" in text
    assert f"g_model_len = {out.stat().st_size};" in cc.read_text()

    rc = main(["verify", str(model_file), str(out), "--batch-sizes", "1", "3"])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "tflm" in text

    q = tmp_path / "tiny_int8.tflite"
    assert main(["export", str(model_file), "--format", "tflite", "--target", "micro",
                 "--time-steps", "6", "--quantize", "int8", "--representative-samples",
                 "8", "--out", str(q)]) == 0
    assert "tensor arena" in capsys.readouterr().out
    assert export.load_micro(str(q)).quantize == "int8"
    ids_rows = np.random.default_rng(7).integers(1, 17, size=(10, 6)).astype("int32")
    ids_rows[::2, 4:] = 0
    np.savez(tmp_path / "rep.npz", ids=ids_rows)
    q2 = tmp_path / "tiny_int8_real.tflite"
    assert main(["export", str(model_file), "--format", "tflite", "--target", "micro",
                 "--time-steps", "6", "--quantize", "int8", "--representative",
                 str(tmp_path / "rep.npz"), "--out", str(q2)]) == 0
    capsys.readouterr()
    np.savez(tmp_path / "bad.npz", tokens=ids_rows)
    assert main(["export", str(model_file), "--format", "tflite", "--target", "micro",
                 "--time-steps", "6", "--quantize", "int8", "--representative",
                 str(tmp_path / "bad.npz"), "--out", str(tmp_path / "z.tflite")]) == 2
    assert "--representative" in capsys.readouterr().err
    assert not (tmp_path / "z.tflite").exists()

    # A different model's weights: verify with TFLM reports the mismatch.
    other = keras.models.clone_model(model)
    other_file = tmp_path / "other.keras"
    other.save(other_file)
    assert main(["verify", str(other_file), str(out), "--batch-sizes", "1"]) == 1

    # Options that need --target micro, and a missing time dimension.
    assert main(["export", str(model_file), "--format", "tflite", "--c-source",
                 str(tmp_path / "x.cc"), "--out", str(tmp_path / "x.tflite")]) == 2
    assert main(["export", str(model_file), "--format", "tflite", "--target", "micro",
                 "--out", str(tmp_path / "y.tflite")]) == 2
    assert "time_steps" in capsys.readouterr().err
    assert not (tmp_path / "x.tflite").exists() and not (tmp_path / "y.tflite").exists()


def _agreement(model, run, gen, n=100):
    """`export.int8_agreement` of the file and Keras over `n` inputs."""
    ys, refs = [], []
    for _ in range(n):
        x = gen()
        ys.append(run(x))
        refs.append(model(x).numpy())
    return export.int8_agreement(ys, refs)


@pytest.mark.parametrize("kind, lstm_kernel", [
    ("lstm", None), ("lstm", "loop"), ("gru_after", None), ("gru_before", None),
    ("gru_simplified", None)])
def test_int8_full_integer_runs_on_tflm(tmp_path, kind, lstm_kernel):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    inp = keras.Input((10, D), name="frames")
    layer = {"lstm": LSTMX(16), "gru_after": GRUX(16),
             "gru_before": GRUX(16, reset_after=False),
             "gru_simplified": GRUX(16, variant="simplified")}[kind]
    model = keras.Model(inp, keras.layers.Dense(4, name="logits")(layer(inp)))

    def gen():
        return rng.normal(size=(1, 10, D)).astype("float32")

    path = str(tmp_path / "q.tflite")
    info = export.to_tflite(model, path, target="micro", quantize="int8",
                            representative_data=[gen() for _ in range(50)],
                            lstm_kernel=lstm_kernel)
    fused = kind == "lstm" and lstm_kernel is None  # int8's default for LSTMs
    assert ("UNIDIRECTIONAL_SEQUENCE_LSTM" in info["ops"]) == fused
    assert info["lstm_kernel"] == (lstm_kernel or "fused")
    raw = export.load_micro(path, raw=True)
    assert raw.input_details[0]["dtype"] == np.int8
    assert raw.output_details[0]["dtype"] == np.int8
    q = info["io_quantization"]
    scale = raw.input_details[0]["quantization_parameters"]["scales"][0]
    assert np.isclose(q["frames"]["scale"], scale) and "logits" in q
    corr, argmax = _agreement(model, export.load_micro(path), gen)
    assert corr > 0.99 and argmax >= 0.9, (corr, argmax)


def test_int8_ids_input_stays_integer(tmp_path):
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)

    # Embeddings of unit scale, as trained ones are: Keras' default
    # (uniform +-0.05) leaves activations a few int8 steps wide.
    ids = keras.Input((8,), dtype="int32", name="ids")
    e = keras.layers.Embedding(30, 8, mask_zero=True,
                               embeddings_initializer=keras.initializers.RandomNormal(
                                   stddev=1.0))(ids)
    h = LSTMX(8)(BiDirectional(GRUX(8, return_sequences=True))(e))
    model = keras.Model(ids, keras.layers.Dense(4)(h))

    def gen():
        a = rng.integers(1, 30, size=(1, 8)).astype("int32")
        a[0, rng.integers(1, 9):] = 0
        return a

    path = str(tmp_path / "q.tflite")
    export.to_tflite(model, path, target="micro", quantize="int8",
                     representative_data=[gen() for _ in range(50)])
    run = export.load_micro(path)
    assert run.input_details[0]["dtype"] == np.int32
    corr, _ = _agreement(model, run, gen, n=50)
    assert corr > 0.9, corr
    with pytest.raises(ExportError, match="representative_data"):
        export.to_tflite(model, str(tmp_path / "r.tflite"), target="micro", quantize="int8")


def test_initial_state_inputs_run_on_tflm(tmp_path):
    x_in = keras.Input((T, D), name="x")
    h_in, c_in = keras.Input((5,), name="h0"), keras.Input((5,), name="c0")
    model = keras.Model([x_in, h_in, c_in], LSTMX(5)(x_in, initial_state=[h_in, c_in]))
    rng = np.random.default_rng(5)
    xs = [rng.normal(size=s).astype("float32") for s in [(1, T, D), (1, 5), (1, 5)]]
    export.to_tflite(model, str(tmp_path / "m.tflite"), target="micro")
    run = export.load_micro(str(tmp_path / "m.tflite"))
    assert run.inputs == ["x", "h0", "c0"]
    np.testing.assert_allclose(run(*xs), model(xs).numpy(), atol=TOL)
    zero = [xs[0], np.zeros((1, 5), "float32"), np.zeros((1, 5), "float32")]
    assert np.abs(run(*zero) - run(*xs)).max() > 1e-3  # the state is used


def test_reverse_within_length_equals_reverse_sequence():
    import tensorflow as tf

    from keras_rnnx.kernels.micro import reverse_within_length

    rng = np.random.default_rng(6)
    x = rng.normal(size=(4, 7, 3)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0, 0, 0], [1] * 7, [0] * 7, [1, 0, 1, 1, 0, 1, 0]], bool)
    want = tf.reverse_sequence(x, mask.sum(1), seq_axis=1, batch_axis=0).numpy()
    np.testing.assert_array_equal(reverse_within_length(tf.constant(x), mask).numpy(), want)


def _tensor_types(path):
    """{op name: [(tensor type name, is variable) of its inputs]} read from
    the flatbuffer with LiteRT's schema."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    m = flatbuffer_utils.read_model_from_bytearray(bytearray(open(path, "rb").read()))
    sg = m.subgraphs[0]
    types = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    ops = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    out = {}
    for op in sg.operators:
        code = m.operatorCodes[op.opcodeIndex]
        name = ops[max(code.builtinCode, code.deprecatedBuiltinCode)]
        out[name] = [(types[sg.tensors[i].type], bool(sg.tensors[i].isVariable))
                     for i in op.inputs if i >= 0]
        out[name + ":intermediates"] = list(op.intermediates if op.intermediates is not None
                                            else [])
    return out


def test_int8_lstm_is_tflm_integer_kernel_with_int16_cell_state(tmp_path):
    """The int8 default for LSTMs: one UNIDIRECTIONAL_SEQUENCE_LSTM with int8
    input, weights and hidden state, int16 cell state, int32 biases and the
    five intermediate tensors TFLM's integer LSTM reads; far smaller than
    the unrolled form, and as close to Keras."""
    keras.utils.set_random_seed(2)
    rng = np.random.default_rng(2)
    inp = keras.Input((10, D), name="frames")
    model = keras.Model(inp, keras.layers.Dense(4, name="logits")(LSTMX(16)(inp)))

    def gen():
        return rng.normal(size=(1, 10, D)).astype("float32")

    rep = [gen() for _ in range(50)]
    fused, loop = str(tmp_path / "fused.tflite"), str(tmp_path / "loop.tflite")
    info = export.to_tflite(model, fused, target="micro", quantize="int8",
                            representative_data=rep)
    unrolled = export.to_tflite(model, loop, target="micro", quantize="int8",
                                representative_data=rep, lstm_kernel="loop")
    types = _tensor_types(fused)
    lstm = types["UNIDIRECTIONAL_SEQUENCE_LSTM"]
    assert [t for t, _ in lstm[:9]] == ["INT8"] * 9  # input, 8 weight matrices
    assert [t for t, _ in lstm[9:13]] == ["INT32"] * 4  # gate biases
    assert [t for t, var in lstm if var] == ["INT8", "INT16"]  # h, c state
    assert len(types["UNIDIRECTIONAL_SEQUENCE_LSTM:intermediates"]) == 5
    assert "FLOAT32" not in {t for ins in types.values() if isinstance(ins, list)
                             and ins and isinstance(ins[0], tuple) for t, _ in ins}
    assert info["size"] * 3 < unrolled["size"]
    assert export.arena_size(fused) * 3 < export.arena_size(loop)
    run = export.load_micro(fused)
    corr, argmax = _agreement(model, run, gen, n=200)
    assert corr > 0.99 and argmax >= 0.95, (corr, argmax)
    # Each call starts from the zero state (the op keeps its state in
    # variable tensors between invokes; the runner resets them).
    x = gen()
    np.testing.assert_array_equal(run(x), run(x))


@pytest.mark.parametrize("body", ["last", "sequences", "backwards", "backwards_sequences",
                                  "bidirectional", "bidirectional_last"])
def test_fused_lstm_float_matches_keras_on_right_padded_ids(tmp_path, body):
    """lstm_kernel="fused" on micro, float: the op plus static-shape mask
    arithmetic equals Keras on right-padded rows (full, partial, one step,
    empty), in the order the runner is called (no state leaks between
    calls)."""
    keras.utils.set_random_seed(3)
    make = {
        "last": lambda e: LSTMX(5)(e),
        "sequences": lambda e: LSTMX(5, return_sequences=True)(e),
        "backwards": lambda e: LSTMX(5, go_backwards=True)(e),
        "backwards_sequences": lambda e: LSTMX(5, go_backwards=True,
                                               return_sequences=True)(e),
        "bidirectional": lambda e: BiDirectional(LSTMX(5, return_sequences=True))(e),
        "bidirectional_last": lambda e: BiDirectional(LSTMX(5))(e),
    }[body]
    model = _ids_model(make)
    path = str(tmp_path / "m.tflite")
    info = export.to_tflite(model, path, target="micro", lstm_kernel="fused")
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in info["ops"]
    assert set(info["ops"]) <= export.MICRO_OPS
    run = export.load_micro(path)
    rows = IDS + [np.array([[5, 0, 0, 0, 0, 0, 0, 0]], "int32")]
    for ids in rows + rows[::-1]:
        np.testing.assert_allclose(run(ids), model(ids).numpy(), atol=TOL)


def test_fused_lstm_falls_back_to_unrolled_with_a_warning(tmp_path):
    x = np.random.default_rng(8).normal(size=(1, T, D)).astype("float32")
    model = _seq_model(LSTMX(4, activation="relu"))
    path = str(tmp_path / "m.tflite")
    with pytest.warns(UserWarning, match="unrolled"):
        info = export.to_tflite(model, path, target="micro", lstm_kernel="fused")
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in info["ops"]
    np.testing.assert_allclose(export.load_micro(path)(x), model(x).numpy(), atol=TOL)


def test_int8_fused_lstm_arena_probe_survives_too_small_arenas(tmp_path):
    """TFLM's integer LSTM kernel crashes the process on an arena too small;
    arena_size still finds the smallest that allocates, and load_micro with
    a smaller arena refuses it with an error naming the argument."""
    rng = np.random.default_rng(9)
    model = _seq_model(LSTMX(8))
    path = str(tmp_path / "q.tflite")
    export.to_tflite(model, path, target="micro", quantize="int8",
                     representative_data=[rng.normal(size=(1, T, D)).astype("float32")
                                          for _ in range(10)])
    arena = export.arena_size(path)
    assert export.load_micro(path, arena=arena).arena == arena
    with pytest.raises(ExportError, match="arena"):
        export.load_micro(path, arena=arena - 16)


def test_verify_judges_int8_by_correlation_and_argmax(tmp_path):
    """An int8 file passes `verify` by the int8 criterion even where its
    largest difference is above the old fixed tolerance, and fails it
    against another model's weights; an explicit `atol` judges by the
    largest difference again. The CLI prints the criterion's figures."""
    from keras_rnnx.cli import main

    keras.utils.set_random_seed(12)
    inp = keras.Input((10, D), name="frames")
    layer = GRUX(16, reset_after=False)
    model = keras.Model(inp, keras.layers.Dense(4, name="logits")(layer(inp)))
    other = keras.models.clone_model(model)  # fresh weights
    rng = np.random.default_rng(12)
    path = str(tmp_path / "q.tflite")
    export.to_tflite(model, path, target="micro", quantize="int8",
                     representative_data=[rng.normal(size=(1, 10, D)).astype("float32")
                                          for _ in range(50)])
    good = export.verify(model, path, batch_sizes=[1, 3, 8], lengths=[10]).exports[0]
    assert good.ok and good.criterion == "int8", good.summary()
    assert good.correlation["logits"] >= export.INT8_CRITERION["correlation"]
    assert good.argmax_agreement["logits"] >= export.INT8_CRITERION["argmax_agreement"]
    assert "correlation" in good.summary() and good.problems() == []

    bad = export.verify(other, path, batch_sizes=[1, 3, 8], lengths=[10]).exports[0]
    assert not bad.ok and bad.criterion == "int8"
    assert bad.correlation["logits"] < export.INT8_CRITERION["correlation"]
    assert any("correlation" in p for p in bad.problems())

    strict = export.verify(model, path, batch_sizes=[1], lengths=[10], atol=1e-6).exports[0]
    assert strict.criterion == "atol" and not strict.ok and strict.correlation == {}

    model_file, other_file = tmp_path / "m.keras", tmp_path / "other.keras"
    model.save(model_file)
    other.save(other_file)
    assert main(["verify", str(model_file), path]) == 0
    assert main(["verify", str(other_file), path]) == 1
