"""`BagOfNgrams` (hashed token n-grams, pooled) against a NumPy reference, and
the wide & deep classifier it makes (`text_classifier(..., ngrams=N)`):
composition, padding, `.keras` round trip, mixed precision, SavedModel and
LiteRT parity."""
import numpy as np
import pytest
import tensorflow as tf

import keras

from keras_rnnx.layers import BagOfNgrams
from keras_rnnx.layers.bag_of_ngrams import MULTIPLIER
from keras_rnnx.models import TextClassifier, ids_model, text_classifier

VOCAB = ["[PAD]", "[UNK]"] + [f"w{i}" for i in range(10)]


def _reference(ids, table, vocabulary_size, ngrams, buckets, pooling):
    """Python ints and float64: every n-gram of real tokens, its row by the
    documented hash, the rows pooled."""
    out = np.zeros((len(ids), table.shape[1]))
    rows_all = []
    for b, row in enumerate(ids):
        rows = []
        for n in range(1, ngrams + 1):
            for s in range(len(row) - n + 1):
                gram = [int(t) for t in row[s:s + n]]
                if 0 in gram:   # padding, or a pair straddling padding
                    continue
                if n == 1:
                    rows.append(gram[0])
                    continue
                h = gram[0]
                for t in gram[1:]:
                    h = (h * MULTIPLIER + t) % buckets
                rows.append(vocabulary_size + h)
        rows_all.append(sorted(rows))
        total = table[rows].astype(np.float64).sum(0) if rows else np.zeros(table.shape[1])
        count = max(len(rows), 1)
        out[b] = {"sum": total, "mean": total / count, "sqrt": total / np.sqrt(count)}[pooling]
    return out, rows_all


# right padding, left padding, a hole, an empty row, a full row
IDS = np.array([
    [3, 4, 5, 6, 0, 0, 0],
    [0, 0, 7, 3, 4, 0, 0],
    [2, 9, 0, 9, 2, 11, 1],
    [0, 0, 0, 0, 0, 0, 0],
    [11, 10, 9, 8, 7, 6, 5],
], "int32")


@pytest.mark.parametrize("ngrams,buckets,pooling,scale", [(1, 8, "sqrt", 1.0), (2, 7, "sqrt", 1.0),
                                                          (2, 64, "mean", 30.0), (3, 5, "sum", 1.0),
                                                          (3, 2 ** 20, "sqrt", 0.5)])
def test_ngram_rows_and_pooling_match_numpy(ngrams, buckets, pooling, scale):
    layer = BagOfNgrams(len(VOCAB), 3, ngrams=ngrams, buckets=buckets, pooling=pooling,
                        scale=scale, embeddings_initializer="random_normal")
    got = np.asarray(layer(IDS))
    table = np.asarray(layer.embeddings)
    assert table.shape == (len(VOCAB) + (buckets if ngrams > 1 else 0), 3)
    want, want_rows = _reference(IDS, table, len(VOCAB), ngrams, buckets, pooling)
    want *= scale
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got[3], 0.0)          # no real token: zeros
    rows, weights = (np.asarray(t) for t in layer.ngram_ids(IDS))
    assert rows.shape == weights.shape == (len(IDS), sum(7 - n + 1 for n in range(1, ngrams + 1)))
    assert set(np.unique(weights)) <= {0.0, 1.0}
    for b in range(len(IDS)):       # exactly the reference's rows are counted
        assert sorted(rows[b][weights[b] == 1].tolist()) == want_rows[b]


