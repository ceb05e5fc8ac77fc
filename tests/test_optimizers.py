"""`keras_rnnx.optimizers.LazyAdam` against a NumPy float64 implementation of
its rule, and the lazy wide part (`BagOfNgrams(row_l2=...)`,
`text_classifier(ngram_updates="lazy")`) in `fit`: rows no batch reads and
their moments stay exactly as they were; mixed precision, XLA, `.keras`
round trip with the optimizer's state, resume of a killed run."""
import numpy as np
import pytest
import tensorflow as tf

import keras

from keras_rnnx.layers import BagOfNgrams
from keras_rnnx.models import TextClassifier, text_classifier
from keras_rnnx.optimizers import LazyAdam

ROWS, DIM = 7, 3
# each step's sparse gradient: (row indices, with repeats; values)
STEPS = [
    ([1, 4, 1], [[0.5, -1.0, 2.0], [0.1, 0.2, -0.3], [1.5, 0.5, -1.0]]),
    ([4, 6], [[-2.0, 0.3, 0.0], [0.7, -0.7, 0.2]]),
    ([1], [[0.05, 0.05, -0.05]]),
    ([6, 6, 4, 1], [[1.0, 1.0, 1.0], [-3.0, 2.0, 0.5], [0.2, 0.0, -0.2], [0.3, -0.1, 0.4]]),
]
NEVER = [0, 2, 3, 5]   # rows no step touches


def _reference(table, steps, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7, clipnorm=None,
               amsgrad=False):
    """The documented rule in float64: duplicate rows summed, the gradient
    clipped to `clipnorm` by its (dense) norm, Adam on the touched rows with
    the global step's bias correction, every other row and moment kept."""
    w = np.array(table, np.float64)
    m, v, v_hat = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for t, (rows, values) in enumerate(steps, start=1):
        g = np.zeros_like(w)
        np.add.at(g, rows, np.asarray(values, np.float64))
        if clipnorm is not None:
            norm = np.sqrt((g ** 2).sum())
            g = g * clipnorm / max(norm, clipnorm)
        touched = sorted(set(rows))
        alpha = lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        for r in touched:
            m[r] += (g[r] - m[r]) * (1 - beta_1)
            v[r] += (g[r] ** 2 - v[r]) * (1 - beta_2)
            denominator = v[r]
            if amsgrad:
                v_hat[r] = np.maximum(v_hat[r], v[r])
                denominator = v_hat[r]
            w[r] -= alpha * m[r] / (np.sqrt(denominator) + epsilon)
    return w, m, v


def _apply(optimizer, table, steps):
    variable = keras.Variable(np.array(table, np.float32))
    for rows, values in steps:
        grad = tf.IndexedSlices(tf.constant(values, tf.float32), tf.constant(rows, tf.int32),
                                tf.constant([ROWS, DIM]))
        optimizer.apply([grad], [variable])
    return variable


@pytest.mark.parametrize("clipnorm,amsgrad", [(None, False), (1.0, False), (None, True)])
def test_lazy_adam_matches_the_float64_rule(clipnorm, amsgrad):
    table = np.random.default_rng(0).normal(size=(ROWS, DIM))
    opt = LazyAdam(learning_rate=0.05, clipnorm=clipnorm, amsgrad=amsgrad)
    variable = _apply(opt, table, STEPS)
    w, m, v = _reference(table, STEPS, 0.05, clipnorm=clipnorm, amsgrad=amsgrad)
    np.testing.assert_allclose(np.asarray(variable), w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(opt._momentums[0]), m, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(opt._velocities[0]), v, rtol=1e-5, atol=1e-9)
    # rows no step touched: weights bit for bit, moments exactly zero
    assert np.array_equal(np.asarray(variable)[NEVER], table[NEVER].astype(np.float32))
    assert not np.asarray(opt._momentums[0])[NEVER].any()
    assert not np.asarray(opt._velocities[0])[NEVER].any()
    # Adam, for the same gradients, moves every row (its moments decay)
    dense = _apply(keras.optimizers.Adam(learning_rate=0.05, clipnorm=clipnorm, amsgrad=amsgrad),
                   table, STEPS)
    assert not np.allclose(np.asarray(dense)[[1, 4, 6]], w[[1, 4, 6]], atol=1e-6)


