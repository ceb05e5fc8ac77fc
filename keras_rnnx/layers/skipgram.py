"""SkipGram: word2vec's two embedding tables and its losses, as a Keras layer.

`SkipGram` holds the input (`embeddings`, gensim's `wv.vectors` / syn0) and
output (`context_embeddings`, gensim's syn1neg) tables. Called on
`(targets, contexts)` it returns the per-pair loss, so it trains with any
Keras optimizer inside `model.fit`. `Word2Vec` uses the same variables with a
faster, gensim-style batched sparse SGD step (`sgd_negative_sampling_step`),
run over a chunk of blocks in one graph loop (`sgd_negative_sampling_chunk`).
"""
import keras
import numpy as np
import tensorflow as tf


LOSSES = ("negative_sampling", "softmax", "sampled_softmax")


def unigram_probabilities(counts, ns_exponent=0.75):
    """The negative-sampling distribution `count**ns_exponent / Z` (float64)."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.size == 0:
        raise ValueError("counts must not be empty")
    w = counts ** float(ns_exponent)
    return w / w.sum()


class AliasSampler:
    """Draws ids from a discrete distribution with Vose's alias method.

    Args:
        probabilities: 1-D array of non-negative weights (normalised here).

    Example:

    >>> s = AliasSampler([0.5, 0.25, 0.25])
    >>> s.sample([4], seed=(1, 2)).shape
    TensorShape([4])
    """

    def __init__(self, probabilities):
        p = np.asarray(probabilities, dtype=np.float64)
        if p.ndim != 1 or p.size == 0 or np.any(p < 0) or not np.isfinite(p).all() or p.sum() <= 0:
            raise ValueError("probabilities must be a non-empty 1-D array of non-negative finite weights")
        n = p.size
        scaled = p / p.sum() * n
        prob = np.ones(n, dtype=np.float64)
        alias = np.arange(n, dtype=np.int64)
        small = [i for i in range(n) if scaled[i] < 1.0]
        large = [i for i in range(n) if scaled[i] >= 1.0]
        while small and large:
            s, l = small.pop(), large.pop()
            prob[s] = scaled[s]
            alias[s] = l
            scaled[l] = scaled[l] + scaled[s] - 1.0
            (small if scaled[l] < 1.0 else large).append(l)
        for i in small + large:
            prob[i] = 1.0
        self.size = n
        self.prob = prob.astype(np.float32)
        self.alias = alias.astype(np.int32)

    def probabilities(self):
        """The distribution the table encodes (float64), for checking."""
        out = self.prob.astype(np.float64) / self.size
        np.add.at(out, self.alias, (1.0 - self.prob.astype(np.float64)) / self.size)
        return out

    def draw(self, rng, shape):
        """The same draw in NumPy: int32 ids of `shape` from the generator `rng`."""
        i = rng.integers(0, self.size, shape)
        u = rng.random(shape, dtype=np.float32)
        return np.where(u < self.prob[i], i, self.alias[i]).astype(np.int32)

    def sample(self, shape, seed):
        """Stateless draw of int32 ids with the given shape and seed pair."""
        seed = tf.convert_to_tensor(seed)
        seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
        i = tf.random.stateless_uniform(shape, seeds[0], minval=0, maxval=self.size, dtype=tf.int32)
        u = tf.random.stateless_uniform(shape, seeds[1])
        prob = tf.gather(tf.constant(self.prob), i)
        return tf.where(u < prob, i, tf.gather(tf.constant(self.alias), i))


@keras.saving.register_keras_serializable(package="keras_rnnx")
class SkipGram(keras.layers.Layer):
    """Skip-gram word embeddings whose call returns the training loss.

    The score of a (target, context) pair is the dot product of the target's
    input vector and the context's output vector.

    * "negative_sampling": `-log s(u.v) - sum_k log s(-u.v_k)` with
      `num_negative` words drawn from `unigram_counts ** ns_exponent`
      (uniform without counts), as in word2vec;
    * "softmax": full softmax cross-entropy over the vocabulary (small
      vocabularies);
    * "sampled_softmax": `tf.nn.sampled_softmax_loss` with `num_sampled`
      candidates (evaluated as full softmax outside training).

    The mean loss (weighted by the mask) is also added with `add_loss`, so a
    model ending in this layer trains with `compile(optimizer)` and
    `fit(x)`, no targets needed.

    Args:
        vocab_size: number of words.
        embedding_dim: vector size.
        num_negative: negatives per pair ("negative_sampling").
        loss: "negative_sampling", "softmax" or "sampled_softmax".
        unigram_counts: optional word counts for the negative distribution.
        ns_exponent: exponent applied to the counts (gensim's 0.75).
        num_sampled: candidates for "sampled_softmax".
        seed: seed of the negative sampler.

    Call arguments:
        inputs: `(targets, contexts)` int tensors of shape [B] (or [B, 1]),
            optionally with `negatives` [B, K] ids (else drawn in-graph).
        mask: optional bool [B]; masked pairs contribute zero loss.
        training: sampled_softmax uses the full softmax when False.

    Returns:
        float32 loss per pair, shape [B].

    Example:

    >>> import numpy as np
    >>> t = keras.Input(shape=(), dtype="int32")
    >>> c = keras.Input(shape=(), dtype="int32")
    >>> model = keras.Model([t, c], SkipGram(50, 8, num_negative=3)((t, c)))
    >>> model.compile(optimizer="adam")
    >>> x = [np.arange(32) % 50, (np.arange(32) + 1) % 50]
    >>> _ = model.fit(x, epochs=1, batch_size=8, verbose=0)
    """

    def __init__(self, vocab_size, embedding_dim, num_negative=5, loss="negative_sampling",
                 unigram_counts=None, ns_exponent=0.75, num_sampled=64, seed=None, **kwargs):
        super().__init__(**kwargs)
        for name, value, lo in (("vocab_size", vocab_size, 1), ("embedding_dim", embedding_dim, 1),
                                ("num_negative", num_negative, 0), ("num_sampled", num_sampled, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
                raise ValueError(f"{name} must be an int >= {lo}, got {value!r}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        if loss == "negative_sampling" and num_negative < 1:
            raise ValueError("num_negative must be >= 1 with loss='negative_sampling'")
        if unigram_counts is not None:
            unigram_counts = [float(c) for c in np.asarray(unigram_counts).reshape(-1)]
            if len(unigram_counts) != vocab_size:
                raise ValueError(
                    f"unigram_counts must have vocab_size={vocab_size} entries, got {len(unigram_counts)}"
                )
            if min(unigram_counts) < 0:
                raise ValueError("unigram_counts must be non-negative")
        self.vocab_size = int(vocab_size)
        self.embedding_dim = int(embedding_dim)
        self.num_negative = int(num_negative)
        self.loss_name = loss
        self.unigram_counts = unigram_counts
        self.ns_exponent = float(ns_exponent)
        self.num_sampled = int(num_sampled)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        probs = (
            unigram_probabilities(unigram_counts, ns_exponent)
            if unigram_counts is not None
            else np.full(vocab_size, 1.0 / vocab_size)
        )
        self._sampler = AliasSampler(probs)
        self.supports_masking = True

    def build(self, input_shape=None):
        d = self.embedding_dim
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.vocab_size, d),
            initializer=keras.initializers.RandomUniform(-0.5 / d, 0.5 / d, seed=self.seed),
        )
        self.context_embeddings = self.add_weight(
            name="context_embeddings", shape=(self.vocab_size, d), initializer="zeros",
        )
        if self.loss_name != "negative_sampling":
            self.context_bias = self.add_weight(name="context_bias", shape=(self.vocab_size,), initializer="zeros")
        self.built = True

    def _ids(self, x, name):
        x = tf.convert_to_tensor(x)
        if not x.dtype.is_integer:
            raise TypeError(f"SkipGram {name} must be integer word ids, got dtype {x.dtype.name}")
        if x.shape.rank == 2 and x.shape[-1] == 1:
            x = tf.squeeze(x, -1)
        if x.shape.rank != 1:
            raise ValueError(f"SkipGram {name} must have shape [B] or [B, 1], got {x.shape}")
        return tf.cast(x, tf.int32)

    def sample_negatives(self, shape):
        """Draws ids from the negative distribution (alias method, in-graph)."""
        seed = self.seed_generator.next()
        return self._sampler.sample(shape, tf.cast(seed, tf.int64))

    def call(self, inputs, mask=None, training=None):
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ValueError("SkipGram expects inputs=(targets, contexts) or (targets, contexts, negatives)")
        targets = self._ids(inputs[0], "targets")
        contexts = self._ids(inputs[1], "contexts")
        given = None
        if len(inputs) == 3:
            given = tf.convert_to_tensor(inputs[2])
            if not given.dtype.is_integer or given.shape.rank != 2:
                raise ValueError(f"SkipGram negatives must be integer ids of shape [B, K], got {given.shape} {given.dtype.name}")
            given = tf.cast(given, tf.int32)
        u = tf.gather(self.embeddings, targets)  # [B, D]
        if self.loss_name == "negative_sampling":
            b = tf.shape(targets)[0]
            negatives = given if given is not None else self.sample_negatives([b, self.num_negative])
            out = tf.gather(self.context_embeddings, tf.concat([contexts[:, None], negatives], 1))
            logits = tf.einsum("bd,bkd->bk", u, out)
            labels = tf.concat([tf.ones([b, 1]), tf.zeros(tf.shape(negatives))], 1)
            loss = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits), 1)
        elif self.loss_name == "softmax" or not training:
            logits = tf.matmul(u, self.context_embeddings, transpose_b=True) + self.context_bias
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(contexts, logits)
        else:
            loss = tf.nn.sampled_softmax_loss(
                self.context_embeddings, self.context_bias, tf.cast(contexts[:, None], tf.int64), u,
                num_sampled=min(self.num_sampled, self.vocab_size), num_classes=self.vocab_size,
                seed=None if self.seed is None else int(self.seed),
            )
        if isinstance(mask, (list, tuple)):  # one mask per input: pairs need both words
            masks = [tf.reshape(tf.cast(m, tf.bool), [-1]) for m in mask[:2] if m is not None]
            mask = None if not masks else (masks[0] if len(masks) == 1 else masks[0] & masks[1])
        if mask is not None:
            m = tf.cast(tf.reshape(mask, [-1]), loss.dtype)
            loss = loss * m
            mean = tf.reduce_sum(loss) / tf.maximum(tf.reduce_sum(m), 1.0)
        else:
            mean = tf.reduce_mean(loss)
        self.add_loss(mean)
        return loss

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0],)

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            masks = [m for m in mask[:2] if m is not None]
            return None if not masks else masks[0]
        return mask

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "num_negative": self.num_negative,
            "loss": self.loss_name,
            "unigram_counts": self.unigram_counts,
            "ns_exponent": self.ns_exponent,
            "num_sampled": self.num_sampled,
            "seed": self.seed,
        })
        return config


def _apply_rows(var, ids, updates, max_norm):
    """`var[ids] += updates`, duplicate ids summed first (each row written
    once), each row's total update clipped to norm `max_norm` (None: no
    clipping)."""
    unique, index = tf.unique(ids)
    total = tf.math.unsorted_segment_sum(updates, index, tf.shape(unique)[0])
    if max_norm is not None:
        norm = tf.norm(total, axis=1, keepdims=True)
        total = total * tf.minimum(1.0, max_norm / tf.maximum(norm, 1e-12))
    var.scatter_add(tf.IndexedSlices(total, unique))


def context_offsets(window):
    """Context offsets in the order of a block's weights: -window..-1, 1..window."""
    return np.array([o for o in range(-window, window + 1) if o != 0], np.int64)