def test_padding_anywhere_adds_nothing():
    layer = BagOfNgrams(len(VOCAB), 2, ngrams=3, buckets=13, embeddings_initializer="random_normal")
    row = np.array([[3, 4, 5]], "int32")
    base = np.asarray(layer(row))
    for padded in ([[3, 4, 5, 0, 0]], [[0, 0, 3, 4, 5]], [[0, 3, 4, 5, 0, 0, 0]]):
        np.testing.assert_allclose(np.asarray(layer(np.array(padded, "int32"))), base, atol=1e-6)
    # a hole splits the n-grams: [3, 4, 0, 5] has no (4, 5) and no (3, 4, 5)
    holed = np.asarray(layer(np.array([[3, 4, 0, 5]], "int32")))
    want, _ = _reference(np.array([[3, 4, 0, 5]]), np.asarray(layer.embeddings), len(VOCAB), 3, 13, "sqrt")
    np.testing.assert_allclose(holed, want, atol=1e-6)
    assert not np.allclose(holed, base)


def test_an_unknown_word_adds_nothing_with_oov_id():
    # oov_id=1: every n-gram holding id 1 counts as one straddling padding does (not at all),
    # in the pooled rows, the IDF counts and the naive Bayes counts
    ids = np.array([[3, 1, 4, 5, 0], [1, 1, 6, 0, 0], [7, 8, 1, 9, 2], [1, 0, 0, 0, 0]], "int32")
    holes = np.where(ids == 1, 0, ids)
    for pooling in ("sqrt", "mean", "sum"):
        layer = BagOfNgrams(len(VOCAB), 3, ngrams=3, buckets=13, pooling=pooling, oov_id=1,
                            embeddings_initializer="random_normal")
        layer.build(ids.shape)
        want, _ = _reference(holes, np.asarray(layer.embeddings), len(VOCAB), 3, 13, pooling)
        np.testing.assert_allclose(np.asarray(layer(ids)), want, atol=1e-6)
        assert np.abs(want[0]).max() > 0 and not np.asarray(layer(ids))[3].any()
    plain = BagOfNgrams(len(VOCAB), 3, ngrams=2, buckets=7, weighting="idf")
    skip = BagOfNgrams.from_config({**plain.get_config(), "oov_id": 1})
    assert skip.oov_id == 1 and plain.oov_id is None
    np.testing.assert_allclose(np.asarray(skip.adapt(ids).row_weights),
                               np.asarray(plain.adapt(holes).row_weights))
    labels = np.array([0, 1, 2, 1])
    np.testing.assert_array_equal(skip.naive_bayes(ids, labels), plain.naive_bayes(holes, labels))
    assert not np.allclose(plain.naive_bayes(ids, labels), plain.naive_bayes(holes, labels))
    with pytest.raises(ValueError, match="`oov_id`"):
        BagOfNgrams(len(VOCAB), 3, oov_id=0)


def test_layer_config_round_trip_and_bad_arguments():
    layer = BagOfNgrams(12, 4, ngrams=3, buckets=100, pooling="mean", scale=10,
                        embeddings_regularizer=keras.regularizers.L2(1e-3), name="wide")
    clone = BagOfNgrams.from_config(layer.get_config())
    assert (clone.ngrams, clone.buckets, clone.pooling, clone.rows, clone.scale) == (3, 100, "mean", 112, 10.0)
    assert isinstance(clone.embeddings_regularizer, keras.regularizers.L2)
    for kwargs, name in [({"ngrams": 0}, "ngrams"), ({"buckets": 0}, "buckets"),
                         ({"pooling": "max"}, "pooling"), ({"output_dim": 0}, "output_dim"),
                         ({"scale": 0.0}, "scale"),
                         ({"vocabulary_size": 1}, "vocabulary_size"), ({"ngrams": True}, "ngrams")]:
        args = {"vocabulary_size": 12, "output_dim": 4, **kwargs}
        with pytest.raises(ValueError, match=f"`{name}`"):
            BagOfNgrams(**args)
    with pytest.raises(ValueError, match=r"\[batch, time\]"):
        BagOfNgrams(12, 4)(np.zeros((2, 3, 1), "int32"))


# ------------------------------------------------------------ IDF weighting

