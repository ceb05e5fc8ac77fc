"""`export.verify`: a model against its exports, pass and fail, reports."""
import os

import numpy as np
import pytest

import keras
import tensorflow as tf

from keras_rnnx import GRUX, LSTMX, export


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    keras.utils.set_random_seed(5)
    ids = keras.Input((None,), dtype="int32", name="ids")
    x = keras.layers.Embedding(19, 4, mask_zero=True)(ids)
    seq = LSTMX(4, return_sequences=True)(x)
    model = keras.Model(ids, {"per_step": keras.layers.Dense(2)(seq),
                              "last": GRUX(3)(seq)})
    d = tmp_path_factory.mktemp("verify")
    paths = {"sm": str(d / "sm"), "tflite": str(d / "m.tflite"),
             "f16": str(d / "f16.tflite"), "stream": str(d / "stream.tflite")}
    export.to_saved_model(model, paths["sm"])
    export.to_tflite(model, paths["tflite"])
    export.to_tflite(model, paths["f16"], quantize="float16")
    export.to_tflite(model, paths["stream"], streaming=True)
    return model, paths, d


def test_good_exports_pass(exported):
    model, paths, _ = exported
    real = {"ids": np.array([[4, 5, 6, 0], [7, 1, 2, 3]])}  # int64: cast to the input dtype
    report = export.verify(model, paths["sm"], paths["tflite"], paths["f16"], paths["stream"],
                           inputs=real, batch_sizes=[1, 3], lengths=[1, 5])
    assert report.ok, str(report)
    kinds = [(c.kind, c.quantize, c.streaming, c.atol) for c in report.exports]
    assert kinds == [("saved_model", None, False, 1e-4), ("tflite", None, False, 1e-4),
                     ("tflite", "float16", False, 5e-3), ("tflite", None, True, 1e-4)]
    for check in report.exports:
        assert [(c.batch, c.length) for c in check.cases] == [
            (1, 1), (1, 5), (3, 1), (3, 5), (None, None)]
        assert sorted(check.diffs) == ["last", "per_step"]
        assert check.mismatched == [] and check.problems() == []
        assert check.summary().startswith("OK   " + check.export)
    data = report.to_dict()
    assert data["ok"] and len(data["exports"]) == 4
    assert data["exports"][2]["max_diff"] == report.exports[2].max_diff
    # float16 weights differ from float32 by far more than this
    strict = export.verify(model, paths["f16"], batch_sizes=[2], lengths=[5], atol=1e-9)
    assert not strict.ok and strict.exports[0].summary().startswith("FAIL")
    assert any("differ by" in p for p in strict.exports[0].problems())