def tile_size(window):
    """Centre positions per tile of `sgd_negative_sampling_step` (at least
    the `2 * window` context positions a tile adds)."""
    return max(16, 2 * int(window))


def negatives_per_tile(negative):
    """Negatives drawn for each tile of `sgd_negative_sampling_step` for
    gensim's `negative` per pair: four times as many, each weighted 1/4, so
    every pair's expected negative gradient is gensim's, with less variance
    than `negative` draws shared by a whole tile (which measured worse)."""
    return 4 * int(negative)


def block_signature(window=None, negative=None):
    """The `tf.TensorSpec` of each array of a block, by name: the one place
    their dtypes and shapes are stated. `sgd_negative_sampling_step`
    converts a block's arrays with it; a `tf.function` that takes blocks uses
    it as its input signature.

    Args:
        window: gensim's `window` (`weights` is [m, 2 * window]), or None to
            leave that width open.
        negative: gensim's `negative` (`negatives` is [m / T,
            negatives_per_tile(negative)]), or None to leave that width open.

    Returns:
        dict: `words` int32 [m + 2w], `weights` float32 [m, 2w], `negatives`
        int32 [m / T, K], `lr` float32 [m]; the lengths (`m` centres, `T =
        tile_size(window)`) are left open.

    Example:

    >>> block_signature(2, 5)["negatives"].shape
    TensorShape([None, 20])
    """
    width = None if window is None else 2 * int(window)
    k = None if negative is None else negatives_per_tile(negative)
    return {
        "words": tf.TensorSpec([None], tf.int32),
        "weights": tf.TensorSpec([None, width], tf.float32),
        "negatives": tf.TensorSpec([None, k], tf.int32),
        "lr": tf.TensorSpec([None], tf.float32),
    }


