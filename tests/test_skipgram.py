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
    ids = np.tile(np.arange(4, dtype=np.int32), n)
    kept = ids[sd.subsample(ids, keep, np.random.default_rng(3))]
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
    numpy_draws = sampler.draw(np.random.default_rng(2), (n,))
    assert numpy_draws.dtype == np.int32 and numpy_draws.shape == (n,)
    freq = np.bincount(numpy_draws, minlength=5) / n
    assert np.all(np.abs(freq - probs) <= 5 * sigma), (freq, probs)
    with pytest.raises(ValueError, match="probabilities"):
        AliasSampler([])


def test_window_one_hand_checked_pairs():
    ids = np.array([0, 1, 2, 3, 4, 5])
    sentence = np.array([0, 0, 0, 1, 1, 2])  # [0 1 2] [3 4] [5]
    t, c = sd.skipgram_pairs(ids, sentence, window=1, rng=np.random.default_rng(0))
    assert list(zip(t.tolist(), c.tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1), (3, 4), (4, 3)]


def test_window_shrinking_distribution():
    # one long sentence; with window=2, distance-2 pairs appear only when the
    # reduced window b is 0 (probability 1/2), distance-1 pairs always.
    n = 20000
    w = sd.window_weights(np.zeros(n, np.int64), 2, np.random.default_rng(5))
    assert w.shape == (n, 4) and set(np.unique(w)) <= {0.0, 1.0}
    inner = w[2:-2]  # interior positions; offsets -2, -1, 1, 2
    assert np.all(inner[:, 1] == 1) and np.all(inner[:, 2] == 1)
    assert np.all(inner[:, 0] == inner[:, 3])  # symmetric window
    assert abs(inner[:, 0].mean() - 0.5) < 5 * np.sqrt(0.25 / n)
    assert not w[0, :2].any() and not w[-1, 2:].any()  # nothing outside the stream
    two = sd.window_weights(np.array([0, 0, 1, 1]), 2, np.random.default_rng(1))
    np.testing.assert_array_equal(two[:, [1, 2]], [[0, 1], [1, 0], [0, 1], [1, 0]])  # lines stay apart
    assert not two[:, [0, 3]].any()


def _corpus():
    from keras_rnnx.text import Tokenizer

    lines = tf.data.Dataset.from_tensor_slices(["a b c d", "b c", "d a b x", "c"] * 10)
    seen, _, corpus = sd.counted_corpus_ids(lines, Tokenizer(), lines_per_batch=3)
    return sd.restrict(corpus, seen, ["a", "b", "c", "d"])


def _chunks(seed, epoch=0, block_size=16, window=2):
    keep = sd.keep_probabilities(np.array([10, 20, 20, 10.0]), 0.3)
    sampler = AliasSampler(unigram_probabilities([10, 20, 20, 10]))
    return list(sd.epoch_chunks(_corpus(), keep_prob=keep, sampler=sampler, window=window, negative=3,
                                block_size=block_size, seed=seed, epoch=epoch, chunk_words=50))


def test_restricted_corpus_ids_hand_checked():
    corpus = _corpus()
    np.testing.assert_array_equal(corpus.ids[:10], [0, 1, 2, 3, 1, 2, 3, 0, 1, 2])  # "x" is dropped
    np.testing.assert_array_equal(corpus.row_splits[:5], [0, 4, 6, 9, 10])
    np.testing.assert_array_equal(corpus.raw_before[:5], [0, 4, 6, 10, 11])  # "x" counts as read
    assert corpus.raw_total == 110 and len(corpus.row_splits) == 41


def test_counted_corpus_ids_counts_every_token_in_the_same_pass():
    from keras_rnnx.text import Tokenizer, Vocabulary

    texts = ["The cat, the DOG.", "", "dog x cat the", "...", "x"]
    lines = tf.data.Dataset.from_tensor_slices(texts)
    tokenizer = Tokenizer(kind="whitespace", drop_punctuation=True)
    tokens, counts, corpus = sd.counted_corpus_ids(lines, tokenizer, lines_per_batch=2)
    assert tokens == ["the", "cat", "dog", "x"]  # first appearance
    np.testing.assert_array_equal(counts, [3, 2, 2, 2])
    assert dict(zip(tokens, counts.tolist())) == Vocabulary.count_tokens(texts, tokenizer)[0]
    np.testing.assert_array_equal(corpus.ids, [0, 1, 0, 2, 2, 3, 1, 0, 3])
    np.testing.assert_array_equal(corpus.row_splits, [0, 4, 4, 8, 8, 9])
    kept = sd.restrict(corpus, tokens, ["the", "x"])  # "cat" and "dog" dropped, still read
    np.testing.assert_array_equal(kept.ids, [0, 0, 1, 0, 1])
    np.testing.assert_array_equal(kept.row_splits, [0, 2, 2, 4, 4, 5])
    np.testing.assert_array_equal(kept.raw_before, [0, 4, 4, 8, 8])
    assert kept.raw_total == 9


