"""SkipGram: word2vec's two embedding tables and its losses, as a Keras layer.

`SkipGram` holds the input (`embeddings`, gensim's `wv.vectors` / syn0) and
output (`context_embeddings`, gensim's syn1neg) tables. Called on
`(targets, contexts)` it returns the per-pair loss, so it trains with any
Keras optimizer inside `model.fit`. `Word2Vec` uses the same variables with a
faster, gensim-style batched sparse SGD step (`sgd_negative_sampling_step`).
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
    """`var[ids] += updates` (duplicates summed), each row's total update
    clipped to norm `max_norm` (None: no clipping).

    The per-row totals are summed into a dense [V, D] scratch tensor (cheap
    under XLA, which fuses it) only to get their norms; the update itself
    stays a sparse `scatter_add`.
    """
    if max_norm is not None:
        total = tf.tensor_scatter_nd_add(tf.zeros_like(var), ids[:, None], updates)
        scale = tf.minimum(1.0, max_norm / tf.maximum(tf.norm(total, axis=1), 1e-12))
        updates = updates * tf.gather(scale, ids)[:, None]
    var.scatter_add(tf.IndexedSlices(updates, ids))


def sgd_negative_sampling_step(syn0, syn1, block, alpha, min_alpha, epoch, epochs, max_update_norm=None):
    """One gensim-style sparse SGD step over a block of skip-gram examples.

    For each centre word `i` with contexts `c` (weights `w`) and negatives
    `n`, the input vectors `syn0[c]` are scored against the output vectors
    `syn1[[i] + n]` with one batched matmul; the gradient of
    `log s(u.v_i) + sum log s(-u.v_n)` (gensim's update, with learning rate
    decayed linearly by progress) is added to both tables with sparse
    `scatter_add`s. Negatives equal to the centre word are skipped, as gensim
    does. A word used m times in one block receives its m updates at once
    (gensim applies them one after the other); `max_update_norm` clips the
    norm of each row's summed update, which keeps tiny vocabularies (where the
    same pairs repeat many times per block) from diverging. Returns the mean
    loss over real pairs.
    """
    if isinstance(syn0, keras.Variable):  # the tf.Variable behind a Keras variable
        syn0 = syn0.value
    if isinstance(syn1, keras.Variable):
        syn1 = syn1.value
    centers = block["centers"]
    contexts = block["contexts"]
    weights = block["weights"]
    negatives = block["negatives"]
    progress = (tf.cast(epoch, tf.float32) + block["progress"]) / float(epochs)
    lr = alpha - (alpha - min_alpha) * tf.minimum(progress, 1.0)  # [N]
    out_ids = tf.concat([centers[:, None], negatives], 1)  # [N, 1+K]
    u = tf.gather(syn0, contexts)  # [N, C, D]
    v = tf.gather(syn1, out_ids)  # [N, 1+K, D]
    logits = tf.einsum("ncd,nkd->nck", u, v)
    labels = tf.concat([tf.ones_like(centers[:, None], tf.float32), tf.zeros(tf.shape(negatives), tf.float32)], 1)
    valid_out = tf.concat([tf.ones_like(centers[:, None], tf.float32),
                           tf.cast(negatives != centers[:, None], tf.float32)], 1)
    g = (labels[:, None, :] - tf.sigmoid(logits)) * (weights * lr[:, None])[:, :, None] * valid_out[:, None, :]
    d_u = tf.einsum("nck,nkd->ncd", g, v)
    d_v = tf.einsum("nck,ncd->nkd", g, u)
    d = tf.shape(u)[-1]
    _apply_rows(syn0, tf.reshape(contexts, [-1]), tf.reshape(d_u, [-1, d]), max_update_norm)
    _apply_rows(syn1, tf.reshape(out_ids, [-1]), tf.reshape(d_v, [-1, d]), max_update_norm)
    signs = labels * 2.0 - 1.0
    pair_loss = -tf.reduce_sum(tf.math.log_sigmoid(logits * signs[:, None, :]) * valid_out[:, None, :], -1)
    return tf.reduce_sum(pair_loss * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)