def chunk_signature(window=None, negative=None):
    """The `tf.TensorSpec` of each array of a chunk, by name: a block's
    arrays (`block_signature`, over all the chunk's centres) and `bounds`
    int32 [blocks + 1]. `sgd_negative_sampling_chunk` converts a chunk's
    arrays with it; `Word2Vec.fit` uses it as its training function's input
    signature.

    Args:
        window, negative: as in `block_signature`.

    Returns:
        dict of `tf.TensorSpec`: `words`, `weights`, `negatives`, `lr`, `bounds`.

    Example:

    >>> sorted(chunk_signature(2, 5))
    ['bounds', 'lr', 'negatives', 'weights', 'words']
    """
    return {**block_signature(window, negative), "bounds": tf.TensorSpec([None], tf.int32)}


def _as_tensors(arrays, signature, name):
    """`arrays[key]` as a tensor of the dtype of `signature[key]`, for each
    key of the signature; a shape the spec excludes is a `ValueError`
    naming `name[key]`."""
    tensors = {}
    for key, spec in signature.items():
        tensor = tf.convert_to_tensor(arrays[key], spec.dtype)
        if not spec.shape.is_compatible_with(tensor.shape):
            raise ValueError(f"{name}[{key!r}] must have shape {spec.shape} ({spec.dtype.name}), "
                             f"got shape {tensor.shape}")
        tensors[key] = tensor
    return tensors


