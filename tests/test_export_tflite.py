"""TFLite export: kernels vs the default kernels, every layer through both
TFLite kernels vs Keras, op lists, dynamic shapes, quantization, streaming,
errors and atomic writes."""
import os
import warnings

import numpy as np
import pytest

import keras
import tensorflow as tf

from keras_rnnx import BiDirectional, GRUX, LSTMX, export
from keras_rnnx import kernels
from keras_rnnx.kernels import tflite as tflite_kernels

SHAPES = [(1, 1), (1, 6), (3, 4), (4, 9)]
VOCAB = 13


def _right_padded_ids(batch, steps, rng):
    ids = rng.integers(1, VOCAB, size=(batch, steps)).astype("int32")
    for b in range(batch):
        length = rng.integers(1, steps + 1) if b else steps  # row 0 unpadded
        ids[b, length:] = 0
    return ids


def _zoo_model():
    """Every layer variant on a masked (token ids) and an unmasked input."""
    keras.utils.set_random_seed(7)
    ids = keras.Input((None,), dtype="int32", name="ids")
    feats = keras.Input((None, 3), name="feats")
    emb = keras.layers.Embedding(VOCAB, 4, mask_zero=True)(ids)
    outs = {}
    # Masked (right-padded token ids): every layer variant once.
    x = emb
    seq, h, c = LSTMX(3, return_sequences=True, return_state=True)(x)
    outs.update(m_lstm_seq=seq, m_lstm_h=h, m_lstm_c=c)
    outs["m_lstm_back"] = LSTMX(3, go_backwards=True)(x)
    outs["m_gru_after"] = GRUX(3, return_sequences=True)(x)
    outs["m_gru_before"] = GRUX(3, reset_after=False)(x)
    outs["m_gru_simple"] = GRUX(3, variant="simplified", go_backwards=True,
                                return_sequences=True)(x)
    outs["m_bi_concat"] = BiDirectional(LSTMX(2, return_sequences=True))(x)
    outs["m_bi_sum"] = BiDirectional(LSTMX(2), merge_mode="sum")(x)
    outs["m_bi_none_f"], outs["m_bi_none_b"] = BiDirectional(
        GRUX(2, return_sequences=True), merge_mode=None)(x)
    # Unmasked float features: the remaining merge modes and state outputs.
    x = feats
    seq, h = GRUX(3, return_sequences=True, return_state=True, reset_after=False)(x)
    outs.update(u_gru_seq=seq, u_gru_h=h)
    outs["u_lstm_back"] = LSTMX(3, go_backwards=True, return_sequences=True)(x)
    outs["u_bi_ave"] = BiDirectional(LSTMX(2, return_sequences=True), merge_mode="ave")(x)
    outs["u_bi_mul"] = BiDirectional(GRUX(2, variant="simplified"), merge_mode="mul")(x)
    model = keras.Model({"ids": ids, "feats": feats}, outs)
    # Non-trivial biases so every gate matters.
    for w in model.weights:
        if "bias" in w.path:
            w.assign(np.random.default_rng(1).normal(0, 0.5, w.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    model = _zoo_model()
    out = tmp_path_factory.mktemp("zoo")
    paths, infos = {}, {}
    for kernel in ("loop", "fused"):
        paths[kernel] = str(out / f"zoo_{kernel}.tflite")
        infos[kernel] = export.to_tflite(model, paths[kernel], lstm_kernel=kernel)
    return model, paths, infos


# ------------------------------------------------------------------ kernels
def _weights(kind, d, h, rng, variant="full", reset_after=True):
    g = {"lstm": 4, "gru": 3}[kind] if variant == "full" else 2
    kernel = rng.normal(0, 0.6, (d, g * h)).astype("float32")
    rec = rng.normal(0, 0.6, (h, g * h)).astype("float32")
    if kind == "gru" and variant == "full" and reset_after:
        bias = rng.normal(0, 0.5, (2, g * h)).astype("float32")
    else:
        bias = rng.normal(0, 0.5, (g * h,)).astype("float32")
    return kernel, rec, bias


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize(
    "kind,variant,reset_after",
    [("lstm", "full", True), ("gru", "full", True), ("gru", "full", False),
     ("gru", "simplified", True)],
)
def test_loop_kernel_matches_default_kernel(kind, variant, reset_after, masked, go_backwards):
    rng = np.random.default_rng(3)
    b, t, d, h = 3, 5, 4, 3
    x = rng.normal(size=(b, t, d)).astype("float32")
    k, u, bias = _weights(kind, d, h, rng, variant, reset_after)
    mask = None
    if masked:
        mask = rng.random((b, t)) > 0.4  # arbitrary pattern, not only padding
        mask[2] = False  # an all-masked row
    states = [rng.normal(size=(b, h)).astype("float32") for _ in range(2 if kind == "lstm" else 1)]
    kw = dict(mask=mask, go_backwards=go_backwards, return_sequences=True)
    if kind == "lstm":
        ref = kernels.default_lstm_sequence(x, states, k, u, bias, **kw)
        got = tflite_kernels.lstm_loop(x, states, k, u, bias, **kw)
    else:
        kw.update(variant=variant, reset_after=reset_after)
        ref = kernels.default_gru_sequence(x, states, k, u, bias, **kw)
        got = tflite_kernels.gru_loop(x, states, k, u, bias, **kw)
    np.testing.assert_allclose(got[0], ref[0], atol=1e-5)
    np.testing.assert_allclose(got[1], ref[1], atol=1e-5)
    for a, r in zip(got[2], ref[2]):
        np.testing.assert_allclose(a, r, atol=1e-5)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_fused_kernel_tf_body_matches_default_on_right_padding(go_backwards):
    rng = np.random.default_rng(4)
    b, t, d, h = 4, 6, 3, 5
    x = rng.normal(size=(b, t, d)).astype("float32")
    k, u, bias = _weights("lstm", d, h, rng)
    lengths = np.array([6, 3, 1, 0])
    mask = np.arange(t)[None] < lengths[:, None]
    zeros = [tf.zeros([b, h]), tf.zeros([b, h])]
    kw = dict(mask=mask, go_backwards=go_backwards, return_sequences=True)
    ref = kernels.default_lstm_sequence(x, zeros, k, u, bias, **kw)
    got = tflite_kernels.lstm_fused(x, zeros, k, u, bias, **kw)
    np.testing.assert_allclose(got[0], ref[0], atol=1e-5)
    np.testing.assert_allclose(got[1], ref[1], atol=1e-5)
    np.testing.assert_allclose(got[2][0], ref[2][0], atol=1e-5)
    np.testing.assert_allclose(got[2][1], ref[2][1], atol=1e-5)


def test_fused_kernel_falls_back_with_warning_on_initial_state():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 3, 2)).astype("float32")
    k, u, bias = _weights("lstm", 2, 3, rng)
    states = [tf.ones([2, 3]), tf.zeros([2, 3])]
    with pytest.warns(UserWarning, match="initial_state"):
        got = tflite_kernels.lstm_fused(x, states, k, u, bias)
    ref = kernels.default_lstm_sequence(x, states, k, u, bias)
    np.testing.assert_allclose(got[1], ref[1], atol=1e-5)