def test_lazy_adam_is_adam_for_dense_gradients():
    rng = np.random.default_rng(1)
    table = rng.normal(size=(ROWS, DIM)).astype(np.float32)
    grads = [rng.normal(size=(ROWS, DIM)).astype(np.float32) for _ in range(3)]
    got, want = keras.Variable(table), keras.Variable(table)
    lazy, adam = LazyAdam(0.01, clipnorm=1.0), keras.optimizers.Adam(0.01, clipnorm=1.0)
    for g in grads:
        lazy.apply([tf.constant(g)], [got])
        adam.apply([tf.constant(g)], [want])
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_lazy_adam_config_round_trip():
    opt = LazyAdam(learning_rate=0.02, beta_1=0.8, clipnorm=2.0, amsgrad=True)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert type(clone) is LazyAdam
    assert (clone.beta_1, clone.clipnorm, clone.amsgrad) == (0.8, 2.0, True)
    assert float(clone.learning_rate) == pytest.approx(0.02)


def test_row_l2_is_the_whole_table_l2_on_the_rows_read():
    """The penalty counts each distinct row the real n-grams read once; its
    gradient is the whole-table L2's on those rows and zero on every other,
    and arrives sparse."""
    layer = BagOfNgrams(10, 2, ngrams=2, buckets=8, row_l2=0.01,
                        embeddings_initializer=keras.initializers.RandomNormal(seed=2))
    ids = np.array([[3, 4, 3, 4, 0], [0, 5, 0, 0, 0]], "int32")
    layer(ids)
    table = np.asarray(layer.embeddings, np.float64)
    rows, weights = (np.asarray(a) for a in layer.ngram_ids(ids))
    read = sorted(set(rows[weights > 0].tolist()))
    assert 0 not in read and len(read) == 5   # 3, 4, 5 and the bigrams (3 4), (4 3)
    with tf.GradientTape() as tape:
        layer(ids)
        penalty = tf.add_n(layer.losses)
    grad = tape.gradient(penalty, layer.embeddings.value)
    assert isinstance(grad, tf.IndexedSlices)
    np.testing.assert_allclose(float(penalty), 0.01 * (table[read] ** 2).sum(), rtol=1e-6)
    dense = np.asarray(tf.convert_to_tensor(grad))
    want = np.zeros_like(table)
    want[read] = 2 * 0.01 * table[read]
    np.testing.assert_allclose(dense, want, rtol=1e-5, atol=1e-8)
    assert len(layer.losses) == 1   # one penalty per call, not one per call ever made


VOCAB = ["[PAD]", "[UNK]"] + [f"w{i}" for i in range(30)]


def _lazy_model(**kwargs):
    return text_classifier(VOCAB, 3, units=4, embedding_dim=4, ngrams=2, ngram_buckets=512,
                           ngram_l2=1e-3, ngram_lr_multiplier=10.0, ngram_updates="lazy",
                           token_dropout=0.0, max_length=6, **kwargs)


def _batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(2, 12, (n, 6)).astype("int32")   # ids 12.. never occur
    ids[:, 4:] = 0
    return ids, rng.integers(0, 3, n)


def _untouched_rows(model, ids):
    layer = model.get_layer("bag_of_ngrams")
    rows, weights = (np.asarray(a) for a in layer.ngram_ids(ids))
    return np.setdiff1d(np.arange(layer.rows), rows[weights > 0])