def _reference_idf(ids, rows_of, n_rows):
    """float64: scikit-learn's smoothed IDF of each table row over the texts `ids`."""
    df = np.zeros(n_rows)
    for rows in rows_of:
        df[sorted(set(rows))] += 1
    return np.log((1.0 + len(ids)) / (1.0 + df)) + 1.0


@pytest.mark.parametrize("ngrams,buckets,pooling", [(1, 8, "sqrt"), (2, 7, "sqrt"), (3, 5, "mean"),
                                                    (2, 16, "sum")])
def test_idf_weights_and_pooling_match_numpy(ngrams, buckets, pooling):
    layer = BagOfNgrams(len(VOCAB), 3, ngrams=ngrams, buckets=buckets, pooling=pooling,
                        embeddings_initializer="random_normal", weighting="idf")
    layer.build(IDS.shape)
    np.testing.assert_array_equal(np.asarray(layer.row_weights), 1.0)   # 1 until adapted
    assert layer.adapt(IDS, batch_size=2) is layer                      # in batches: the same counts
    table = np.asarray(layer.embeddings, np.float64)
    _, rows_of = _reference(IDS, table, len(VOCAB), ngrams, buckets, pooling)
    idf = _reference_idf(IDS, rows_of, layer.rows)
    np.testing.assert_allclose(np.asarray(layer.row_weights), idf, rtol=1e-6)
    got = np.asarray(layer(IDS))
    for b, rows in enumerate(rows_of):       # each occurrence counts its row's IDF
        w = idf[rows]
        total = (table[rows] * w[:, None]).sum(0) if rows else np.zeros(3)
        norm = {"sqrt": max(np.sqrt((w ** 2).sum()), 1.0), "mean": max(w.sum(), 1.0), "sum": 1.0}
        np.testing.assert_allclose(got[b], total / norm[pooling], rtol=1e-5, atol=1e-6)
    assert layer.trainable_weights == [layer.embeddings]     # the weights are not trained


