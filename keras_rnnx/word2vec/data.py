"""Skip-gram training blocks with gensim's conventions, prepared in NumPy.

The corpus is tokenized once in tf.data and held as one flat int32 id array
(`counted_corpus_ids` counts the words in the same pass, so the vocabulary
needs no pass of its own, and is Word2Vec's one counting path, `build_vocab`'s
too; `restrict` maps the ids onto the vocabulary built from the counts: 4
bytes a word). Each epoch's blocks are then
drawn in NumPy from a generator seeded with `(seed, epoch)`, so the stream is
a pure function of those two numbers (a resumed run sees the blocks an
uninterrupted one would). They come a chunk of lines at a time
(`epoch_chunks`: about 2^18 words, with the bounds of the chunk's blocks),
which `Word2Vec` trains in one call.

Conventions (gensim `word2vec.py` / `word2vec_inner.pyx`):

* frequent-word subsampling: a word with count `c` is kept with probability
  `min(1, (sqrt(c / t) + 1) * t / c)`, `t = sample * retained_total`
  (`keep_probabilities`);
* window shrinking: for each position a reduced window `b ~ U{0..window-1}`
  is drawn and contexts are the words at distance `<= window - b` in the same
  sentence (after subsampling);
* negatives: drawn from `count ** ns_exponent` (normalised) with Vose's
  alias method (`keras_rnnx.layers.skipgram.AliasSampler`), one set for each
  tile of consecutive centres, shared by the pairs of their windows (Ji et
  al., "Parallelizing Word2Vec in Shared and Distributed Memory", arXiv
  1604.04661; `negatives_per_tile` draws, weighted so that each pair's
  expected negative gradient is gensim's);
* linear learning-rate decay: each centre carries the fraction of the epoch's
  raw words read before its sentence, so `alpha` falls linearly to
  `min_alpha`.

A block is a run of consecutive centre positions of the subsampled stream,
with `window` positions of context on each side (`words`); its contexts are
addressed by offset, so each position's input vector is read and written
once per block (`keras_rnnx.layers.skipgram.sgd_negative_sampling_step`,
which also states the block's layout). A chunk has the same layout over all
its centres; `keras_rnnx.layers.skipgram.chunk_block` cuts a block out of it.
"""
import collections
import os

import numpy as np
import tensorflow as tf

from keras_rnnx.layers.skipgram import context_offsets, negatives_per_tile, tile_size


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


def window_weights(sentence, window, rng):
    """Which offsets of each position are its contexts, with window shrinking.

    Args:
        sentence: int array [n], the sentence index of each position of a
            flat word stream (positions of one sentence are consecutive).
        window: the maximum window.
        rng: a `numpy.random.Generator` (draws one reduced window a position).

    Returns:
        float32 [n, 2 * window]: 1.0 where the word at offset `context_offsets(window)[j]`
        is in the same sentence and within the position's reduced window.
    """
    sentence = np.asarray(sentence)
    n = sentence.shape[0]
    eff = window - rng.integers(0, window, n)
    out = np.zeros((n, 2 * window), np.float32)
    for j, o in enumerate(context_offsets(window)):
        lo, hi = max(0, -o), min(n, n - o)  # positions i with 0 <= i + o < n
        if lo >= hi:
            continue
        i = np.arange(lo, hi)
        out[lo:hi, j] = (sentence[i + o] == sentence[i]) & (abs(o) <= eff[lo:hi])
    return out


def skipgram_pairs(ids, sentence, window, rng):
    """Flat (centre, context) id pairs of `window_weights`, as gensim visits
    them: for each position in order, its contexts left to right."""
    ids = np.asarray(ids)
    w = window_weights(sentence, window, rng)
    i, j = np.nonzero(w)
    return ids[i], ids[i + context_offsets(window)[j]]


def subsample(ids, keep_prob, rng):
    """Bool mask [n]: keep each word with probability `keep_prob[id]`."""
    return rng.random(len(ids)) < np.asarray(keep_prob)[ids]