@pytest.mark.parametrize("jit", [False, True])
def test_fit_updates_only_the_rows_the_batches_read(jit):
    """In `fit` (and under XLA) the table's rows no text reads, and their
    moments, stay zero; the rows read moved."""
    keras.utils.set_random_seed(0)
    ids, labels = _batch()
    model = _lazy_model()
    model.compile(LazyAdam(1e-2, clipnorm=1.0), "sparse_categorical_crossentropy",
                  jit_compile=jit)
    model.fit(ids, labels, epochs=2, batch_size=8, verbose=0)
    table = model.get_layer("bag_of_ngrams").embeddings
    never = _untouched_rows(model, ids)
    assert len(never) > 400
    assert not np.asarray(table)[never].any()
    slots = [v for v in model.optimizer.variables if v.shape == table.shape]
    assert len(slots) == 2 and all(not np.asarray(s)[never].any() for s in slots)
    read = np.setdiff1d(np.arange(table.shape[0]), never)
    assert np.abs(np.asarray(table)[read]).min() > 0



def test_fit_under_mixed_precision_keeps_the_update_lazy():
    """mixed_float16: `compile` wraps LazyAdam in a LossScaleOptimizer; the
    sparse gradient is unscaled and applied to the rows read only."""
    keras.utils.set_random_seed(0)
    ids, labels = _batch()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = _lazy_model()
        model.compile(LazyAdam(1e-2, clipnorm=1.0), "sparse_categorical_crossentropy")
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        model.fit(ids, labels, epochs=2, batch_size=8, verbose=0)
    finally:
        keras.config.set_dtype_policy("float32")
    table = np.asarray(model.get_layer("bag_of_ngrams").embeddings)
    never = _untouched_rows(model, ids)
    assert table.dtype == np.float32 and not table[never].any()
    assert np.isfinite(table).all() and np.abs(table).max() > 0


def _texts(n=48, seed=0):
    rng = np.random.default_rng(seed)
    words = {0: ["bad", "poor"], 1: ["good", "fine"], 2: ["odd", "strange"]}
    filler = ["the", "film", "was", "a", "plot"]
    texts = [" ".join(list(rng.choice(filler, 3)) + [str(rng.choice(words[i % 3]))])
             for i in range(n)]
    return texts, np.arange(n) % 3


def test_lazy_classifier_round_trips_with_its_optimizer_state(tmp_path):
    """`TextClassifier(ngram_updates="lazy")` compiles LazyAdam; its
    `.keras` file holds the optimizer (class and slots), and `load` +
    `compile` keep using it."""
    from keras_rnnx.training import load_model

    keras.utils.set_random_seed(1)
    texts, labels = _texts()
    clf = TextClassifier.create(texts, labels, ["neg", "pos", "odd"], units=4, embedding_dim=4,
                                max_length=8, ngrams=2, ngram_buckets=64, ngram_l2=1e-4,
                                ngram_updates="lazy")
    clf.fit(texts, labels, epochs=2, verbose=0, validation_fraction=0.0)
    assert type(clf.ids_model.optimizer) is LazyAdam
    assert clf.ids_model.get_layer("bag_of_ngrams").row_l2 == 1e-4
    path = str(tmp_path / "ids.keras")
    clf.ids_model.save(path)
    loaded = load_model(path)
    assert type(loaded.optimizer) is LazyAdam
    for a, b in zip(loaded.optimizer.variables, clf.ids_model.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    clf.save(str(tmp_path / "clf"))
    again = TextClassifier.load(str(tmp_path / "clf"))
    np.testing.assert_allclose(again.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    again.compile()
    assert type(again.ids_model.optimizer) is LazyAdam


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="`ngram_updates`"):
        text_classifier(VOCAB, 2, ngrams=2, ngram_updates="sparse")
    with pytest.raises(ValueError, match="`row_l2`"):
        BagOfNgrams(10, 2, row_l2=-1.0)


def test_docstring_example_runs():
    import doctest

    from keras_rnnx import optimizers

    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(optimizers):
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0 and runner.tries >= 4