def test_epoch_chunks_deterministic_and_well_formed():
    from keras_rnnx.layers.skipgram import (block_signature, chunk_block, chunk_signature, context_offsets,
                                            negatives_per_tile, tile_size)

    def conforms(arrays, signature):  # exactly the signature's names, dtypes and shapes
        assert set(arrays) == set(signature)
        for k, spec in signature.items():
            assert arrays[k].dtype == spec.dtype.as_numpy_dtype, k
            assert spec.shape.is_compatible_with(arrays[k].shape), k

    a, b, c, d = _chunks(7), _chunks(7), _chunks(8), _chunks(7, epoch=1)
    assert len(a) == len(b) and len(a) > 1  # 110 words in chunks of about 50
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])
    for other in (c, d):
        assert any(len(x["words"]) != len(y["words"]) or not np.array_equal(x["weights"], y["weights"])
                   for x, y in zip(a, other))
    tile = tile_size(2)
    corpus = _corpus()
    blocks = []
    for chunk in a:
        m = chunk["weights"].shape[0]
        assert m % tile == 0 and chunk["words"].shape == (m + 4,)
        assert chunk["negatives"].shape == (m // tile, negatives_per_tile(3))
        assert set(np.unique(chunk["weights"])) <= {0.0, 1.0}
        p = chunk["progress"]
        assert np.all((p >= 0) & (p <= 1))
        # blocks of 16 centres (one tile), the last one ending with the chunk
        np.testing.assert_array_equal(chunk["bounds"], np.arange(0, m + 1, 16))
        real = p[chunk["weights"].sum(1) > 0]
        assert real.max() < chunk["end"] <= 1.0  # read after the chunk: past its last line's start
        chunk = dict(chunk, lr=p)
        conforms({k: v for k, v in chunk.items() if k not in ("progress", "end")}, chunk_signature(2, 3))
        for s, e in zip(chunk["bounds"][:-1], chunk["bounds"][1:]):
            blk = chunk_block(chunk, s, e)
            conforms(blk, block_signature(2, 3))
            np.testing.assert_array_equal(blk["words"], chunk["words"][s:e + 4])
            np.testing.assert_array_equal(blk["negatives"], chunk["negatives"][s // tile:e // tile])
            blocks.append(blk)
    assert [x["end"] for x in a] == sorted(x["end"] for x in a) and a[-1]["end"] == 1.0
    prog = np.concatenate([blk["lr"][blk["weights"].sum(1) > 0] for blk in blocks])
    assert np.all(np.diff(prog) >= 0)
    # every pair of the blocks is a pair of one line of the corpus, at its distance
    lines = [tuple(corpus.ids[s:e]) for s, e in zip(corpus.row_splits[:-1], corpus.row_splits[1:])]
    offsets = context_offsets(2)
    pairs = 0
    for blk in blocks:
        i, j = np.nonzero(blk["weights"])
        for centre, slot in zip(i, j):
            x, y = blk["words"][centre + 2], blk["words"][centre + 2 + offsets[slot]]
            assert any(x in ln and y in ln for ln in lines)
            pairs += 1
    assert pairs > 50
    # a block size that is no multiple of the tile is rounded down to one
    for chunk in _chunks(7, block_size=40):
        m = chunk["weights"].shape[0]
        np.testing.assert_array_equal(chunk["bounds"], list(range(0, m, 32)) + [m])


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


def _reference_step(s0, s1, block, max_norm, negative):
    """The update of `sgd_negative_sampling_step` in float64, pair by pair:
    every pair's gradient from the tables before the step, summed per row,
    each row's sum clipped."""
    from keras_rnnx.layers.skipgram import tile_size

    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    words, weights, negs, lr = (block[k] for k in ("words", "weights", "negatives", "lr"))
    w = weights.shape[1] // 2
    tile = tile_size(w)
    offsets = [o for o in range(-w, w + 1) if o != 0]
    d0, d1 = np.zeros_like(s0), np.zeros_like(s1)
    loss = 0.0
    for i in range(weights.shape[0]):
        centre = words[i + w]
        outs = [(centre, 1.0, 1.0)] + [(x, 0.0, negative / negs.shape[1])
                                       for x in negs[i // tile] if x != centre]
        for j, o in enumerate(offsets):
            if not weights[i, j]:
                continue
            c = words[i + w + o]
            for out, label, weight in outs:
                z = s0[c] @ s1[out]
                g = (label - sig(z)) * lr[i] * weight
                d0[c] += g * s1[out]
                d1[out] += g * s0[c]
                loss -= weight * np.log(sig(z if label else -z))
    for d in (d0, d1):
        if max_norm is not None:
            d *= np.minimum(1.0, max_norm / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12))
    return s0 + d0, s1 + d1, loss / max(weights.sum(), 1.0)


@pytest.mark.parametrize("workers,max_norm,window", [(1, None, 2), (2, 0.05, 2), (3, None, 9)])
def test_sgd_step_matches_numpy_reference(workers, max_norm, window):
    from keras_rnnx.layers.skipgram import tile_size

    rng = np.random.default_rng(4)
    v, d, k, negative = 9, 5, 4, 2
    tile = tile_size(window)
    m = 3 * tile
    syn0 = tf.Variable(rng.normal(size=(v, d)).astype("float32"))
    syn1 = tf.Variable(rng.normal(size=(v, d)).astype("float32"))
    s0, s1 = syn0.numpy().astype(float), syn1.numpy().astype(float)
    words = rng.integers(0, v, m + 2 * window).astype(np.int32)
    negs = rng.integers(0, v, (3, k)).astype(np.int32)
    negs[0, 0] = words[window]  # a negative equal to the first centre is skipped for that centre
    block = {
        "words": words,
        "weights": (rng.random((m, 2 * window)) > 0.3).astype(np.float32),
        "negatives": negs,
        "lr": rng.uniform(0.01, 0.1, m).astype(np.float32),
    }
    loss = sgd_negative_sampling_step(syn0, syn1, {k_: tf.constant(x) for k_, x in block.items()},
                                      max_norm, workers, negative)
    e0, e1, e_loss = _reference_step(s0, s1, block, max_norm, negative)
    np.testing.assert_allclose(syn0.numpy(), e0, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(syn1.numpy(), e1, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(float(loss), e_loss, rtol=1e-5)
    if max_norm is not None:  # the clip was active: without it the update is larger
        u0, _, _ = _reference_step(s0, s1, block, None, negative)
        assert np.abs(u0 - s0).max() > np.abs(e0 - s0).max() + 1e-3


def test_sgd_chunk_trains_its_blocks_in_order():
    """`sgd_negative_sampling_chunk` (its graph loop, in a `tf.function`)
    against the float64 reference applied block after block: each block's
    update starts from the tables the blocks before it left, and the
    per-block losses come back in order."""
    from keras_rnnx.layers.skipgram import chunk_block, sgd_negative_sampling_chunk, tile_size

    rng = np.random.default_rng(7)
    v, d, k, negative, window = 9, 5, 4, 2, 2
    tile = tile_size(window)
    m = 6 * tile
    chunk = {
        "words": rng.integers(0, v, m + 2 * window).astype(np.int32),
        "weights": (rng.random((m, 2 * window)) > 0.3).astype(np.float32),
        "negatives": rng.integers(0, v, (6, k)).astype(np.int32),
        "lr": rng.uniform(0.05, 0.2, m).astype(np.float32),
        "bounds": np.array([0, 2, 3, 6], np.int32) * tile,  # blocks of 2, 1 and 3 tiles
    }
    syn0 = tf.Variable(rng.normal(size=(v, d)).astype("float32"))
    syn1 = tf.Variable(rng.normal(size=(v, d)).astype("float32"))
    s0, s1 = syn0.numpy().astype(float), syn1.numpy().astype(float)
    start0, start1 = s0, s1
    losses = tf.function(lambda c: sgd_negative_sampling_chunk(syn0, syn1, c, 0.5, 2, negative))(chunk)
    expected = []
    for s, e in zip(chunk["bounds"][:-1], chunk["bounds"][1:]):
        s0, s1, loss = _reference_step(s0, s1, chunk_block(chunk, s, e), 0.5, negative)
        expected.append(loss)
    np.testing.assert_allclose(syn0.numpy(), s0, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(syn1.numpy(), s1, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(losses.numpy(), expected, rtol=1e-5)
    # the chunk as one block, every update from the starting tables, is another result
    joint, _, _ = _reference_step(start0, start1, chunk_block(chunk, 0, m), 0.5, negative)
    assert np.abs(joint - s0).max() > 1e-2


def test_sgd_step_and_chunk_name_a_misshapen_array():
    """The arrays are converted by `block_signature` / `chunk_signature`: a
    shape outside them is a ValueError naming the array, before any update."""
    from keras_rnnx.layers.skipgram import sgd_negative_sampling_chunk

    syn0, syn1 = tf.Variable(tf.ones([5, 3])), tf.Variable(tf.zeros([5, 3]))
    block = {"words": np.zeros(20, np.int32), "weights": np.ones((16, 4), np.float32),
             "negatives": np.zeros(8, np.int32), "lr": np.ones(16, np.float32)}  # negatives: [tiles, K]
    with pytest.raises(ValueError, match=r"block\['negatives'\] must have shape \(None, None\)"):
        sgd_negative_sampling_step(syn0, syn1, block)
    chunk = dict(block, negatives=np.zeros((1, 8), np.int32), bounds=np.array([[0, 16]], np.int32))
    with pytest.raises(ValueError, match=r"chunk\['bounds'\] must have shape \(None,\)"):
        sgd_negative_sampling_chunk(syn0, syn1, chunk)
    np.testing.assert_array_equal(syn0.numpy(), 1.0)  # nothing was applied
    np.testing.assert_array_equal(syn1.numpy(), 0.0)
