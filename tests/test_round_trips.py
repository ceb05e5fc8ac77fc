"""Round trips lose nothing; interrupted writes keep the old file; corrupt
files fail loudly.

Tolerances: `.keras` save/load: exact (bitwise equal outputs); word2vec
binary format: exact, text format: 1e-6 relative; SavedModel: 1e-5 absolute;
TFLite (float32): 1e-4 absolute.
"""
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_rnnx
from keras_rnnx import (AttentionDecoder, AttentionDecoderCell, BahdanauAttention,
                        BiDirectional, GRUCellX, GRUX, LSTMCellX, LSTMX, export, training)

VOCAB = 11


def _randomize(model, seed=3):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(w.dtype) for w in model.get_weights()])


def _zoo():
    """A model using every public sequence layer and cell, most options."""
    ids = keras.Input((None,), dtype="int32", name="ids")
    feats = keras.Input((None, 3), name="feats")
    emb = keras.layers.Embedding(VOCAB, 4, mask_zero=True)(ids)
    outs = [LSTMX(3, return_sequences=True, go_backwards=True)(emb)]
    seq, h, c = LSTMX(3, return_sequences=True, return_state=True, activation="relu",
                      recurrent_activation="hard_sigmoid")(feats)
    outs += [seq, h, c]
    outs.append(GRUX(3, reset_after=False, use_bias=False)(emb))
    outs.append(GRUX(3, variant="simplified", return_sequences=True)(emb))
    outs.append(BiDirectional(LSTMX(2, return_sequences=True))(emb))
    outs.append(BiDirectional(GRUX(2), merge_mode="sum")(emb))
    outs.append(BiDirectional(GRUX(2, variant="simplified"), merge_mode="mul")(feats))
    outs.append(BiDirectional(LSTMX(2), merge_mode="ave")(feats))
    outs += BiDirectional(GRUX(2, return_sequences=True, reset_after=False), merge_mode=None)(emb)
    outs.append(keras.layers.RNN(LSTMCellX(3))(feats))
    outs.append(keras.layers.RNN(keras.layers.StackedRNNCells(
        [GRUCellX(2), GRUCellX(2, variant="simplified")]))(emb))
    context, weights = BahdanauAttention(4)(h, seq)
    outs += [context, weights]
    dec_out, dec_w = AttentionDecoder(AttentionDecoderCell(LSTMCellX(4), BahdanauAttention(3)))(
        feats, seq)
    outs += [dec_out, dec_w]
    model = keras.Model({"ids": ids, "feats": feats}, outs)
    _randomize(model)
    return model


def _inputs(batch=3, steps=5, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, VOCAB, size=(batch, steps)).astype("int32")
    ids[1, 3:] = 0
    ids[2, :] = 0  # all padding
    return {"ids": ids, "feats": rng.normal(size=(batch, steps, 3)).astype("float32")}


@pytest.fixture(scope="module")
def zoo():
    return _zoo()


