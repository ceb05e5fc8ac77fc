"""Skip-gram training examples with gensim's conventions, in tf.data.

Conventions (gensim `word2vec.py` / `word2vec_inner.pyx`):

* frequent-word subsampling: a word with count `c` is kept with probability
  `min(1, (sqrt(c / t) + 1) * t / c)`, `t = sample * retained_total`
  (`keep_probabilities`);
* window shrinking: for each position a reduced window `b ~ U{0..window-1}`
  is drawn and contexts are the words at distance `<= window - b` in the same
  sentence (after subsampling);
* negatives: drawn from `count ** ns_exponent` (normalised) with Vose's
  alias method (`keras_rnnx.layers.skipgram.AliasSampler`: exact, O(1) per draw, XLA-friendly);
* linear learning-rate decay: each example carries the fraction of the epoch's
  raw words read before it, so `alpha` falls linearly to `min_alpha`.

Everything is stateless-random under `(seed, epoch, batch index)`, so the
stream is deterministic for a seed whatever the parallelism.
"""
import numpy as np
import tensorflow as tf


def keep_probabilities(counts, sample):
    """gensim's subsampling keep probability for each count (float64 array).

    Args:
        counts: word counts of the retained vocabulary.
        sample: gensim's `sample`: 0 disables; < 1 is a proportion of the
            retained total; >= 1 is gensim's count-threshold shorthand.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample is None or sample < 0:
        raise ValueError(f"sample must be a float >= 0, got {sample!r}")
    if np.any(counts <= 0):
        raise ValueError("counts must all be positive")
    retain_total = counts.sum()
    if not sample:
        threshold = retain_total
    elif sample < 1.0:
        threshold = sample * retain_total
    else:
        threshold = int(sample * (3 + np.sqrt(5)) / 2)
    p = (np.sqrt(counts / threshold) + 1) * (threshold / counts)
    return np.minimum(p, 1.0)


def window_contexts(ids, window, seed):
    """Contexts of every word of a batch of sentences, with window shrinking.

    Args:
        ids: `tf.RaggedTensor` [S, None] of word ids (one row a sentence).
        window: the maximum window.
        seed: stateless seed pair for the reduced windows.

    Returns:
        (centers [n], contexts [n, 2*window], weights [n, 2*window]) where `n`
        is the number of words, contexts at offsets -window..-1, 1..window
        (0 where invalid) and weights 1.0 for real pairs, else 0.0.
    """
    flat = ids.flat_values
    n = tf.shape(flat)[0]
    row = ids.value_rowids()
    starts = tf.gather(ids.row_starts(), row)
    lengths = tf.gather(ids.row_lengths(), row)
    pos = tf.range(n, dtype=starts.dtype) - starts
    b = tf.random.stateless_uniform([n], seed, minval=0, maxval=window, dtype=tf.int32)
    eff = tf.cast(window - b, starts.dtype)
    offsets = tf.constant([o for o in range(-window, window + 1) if o != 0], dtype=starts.dtype)
    j = pos[:, None] + offsets[None, :]
    valid = (j >= 0) & (j < lengths[:, None]) & (tf.abs(offsets)[None, :] <= eff[:, None])
    flat_j = tf.range(n, dtype=starts.dtype)[:, None] + offsets[None, :]
    flat_j = tf.clip_by_value(flat_j, 0, tf.maximum(tf.cast(n, flat_j.dtype) - 1, 0))
    contexts = tf.where(valid, tf.gather(flat, flat_j), tf.zeros_like(flat_j, dtype=flat.dtype))
    return flat, contexts, tf.cast(valid, tf.float32)


def skipgram_pairs(ids, window, seed):
    """Flat (target, context) pairs of `window_contexts`, as gensim visits them.

    Pair order: for each word in order, its contexts left to right.
    """
    centers, contexts, weights = window_contexts(ids, window, seed)
    mask = weights > 0
    targets = tf.broadcast_to(centers[:, None], tf.shape(contexts))
    return tf.boolean_mask(targets, mask), tf.boolean_mask(contexts, mask)


def subsample(ids, keep_prob, seed):
    """Drops words of a ragged id batch with probability `1 - keep_prob[id]`."""
    u = tf.random.stateless_uniform(tf.shape(ids.flat_values), seed, dtype=tf.float64)
    keep = u < tf.gather(tf.constant(keep_prob, tf.float64), ids.flat_values)
    return tf.ragged.boolean_mask(ids, ids.with_flat_values(keep))


def id_batches(lines, tokenizer, tokens, lines_per_batch=256):
    """Streams `lines` (a `tf.data.Dataset` of strings) into ragged id batches.

    Out-of-vocabulary words are dropped (as gensim does). Yields
    `(ids [S, None] int32 ragged, raw_words int64)` where `raw_words` counts
    every token before the vocabulary filter (gensim's progress unit).
    """
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(list(tokens)), tf.range(len(tokens), dtype=tf.int32)
        ),
        default_value=-1,
    )

    def to_ids(batch):
        toks = tokenizer.tokenize(batch)
        ids = tf.ragged.map_flat_values(table.lookup, toks)
        ids = tf.ragged.boolean_mask(ids, ids >= 0)
        return ids, tf.cast(tf.size(toks.flat_values), tf.int64)

    return lines.batch(lines_per_batch).map(to_ids, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def training_blocks(id_ds, *, keep_prob, sampler, window, negative, block_size, total_words,
                    seed, epoch):
    """One epoch of fixed-size training blocks for the batched skip-gram step.

    Args:
        id_ds: a dataset of `(ids ragged [S, None], raw_words)` (`id_batches`).
        keep_prob: per-id keep probabilities (`keep_probabilities`).
        sampler: an `AliasSampler` over the negative distribution.
        window, negative: gensim's `window` and `negative`.
        block_size: centre words per block (fixed, the last block padded).
        total_words: raw words per epoch, for the progress fraction.
        seed, epoch: the stream is a pure function of these.

    Yields dicts: `centers` [N] int32, `contexts` [N, 2w] int32, `weights`
    [N, 2w] float32 (0 marks padding / invalid pairs), `negatives` [N, K]
    int32, `progress` [N] float32 (fraction of the epoch read, in [0, 1]),
    `epoch` int32 scalar. `epoch` may be a tensor (see `all_epochs`).
    """
    total = float(max(total_words, 1))

    def cumulate(seen, item):
        ids, raw = item
        return seen + raw, (ids, tf.cast(seen, tf.float32) / total)

    def expand(index, item):
        ids, progress = item
        s = tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64) * 1_000_003 + index])
        seeds = tf.random.experimental.stateless_split(s, 2)
        kept = subsample(ids, keep_prob, seeds[0]) if keep_prob is not None else ids
        centers, contexts, weights = window_contexts(kept, window, seeds[1])
        has = tf.reduce_any(weights > 0, axis=1)
        centers = tf.boolean_mask(centers, has)
        contexts = tf.boolean_mask(contexts, has)
        weights = tf.boolean_mask(weights, has)
        prog = tf.fill(tf.shape(centers), progress)
        return centers, contexts, weights, prog

    def finish(index, block):
        centers, contexts, weights, prog = block
        n = tf.shape(centers)[0]
        pad = block_size - n
        centers = tf.pad(centers, [[0, pad]])
        contexts = tf.pad(contexts, [[0, pad], [0, 0]])
        weights = tf.pad(weights, [[0, pad], [0, 0]])
        prog = tf.pad(prog, [[0, pad]], constant_values=1.0)
        s = tf.stack([tf.cast(seed, tf.int64) + 7919, tf.cast(epoch, tf.int64) * 1_000_003 + index])
        negatives = sampler.sample([block_size, negative], s) if negative else tf.zeros([block_size, 0], tf.int32)
        return {
            "centers": tf.ensure_shape(centers, [block_size]),
            "contexts": tf.ensure_shape(contexts, [block_size, 2 * window]),
            "weights": tf.ensure_shape(weights, [block_size, 2 * window]),
            "negatives": negatives,
            "progress": tf.ensure_shape(prog, [block_size]),
            "epoch": tf.cast(epoch, tf.int32),
        }

    ds = id_ds.scan(tf.constant(0, tf.int64), cumulate).enumerate()
    ds = ds.map(expand, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.rebatch(block_size).enumerate()
    ds = ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(2)


def lines_dataset(corpus):
    """A `tf.data.Dataset` of lines from a file path or an in-memory list of str.

    Text files stream (`TextLineDataset`); the caller validates UTF-8 first.
    """
    if isinstance(corpus, str):
        return tf.data.TextLineDataset(corpus)
    return tf.data.Dataset.from_tensor_slices(tf.constant(list(corpus), tf.string))


def all_epochs(id_ds, epochs, start=0, **kwargs):
    """`training_blocks` for epochs start..epochs-1 as one dataset (traced once).

    Each epoch's stream is a pure function of (seed, epoch), so a run resumed
    at `start` sees exactly the blocks an uninterrupted run would.
    """
    return tf.data.Dataset.range(start, epochs).flat_map(
        lambda e: training_blocks(id_ds, epoch=e, **kwargs))