def _band_index(tile, window):
    """For a tile's [tile + 2w, tile] band (row: position, column: centre),
    the index of each entry in the tile's flat [tile * 2w] weights, or
    `tile * 2w` (a zero) where the position is no context slot of the centre."""
    offs = context_offsets(window)
    src = np.full((tile + 2 * window, tile), tile * 2 * window, np.int32)
    for i in range(tile):
        for j, o in enumerate(offs):
            src[i + window + o, i] = i * 2 * window + j
    return src.reshape(-1)


def sgd_negative_sampling_step(syn0, syn1, block, max_update_norm=None, workers=2, negative=None):
    """One gensim-style SGD step over a block of skip-gram windows.

    A block (`chunk_block` of a `keras_rnnx.word2vec.data.epoch_chunks` chunk) is a run of `m`
    consecutive centre positions, `m` a multiple of `T = tile_size(w)`:
    `words` [m + 2w] ids (the positions, with `w` positions of context on
    each side), `weights` [m, 2w] (1.0 where the word at offset -w..-1, 1..w
    is a context of the centre), `negatives` [m / T, K] (one set for each
    tile of `T` consecutive centres, shared by all their pairs) and `lr` [m]
    (each centre's learning rate); their dtypes and shapes are
    `block_signature`'s.

    Each tile is one small dense problem ("HogBatch", Ji et al., arXiv
    1604.04661): the input vectors of its `T + 2w` positions, `syn0[words]`,
    are scored against the output vectors of its `T` centres and `K`
    negatives with one matrix product; the pairs (context, centre) and
    (context, negative) of every centre's window are picked out of it by the
    weights, and the gradient of `log s(u.v_centre) + sum log s(-u.v_neg)`
    times the centre's `lr` is added to both tables: gensim's update, with a
    negative equal to the centre word skipped for that centre as gensim
    does. Each input vector is read once per position and each row of either
    table written once per block (a word's updates in one block are summed;
    gensim applies them one after the other); `max_update_norm` clips the
    norm of each row's summed update, which keeps tiny vocabularies, where
    the same pairs repeat many times in a block, from diverging. The tiles
    are split into `workers` parts whose products run concurrently (all are
    computed from the tables before the block's update, so the split does
    not change the result beyond floating-point summation order).

    Returns the mean loss over the block's pairs.
    """
    if isinstance(syn0, keras.Variable):  # the tf.Variable behind a Keras variable
        syn0 = syn0.value
    if isinstance(syn1, keras.Variable):
        syn1 = syn1.value
    block = _as_tensors(block, block_signature(), "block")
    words, weights, negatives, lr = block["words"], block["weights"], block["negatives"], block["lr"]
    w = weights.shape[1] // 2
    tile = tile_size(w)
    k = negatives.shape[1]
    neg_scale = 1.0 if negative is None else float(negative) / k
    d = syn0.shape[-1]
    m = tf.shape(weights)[0]
    tiles = m // tile
    centers = words[w:w + m]
    # the output rows of tile t: its T centres, then its K negatives
    out_ids = tf.reshape(tf.concat([tf.reshape(centers, [tiles, tile]), negatives], 1), [-1])
    u_rows = tf.gather(syn0, words)  # [m + 2w, D]: each position's input vector, read once
    band_src = tf.constant(_band_index(tile, w))
    rows = tf.range(tile + 2 * w)
    label = tf.constant([1.0] * tile + [0.0] * k)  # columns: the tile's centres, then its negatives
    sign = tf.constant([-1.0] * tile + [1.0] * k)  # loss: softplus(-z) for a pair, softplus(z) for a negative
    parts = max(1, int(workers))
    bounds = [(tiles * p) // parts for p in range(parts + 1)]
    in_ids, d_ins, d_outs, losses = [], [], [], []
    for p in range(parts):
        a, b = bounds[p], bounds[p + 1]
        n = b - a
        positions = tf.reshape((a + tf.range(n))[:, None] * tile + rows[None, :], [-1])
        u = tf.reshape(tf.gather(u_rows, positions), [n, tile + 2 * w, d])  # [n, T+2w, D]
        in_ids.append(tf.gather(words, positions))
        v = tf.reshape(tf.gather(syn1, out_ids[a * (tile + k):b * (tile + k)]), [n, tile + k, d])
        logits = tf.matmul(u, v, transpose_b=True)  # [n, T+2w, T+K]
        wt = tf.reshape(weights[a * tile:b * tile], [n, tile * 2 * w])
        band = tf.reshape(tf.gather(tf.pad(wt, [[0, 0], [0, 1]]), band_src, axis=1),
                          [n, tile + 2 * w, tile])  # 1.0 at (context position, centre)
        lr_t = tf.reshape(lr[a * tile:b * tile], [n, 1, tile])
        cen = tf.reshape(centers[a * tile:b * tile], [n, tile, 1])
        differ = tf.cast(cen != negatives[a:b, None, :], tf.float32)  # [n, T, K]
        # pairs of each (position, column) and their learning rates: the band for the
        # centres, the band times "negative differs from the centre" for the negatives
        pairs = tf.concat([band, tf.matmul(band, differ) * neg_scale], 2)  # [n, T+2w, T+K]
        coef_pos = band * lr_t
        coef = tf.concat([coef_pos, tf.matmul(coef_pos, differ) * neg_scale], 2)
        g = coef * (label - tf.sigmoid(logits))
        d_u = tf.matmul(g, v)  # [n, T+2w, D]
        d_v = tf.matmul(g, u, transpose_a=True)  # [n, T+K, D]
        d_ins.append(tf.reshape(d_u, [-1, d]))
        d_outs.append(tf.reshape(d_v, [-1, d]))
        losses.append(tf.reduce_sum(pairs * tf.nn.softplus(logits * sign)))
    # a tile's last 2w positions are the next tile's first: their two updates are
    # summed with the word's others
    _apply_rows(syn0, tf.concat(in_ids, 0), tf.concat(d_ins, 0), max_update_norm)
    _apply_rows(syn1, out_ids, tf.concat(d_outs, 0), max_update_norm)
    return tf.add_n(losses) / tf.maximum(tf.reduce_sum(weights), 1.0)


def chunk_block(chunk, start, end):
    """Block `[start, end)` of a chunk (`keras_rnnx.word2vec.data.epoch_chunks`,
    with `lr` [M] beside or instead of `progress`): the block
    `sgd_negative_sampling_step` takes. `start` and `end` are centre offsets,
    multiples of the tile, as in the chunk's `bounds`; NumPy arrays and
    Python ints or tensors."""
    w = chunk["weights"].shape[1] // 2
    tile = tile_size(w)
    return {
        "words": chunk["words"][start:end + 2 * w],
        "weights": chunk["weights"][start:end],
        "negatives": chunk["negatives"][start // tile:end // tile],
        "lr": chunk["lr"][start:end],
    }


def sgd_negative_sampling_chunk(syn0, syn1, chunk, max_update_norm=None, workers=2, negative=None):
    """`sgd_negative_sampling_step` on each block of a chunk, in order, in one
    loop (a `tf.while_loop`, one iteration a block): inside a `tf.function`,
    one call trains a whole chunk, so the host hands over a chunk's arrays
    once and dispatches once per chunk rather than once per block.

    `chunk` holds `words`, `weights`, `negatives` and `lr` for all its
    centres and `bounds` [blocks + 1] (`keras_rnnx.word2vec.data.epoch_chunks`,
    with each centre's learning rate as `lr`; dtypes and shapes:
    `chunk_signature`); block `b` is
    `chunk_block(chunk, bounds[b], bounds[b + 1])`. Each block sees the
    tables as the blocks before it left them, exactly as when the step is
    called once per block.

    Returns float32 [blocks]: each block's mean loss over its pairs.
    """
    chunk = _as_tensors(chunk, chunk_signature(), "chunk")
    bounds = chunk["bounds"]
    blocks = tf.shape(bounds)[0] - 1

    def body(b, losses):
        block = chunk_block(chunk, bounds[b], bounds[b + 1])
        loss = sgd_negative_sampling_step(syn0, syn1, block, max_update_norm, workers, negative)
        return b + 1, losses.write(b, loss)

    # one block at a time: each reads the tables the one before updated
    _, losses = tf.while_loop(lambda b, _: b < blocks, body,
                              (tf.constant(0), tf.TensorArray(tf.float32, size=blocks)),
                              parallel_iterations=1)
    return losses.stack()