CorpusIds = collections.namedtuple("CorpusIds", "ids row_splits raw_before raw_total")
CorpusIds.__doc__ = """A tokenized corpus: `ids` int32 [n] (in-vocabulary words
of every line, in order), `row_splits` int64 [lines + 1] (line i is
`ids[row_splits[i]:row_splits[i + 1]]`), `raw_before` int64 [lines] (raw
tokens, out-of-vocabulary ones included, before each line) and `raw_total`."""


def counted_corpus_ids(lines, tokenizer, lines_per_batch=256, progress=None):
    """Tokenizes `lines` (a `tf.data.Dataset` of strings) once, counting as it goes.

    Word2Vec's one counting path (`Word2Vec.build_vocab` and `Word2Vec.fit`).
    Returns `(tokens, counts, corpus)`: every distinct token (str) in order
    of first appearance, its count (int64 array) and the `CorpusIds` of the
    corpus over those token ids; `restrict` then maps it onto a vocabulary
    built from the counts (one tokenizing pass instead of a counting pass
    and an id pass). `progress`, if given, is called as `progress(lines,
    tokens)` after each batch of `lines_per_batch` lines.
    """
    def to_index(batch):
        toks = tokenizer.tokenize(batch)
        uniq, index = tf.unique(toks.flat_values, out_idx=tf.int32)
        return uniq, index, toks.row_lengths()

    seen, ids, lengths = {}, [], []
    batches = lines.batch(lines_per_batch).map(to_index, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    for uniq, index, row_lengths in batches:
        uniq = uniq.numpy().tolist()
        lut = np.fromiter((seen.setdefault(t, len(seen)) for t in uniq), np.int32, len(uniq))
        ids.append(lut[index.numpy()])
        lengths.append(row_lengths.numpy())
        if progress is not None:
            progress(int(lengths[-1].shape[0]), int(ids[-1].shape[0]))
    ids = np.concatenate(ids).astype(np.int32) if ids else np.zeros([0], np.int32)
    lengths = np.concatenate(lengths) if lengths else np.zeros([0], np.int64)
    row_splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    tokens = [t.decode("utf-8") for t in seen]
    counts = np.bincount(ids, minlength=len(tokens)).astype(np.int64)
    return tokens, counts, CorpusIds(ids, row_splits, row_splits[:-1].copy(), int(ids.shape[0]))


def restrict(corpus, tokens, vocabulary_tokens):
    """`corpus` (`CorpusIds` over `tokens`) with ids of `vocabulary_tokens`
    instead, words outside it dropped; the raw counts stay (gensim's progress
    unit counts every word)."""
    position = {t: i for i, t in enumerate(vocabulary_tokens)}
    new = np.array([position.get(t, -1) for t in tokens], np.int32)
    ids = new[corpus.ids]
    keep = ids >= 0
    kept_before = np.concatenate([[0], np.cumsum(keep)]).astype(np.int64)
    return CorpusIds(ids[keep], kept_before[corpus.row_splits], corpus.raw_before, corpus.raw_total)


def epoch_chunks(corpus, *, keep_prob, sampler, window, negative, block_size, seed, epoch,
                 chunk_words=1 << 18):
    """One epoch of training blocks, a chunk of them at a time; a pure
    function of `(seed, epoch)`.

    Args:
        corpus: `CorpusIds`.
        keep_prob: per-id keep probabilities (`keep_probabilities`), or None.
        sampler: an `AliasSampler` over the negative distribution.
        window, negative: gensim's `window` and `negative`.
        block_size: centre positions per block, rounded down to a multiple
            of the tile (`tile_size(window)`; the last block of each chunk
            may hold fewer tiles).
        seed, epoch: seed the NumPy generator of the epoch.
        chunk_words: lines are prepared about this many words at a time.

    Yields dicts of NumPy arrays, for a chunk of `M` centres (`M` a multiple
    of the tile `T`): `words` [M + 2 * window] int32 (the ids of the chunk's
    positions, `window` more on each side; 0 where the stream ends),
    `weights` [M, 2 * window] float32 (`window_weights`; 0 for the centres
    that complete the chunk's last tile), `negatives` [M / T,
    negatives_per_tile(negative)] int32, `progress` [M] float32 (the
    fraction of the epoch's raw words read before the centre's line),
    `bounds` [blocks + 1] int32 (block `b` is centres `bounds[b]` to
    `bounds[b + 1]`, multiples of `T`; `keras_rnnx.layers.skipgram.chunk_block`
    cuts it out) and `end`, a float: the fraction of the epoch's raw words
    read once the chunk is trained. Positions with no context (a line of one
    word after subsampling) are left out: they take part in no pair.
    """
    tile = tile_size(window)
    rng = np.random.default_rng([int(seed), int(epoch)])
    splits = corpus.row_splits
    total = float(max(corpus.raw_total, 1))
    n_lines = len(splits) - 1
    per_block = max(1, block_size // tile) * tile
    first = 0
    while first < n_lines:
        last = int(np.searchsorted(splits, splits[first] + chunk_words, side="right")) - 1
        last = min(max(last, first + 1), n_lines)
        lo, hi = splits[first], splits[last]
        ids = corpus.ids[lo:hi]
        line = np.repeat(np.arange(first, last), np.diff(splits[first:last + 1]))
        first = last
        if keep_prob is not None:
            keep = subsample(ids, keep_prob, rng)
            ids, line = ids[keep], line[keep]
        weights = window_weights(line, window, rng)
        has = weights.any(axis=1)
        ids, line, weights = ids[has], line[has], weights[has]
        n = ids.shape[0]
        if n == 0:
            continue
        tiles = -(-n // tile)
        pad = tiles * tile - n  # centres of weight 0 complete the last tile
        yield {
            "words": np.concatenate([np.zeros(window, np.int32), ids, np.zeros(window + pad, np.int32)]),
            "weights": np.pad(weights, ((0, pad), (0, 0))),
            "negatives": sampler.draw(rng, (tiles, negatives_per_tile(negative))),
            "progress": np.pad((corpus.raw_before[line] / total).astype(np.float32), (0, pad),
                               constant_values=1.0),
            "bounds": np.append(np.arange(0, tiles * tile, per_block), tiles * tile).astype(np.int32),
            "end": (corpus.raw_before[last] if last < n_lines else corpus.raw_total) / total,
        }


def lines_dataset(corpus, block_bytes=1 << 20):
    """A `tf.data.Dataset` of lines from a file path or an in-memory list of str.

    A text file streams in blocks of `block_bytes` read in the graph
    (`FixedLengthRecordDataset`), whose lines are split at "\n" with the
    partial last line carried into the next block (`Dataset.scan`), trailing
    "\r"s dropped: exactly the lines of `keras_rnnx.text.iter_lines(path)`,
    a "\r" inside a line kept (the tokenizer splits there, as at any
    whitespace). TensorFlow's `TextLineDataset` deletes such a "\r", gluing
    the words on either side. The caller validates UTF-8 first.
    """
    if isinstance(corpus, str):
        path = corpus
        size = os.path.getsize(path)
        if size == 0:
            return tf.data.Dataset.from_tensor_slices(tf.constant([], tf.string))
        whole, rest = divmod(size, block_bytes)
        blocks = []
        if whole:
            blocks.append(tf.data.FixedLengthRecordDataset(path, block_bytes, footer_bytes=rest))
        if rest:
            blocks.append(tf.data.FixedLengthRecordDataset(path, rest, header_bytes=whole * block_bytes))
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":  # ends the last line
                blocks.append(tf.data.Dataset.from_tensors(tf.constant(b"\n")))
        data = blocks[0]
        for more in blocks[1:]:
            data = data.concatenate(more)

        def split(carried, block):  # the block's whole lines; its partial last line carried on
            pieces = tf.strings.split(tf.strings.join([carried, block]), "\n")
            return pieces[-1], tf.strings.regex_replace(pieces[:-1], "\r+$", "")

        return data.scan(tf.constant(b""), split).unbatch()
    return tf.data.Dataset.from_tensor_slices(tf.constant(list(corpus), tf.string))
