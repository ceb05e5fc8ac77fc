"""Text classifier: pooling layers, the model, training, saving, exports, bad input."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_rnnx import metrics as cm
from keras_rnnx.layers import pooling
from keras_rnnx.models import TextClassifier, ids_model, text_classifier, with_string_input
from keras_rnnx.layers import SanitizeIds, TokenDropout
from keras_rnnx.models.text_classifier import character_vocabulary, embedding_matrix
from keras_rnnx.text import CharactersToIds

# ------------------------------------------------------------------ pooling

LENGTHS = np.array([5, 3, 1, 0, 4])


def _masked_batch(features=6, steps=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(len(LENGTHS), steps, features)).astype("float32")
    mask = np.arange(steps)[None, :] < LENGTHS[:, None]
    return x, mask


def _reference(kind, x, mask, layer=None):
    """NumPy float64 pooling over the real steps of each row."""
    out = np.zeros((x.shape[0], x.shape[2]))
    for b in range(x.shape[0]):
        real = x[b][mask[b]].astype(np.float64)
        if not len(real):
            continue
        if kind == "mean":
            out[b] = real.mean(0)
        elif kind == "max":
            out[b] = real.max(0)
        elif kind == "last":
            out[b] = real[-1]
        elif kind == "last_bi":
            half = x.shape[2] // 2
            out[b] = np.concatenate([real[-1][:half], real[0][half:]])
        elif kind == "attention":
            w, bias, v = (np.asarray(t, np.float64) for t in layer.get_weights())
            s = np.tanh(real @ w + bias) @ v
            a = np.exp(s - s.max())
            out[b] = (a / a.sum()) @ real
    return out


@pytest.mark.parametrize("kind", ["mean", "max", "last", "last_bi", "attention"])
def test_pooling_matches_numpy_and_ignores_padding(kind):
    x, mask = _masked_batch()
    layer = {
        "mean": pooling.MaskedMeanPooling(),
        "max": pooling.MaskedMaxPooling(),
        "last": pooling.LastStepPooling(),
        "last_bi": pooling.LastStepPooling(bidirectional=True),
        "attention": pooling.AttentionPooling(units=5),
    }[kind]
    got = np.asarray(layer(x, mask=mask))
    np.testing.assert_allclose(got, _reference(kind, x, mask, layer), atol=1e-5)
    # garbage at padded steps, and more padding, change nothing
    noisy = np.where(mask[..., None], x, 1e3 * np.random.default_rng(1).normal(size=x.shape))
    longer = np.concatenate([noisy, np.full((len(x), 3, x.shape[2]), -7.0, "float32")], 1)
    longer_mask = np.concatenate([mask, np.zeros((len(x), 3), bool)], 1)
    np.testing.assert_allclose(np.asarray(layer(longer.astype("float32"), mask=longer_mask)), got, atol=1e-5)
    # jit-compiled and serialized copies agree
    jitted = tf.function(lambda a, m: layer(a, mask=m), jit_compile=True)
    np.testing.assert_allclose(np.asarray(jitted(x, mask)), got, atol=1e-5)
    clone = type(layer).from_config(layer.get_config())
    clone(x, mask=mask)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x, mask=mask)), got, atol=1e-6)


def test_pooling_without_mask_and_bad_input():
    x, _ = _masked_batch()
    full = np.ones(x.shape[:2], bool)
    for layer in (pooling.MaskedMeanPooling(), pooling.MaskedMaxPooling(),
                  pooling.LastStepPooling(bidirectional=True)):
        np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(layer(x, mask=full)), atol=1e-6)
    weights = pooling.AttentionPooling(units=3)(x, mask=full, return_attention_scores=True)[1]
    np.testing.assert_allclose(np.asarray(weights).sum(1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="pooling"):
        pooling.get("median")
    with pytest.raises(ValueError, match="batch, time, features"):
        pooling.MaskedMeanPooling()(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="even number"):
        pooling.LastStepPooling(bidirectional=True)(np.zeros((1, 2, 3), "float32"))
    with pytest.raises(ValueError, match="units"):
        pooling.AttentionPooling(units=0)


def test_sanitize_ids():
    np.testing.assert_array_equal(SanitizeIds(10)(np.array([[3, 12, -1, 0, 9]])), [[3, 1, 1, 0, 9]])
    with pytest.raises(ValueError, match="vocabulary_size"):
        SanitizeIds(1)


def test_token_dropout():
    ids = np.zeros((50, 40), "int32")
    ids[:, :30] = 7
    layer = TokenDropout(0.3, seed=3)
    np.testing.assert_array_equal(layer(ids, training=False), ids)
    out = np.asarray(layer(ids, training=True))
    assert np.all(out[:, 30:] == 0)  # padding untouched
    assert set(np.unique(out[:, :30])) == {1, 7}
    assert abs((out[:, :30] == 1).mean() - 0.3) < 0.03
    assert TokenDropout.from_config(layer.get_config()).rate == 0.3
    with pytest.raises(ValueError, match="rate"):
        TokenDropout(1.0)


def test_characters_to_ids_matches_python():
    texts = ["Héllo  wörld", "ÄBC\tdef\n", "", b"x\xffy", "ﬁ 😀"]
    vocab = character_vocabulary([t for t in texts if isinstance(t, str)])
    layer = CharactersToIds(vocab, max_length=9)
    ids = np.asarray(layer(tf.constant(texts)))
    index = {t: i for i, t in enumerate(vocab.tokens)}

    def expected(text):  # NFKC, case fold, whitespace runs -> " ", one id per code point
        import unicodedata

        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        text = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
        row = [index.get(ch, 1) for ch in text][:9]
        return row + [0] * (9 - len(row))

    assert ids.tolist() == [expected(t) for t in texts]
    assert vocab.tokens[:2] == ["[PAD]", "[UNK]"] and " " in vocab.tokens
    clone = CharactersToIds.from_config(layer.get_config())
    np.testing.assert_array_equal(np.asarray(clone(tf.constant(texts))), ids)
    with pytest.raises(TypeError, match="string"):
        layer(tf.constant([1, 2]))


# ------------------------------------------------------------------ the model

VOCAB = ["[PAD]", "[UNK]"] + [f"w{i}" for i in range(20)]


@pytest.mark.parametrize(
    "cell,pooling_name,bidirectional,layers",
    [("lstm", "last", True, 2), ("gru", "max", True, 1), ("gru", "mean", False, 1)],
)
def test_padding_never_changes_the_prediction(cell, pooling_name, bidirectional, layers):
    model = text_classifier(VOCAB, 3, cell=cell, units=5, layers=layers, embedding_dim=4,
                            bidirectional=bidirectional, pooling=pooling_name, dropout=0.1,
                            token_dropout=0.2, ngrams=0)  # the wide part: test_bag_of_ngrams
    rng = np.random.default_rng(0)
    lengths = [6, 2, 4, 1]
    ids = np.zeros((4, 6), "int32")
    for b, n in enumerate(lengths):
        ids[b, :n] = rng.integers(2, len(VOCAB), n)
    probs = np.asarray(model(ids))
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    padded = np.concatenate([ids, np.zeros((4, 7), "int32")], 1)
    np.testing.assert_allclose(np.asarray(model(padded)), probs, atol=1e-5)
    for b, n in enumerate(lengths):  # each row alone, unpadded
        np.testing.assert_allclose(np.asarray(model(ids[b:b + 1, :n]))[0], probs[b], atol=1e-5)
    if layers == 1:
        return
    # the same under a jit-compiled tf.function
    jitted = tf.function(lambda t: model(t, training=False), jit_compile=True)
    np.testing.assert_allclose(np.asarray(jitted(tf.constant(padded))), probs, atol=1e-5)


def test_model_uses_keras_rnnx_layers_and_serializes(tmp_path):
    model = text_classifier(VOCAB, 2, units=3, embedding_dim=4, pooling="attention")
    names = {type(layer).__name__ for layer in model.layers}
    assert {"BiDirectional", "AttentionPooling", "SanitizeIds"} <= names
    bidi = model.get_layer("bidirectional_0")
    assert type(bidi.forward_layer).__name__ == "LSTMX"
    ids = np.array([[2, 3, 4, 0], [5, 0, 0, 0]], "int32")
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(ids)), np.asarray(model(ids)), atol=1e-6)


def test_pretrained_embeddings():
    from keras_rnnx.word2vec.keyed_vectors import KeyedVectors

    matrix = np.random.default_rng(0).normal(size=(len(VOCAB), 7)).astype("float32")
    model = text_classifier(VOCAB, 2, units=3, embeddings=matrix)
    np.testing.assert_array_equal(model.get_layer("embedding").get_weights()[0], matrix)
    kv = KeyedVectors(["w3", "w7", "zzz"], np.arange(15, dtype="float32").reshape(3, 5))
    model = text_classifier(VOCAB, 2, units=3, embeddings=kv)
    emb = model.get_layer("embedding").get_weights()[0]
    assert emb.shape == (len(VOCAB), 5)
    np.testing.assert_array_equal(emb[VOCAB.index("w3")], kv["w3"])
    np.testing.assert_array_equal(emb[VOCAB.index("w7")], kv["w7"])
    np.testing.assert_array_equal(emb[0], 0.0)
    np.testing.assert_array_equal(embedding_matrix({"w1": [1.0, 2.0]}, VOCAB, len(VOCAB))[VOCAB.index("w1")], [1, 2])
    with pytest.raises(ValueError, match="embeddings"):
        text_classifier(VOCAB, 2, embeddings=np.zeros((5, 3)))
    with pytest.raises(ValueError, match="no vocabulary token"):
        embedding_matrix({"nope": [1.0]}, VOCAB, len(VOCAB))


@pytest.mark.parametrize(
    "kwargs,match",
    [({"num_classes": 1}, "num_classes"), ({"cell": "rnn"}, "cell"), ({"units": 0}, "units"),
     ({"pooling": "sum"}, "pooling"), ({"dropout": 1.5}, "dropout"), ({"inputs": "bytes"}, "inputs"),
     ({"max_length": 0}, "max_length"), ({"vocabulary": 2}, "vocabulary"),
     ({"token_dropout": -0.1}, "token_dropout"), ({"layers": 0}, "layers"),
     ({"tokenizer": "bpe"}, "tokenizer")],
)
def test_bad_arguments_raise_value_error(kwargs, match):
    args = {"vocabulary": VOCAB, "num_classes": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        text_classifier(**args)


def test_bad_vocabulary_type():
    with pytest.raises(TypeError, match="vocabulary"):
        text_classifier({"a": 1}, 2)
    with pytest.raises(ValueError, match="strings"):
        text_classifier(30, 2, inputs="strings")


# ------------------------------------------------------- trained classifier

POS = ["great", "wonderful", "superb", "lovely", "brilliant"]
NEG = ["awful", "boring", "dreadful", "terrible", "dull"]
FILLER = ["the", "film", "was", "plot", "acting", "really", "quite", "a"]


def _toy_data(n, seed):
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = list(rng.choice(FILLER, rng.integers(1, 6)))
        words.insert(rng.integers(0, len(words) + 1), rng.choice(POS if label else NEG))
        texts.append(" ".join(words).capitalize() + ("!" if i % 3 else "."))
        labels.append(label)
    return texts, np.array(labels)


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(7)
    texts, labels = _toy_data(120, 0)
    clf = TextClassifier.create(texts, labels, ["negative", "positive"], units=8,
                                embedding_dim=8, pooling="max", tokenizer="unicode_script",
                                dropout=0.0, token_dropout=0.0, ngrams=0)
    history = clf.fit(texts, labels, epochs=12, batch_size=16, verbose=0, learning_rate=1e-2,
                      refit=False)
    return clf, history


def test_fit_learns_with_class_weights_and_reports_metrics(trained):
    clf, history = trained
    assert history.history["loss"][-1] < history.history["loss"][0] * 0.5
    test_texts, test_labels = _toy_data(40, 1)
    report = clf.evaluate(test_texts, test_labels)
    assert report["accuracy"] >= 0.9
    assert [r["class"] for r in report["per_class"]] == ["negative", "positive"]
    assert np.sum(report["confusion_matrix"]) == 40
    assert "macro avg" in cm.format_report(report)
    with pytest.raises(ValueError, match="labels"):
        clf.fit(test_texts, np.full(40, 5), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="class_weight"):
        clf.fit(test_texts, test_labels, epochs=1, verbose=0, class_weight="heavy")


def test_imbalanced_fit_uses_balanced_class_weights(monkeypatch):
    texts, labels = _toy_data(30, 3)
    keep = np.r_[np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)[:5]]
    texts, labels = [texts[i] for i in keep], labels[keep]
    clf = TextClassifier.create(texts, labels, ["a", "b"], units=2, embedding_dim=2)
    seen = {}

    def spy(self, *args, **kwargs):
        seen.update(kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy)
    clf.fit(texts, labels, epochs=1, verbose=0, validation_fraction=0)
    n, k = len(labels), 2
    assert seen["class_weight"] == pytest.approx({0: n / (k * 15), 1: n / (k * 5)})


def test_string_and_id_paths_agree(trained):
    clf, _ = trained
    texts, _ = _toy_data(16, 2)
    ids = clf.texts_to_ids(texts)
    assert ids.shape == (16, clf.max_length) and ids.dtype == np.int32
    from_strings = np.asarray(clf.model(tf.constant(texts)))
    from_ids = np.asarray(clf.ids_model(ids))
    np.testing.assert_allclose(from_strings, from_ids, atol=1e-6)
    assert ids_model(clf.model) is clf.ids_model
    # a new string front end on the same ids model gives the same answers
    again = with_string_input(clf.ids_model, clf.vocabulary, tokenizer="unicode_script")
    np.testing.assert_allclose(np.asarray(again(tf.constant(texts))), from_strings, atol=1e-6)


HOSTILE = [
    "",
    "   \t\n ",
    "great " * 20000,  # very long
    "สวัสดีครับ ภาษาไทย",  # a script never seen in training
    "💥🔥 ok",
    b"bad \xff\xfe\xc3 bytes great",  # not UTF-8
    "boring \udcff surrogate",
    "\x00\x01 control",
]


def test_hostile_inputs_give_a_prediction(trained):
    clf, _ = trained
    probs = clf.predict_proba(HOSTILE)
    assert probs.shape == (len(HOSTILE), 2)
    assert np.all(np.isfinite(probs))
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    assert clf.predict(["great " * 20000])[0] == 1
    with pytest.raises(TypeError, match="texts"):
        clf.predict_proba([1, 2])
    with pytest.raises(TypeError, match="single string"):
        clf.predict_proba("great")


def test_save_and_load_roundtrip(trained, tmp_path):
    clf, _ = trained
    clf.save(str(tmp_path / "clf"))
    assert sorted(os.listdir(tmp_path / "clf")) == ["classifier.json", "model.keras", "vocab.txt"]
    loaded = TextClassifier.load(str(tmp_path / "clf"))
    texts, _ = _toy_data(10, 4)
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    assert loaded.class_names == clf.class_names and loaded.max_length == clf.max_length
    lines = (tmp_path / "clf" / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert lines == clf.vocabulary.tokens and lines[:2] == ["[PAD]", "[UNK]"]
    with pytest.raises(ValueError, match="not a saved TextClassifier"):
        TextClassifier.load(str(tmp_path))


# ------------------------------------------------------------------ metrics


def test_metrics_match_scikit_learn():
    from sklearn import metrics

    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    y_pred[:3] = 3
    y_true[y_true == 2] = 1  # class 2 never true: recall 0, as sklearn's zero_division=0
    p, r, f, s = metrics.precision_recall_fscore_support(y_true, y_pred, labels=range(5), zero_division=0)
    mp, mr, mf, ms = cm.precision_recall_f1(y_true, y_pred, 5)
    for a, b in ((p, mp), (r, mr), (f, mf), (s, ms)):
        np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_array_equal(cm.confusion_matrix(y_true, y_pred, 5),
                                  metrics.confusion_matrix(y_true, y_pred, labels=range(5)))
    assert cm.macro_f1(y_true, y_pred, 5) == pytest.approx(
        metrics.f1_score(y_true, y_pred, labels=range(5), average="macro", zero_division=0))
    assert cm.accuracy(y_true, y_pred) == pytest.approx(metrics.accuracy_score(y_true, y_pred))
    report = cm.classification_report(y_true, y_pred, list("abcde"))
    assert report["macro_f1"] == pytest.approx(mf.mean())
    with pytest.raises(ValueError, match="same length"):
        cm.confusion_matrix([0, 1], [0])
    with pytest.raises(TypeError, match="integer"):
        cm.confusion_matrix([0.5], [0])
    with pytest.raises(ValueError, match="num_classes"):
        cm.confusion_matrix([0, 3], [0, 1], num_classes=2)
    with pytest.raises(ValueError, match="class_names"):
        cm.classification_report([0], [0], ["a"], num_classes=2)


def test_character_classifier_learns_and_roundtrips(tmp_path):
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(0)
    words = {0: ["ab", "ba", "aab"], 1: ["xy", "yx", "xxy"]}
    labels = np.arange(60) % 2
    texts = [" ".join(rng.choice(words[y], 2)) for y in labels]
    clf = TextClassifier.create(texts, labels, ["a", "x"], tokenizer="characters", units=4,
                                embedding_dim=4, dropout=0.0, token_dropout=0.0, ngrams=0)
    assert clf.max_length >= 5 and set(clf.vocabulary.tokens[2:]) == {"a", "b", "x", "y", " "}
    clf.fit(texts, labels, epochs=8, batch_size=8, verbose=0, learning_rate=2e-2, refit=False)
    assert clf.predict(["abba", "yyx", "Baa"]).tolist() == [0, 1, 0]
    clf.save(str(tmp_path / "c"))
    loaded = TextClassifier.load(str(tmp_path / "c"))
    np.testing.assert_allclose(loaded.predict_proba(["abba", "xy"]), clf.predict_proba(["abba", "xy"]), atol=1e-6)


def test_pretrained_vectors_initialise_the_embedding_rows_exactly():
    from keras_rnnx.models.text_classifier import pretrain_vectors

    texts, labels = _toy_data(60, 4)
    wv = pretrain_vectors(texts, corpus=["the plot was a film"] * 5, tokenizer="unicode_script",
                          vector_size=6, epochs=2, min_count=1)
    assert "plot" in wv and "great" in wv or "wonderful" in wv
    clf = TextClassifier.create(texts, labels, ["neg", "pos"], tokenizer="unicode_script",
                                embeddings=wv, units=2, embedding_dim=99)
    matrix = clf.ids_model.get_layer("embedding").get_weights()[0]
    assert matrix.shape == (len(clf.vocabulary), 6)   # the vectors' size wins
    tokens = list(clf.vocabulary.tokens)
    shared = [t for t in tokens if t in wv]
    assert len(shared) >= len(tokens) - 2             # all but padding and OOV
    for token in shared:
        np.testing.assert_array_equal(matrix[tokens.index(token)], wv[token])