def test_keras_file_round_trip_is_exact(zoo, tmp_path):
    x = _inputs()
    path = training.save_model(zoo, tmp_path / "zoo.keras")
    loaded = keras.saving.load_model(path)
    ours, theirs = zoo(x), loaded(x)
    assert len(ours) == len(theirs) == 18
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for a, b in zip(zoo.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    # Every public layer class is in the file, deserialized as itself.
    names = {type(l).__name__ for l in _walk(loaded)}
    for cls in ("LSTMX", "GRUX", "BiDirectional", "LSTMCellX", "GRUCellX",
                "BahdanauAttention", "AttentionDecoder", "AttentionDecoderCell"):
        assert cls in names, cls


def _walk(layer):
    yield layer
    for sub in getattr(layer, "_layers", []) or []:
        yield from _walk(sub)
    for attr in ("cell", "cells", "forward_layer", "backward_layer", "attention"):
        sub = getattr(layer, attr, None)
        for s in sub if isinstance(sub, (list, tuple)) else [sub]:
            if isinstance(s, keras.layers.Layer):
                yield from _walk(s)


def test_skipgram_round_trip_is_exact(tmp_path):
    t = keras.Input(shape=(), dtype="int32")
    c = keras.Input(shape=(), dtype="int32")
    model = keras.Model([t, c], keras_rnnx.SkipGram(20, 4, num_negative=2)((t, c)))
    _randomize(model)
    path = training.save_model(model, tmp_path / "sg.keras")
    loaded = keras.saving.load_model(path)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert loaded.layers[-1].get_config() == model.layers[-1].get_config()


def test_word2vec_files_round_trip(tmp_path):
    from keras_rnnx.word2vec.keyed_vectors import KeyedVectors

    words = ["the", "cat", "ünïcødé", "日本", "слово", "a-b", "x" * 60]
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(len(words), 6)) * np.logspace(-6, 3, 6)  # tiny to large
    wv = KeyedVectors(words, vecs)
    for binary in (True, False):
        path = tmp_path / f"v{int(binary)}.txt"
        wv.save_word2vec_format(str(path), binary=binary)
        back = KeyedVectors.load_word2vec_format(str(path), binary=binary)
        for w in words:
            a, b = np.asarray(wv[w]), np.asarray(back[w])
            if binary:
                np.testing.assert_array_equal(a, b)
            else:
                np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def _seq_model():
    feats = keras.Input((None, 3), name="feats")
    x = BiDirectional(GRUX(3, return_sequences=True, reset_after=False))(feats)
    x = LSTMX(3, return_sequences=True)(x)
    out = GRUX(2, variant="simplified")(x)
    model = keras.Model(feats, out)
    _randomize(model, seed=5)
    return model


@pytest.mark.slow
def test_saved_model_and_tflite_round_trip(tmp_path):
    model = _seq_model()
    export.to_saved_model(model, str(tmp_path / "sm"))
    export.to_tflite(model, str(tmp_path / "m.tflite"))
    served = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    runner = export.load_tflite(str(tmp_path / "m.tflite"))
    rng = np.random.default_rng(1)
    for batch, steps in ((1, 1), (2, 7), (5, 3)):
        x = rng.normal(size=(batch, steps, 3)).astype("float32")
        ref = np.asarray(model(x))
        sm = list(served(feats=tf.constant(x)).values())
        assert len(sm) == 1
        np.testing.assert_allclose(sm[0].numpy(), ref, atol=1e-5, rtol=0)
        np.testing.assert_allclose(np.asarray(runner(x)), ref, atol=1e-4, rtol=0)


# -- interrupted writes --------------------------------------------------------


def test_interrupted_keras_save_keeps_previous_file(tmp_path, monkeypatch):
    model = _seq_model()
    path = tmp_path / "m.keras"
    training.save_model(model, path)
    before = path.read_bytes()
    real_save = keras.Model.save

    def torn(self, filepath, *a, **kw):
        real_save(self, filepath, *a, **kw)
        with open(filepath, "r+b") as f:
            f.truncate(100)  # half written
        raise OSError("No space left on device")

    monkeypatch.setattr(keras.Model, "save", torn)
    _randomize(model, seed=9)
    with pytest.raises(OSError, match="No space"):
        training.save_model(model, path, overwrite=True)  # replaces on purpose
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.keras"]
    monkeypatch.undo()
    keras.saving.load_model(path)  # still loads


def test_interrupted_saved_model_export_keeps_previous(tmp_path, monkeypatch):
    model = _seq_model()
    path = tmp_path / "sm"
    export.to_saved_model(model, str(path))
    before = {p: (path / p).read_bytes() for p in ("saved_model.pb",)}
    real = tf.saved_model.save

    def torn(obj, export_dir, *a, **kw):
        real(obj, export_dir, *a, **kw)
        with open(os.path.join(export_dir, "saved_model.pb"), "r+b") as f:
            f.truncate(10)
        raise OSError("interrupted")

    monkeypatch.setattr(tf.saved_model, "save", torn)
    with pytest.raises(Exception, match="interrupted"):
        export.to_saved_model(model, str(path), overwrite=True)
    monkeypatch.undo()
    assert (path / "saved_model.pb").read_bytes() == before["saved_model.pb"]
    assert sorted(os.listdir(tmp_path)) == ["sm"]
    tf.saved_model.load(str(path))


