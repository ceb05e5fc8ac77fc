"""Tests for keras_rnnx.text: tokenizer, Vocabulary, TextToIds."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_rnnx.text import TextToIds, Tokenizer, Vocabulary, iter_lines


def test_whitespace_tokenizer_folds_case_and_normalizes():
    tok = Tokenizer()
    out = tok.tokenize_python(["Hello  WORLD", "Straße ﬁne", ""])
    # NFKC turns the "fi" ligature into two letters; case folding maps ß -> ss.
    assert out == [["hello", "world"], ["strasse", "fine"], []]


def test_unicode_script_tokenizer_splits_punctuation_and_scripts():
    tok = Tokenizer(kind="unicode_script", lowercase=False)
    out = tok.tokenize_python(["Hi, there!", "abcкот"])
    assert out == [["Hi", ",", "there", "!"], ["abc", "кот"]]


def test_multibyte_whitespace_splits_cleanly():
    # tensorflow-text alone cuts "0\x85" into b"0\xc2" (invalid UTF-8)
    for kind in ("whitespace", "unicode_script"):
        out = Tokenizer(kind=kind).tokenize_python(["0\x85a", "b\u2028c\u3000d\xa0e\u1680f"])
        assert out == [["0", "a"], ["b", "c", "d", "e", "f"]]


def test_invalid_utf8_is_replaced_not_crashing():
    tok = Tokenizer()
    out = tok.tokenize_python([b"ok \xff\xfe bad"])
    assert out == [["ok", "\ufffd\ufffd", "bad"]]


def test_tokenize_inside_tf_function_and_dataset():
    tok = Tokenizer()
    fn = tf.function(lambda s: tok.tokenize(s).to_tensor(default_value=""))
    assert fn(tf.constant(["A b"])).numpy().tolist() == [[b"a", b"b"]]
    ds = tf.data.Dataset.from_tensor_slices(["x Y", "z"]).batch(2).map(lambda s: tok.tokenize(s).flat_values)
    assert next(iter(ds)).numpy().tolist() == [b"x", b"y", b"z"]


def test_stemming_with_snowball():
    pytest.importorskip("snowballstemmer")
    tok = Tokenizer(stem="english")
    assert tok.tokenize_python(["Running runners quickly"]) == [["run", "runner", "quick"]]


@pytest.mark.parametrize(
    "kwargs, match",
    [({"kind": "bpe"}, "kind"), ({"normalization": "NFX"}, "normalization"), ({"stem": "klingon"}, "stem")],
)
def test_tokenizer_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Tokenizer(**kwargs)


def test_tokenizer_rejects_non_string_tensor():
    with pytest.raises(TypeError, match="string"):
        Tokenizer().tokenize(tf.constant([1, 2]))


def test_vocabulary_from_counts_ordering_and_limits():
    counts = {"c": 2, "a": 5, "b": 2, "d": 1, "e": 7}
    v = Vocabulary.from_counts(counts)
    # count descending, ties by first occurrence (c before b)
    assert v.tokens == ["[PAD]", "[UNK]", "e", "a", "c", "b", "d"]
    assert v.counts == [0, 0, 7, 5, 2, 2, 1]
    v = Vocabulary.from_counts(counts, min_count=2, max_size=5)
    assert v.tokens == ["[PAD]", "[UNK]", "e", "a", "c"]
    assert len(v) == 5
    assert v.lookup(["a", "zzz", "[PAD]"]) == [3, 1, 1]  # literal "[PAD]" in text is not padding
    assert v.index("[PAD]") == 0
    assert v.lookup([["e"], ["c", "b"]]) == [[2], [4, 1]]


def test_vocabulary_build_hand_checked_corpus_streaming(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("the cat sat\nThe dog sat on the mat\n\n")
    v = Vocabulary.build(str(path), Tokenizer(), min_count=1, batch_size=1)
    assert v.tokens == ["[PAD]", "[UNK]", "the", "sat", "cat", "dog", "on", "mat"]
    assert v.counts[2:] == [3, 2, 1, 1, 1, 1]
    v2 = Vocabulary.build(iter(["the cat sat", "The dog sat on the mat"]), min_count=2)
    assert v2.tokens == ["[PAD]", "[UNK]", "the", "sat"]


def test_vocabulary_bad_input(tmp_path):
    with pytest.raises(ValueError, match="empty corpus"):
        Vocabulary.build([])
    with pytest.raises(ValueError, match="min_count=9"):
        Vocabulary.build(["a b a"], min_count=9)
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary.from_counts({"a": 1}, min_count=0)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine line\nbad \xff line\n")
    with pytest.raises(ValueError, match="line 2.*UTF-8"):
        Vocabulary.build(str(bad))
    with pytest.raises(ValueError, match="not an existing file"):
        list(iter_lines("/nonexistent/file.txt"))


def test_vocabulary_save_load_roundtrip(tmp_path):
    v = Vocabulary.from_counts({"x": 3, "y": 1, "é": 2})
    p = tmp_path / "vocab.txt"
    v.save(p)
    w = Vocabulary.load(p)
    assert w.tokens == v.tokens and w.counts == v.counts and w.specials == v.specials
    v.save(p, with_counts=False, overwrite=True)  # re-saved on purpose
    assert Vocabulary.load(p).tokens == v.tokens
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp")]


def test_lookup_layer_pad_zero_oov_one():
    v = Vocabulary.from_counts({"a": 3, "b": 1})
    layer = v.lookup_layer()
    assert layer(tf.constant(["[PAD]", "[UNK]", "a", "b", "nope"])).numpy().tolist() == [0, 1, 2, 3, 1]
    assert v.lookup(tf.constant(["[PAD]", "a"])).numpy().tolist() == [1, 2]
    assert v.lookup(tf.ragged.constant([["[PAD]"], ["b", "c"]])).to_list() == [[1], [3, 1]]
    inv = v.lookup_layer(invert=True)
    assert inv(tf.constant([2, 3])).numpy().tolist() == [b"a", b"b"]
    assert v.lookup(tf.constant([["a", "q"]])).numpy().tolist() == [[2, 1]]


def test_text_to_ids_matches_python_lookup():
    v = Vocabulary.build(["the cat sat", "a dog"], min_count=1)
    layer = TextToIds(v)
    texts = ["The cat  SAT on", "dog", ""]
    got = layer(tf.constant(texts)).numpy()
    tok = Tokenizer()
    expect = [v.lookup(t) for t in tok.tokenize_python(texts)]
    assert got.dtype == np.int32 and got.shape == (3, 4)
    for row, ids in zip(got, expect):
        assert row[: len(ids)].tolist() == ids and not row[len(ids):].any()
    fixed = TextToIds(v, max_length=2)(tf.constant(texts)).numpy()
    assert fixed.shape == (3, 2) and fixed.tolist() == [r[:2].tolist() for r in got]
    # [B, 1] inputs are accepted, [B, 2] are not
    assert TextToIds(v)(tf.constant([["dog"]])).numpy().tolist() == [[v.index("dog")]]
    with pytest.raises(ValueError, match="shape"):
        TextToIds(v)(tf.constant([["a", "b"]]))
    # text that spells a special token is an unknown word, never padding
    literal = TextToIds(v, lowercase=False)(tf.constant(["[PAD] dog [UNK]"])).numpy().tolist()
    assert literal == [[1, v.index("dog"), 1]]


def test_text_to_ids_bad_input():
    with pytest.raises(ValueError, match="vocabulary must start"):
        TextToIds(["a", "b"])
    with pytest.raises(TypeError, match="vocabulary"):
        TextToIds(42)
    with pytest.raises(ValueError, match="max_length"):
        TextToIds(["[PAD]", "[UNK]", "a"], max_length=0)
    with pytest.raises(TypeError, match="string"):
        TextToIds(["[PAD]", "[UNK]", "a"])(tf.constant([1]))


def _tiny_model(max_length=None):
    v = Vocabulary.from_counts({"good": 3, "bad": 3, "movie": 2})
    inp = keras.Input(shape=(), dtype="string")
    x = TextToIds(v, max_length=max_length)(inp)
    x = keras.layers.Embedding(len(v), 4, mask_zero=True)(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    out = keras.layers.Dense(2, activation="softmax")(x)
    return keras.Model(inp, out)


def test_text_to_ids_model_fit_keras_file_and_savedmodel(tmp_path):
    model = _tiny_model(max_length=6)
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.array(["good movie", "bad movie", "good good", "bad \xff"], dtype=object)
    y = np.array([1, 0, 1, 0])
    model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    ref = model.predict(x, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), ref, rtol=1e-6)
    sm = str(tmp_path / "sm")
    model.export(sm, format="tf_saved_model", verbose=False)
    reloaded = tf.saved_model.load(sm)  # keep a reference: it owns the variables
    served = reloaded.serve(tf.constant(list(x)))
    np.testing.assert_allclose(served.numpy(), ref, rtol=1e-5, atol=1e-6)