# ------------------------------------------------------ whole models, both kernels
@pytest.mark.parametrize("kernel", ["loop", "fused"])
def test_every_layer_matches_keras(zoo, kernel):
    model, paths, _ = zoo
    run = export.load_tflite(paths[kernel])
    rng = np.random.default_rng(11)
    for batch, steps in SHAPES:
        ids = _right_padded_ids(batch, steps, rng)
        feats = rng.normal(size=(batch, steps, 3)).astype("float32")
        want = {k: v.numpy() for k, v in model({"ids": ids, "feats": feats}).items()}
        got = run(ids=ids, feats=feats)
        assert set(got) == set(want)
        for name in want:
            assert got[name].shape == want[name].shape, name
            np.testing.assert_allclose(got[name], want[name], atol=1e-4, err_msg=name)


def test_builtin_ops_and_dynamic_shapes(zoo):
    _, paths, infos = zoo
    for kernel, path in paths.items():
        ops = export.tflite_ops(path)
        assert ops == infos[kernel]["ops"]
        assert not [o for o in ops if o.startswith("CUSTOM") or "FLEX" in o.upper()]
        assert "WHILE" in ops
        from ai_edge_litert.interpreter import Interpreter

        it = Interpreter(model_path=path)
        details = it.get_signature_runner().get_input_details()
        assert list(details["ids"]["shape_signature"]) == [-1, -1]
        assert list(details["feats"]["shape_signature"]) == [-1, -1, 3]
    # Fused: every LSTM without an initial state became the fused op, with
    # Keras' (absent) cell clipping.
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in infos["fused"]["ops"]
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in infos["loop"]["ops"]
    assert infos["fused"]["fused_lstm_ops"] == 9
    from ai_edge_litert.tools import flatbuffer_utils

    m = flatbuffer_utils.read_model(paths["fused"])
    clips = [op.builtinOptions.cellClip for sg in m.subgraphs for op in sg.operators
             if hasattr(op.builtinOptions, "cellClip")]
    assert clips and all(c == 0.0 for c in clips)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_unmasked_loop_file_keeps_dynamic_shapes_and_matches_keras(kind, tmp_path):
    """The unmasked loop form: the input projection of all steps is one 3-D
    FULLY_CONNECTED feeding the WHILE loop directly (no reshape to a shape
    computed at run time, no transpose), and one interpreter runs any batch
    and length in turn, equal to Keras' layer with the same weights."""
    ours_cls, keras_cls = {"lstm": (LSTMX, keras.layers.LSTM),
                           "gru": (GRUX, keras.layers.GRU)}[kind]
    keras.utils.set_random_seed(3)
    x = keras.Input((None, 5))
    ours, theirs = ours_cls(6), keras_cls(6)
    model = keras.Model(x, ours(x))
    reference = keras.Model(x, theirs(x))
    theirs.set_weights([np.random.default_rng(4).normal(0, 0.5, w.shape).astype("float32")
                        for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    path = str(tmp_path / "loop.tflite")
    export.to_tflite(model, path, lstm_kernel="loop")
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    fb = flatbuffer_utils.read_model(path)
    by_code = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = [fb.operatorCodes[op.opcodeIndex] for op in fb.subgraphs[0].operators]
    main = [by_code[max(c.builtinCode, c.deprecatedBuiltinCode)] for c in codes]
    assert "WHILE" in main and "TRANSPOSE" not in main and "RESHAPE" not in main, main
    run = export.load_tflite(path)
    rng = np.random.default_rng(5)
    for batch, steps in [(1, 50), (3, 7), (1, 1), (5, 12), (1, 9)]:
        data = rng.normal(size=(batch, steps, 5)).astype("float32")
        got = run(data)
        assert got.shape == (batch, 6)
        np.testing.assert_allclose(got, reference(data).numpy(), atol=1e-5)


def _nested_while_bodies(path):
    """How many WHILE bodies of the file run a WHILE themselves."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    fb = flatbuffer_utils.read_model(path)
    whiles = {i for i, c in enumerate(fb.operatorCodes)
              if max(c.builtinCode, c.deprecatedBuiltinCode) == schema.BuiltinOperator.WHILE}
    bodies = {op.builtinOptions.bodySubgraphIndex for sg in fb.subgraphs
              for op in sg.operators if op.opcodeIndex in whiles}
    return sum(any(op.opcodeIndex in whiles for op in fb.subgraphs[b].operators)
               for b in bodies)


def test_sequence_outputs_written_in_blocks_match_keras_across_block_ends(tmp_path):
    """Whole-sequence outputs are written block by block (an inner WHILE
    per block in an outer WHILE; blocks of max(16, T // 16) steps): one
    interpreter runs lengths on both sides of block ends (15, 16, 17, 33),
    a length whose blocks are longer than 16 (300: 18 steps), 0 and 1, and
    equals the Keras model each time (LSTM and GRU, masked with holes and
    left padding, unmasked, backward, BiDirectional, return_state). A
    full-integer file keeps the single loop (its calibration cannot run
    nested loops), as do streaming files (tested with streaming), and the
    float32 one with `return_sequences=False` only has no nested loop."""
    keras.utils.set_random_seed(8)
    x = keras.Input((None, 3), name="x")
    ids = keras.Input((None,), dtype="int32", name="ids")
    emb = keras.layers.Embedding(VOCAB, 3, mask_zero=True)(ids)
    outs = {
        "u_lstm_seq": LSTMX(4, return_sequences=True)(x),
        "u_gru_back_seq": GRUX(4, return_sequences=True, go_backwards=True)(x),
        "m_lstm_back_seq": LSTMX(4, return_sequences=True, go_backwards=True)(emb),
        "m_bi_seq": BiDirectional(GRUX(2, return_sequences=True))(emb),
    }
    outs["m_gru_seq"], outs["m_gru_h"] = GRUX(
        4, return_sequences=True, return_state=True, reset_after=False)(emb)
    model = keras.Model({"x": x, "ids": ids}, outs)
    path = str(tmp_path / "blocks.tflite")
    export.to_tflite(model, path)
    assert _nested_while_bodies(path) == 6  # one per whole-sequence direction
    run = export.load_tflite(path)
    rng = np.random.default_rng(9)
    for batch, steps in [(2, 17), (1, 16), (3, 15), (2, 33), (1, 0), (2, 300), (1, 1)]:
        ids_np = rng.integers(1, VOCAB, size=(batch, steps)).astype("int32")
        ids_np[:, : steps // 5] = 0  # left padding
        ids_np[:, steps // 2: steps // 2 + 3] = 0  # a hole
        feed = {"x": rng.normal(size=(batch, steps, 3)).astype("float32"), "ids": ids_np}
        got = run(**feed)
        want = {k: v.numpy() for k, v in model(feed).items()}
        for name, value in want.items():
            assert got[name].shape == value.shape, (name, batch, steps)
            np.testing.assert_allclose(got[name], value, atol=1e-5,
                                       err_msg=f"{name} at T={steps}")

    last_only = keras.Model(x, LSTMX(4)(x))
    export.to_tflite(last_only, str(tmp_path / "last.tflite"))
    assert _nested_while_bodies(str(tmp_path / "last.tflite")) == 0
    small = keras.Model(x, LSTMX(4, return_sequences=True)(x))
    rep = [rng.normal(size=(1, 6, 3)).astype("float32") for _ in range(4)]
    export.to_tflite(small, str(tmp_path / "int8.tflite"), quantize="int8",
                     representative_data=rep)
    assert _nested_while_bodies(str(tmp_path / "int8.tflite")) == 0


@pytest.mark.parametrize("kernel", ["loop", "fused"])
def test_file_runs_empty_sequences_between_other_lengths(kernel, tmp_path):
    """Length 0 (and 1 and odd lengths) in one interpreter, in turn: every
    whole-sequence output is [B, 0, H] and every last output and state the
    zero initial state at length 0, and the same file still equals the Keras
    model at the other lengths, a row of padding only included (LSTM and
    GRU, masked and unmasked, both directions, BiDirectional, return_state).
    The fused file runs its LSTMs as UNIDIRECTIONAL_SEQUENCE_LSTM, whose
    last output is read at each row's length."""
    keras.utils.set_random_seed(5)
    x = keras.Input((None, 3), name="x")
    ids = keras.Input((None,), dtype="int32", name="ids")
    emb = keras.layers.Embedding(VOCAB, 3, mask_zero=True)(ids)
    outs = {
        "u_lstm_seq": LSTMX(4, return_sequences=True)(x),
        "u_lstm_back_seq": LSTMX(4, return_sequences=True, go_backwards=True)(x),
        "u_gru_back_seq": GRUX(4, return_sequences=True, go_backwards=True)(x),
        "m_lstm_seq": LSTMX(4, return_sequences=True)(emb),
        "m_bi_seq": BiDirectional(GRUX(2, return_sequences=True))(emb),
        "m_bi_lstm_seq": BiDirectional(LSTMX(2, return_sequences=True))(emb),
        "u_gru_last": GRUX(4)(x),
    }
    outs["u_lstm_last"], outs["u_lstm_h"], outs["u_lstm_c"] = LSTMX(
        4, return_state=True)(x)
    outs["m_lstm_last"], outs["m_lstm_h"], outs["m_lstm_c"] = LSTMX(
        4, return_state=True)(emb)
    model = keras.Model({"x": x, "ids": ids}, outs)
    path = str(tmp_path / "empty.tflite")
    info = export.to_tflite(model, path, lstm_kernel=kernel)
    assert info.get("fused_lstm_ops", 0) == (7 if kernel == "fused" else 0)
    run = export.load_tflite(path)
    rng = np.random.default_rng(6)
    for batch, steps in [(2, 0), (3, 1), (2, 7), (1, 0), (3, 5)]:
        feed = {"x": rng.normal(size=(batch, steps, 3)).astype("float32"),
                "ids": (_right_padded_ids(batch, steps, rng) if steps
                        else np.zeros((batch, 0), "int32"))}
        if batch == 3 and steps == 5:
            feed["ids"][2] = 0  # a row of padding only
        got = run(**feed)
        want = {k: v.numpy() for k, v in model(feed).items()}
        for name, value in want.items():
            assert got[name].shape == value.shape, (name, batch, steps)
            if steps == 0:
                width = value.shape[-1]
                expected = (np.zeros((batch, 0, width)) if name.endswith("seq")
                            else np.zeros((batch, width)))
                np.testing.assert_array_equal(got[name], expected, err_msg=name)
            np.testing.assert_allclose(got[name], value, atol=1e-5, err_msg=name)


def test_fused_runner_does_not_leak_state_between_calls(zoo):
    model, paths, _ = zoo
    run = export.load_tflite(paths["fused"])
    rng = np.random.default_rng(12)
    ids = _right_padded_ids(2, 5, rng)
    feats = rng.normal(size=(2, 5, 3)).astype("float32")
    first = run(ids=ids, feats=feats)
    run(ids=_right_padded_ids(2, 5, rng), feats=feats + 1)
    again = run(ids=ids, feats=feats)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])


def _signature_indices(interpreter):
    """{input name: tensor index}, {output name: tensor index} of the file's
    signature (the signature runner is dropped again: while one is alive,
    LiteRT's Python Interpreter refuses `invoke`)."""
    signature = interpreter.get_signature_runner()
    ins = {k: d["index"] for k, d in signature.get_input_details().items()}
    outs = {k: d["index"] for k, d in signature.get_output_details().items()}
    del signature
    return ins, outs


def _stock_run(interpreter, ins, outs, inputs):
    """Runs a file in LiteRT's own Interpreter with nothing but what an app
    does: `resize_tensor_input` for each input, `allocate_tensors`,
    `set_tensor`, `invoke` (no keras_rnnx runner, no metadata)."""
    for name, value in inputs.items():
        interpreter.resize_tensor_input(ins[name], value.shape, strict=True)
    interpreter.allocate_tensors()
    for name, value in inputs.items():
        interpreter.set_tensor(ins[name], value)
    interpreter.invoke()
    return {name: interpreter.get_tensor(index) for name, index in outs.items()}


def test_fused_file_runs_at_any_batch_in_the_stock_interpreter(zoo):
    """The fused op's state tensors follow the batch and start from zero at
    every invoke, in LiteRT's Interpreter and its signature runner alone:
    batch sizes 1, 7, 3, 1 in turn, each invoked twice, and the signature
    runner at 2 and 6, against Keras (masked and unmasked, backward,
    bidirectional, return_state)."""
    from ai_edge_litert.interpreter import Interpreter

    model, paths, infos = zoo
    assert infos["fused"]["variables"] == []  # nothing for an app to resize
    interpreter = Interpreter(model_path=paths["fused"])
    ins, outs = _signature_indices(interpreter)
    from ai_edge_litert.tools import flatbuffer_utils

    tensors = flatbuffer_utils.read_model(paths["fused"]).subgraphs[0].tensors
    states = [list(t.shapeSignature) for t in tensors if t.isVariable]
    assert len(states) == 2 * infos["fused"]["fused_lstm_ops"]
    assert all(s[0] == -1 for s in states), states  # the file says: any batch
    rng = np.random.default_rng(21)
    for batch, steps in [(1, 5), (7, 6), (3, 1), (1, 8)]:
        inputs = {"ids": _right_padded_ids(batch, steps, rng),
                  "feats": rng.normal(size=(batch, steps, 3)).astype("float32")}
        want = {k: v.numpy() for k, v in model(inputs).items()}
        for _ in range(2):  # a second invoke starts from zero states too
            got = _stock_run(interpreter, ins, outs, inputs)
            for name in want:
                np.testing.assert_allclose(got[name], want[name], atol=1e-4,
                                           err_msg=f"{name} at batch {batch}")
    signature = Interpreter(model_path=paths["fused"]).get_signature_runner()
    for batch in (2, 6):
        inputs = {"ids": _right_padded_ids(batch, 4, rng),
                  "feats": rng.normal(size=(batch, 4, 3)).astype("float32")}
        want = {k: v.numpy() for k, v in model(inputs).items()}
        got = signature(**inputs)
        for name in want:
            np.testing.assert_allclose(got[name], want[name], atol=1e-4, err_msg=name)


def test_fused_dynamic_range_file_runs_at_any_batch_in_the_stock_interpreter(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    keras.utils.set_random_seed(5)
    x = keras.Input((None, 4), name="x")
    model = keras.Model(x, keras.layers.Dense(3)(LSTMX(24, return_sequences=True)(x)))
    path = str(tmp_path / "fused_dynamic.tflite")
    export.to_tflite(model, path, lstm_kernel="fused", quantize="dynamic")
    interpreter = Interpreter(model_path=path)
    ins, outs = _signature_indices(interpreter)
    rng = np.random.default_rng(22)
    for batch in (1, 7, 2):
        inputs = {"x": rng.normal(size=(batch, 6, 4)).astype("float32")}
        (got,) = _stock_run(interpreter, ins, outs, inputs).values()
        assert got.shape == (batch, 6, 3)
        np.testing.assert_allclose(got, model(inputs["x"]).numpy(),
                                   atol=QUANT_TOLERANCE["dynamic"])


# ------------------------------------------------------------- quantization
@pytest.fixture(scope="module")
def small_model():
    keras.utils.set_random_seed(3)
    x = keras.Input((None, 4), name="x")
    y = LSTMX(32, return_sequences=True)(x)
    y = GRUX(32)(y)
    return keras.Model(x, keras.layers.Dense(3, name="logits")(y))


# Stated tolerances (max abs difference vs the float32 Keras model).
QUANT_TOLERANCE = {None: 1e-4, "dynamic": 5e-2, "float16": 5e-3, "int8": 1.5e-1}


@pytest.mark.slow
def test_quantized_exports_within_tolerance(small_model, tmp_path):
    rng = np.random.default_rng(0)
    rep = [rng.normal(size=(2, 6, 4)).astype("float32") for _ in range(10)]
    x = rng.normal(size=(3, 7, 4)).astype("float32")
    want = small_model(x).numpy()
    sizes, diffs = {}, {}
    for quantize in QUANT_TOLERANCE:
        path = tmp_path / f"q_{quantize}.tflite"
        info = export.to_tflite(small_model, path, quantize=quantize,
                                representative_data=rep)
        assert info["size"] == os.path.getsize(path)
        assert not [o for o in info["ops"] if o.startswith("CUSTOM")]
        sizes[quantize] = info["size"]
        diffs[quantize] = float(np.abs(export.load_tflite(path)(x) - want).max())
        assert diffs[quantize] < QUANT_TOLERANCE[quantize], (quantize, diffs)
    # The weights really were quantized: smaller files by most of the
    # weights' float32 bytes (int8: the matrices; float16: everything),
    # non-zero error.
    weight_bytes = 4 * small_model.count_params()
    assert sizes[None] - sizes["dynamic"] > 0.5 * weight_bytes, (sizes, weight_bytes)
    assert sizes[None] - sizes["float16"] > 0.4 * weight_bytes, (sizes, weight_bytes)
    assert diffs["dynamic"] > 0 and diffs["int8"] > 0


# ---------------------------------------------------------------- streaming
def test_streaming_tflite_reproduces_full_sequence(tmp_path):
    keras.utils.set_random_seed(5)
    ids = keras.Input((None,), dtype="int32", name="ids")
    x = keras.layers.Embedding(VOCAB, 4, mask_zero=True)(ids)
    x = LSTMX(5, return_sequences=True)(x)
    x = GRUX(4, return_sequences=True, reset_after=False)(x)
    seq = keras.layers.Dense(3, name="logits")(x)
    last = GRUX(2, variant="simplified", name="summary")(x)
    model = keras.Model(ids, [seq, last])
    path = tmp_path / "stream.tflite"
    info = export.to_tflite(model, path, streaming=True)
    assert [s["name"] for s in info["states"]] == [
        "state0_h", "state0_c", "state1_h", "state2_h"]
    assert _nested_while_bodies(str(path)) == 0  # chunks of a step: no blocks
    run = export.load_tflite(path)
    rng = np.random.default_rng(2)
    ids_np = _right_padded_ids(3, 6, rng)
    want_seq, want_last = [t.numpy() for t in model(ids_np)]
    states = {}
    for t in range(ids_np.shape[1]):
        out = run(ids=ids_np[:, t:t + 1], **states)
        np.testing.assert_allclose(out["logits"][:, 0], want_seq[:, t], atol=1e-4)
        states = {s["name"]: out[s["name"]] for s in info["states"]}
    np.testing.assert_allclose(out["summary"], want_last, atol=1e-4)


def test_streaming_rejects_bidirectional(tmp_path):
    x = keras.Input((None, 3))
    model = keras.Model(x, BiDirectional(LSTMX(2))(x))
    with pytest.raises(ValueError, match="streaming=True.*bidirectional"):
        export.to_tflite(model, tmp_path / "s.tflite", streaming=True)
    with pytest.raises(ValueError, match="streaming=True"):
        export.to_saved_model(model, tmp_path / "s_sm", streaming=True)
    assert not os.listdir(tmp_path)


# ------------------------------------------------------------ errors, atomic
@pytest.fixture(scope="module")
def tiny_model():
    x = keras.Input((None, 3), name="x")
    return keras.Model(x, LSTMX(2)(x))


@pytest.mark.parametrize(
    "kwargs,match",
    [({"quantize": "int4"}, "quantize"),
     ({"lstm_kernel": "cudnn"}, "lstm_kernel"),
     ({"quantize": "int8"}, "representative_data"),
     ({"streaming": True, "lstm_kernel": "fused"}, "streaming"),
     ({"quantize": "float16", "lstm_kernel": "fused"}, "quantize.*fused")],
)
def test_bad_arguments(tiny_model, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        export.to_tflite(tiny_model, tmp_path / "m.tflite", **kwargs)
    assert not os.listdir(tmp_path)


def test_keras_lstm_is_rejected_with_a_hint(tmp_path):
    x = keras.Input((None, 3))
    model = keras.Model(x, keras.layers.LSTM(2, name="old_lstm")(x))
    with pytest.raises(ValueError, match="old_lstm.*LSTMX"):
        export.to_tflite(model, tmp_path / "m.tflite")
    assert not os.listdir(tmp_path)


def test_existing_and_unwritable_paths(tiny_model, tmp_path):
    target = tmp_path / "m.tflite"
    target.write_bytes(b"old")
    with pytest.raises(ValueError, match="already exists.*overwrite"):
        export.to_tflite(tiny_model, target)
    assert target.read_bytes() == b"old"
    not_a_folder = tmp_path / "plain_file"
    not_a_folder.write_text("x")
    with pytest.raises(ValueError, match="cannot write"):
        export.to_tflite(tiny_model, not_a_folder / "m.tflite")
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user that ignores permissions")
        with pytest.raises(ValueError, match="cannot write"):
            export.to_tflite(tiny_model, locked / "m.tflite")
    finally:
        os.chmod(locked, 0o700)


def test_failed_export_leaves_previous_file_untouched(tiny_model, tmp_path, monkeypatch):
    target = tmp_path / "m.tflite"
    target.write_bytes(b"previous export")
    real_write = os.fsync

    def boom(fd):
        real_write(fd)
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="simulated"):
        export.to_tflite(tiny_model, target, overwrite=True)
    monkeypatch.undo()
    assert target.read_bytes() == b"previous export"
    assert os.listdir(tmp_path) == ["m.tflite"]
    export.to_tflite(tiny_model, target, overwrite=True)
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    np.testing.assert_allclose(export.load_tflite(target)(x), tiny_model(x), atol=1e-4)


def test_mixed_precision_model_is_rejected_with_a_hint(tmp_path):
    keras.config.set_dtype_policy("mixed_float16")
    x = keras.Input((None, 3))
    model = keras.Model(x, LSTMX(2, name="half")(x))
    keras.config.set_dtype_policy("float32")
    with pytest.raises(ValueError, match="half.*float16.*float32"):
        export.to_tflite(model, tmp_path / "m.tflite")
    assert not os.listdir(tmp_path)


# -- Keras' and TensorFlow's own converters inside export.for_tflite() --------

def _keras_export_model():
    keras.utils.set_random_seed(3)
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, 4, mask_zero=True)(ids)
    x = BiDirectional(LSTMX(5, return_sequences=True))(x)
    x = GRUX(4, reset_after=False, return_sequences=True)(x)
    x = GRUX(3, go_backwards=True)(x)
    return keras.Model(ids, keras.layers.Dense(2)(x))


def _run_plain_interpreter(data, ids):
    """The flatbuffer `data` on `ids` with the stock interpreter (no Flex)."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=bytes(data))
    inp = it.get_input_details()[0]
    it.resize_tensor_input(inp["index"], ids.shape)
    it.allocate_tensors()
    it.set_tensor(inp["index"], ids)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


@pytest.mark.slow
def test_keras_litert_export_inside_for_tflite_is_builtin_and_exact(tmp_path):
    model = _keras_export_model()
    plain, lowered = str(tmp_path / "plain.tflite"), str(tmp_path / "lowered.tflite")
    # Keras' own exporter on its own: the TensorFlow kernels need Flex ops
    model.export(plain, format="litert", verbose=False)
    assert any(op.startswith("CUSTOM:Flex") for op in export.tflite_ops(plain))
    with export.for_tflite():
        model.export(lowered, format="litert", verbose=False)
    assert kernels.current_lowering() is None  # the context is left
    ops = export.tflite_ops(lowered)
    assert "WHILE" in ops and not [op for op in ops if op.startswith("CUSTOM")], ops
    with open(lowered, "rb") as f:
        data = f.read()
    rng = np.random.default_rng(0)
    for batch, steps in [(1, 1), (3, 7), (5, 4)]:  # dynamic batch and time
        ids = _right_padded_ids(batch, steps, rng)
        got = _run_plain_interpreter(data, ids)
        np.testing.assert_allclose(got, model(ids).numpy(), atol=1e-4)


@pytest.mark.slow
def test_tf_converter_from_keras_model_inside_for_tflite():
    model = _keras_export_model()
    with export.for_tflite():
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        data = converter.convert()
    assert not [op for op in export.tflite_ops(data) if op.startswith("CUSTOM")]
    ids = _right_padded_ids(4, 6, np.random.default_rng(1))
    np.testing.assert_allclose(_run_plain_interpreter(data, ids), model(ids).numpy(),
                               atol=1e-4)


def test_for_tflite_docstring_example_runs():
    import doctest

    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(export.for_tflite, "for_tflite", globs={}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0


# -- functions and a language model's generator through the same conversion --
def test_generator_tflite_runs_through_load_tflite(tmp_path):
    """A generator's `.tflite` (export_generator, format="tflite") has the
    metadata and builtin ops of every export, and `load_tflite` runs its
    "generate" signature, agreeing with the Keras-side generation."""
    from keras_rnnx import decoding
    from keras_rnnx.models.language_model import BOS, LanguageModel, export_generator

    keras.utils.set_random_seed(3)
    lm = LanguageModel(17, embedding_dim=6, units=8)
    lm.build((None, None))
    beam = decoding.BeamSearch(3)
    path = export_generator(lm, str(tmp_path / "gen.tflite"), beam, 7, format="tflite")
    runner = export.load_tflite(path)  # the file's only signature
    assert runner.signature_name == "generate" and runner.signatures == ["generate"]
    assert runner.info["signatures"]["generate"]["inputs"] == ["prompt_ids"]
    assert not [o for o in runner.info["ops"] if o.startswith("CUSTOM") or "FLEX" in o]
    assert "WHILE" in export.tflite_ops(path)
    named = export.load_tflite(path, signature="generate")
    prompts = np.array([[BOS, 5, 6, 0], [BOS, 9, 0, 0]], np.int32)
    for batch in (prompts, prompts[:1, :2]):
        want_seq, want_score = lm.generate(batch, beam, 7)
        for run in (runner, named):
            out = run(batch)
            assert sorted(out) == ["scores", "sequences"]
            np.testing.assert_array_equal(out["sequences"], want_seq)
            np.testing.assert_allclose(out["scores"], want_score, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="no signature 'serving_default'"):
        export.load_tflite(path, signature="serving_default")


def test_runner_picks_a_signature_by_name(tmp_path):
    """A file with several signatures: the default one runs by default,
    others by `signature=` or `runner.signature(name)`."""

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="x")])
    def serve(x):
        return {"double": 2.0 * x}

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="x")])
    def total(x):
        return {"sum": tf.reduce_sum(x, axis=-1)}

    path = tmp_path / "two.tflite"
    info = export.functions_to_tflite({"serving_default": serve, "total": total}, path)
    assert sorted(info["signatures"]) == ["serving_default", "total"]
    x = np.arange(6, dtype="float32").reshape(2, 3)
    runner = export.load_tflite(path)
    assert runner.signature_name == "serving_default"
    np.testing.assert_allclose(runner(x)["double"], 2 * x)
    for other in (runner.signature("total"), export.load_tflite(path, signature="total")):
        np.testing.assert_allclose(other(x)["sum"], x.sum(-1))
        np.testing.assert_allclose(other(x[:1, :2])["sum"], x[:1, :2].sum(-1))
    with pytest.raises(ValueError, match="no signature 'nope'"):
        runner.signature("nope")
    with pytest.raises(ValueError, match="exists"):
        export.functions_to_tflite({"total": total}, path)


def test_functions_to_tflite_refuses_flex_ops_and_writes_nothing(tmp_path):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def split(text):
        return {"n": tf.strings.length(tf.strings.regex_replace(text, "a+", "b"))}

    with pytest.raises(ValueError, match="builtin ops"):
        export.functions_to_tflite({"split": split}, tmp_path / "f.tflite")
    assert os.listdir(tmp_path) == []
