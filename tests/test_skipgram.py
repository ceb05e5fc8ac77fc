"""Tests for the skip-gram example stream and the SkipGram layer."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_rnnx import SkipGram
from keras_rnnx.word2vec import data as sd
from keras_rnnx.layers.skipgram import (
    AliasSampler,
    sgd_negative_sampling_step,
    unigram_probabilities,
)


def test_keep_probabilities_match_gensim_formula():
    counts = np.array([1000, 100, 10, 1], float)
    t = 1e-2 * counts.sum()
    expect = np.minimum((np.sqrt(counts / t) + 1) * t / counts, 1.0)
    np.testing.assert_allclose(sd.keep_probabilities(counts, 1e-2), expect, rtol=1e-12)
    assert np.all(sd.keep_probabilities(counts, 0) == 1.0)
    with pytest.raises(ValueError, match="sample"):
        sd.keep_probabilities(counts, -1)


def test_subsampling_frequencies_match_keep_probability():
    counts = np.array([5000, 500, 50, 5], float)
    keep = sd.keep_probabilities(counts, 1e-2)
    n = 40000
    ids = tf.RaggedTensor.from_row_lengths(np.tile(np.arange(4, dtype=np.int32), n), [4] * n)
    kept = sd.subsample(ids, keep, tf.constant([3, 4], tf.int64)).flat_values.numpy()
    freq = np.bincount(kept, minlength=4) / n
    sigma = np.sqrt(keep * (1 - keep) / n) + 1e-12
    assert np.all(np.abs(freq - keep) <= 5 * sigma + 1e-9), (freq, keep)


def test_alias_sampler_encodes_and_draws_unigram_075():
    counts = np.array([100, 40, 10, 3, 1], float)
    probs = unigram_probabilities(counts, 0.75)
    np.testing.assert_allclose(probs, counts ** 0.75 / (counts ** 0.75).sum(), rtol=1e-12)
    sampler = AliasSampler(probs)
    np.testing.assert_allclose(sampler.probabilities(), probs, atol=1e-6)
    n = 200000
    draws = sampler.sample([n], tf.constant([1, 2], tf.int64)).numpy()
    freq = np.bincount(draws, minlength=5) / n
    sigma = np.sqrt(probs * (1 - probs) / n)
    assert np.all(np.abs(freq - probs) <= 5 * sigma), (freq, probs)
    with pytest.raises(ValueError, match="probabilities"):
        AliasSampler([])


def test_window_one_hand_checked_pairs():
    ids = tf.ragged.constant([[0, 1, 2], [3, 4], [5]], dtype=tf.int32)
    t, c = sd.skipgram_pairs(ids, window=1, seed=tf.constant([0, 0], tf.int64))
    assert list(zip(t.numpy().tolist(), c.numpy().tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1), (3, 4), (4, 3)]


def test_window_shrinking_distribution():
    # one long sentence; with window=2, distance-2 pairs appear only when the
    # reduced window b is 0 (probability 1/2), distance-1 pairs always.
    n = 20000
    ids = tf.RaggedTensor.from_row_lengths(np.arange(n, dtype=np.int32), [n])
    centers, contexts, weights = sd.window_contexts(ids, 2, tf.constant([5, 6], tf.int64))
    w = weights.numpy()[2:-2]  # interior positions; offsets -2, -1, 1, 2
    assert np.all(w[:, 1] == 1) and np.all(w[:, 2] == 1)
    assert np.all(w[:, 0] == w[:, 3])  # symmetric window
    assert abs(w[:, 0].mean() - 0.5) < 5 * np.sqrt(0.25 / n)
    ctx = contexts.numpy()[2:-2]
    np.testing.assert_array_equal(ctx[:, 1], np.arange(1, n - 3))
    np.testing.assert_array_equal(ctx[:, 0] * w[:, 0], (np.arange(0, n - 4)) * w[:, 0])


def _blocks(seed):
    lines = tf.data.Dataset.from_tensor_slices(["a b c d", "b c", "d a b", "c"] * 10)
    from keras_rnnx.text import Tokenizer

    tokens = ["a", "b", "c", "d"]
    ids = sd.id_batches(lines, Tokenizer(), tokens, lines_per_batch=4)
    keep = sd.keep_probabilities(np.array([10, 20, 20, 10.0]), 0.3)
    sampler = AliasSampler(unigram_probabilities([10, 20, 20, 10]))
    return list(sd.training_blocks(ids, keep_prob=keep, sampler=sampler, window=2, negative=3,
                                   block_size=16, total_words=90, seed=seed, epoch=0))


def test_training_blocks_deterministic_and_well_formed():
    a, b, c = _blocks(7), _blocks(7), _blocks(8)
    for x, y in zip(a, b):
        for k in x:
            np.testing.assert_array_equal(x[k].numpy(), y[k].numpy())
    assert any(not np.array_equal(x["weights"].numpy(), y["weights"].numpy()) for x, y in zip(a, c))
    for blk in a:
        assert blk["contexts"].shape == (16, 4) and blk["negatives"].shape == (16, 3)
        p = blk["progress"].numpy()
        assert np.all((p >= 0) & (p <= 1))
        w = blk["weights"].numpy()
        assert set(np.unique(w)) <= {0.0, 1.0}
    prog = np.concatenate([blk["progress"].numpy()[blk["weights"].numpy().sum(1) > 0] for blk in a])
    assert np.all(np.diff(prog) >= 0)


def _np_ns_loss(u, v_pos, v_neg):
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    return -np.log(sig((u * v_pos).sum(-1))) - np.log(sig(-np.einsum("bd,bkd->bk", u, v_neg))).sum(-1)


def test_negative_sampling_loss_matches_numpy():
    layer = SkipGram(20, 6, num_negative=3, seed=1)
    layer.build()
    rng = np.random.default_rng(0)
    layer.embeddings.assign(rng.normal(size=(20, 6)).astype("float32"))
    layer.context_embeddings.assign(rng.normal(size=(20, 6)).astype("float32"))
    t, c = np.array([1, 2, 3]), np.array([4, 5, 6])
    neg = np.array([[7, 8, 9], [10, 11, 12], [0, 1, 2]])
    got = layer((t, c, neg)).numpy()
    e, ce = layer.embeddings.numpy().astype(float), layer.context_embeddings.numpy().astype(float)
    np.testing.assert_allclose(got, _np_ns_loss(e[t], ce[c], ce[neg]), rtol=1e-5)


def test_softmax_loss_matches_numpy_and_sampled_softmax_eval():
    layer = SkipGram(12, 5, loss="softmax", seed=2)
    layer.build()
    rng = np.random.default_rng(1)
    layer.embeddings.assign(rng.normal(size=(12, 5)).astype("float32"))
    layer.context_embeddings.assign(rng.normal(size=(12, 5)).astype("float32"))
    t, c = np.array([0, 3]), np.array([5, 11])
    logits = layer.embeddings.numpy().astype(float)[t] @ layer.context_embeddings.numpy().astype(float).T
    ref = -(logits[np.arange(2), c] - np.log(np.exp(logits).sum(1)))
    np.testing.assert_allclose(layer((t, c)).numpy(), ref, rtol=1e-5)
    sampled = SkipGram(12, 5, loss="sampled_softmax", num_sampled=4, seed=2)
    sampled.build()
    sampled.set_weights(layer.get_weights())
    np.testing.assert_allclose(sampled((t, c), training=False).numpy(), ref, rtol=1e-5)
    assert sampled((t, c), training=True).shape == (2,)


@pytest.mark.parametrize("loss", ["negative_sampling", "softmax", "sampled_softmax"])
def test_skipgram_model_fit_jit_and_mask(loss):
    vocab = 30
    t_in = keras.Input(shape=(), dtype="int32")
    c_in = keras.Input(shape=(), dtype="int32")
    layer = SkipGram(vocab, 8, num_negative=4, loss=loss, num_sampled=8, unigram_counts=np.arange(1, vocab + 1), seed=3)
    model = keras.Model([t_in, c_in], layer((t_in, c_in)))
    model.compile(optimizer=keras.optimizers.Adam(0.05), jit_compile=(loss != "sampled_softmax"))
    rng = np.random.default_rng(0)
    t = rng.integers(0, vocab, 256).astype("int32")
    c = (t + 1) % vocab  # a learnable relation
    hist = model.fit([t, c], epochs=4, batch_size=32, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    fn = tf.function(lambda a, b, m: layer((a, b), mask=m), jit_compile=(loss != "sampled_softmax"))
    out = fn(tf.constant(t[:4]), tf.constant(c[:4]), tf.constant([True, False, True, False])).numpy()
    assert out[1] == 0 and out[3] == 0 and out[0] > 0
    clone = SkipGram.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_skipgram_saves_in_keras_file(tmp_path):
    t_in = keras.Input(shape=(), dtype="int32")
    c_in = keras.Input(shape=(), dtype="int32")
    model = keras.Model([t_in, c_in], SkipGram(10, 4, loss="softmax")((t_in, c_in)))
    path = str(tmp_path / "sg.keras")
    model.save(path)
    again = keras.saving.load_model(path)
    x = [np.array([1, 2]), np.array([3, 4])]
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_skipgram_bad_arguments():
    with pytest.raises(ValueError, match="vocab_size"):
        SkipGram(0, 4)
    with pytest.raises(ValueError, match="loss"):
        SkipGram(5, 4, loss="hinge")
    with pytest.raises(ValueError, match="unigram_counts"):
        SkipGram(5, 4, unigram_counts=[1, 2])
    layer = SkipGram(5, 4)
    with pytest.raises(TypeError, match="targets"):
        layer((np.array([0.5]), np.array([1])))
    with pytest.raises(ValueError, match="inputs"):
        layer(np.array([1]))


def test_sgd_step_matches_numpy_reference():
    rng = np.random.default_rng(4)
    v, d, n, w, k = 9, 5, 4, 2, 2
    syn0 = tf.Variable(rng.normal(size=(v, d)).astype("float32"))
    syn1 = tf.Variable(rng.normal(size=(v, d)).astype("float32"))
    s0, s1 = syn0.numpy().astype(float), syn1.numpy().astype(float)
    block = {
        "centers": np.array([0, 1, 2, 3], np.int32),
        "contexts": rng.integers(0, v, (n, 2 * w)).astype(np.int32),
        "weights": (rng.random((n, 2 * w)) > 0.3).astype(np.float32),
        "negatives": np.array([[4, 5], [1, 6], [7, 7], [8, 0]], np.int32),  # [1, 6]: 1 == centre, skipped
        "progress": np.array([0.0, 0.5, 0.5, 1.0], np.float32),
    }
    alpha, min_alpha, epochs, epoch = 0.1, 0.01, 2, 1
    sgd_negative_sampling_step(syn0, syn1, {k_: tf.constant(x) for k_, x in block.items()},
                               alpha, min_alpha, tf.constant(epoch), epochs)
    e0, e1 = s0.copy(), s1.copy()
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    for i in range(n):
        lr = alpha - (alpha - min_alpha) * min((epoch + block["progress"][i]) / epochs, 1.0)
        outs = [(block["centers"][i], 1.0)] + [
            (x, 0.0) for x in block["negatives"][i] if x != block["centers"][i]
        ]
        for j in range(2 * w):
            if not block["weights"][i, j]:
                continue
            c = block["contexts"][i, j]
            for o, label in outs:
                g = (label - sig(s0[c] @ s1[o])) * lr
                e0[c] += g * s1[o]
                e1[o] += g * s0[c]
    np.testing.assert_allclose(syn0.numpy(), e0, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(syn1.numpy(), e1, rtol=1e-4, atol=1e-5)