def test_idf_unigrams_with_an_identity_table_are_sklearns_tfidf_vectors():
    """With one output per token and the identity as table, the pooled vector of
    texts without repeated tokens is `TfidfVectorizer`'s (smooth IDF, L2 norm)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [[3, 4, 5], [3, 6], [4, 5, 6, 7], [8], [3, 4, 9, 10, 11]]
    ids = np.zeros((len(texts), 6), "int32")
    for i, t in enumerate(texts):
        ids[i, 1:1 + len(t)] = t      # left padding, as anywhere else: it adds nothing
    layer = BagOfNgrams(len(VOCAB), len(VOCAB), ngrams=1, weighting="idf",
                        embeddings_initializer="identity")
    got = np.asarray(layer.adapt(ids)(ids), np.float64)
    vectorizer = TfidfVectorizer(analyzer=lambda t: [str(i) for i in t])
    want = vectorizer.fit_transform(texts).toarray()
    for token, column in vectorizer.vocabulary_.items():
        np.testing.assert_allclose(got[:, int(token)], want[:, column], rtol=1e-6, atol=1e-7)
        assert np.asarray(layer.row_weights)[int(token)] == pytest.approx(
            vectorizer.idf_[column], rel=1e-6)


def test_idf_arguments():
    with pytest.raises(ValueError, match="`weighting`"):
        BagOfNgrams(12, 2, weighting="tfidf")
    with pytest.raises(ValueError, match="weighting=None"):
        BagOfNgrams(12, 2).adapt(IDS)
    for bad in (np.zeros((0, 3), "int32"), np.zeros(3, "int32"), np.zeros((2, 3), "float32")):
        with pytest.raises(ValueError, match="`ids`"):
            BagOfNgrams(12, 2, weighting="idf").adapt(bad)
    with pytest.raises(ValueError, match="`ngram_weighting`"):
        text_classifier(VOCAB, 2, ngrams=2, ngram_weighting="tf")


def test_naive_bayes_log_count_ratios_match_numpy():
    labels = np.array([0, 1, 2, 0, 1])
    layer = BagOfNgrams(len(VOCAB), 3, ngrams=2, buckets=7)
    got = layer.naive_bayes(IDS, labels, alpha=0.5, batch_size=2)
    _, rows_of = _reference(IDS, np.zeros((layer.rows, 3)), len(VOCAB), 2, 7, "sum")
    counts = np.zeros((layer.rows, 3))
    for rows, c in zip(rows_of, labels):
        for r in rows:                        # every occurrence counts
            counts[r, c] += 1
    log_p = np.log((counts + 0.5) / (counts.sum(0) + 0.5 * layer.rows))
    np.testing.assert_allclose(got, log_p - log_p.mean(1, keepdims=True), rtol=1e-12)
    assert got.dtype == np.float64 and np.abs(got.sum(1)).max() < 1e-9
    # the table set to it, summed, is naive Bayes' logits up to a per-class constant
    layer.build(IDS.shape)
    layer.embeddings.assign(got.astype("float32"))
    layer.pooling = "sum"
    prior_free = np.array([log_p[rows].sum(0) if rows else np.zeros(3) for rows in rows_of])
    shift = np.asarray(layer(IDS), np.float64) - prior_free   # one constant per text
    np.testing.assert_allclose(shift - shift.mean(1, keepdims=True), 0.0, atol=1e-4)
    for bad, match in [((IDS, labels[:3]), "`labels`"), ((IDS, labels + 2), "`labels`"),
                       ((IDS[:0], labels[:0]), "`ids`")]:
        with pytest.raises(ValueError, match=match):
            layer.naive_bayes(*bad)
    with pytest.raises(ValueError, match="`alpha`"):
        layer.naive_bayes(IDS, labels, alpha=0.0)


# ------------------------------------------------------------ wide & deep model

def _randomise(model, seed=0):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(0, 0.3, w.shape).astype(w.dtype))


def test_wide_and_deep_logits_are_the_sum_of_both_parts():
    # every n-gram counting 1 (the IDF weighting, the default, is checked against NumPy above)
    model = text_classifier(VOCAB, 3, units=4, embedding_dim=5, ngrams=2, ngram_buckets=11,
                            pooling="max", ngram_weighting="none")
    _randomise(model)
    probs = np.asarray(model(IDS[[0, 1, 2, 4]]), np.float64)
    deep = keras.Model(model.inputs[0], model.get_layer("classes").output)
    deep_logits = np.asarray(deep(IDS[[0, 1, 2, 4]]), np.float64)
    wide = model.get_layer("bag_of_ngrams")
    rows = IDS[[0, 1, 2, 4]]
    assert wide.oov_id == 1 and (rows == 1).any()  # unknown words add nothing to the wide part
    wide_logits, _ = _reference(np.where(rows == 1, 0, rows), np.asarray(wide.embeddings), len(VOCAB),
                                2, 11, "sqrt")
    assert wide.scale == 10.0          # the default learning-rate multiplier scales the wide logits
    logits = deep_logits + wide.scale * wide_logits
    want = np.exp(logits - logits.max(-1, keepdims=True))
    want /= want.sum(-1, keepdims=True)
    np.testing.assert_allclose(probs, want, atol=1e-5)
    # padding never changes the prediction
    padded = np.concatenate([IDS[[0, 1, 2, 4]], np.zeros((4, 5), "int32")], 1)
    np.testing.assert_allclose(np.asarray(model(padded)), probs, atol=1e-5)
    # the wide part starts at zero, as a linear model does
    fresh = text_classifier(VOCAB, 3, units=4, ngrams=2, ngram_buckets=11)
    assert not np.asarray(fresh.get_layer("bag_of_ngrams").embeddings).any()
    assert "bag_of_ngrams" not in [l.name for l in text_classifier(VOCAB, 3, units=4, ngrams=None).layers]


def test_a_word_dropped_in_training_or_unknown_adds_nothing_to_the_wide_part():
    # the wide part skips the OOV id: words that token dropout replaced in training, and words
    # not in the vocabulary, are left out of its n-grams, as a linear model leaves them out
    model = text_classifier(VOCAB, 3, units=4, embedding_dim=5, ngrams=2, ngram_buckets=11,
                            token_dropout=0.5, ngram_weighting="none")
    _randomise(model)
    wide = model.get_layer("bag_of_ngrams")
    assert wide.oov_id == 1
    ids = np.tile(IDS[[0, 1, 2, 4]], (8, 1))
    parts = keras.Model(model.inputs[0], [model.get_layer("token_dropout").output, wide.output])
    dropped, logits = (np.asarray(t) for t in parts(ids, training=True))
    assert 0.3 < ((dropped == 1) & (ids != 1)).sum() / (ids > 1).sum() < 0.7
    table = np.asarray(wide.embeddings)
    want, _ = _reference(np.where(dropped == 1, 0, dropped), table, len(VOCAB), 2, 11, "sqrt")
    np.testing.assert_allclose(logits / wide.scale, want, atol=1e-5)


@pytest.mark.parametrize("kwargs,match", [({"ngrams": -1}, "ngrams"), ({"ngrams": 1.5}, "ngrams"),
                                          ({"ngrams": 2, "ngram_buckets": 0}, "ngram_buckets"),
                                          ({"ngrams": 2, "ngram_pooling": "max"}, "ngram_pooling"),
                                          ({"ngrams": 2, "ngram_l2": -1.0}, "ngram_l2"),
                                          ({"ngrams": 2, "ngram_lr_multiplier": 0}, "ngram_lr_multiplier")])
def test_bad_wide_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=f"`{match}`"):
        text_classifier(VOCAB, 2, **kwargs)


def _toy(n=64, seed=0):
    rng = np.random.default_rng(seed)
    pos, neg, filler = ["good", "fine", "great"], ["bad", "poor", "awful"], ["the", "film", "was", "a"]
    texts, labels = [], []
    for i in range(n):
        words = list(rng.choice(filler, 3)) + [rng.choice(pos if i % 2 else neg)]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(i % 2)
    return texts, np.array(labels)


@pytest.fixture(scope="module", params=["none", "idf"])
def wide_classifier(request):
    keras.utils.set_random_seed(3)
    texts, labels = _toy()
    clf = TextClassifier.create(texts, labels, ["neg", "pos"], units=4, embedding_dim=4,
                                max_length=10, recurrent_length=6, ngrams=2, ngram_buckets=64,
                                ngram_l2=1e-4,
                                ngram_lr_multiplier=5.0, ngram_weighting=request.param)
    clf.fit(texts, labels, epochs=3, verbose=0, learning_rate=2e-2, validation_fraction=0.0)
    return clf


TEXTS = ["the good film", "a bad film was bad", "", "good " * 40, "unknown words here", "awful"]


def test_wide_classifier_trains_and_round_trips_through_keras_file(wide_classifier, tmp_path):
    clf = wide_classifier
    table = np.asarray(clf.ids_model.get_layer("bag_of_ngrams").embeddings)
    assert table.shape == (len(clf.vocabulary) + 64, 2) and np.abs(table).max() > 0  # it learned
    assert clf.settings["model"]["ngrams"] == 2
    want = clf.predict_proba(TEXTS)
    clf.save(str(tmp_path / "clf"))
    loaded = TextClassifier.load(str(tmp_path / "clf"))
    wide = loaded.ids_model.get_layer("bag_of_ngrams")
    assert (wide.ngrams, wide.buckets, wide.pooling, wide.scale) == (2, 64, "sqrt", 5.0)
    if clf.settings["model"]["ngram_weighting"] == "idf":   # create() adapted it to its texts
        texts, _ = _toy()
        idf = BagOfNgrams(len(clf.vocabulary), 2, ngrams=2, buckets=64, weighting="idf")
        want_idf = np.asarray(idf.adapt(clf.texts_to_ids(texts)).row_weights)
        assert wide.weighting == "idf" and np.asarray(wide.row_weights).max() > 1.0
        np.testing.assert_array_equal(np.asarray(wide.row_weights), want_idf)
        np.testing.assert_array_equal(
            np.asarray(clf.ids_model.get_layer("bag_of_ngrams").row_weights), want_idf)
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), want, atol=1e-6)
    model = keras.saving.load_model(str(tmp_path / "clf" / "model.keras"))
    np.testing.assert_allclose(np.asarray(model(tf.constant(TEXTS))), want, atol=1e-6)


def test_wide_classifier_exports_match_keras(wide_classifier, tmp_path):
    """SavedModel (raw strings, portable tokenizer) and `.tflite` (builtin ops,
    LiteRT) give Keras' probabilities within 1e-5."""
    from keras_rnnx import export

    clf = wide_classifier
    want = clf.predict_proba(TEXTS)
    clf.export_saved_model(str(tmp_path / "sm"))
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    got = loaded.signatures["classify"](text=tf.constant(TEXTS))["probabilities"].numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)

    path = str(tmp_path / "m.tflite")
    clf.export_tflite(path)
    ops_used = export.tflite_ops(path)
    assert {"FLOOR_MOD", "GATHER"} <= set(ops_used)
    from ai_edge_litert.interpreter import Interpreter

    ids = clf.texts_to_ids(TEXTS)
    interpreter = Interpreter(model_path=path)
    inp = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(inp["index"], list(ids.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], ids)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_wide_classifier_under_mixed_precision():
    """Built and trained under mixed_float16, the wide part and the logits stay
    float32 and the model agrees with a float32 twin holding its weights."""
    texts, labels = _toy(32)
    keras.config.set_dtype_policy("mixed_float16")
    try:
        mixed = text_classifier(VOCAB, 2, units=4, embedding_dim=4, ngrams=2, ngram_buckets=16)
        mixed.compile("adam", "sparse_categorical_crossentropy")
        ids = np.random.default_rng(1).integers(0, len(VOCAB), (32, 6)).astype("int32")
        mixed.fit(ids, labels, epochs=1, batch_size=8, verbose=0)
        assert mixed.get_layer("bag_of_ngrams").compute_dtype == "float32"
        probs = np.asarray(mixed(ids))
    finally:
        keras.config.set_dtype_policy("float32")
    plain = text_classifier(VOCAB, 2, units=4, embedding_dim=4, ngrams=2, ngram_buckets=16)
    plain.set_weights(mixed.get_weights())
    assert probs.dtype == np.float32 and np.isfinite(probs).all()
    np.testing.assert_allclose(probs, np.asarray(plain(ids)), atol=1e-2)
    assert ids_model(plain) is plain