def test_tampered_export_fails_and_reports(exported):
    """A .tflite whose weights were changed after export fails verification;
    loaded exports (a runner, a SavedModel) are accepted as well as paths."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model, paths, d = exported
    m = flatbuffer_utils.read_model(paths["tflite"])
    changed = 0
    for sg in m.subgraphs:
        for t in sg.tensors:
            buf = m.buffers[t.buffer]
            if (t.type == schema.TensorType.FLOAT32 and buf.data is not None
                    and len(buf.data) >= 8):
                values = np.frombuffer(bytes(bytearray(buf.data)), np.float32) + 0.5
                buf.data = list(values.tobytes())
                changed += 1
    assert changed
    tampered = str(d / "tampered.tflite")
    flatbuffer_utils.write_model(m, tampered)
    runner = export.load_tflite(tampered)
    report = export.verify(model, tf.saved_model.load(paths["sm"]), runner,
                           batch_sizes=[2], lengths=[3, 6])
    good, bad = report.exports
    assert good.ok and good.kind == "saved_model"
    assert not report.ok and not bad.ok and bad.kind == "tflite"
    assert bad.max_diff > bad.atol
    assert bad.problems() and all("differ by" in p for p in bad.problems())
    assert str(report).splitlines()[1].startswith(f"FAIL {tampered} (tflite)")


def test_callable_reference_compares_exact_outputs_exactly(tmp_path):
    """With a callable reference (precomputed outputs), integer and string
    outputs must match exactly and floats within the tolerance; a named
    signature is run."""
    ids = keras.Input((None,), dtype="int32", name="ids")
    model = keras.Model(ids, keras.layers.Embedding(9, 2, name="emb")(ids))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def describe(text):
        return {"text": text, "length": tf.strings.length(text),
                "half": tf.cast(tf.strings.length(text), tf.float32) / 2.0}

    export.to_saved_model(model, tmp_path / "sm", signatures={"describe": describe})
    inputs = {"text": np.array(["ab", "cde"], dtype=object)}
    right = {"text": np.array([b"ab", b"cde"], dtype=object),
             "length": np.array([2, 3], np.int32), "half": np.array([1.0, 1.5], np.float32)}
    report = export.verify(lambda x: right, str(tmp_path / "sm"), inputs=inputs,
                           signature="describe")
    assert report.ok and report.exports[0].signature == "describe"
    wrong = dict(right, text=np.array([b"ab", b"cdx"], dtype=object),
                 length=np.array([2, 4], np.int32), half=np.array([1.0, 1.6], np.float32))
    check = export.verify(lambda x: wrong, str(tmp_path / "sm"), inputs=inputs,
                          signature="describe").exports[0]
    assert not check.ok
    assert check.mismatched == ["length", "text"]
    assert check.problems("Keras") == ["length differ from Keras", "text differ from Keras",
                                       "half differ by 1.00e-01 (> 0.0001)"]
    missing = export.verify(lambda x: dict(right, extra=np.zeros(2)), str(tmp_path / "sm"),
                            inputs=inputs, signature="describe").exports[0]
    assert missing.mismatched == ["extra"] and not missing.ok


def test_bad_arguments(exported, tmp_path):
    model, paths, _ = exported
    with pytest.raises(ValueError, match="no .tflite file"):
        export.verify(model, str(tmp_path / "missing.tflite"))
    with pytest.raises(ValueError, match="no signature 'nope'"):
        export.verify(model, paths["sm"], signature="nope", batch_sizes=[1], lengths=[2])
    with pytest.raises(ValueError, match="no signature 'nope'"):
        export.verify(model, paths["tflite"], signature="nope", batch_sizes=[1], lengths=[2])
    with pytest.raises(ValueError, match="dict by input name"):
        export.verify(lambda x: {}, paths["sm"])
    with pytest.raises(ValueError, match="exports"):
        export.verify(model)
    with pytest.raises(TypeError, match="reference"):
        export.verify("model", paths["sm"])
    with pytest.raises(ValueError, match="missing"):
        export.verify(model, paths["sm"], inputs={"other": np.zeros((1, 2), "int32")})


def test_random_inputs_fit_the_model(exported):
    model, _, _ = exported
    assert export.input_names(model) == ["ids"]
    (a,) = export.random_inputs(model, 4, 6, seed=1)
    assert a.shape == (4, 6) and a.dtype == np.int32
    assert a.min() >= 0 and a.max() < 19 and (a[0] != 0).all()
    np.testing.assert_array_equal(a, export.random_inputs(model, 4, 6, seed=1)[0])


def test_int8_agreement_against_numpy():
    rng = np.random.default_rng(11)
    want = rng.normal(size=(6, 5, 4))
    got = want + rng.normal(scale=0.3, size=want.shape)
    corr, argmax = export.int8_agreement(got, want)
    assert corr == pytest.approx(np.corrcoef(got.ravel(), want.ravel())[0, 1])
    # brute force: every (row, step) position's argmax over the last axis
    same = [np.argmax(got[i, t]) == np.argmax(want[i, t]) for i in range(6) for t in range(5)]
    assert argmax == pytest.approx(np.mean(same))
    # pooled over cases (lists of arrays) = the arrays concatenated
    pooled = export.int8_agreement([got[:2], got[2:]], [want[:2], want[2:]])
    assert pooled == pytest.approx((corr, argmax))
    # one value per row: no argmax; constant values: 1.0 when equal, else 0.0
    assert export.int8_agreement(got[..., :1], want[..., :1])[1] is None
    assert export.int8_agreement(np.zeros((4, 1)), np.zeros((4, 1))) == (1.0, None)
    assert export.int8_agreement(np.ones((2, 3)), np.zeros((2, 3)))[0] == 0.0
    with pytest.raises(ValueError, match="got, want"):
        export.int8_agreement(np.zeros((2, 3)), np.zeros((3, 2)))