@pytest.mark.slow
def test_interrupted_tflite_write_keeps_previous(tmp_path, monkeypatch):
    model = _seq_model()
    path = tmp_path / "m.tflite"
    export.to_tflite(model, str(path))
    before = path.read_bytes()

    def torn(fd):
        raise OSError("killed during write")

    monkeypatch.setattr(os, "fsync", torn)  # after f.write, before the move
    with pytest.raises(Exception, match="killed during write"):
        export.to_tflite(model, str(path), overwrite=True)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.tflite"]


# -- corrupt files ---------------------------------------------------------------


@pytest.fixture(scope="module")
def good_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("good")
    model = _seq_model()
    training.save_model(model, d / "m.keras")
    export.to_saved_model(model, str(d / "sm"))
    export.to_tflite(model, str(d / "m.tflite"))
    return d


def _truncate(src, dst, keep):
    data = open(src, "rb").read()
    with open(dst, "wb") as f:
        f.write(data[:keep] if isinstance(keep, int) else keep)


@pytest.mark.parametrize("keep", [0, 100, 0.5, b"not a zip file at all"])
def test_corrupt_keras_file_raises_value_error(good_files, tmp_path, keep):
    src = good_files / "m.keras"
    if isinstance(keep, float):
        keep = int(os.path.getsize(src) * keep)
    _truncate(src, tmp_path / "bad.keras", keep)
    # Keras says "File not found: filepath=... Please ensure the file is an
    # accessible `.keras` zip file." for a file that exists but is corrupt.
    with pytest.raises(ValueError, match=r"bad\.keras"):
        keras.saving.load_model(tmp_path / "bad.keras")
    # ours says what is wrong, and names the argument
    with pytest.raises(ValueError, match=r"path: .*bad\.keras.* (not a readable|not a complete)"):
        training.load_model(tmp_path / "bad.keras")


def test_training_load_model_missing_and_good_files(good_files, tmp_path):
    with pytest.raises(ValueError, match="no model file"):
        training.load_model(tmp_path / "missing.keras")
    assert training.load_model(good_files / "m.keras").count_params() > 0


def test_corrupt_saved_model_graph_raises(good_files, tmp_path):
    shutil.copytree(good_files / "sm", tmp_path / "sm")
    _truncate(good_files / "sm" / "saved_model.pb", tmp_path / "sm" / "saved_model.pb", 100)
    with pytest.raises(OSError, match="Cannot parse file"):
        tf.saved_model.load(str(tmp_path / "sm"))


def test_corrupt_saved_model_variables_raise(good_files, tmp_path):
    shutil.copytree(good_files / "sm", tmp_path / "sm")
    var_dir = tmp_path / "sm" / "variables"
    for name in os.listdir(var_dir):
        if ".data-" in name:
            _truncate(var_dir / name, var_dir / name, 10)
    # TF raises IndexError("Read less bytes than requested"): not a clear
    # message, but never a silent load of garbage weights.
    with pytest.raises((IndexError, OSError, ValueError, tf.errors.OpError)):
        tf.saved_model.load(str(tmp_path / "sm"))


@pytest.mark.parametrize("keep", [300, b"garbage" * 10])
def test_corrupt_tflite_raises_clear_value_error(good_files, tmp_path, keep):
    _truncate(good_files / "m.tflite", tmp_path / "bad.tflite", keep)
    with pytest.raises(ValueError, match="path"):
        export.load_tflite(str(tmp_path / "bad.tflite"))


def test_corrupt_tflite_does_not_load_silently(good_files, tmp_path):
    _truncate(good_files / "m.tflite", tmp_path / "bad.tflite", 300)
    with pytest.raises(Exception):
        export.load_tflite(str(tmp_path / "bad.tflite"))(np.zeros((1, 2, 3), "float32"))