def test_docstring_example_runs():
    import doctest

    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(BagOfNgrams, "BagOfNgrams", globs={"np": np, "BagOfNgrams": BagOfNgrams}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0


def test_the_wide_part_reads_every_id_and_the_recurrent_part_the_first():
    """With `recurrent_length` below `max_length` the model is softmax(deep
    logits of the first `recurrent_length` ids + the wide part over all
    `max_length` ids): the same deep part as a model of that length (same
    weights), the same `BagOfNgrams` over the whole row."""
    keras.utils.set_random_seed(4)
    kw = dict(units=4, embedding_dim=4, ngrams=2, ngram_buckets=16, dropout=0.0,
              token_dropout=0.0, ngram_weighting="none")
    model = text_classifier(VOCAB, 3, max_length=12, recurrent_length=5, **kw)
    wide = model.get_layer("bag_of_ngrams")
    wide.embeddings.assign(np.random.default_rng(0).normal(size=wide.embeddings.shape))
    short = text_classifier(VOCAB, 3, max_length=5, **kw)
    short.set_weights(model.get_weights())
    ids = np.array([[2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0, 0],
                    [2, 3, 4, 5, 6, 11, 10, 9, 0, 0, 0, 0],
                    [4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]], np.int32)

    def deep(m, x):
        return np.asarray(keras.Model(m.inputs[0], m.get_layer("classes").output)(x))

    np.testing.assert_allclose(deep(model, ids), deep(short, ids[:, :5]), atol=1e-6)
    np.testing.assert_array_equal(deep(model, ids)[0], deep(model, ids)[1])  # same first 5 ids
    logits = deep(short, ids[:, :5]) + np.asarray(wide(ids))
    want = np.exp(logits - logits.max(-1, keepdims=True))
    np.testing.assert_allclose(np.asarray(model(ids)), want / want.sum(-1, keepdims=True),
                               atol=1e-6)
    assert not np.allclose(np.asarray(model(ids))[0], np.asarray(model(ids))[1])  # the tails
    for bad in (0, 13):
        with pytest.raises(ValueError, match="recurrent_length"):
            text_classifier(VOCAB, 3, max_length=12, recurrent_length=bad, **kw)


def test_create_sizes_the_wide_and_the_recurrent_lengths_from_the_training_texts(tmp_path):
    """`create` with no lengths: the recurrent part reads the 95th percentile
    of the training lengths, the wide part up to the longest text (at most
    `max_wide_length`); without a wide part both read the percentile; a
    given `max_length` is both parts' unless `recurrent_length` is given."""
    texts, labels = _toy(40)   # 4 words each
    texts = list(texts)
    texts[0] = " ".join(["good"] * 30)
    small = dict(units=4, embedding_dim=4, ngram_buckets=16, pretrain=False)
    clf = TextClassifier.create(texts, labels, ["neg", "pos"], **small)
    assert (clf.max_length, clf.recurrent_length) == (30, 4)
    assert clf.ids_model.inputs[0].shape[1] == 30 and clf.texts_to_ids(texts).shape == (40, 30)
    embedding = clf.ids_model.get_layer("embedding")
    assert embedding.output.shape[1] == 4
    capped = TextClassifier.create(texts, labels, ["neg", "pos"], max_wide_length=12, **small)
    assert (capped.max_length, capped.recurrent_length) == (12, 4)
    deep_only = TextClassifier.create(texts, labels, ["neg", "pos"], ngrams=0, **small)
    assert (deep_only.max_length, deep_only.recurrent_length) == (4, 4)
    given = TextClassifier.create(texts, labels, ["neg", "pos"], max_length=8, **small)
    assert (given.max_length, given.recurrent_length) == (8, 8)
    longer = TextClassifier.create(texts, labels, ["neg", "pos"], recurrent_length=40, **small)
    assert (longer.max_length, longer.recurrent_length) == (40, 40)   # keeps what it reads
    with pytest.raises(ValueError, match=r"`recurrent_length` must be at most `max_length` \(8\)"):
        TextClassifier.create(texts, labels, ["neg", "pos"], max_length=8, recurrent_length=20,
                              **small)
    for bad in ({"recurrent_length": 0}, {"max_wide_length": "long"}, {"max_length": 2.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TextClassifier.create(texts, labels, ["neg", "pos"], **bad, **small)
    clf.fit(texts, labels, epochs=1, verbose=0, validation_fraction=0.0, refit=False)
    want = clf.predict_proba(texts)
    clf.save(str(tmp_path / "clf"))
    loaded = TextClassifier.load(str(tmp_path / "clf"))
    assert (loaded.max_length, loaded.recurrent_length) == (30, 4)
    np.testing.assert_allclose(loaded.predict_proba(texts), want, atol=1e-6)
