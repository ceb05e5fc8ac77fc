"""`BagOfNgrams`: the wide (linear) part of a wide & deep text classifier.

A bag of the token n-grams of each row, each n-gram a row of one weight
table, pooled over the real n-grams (fastText's bag of n-grams, Joulin et
al. 2016, "Bag of Tricks for Efficient Text Classification"; the wide part
of Cheng et al. 2016, "Wide & Deep Learning"):

* unigram `i` is table row `i` (its own row, no collision);
* the n-gram `(t_1, ..., t_n)`, n >= 2, is row `vocabulary_size + h_n` with
  `h_1 = t_1` and `h_k = (h_{k-1} * MULTIPLIER + t_k) mod buckets`,
  computed in the graph in int64 from the ids (MUL, ADD, FLOOR_MOD: builtin
  TFLite ops), so any n-gram has a row and nothing needs a list of n-grams;
* an n-gram counts only when all its tokens are real (id != 0, and not
  `oov_id` when one is given): padding, and pairs that straddle padding
  (left padding, holes) or an unknown word, add nothing.

The pooled vector is `sum / sqrt(count)` of the n-grams' rows (`pooling=
"sqrt"`, close to TF-IDF's L2 normalisation of a count vector), their mean
(`"mean"`, fastText's) or their sum; a row with no real token gives zeros.

With `weighting="idf"` each n-gram's row is weighted by its inverse document
frequency in the texts given to `adapt` (scikit-learn's smoothed IDF,
`log((1 + N) / (1 + df)) + 1`, per table row), the weights held as a
non-trainable weight of the layer (a constant in an exported model), and
"sqrt" divides by the L2 norm of those weights: the n-grams' TF-IDF vector,
normalised as `TfidfVectorizer` does (each occurrence counted, so a repeated
n-gram counts `tf` times rather than `1 + log(tf)`), times the table.

The table's gradient is sparse (`tf.IndexedSlices`, the rows of the real
n-grams of the batch; positions that do not count read row 0, the padding
id's, which never counts), so `keras_rnnx.optimizers.LazyAdam` updates only
those rows. `row_l2` is an L2 penalty that keeps it so: it counts the rows
the batch reads, where `embeddings_regularizer` counts the whole table (a
dense gradient).
"""
import keras
import numpy as np  # noqa: F401 - the example uses it
import tensorflow as tf
from keras import ops

from keras_rnnx._validation import check_choice, check_number, check_units

__all__ = ["BagOfNgrams", "MULTIPLIER", "POOLINGS", "WEIGHTINGS"]

# the hash's multiplier: a prime, so consecutive ids spread over the buckets
MULTIPLIER = 1000003
POOLINGS = ("sqrt", "mean", "sum")
WEIGHTINGS = (None, "idf")


@keras.saving.register_keras_serializable(package="keras_rnnx")
class BagOfNgrams(keras.layers.Layer):
    """Pooled weights of the hashed token n-grams of each row: `[B, T]` ids
    to `[B, output_dim]`.

    Args:
        vocabulary_size: number of token ids (padding id 0 included); ids
            must be in `[0, vocabulary_size)` (see `SanitizeIds`).
        output_dim: size of each n-gram's weight row (the number of classes
            for the logits of a linear classifier).
        ngrams: the longest n-gram: 1 = unigrams, 2 = uni- and bigrams, ...
        buckets: number of hash buckets shared by the n-grams with n >= 2
            (ignored when `ngrams=1`). The table has `vocabulary_size +
            buckets` rows.
        pooling: "sqrt" (sum / sqrt(number of real n-grams)), "mean" or
            "sum".
        scale: a constant factor on the output. Trained with Adam (whose
            steps do not depend on the gradient's size), it multiplies the
            table's effective learning rate by `scale`: the n-gram rows,
            each seen in few batches, can move faster than the rest of a
            model.
        embeddings_initializer: initializer of the table (default zeros, as
            a linear model starts).
        embeddings_regularizer: optional regularizer of the whole table
            (its gradient is dense: every row, every step).
        row_l2: L2 penalty `row_l2 * sum of squares` of the distinct table
            rows the batch's real n-grams read (each row once per batch),
            added to the loss (`layer.losses`) on every call. Its gradient
            is `2 * row_l2 * w` on those rows, what a whole-table L2 gives
            them, and zero elsewhere, so the table's gradient stays sparse.
            Under a `tf.distribute` strategy the rows are those the global
            batch reads (gathered from every replica), as on one device.
        weighting: None (every real n-gram counts 1) or "idf": each counts
            its row's inverse document frequency, set by `adapt` (1 for
            every row until then), and "sqrt" pooling divides by the L2
            norm of the weights, "mean" by their sum.
        oov_id: None (the default), or the id of unknown words (1 in a
            `keras_rnnx.text.Vocabulary`): an n-gram holding it counts as
            one straddling padding does, not at all, in the call, `adapt`
            and `naive_bayes`, so a word outside the vocabulary (or one
            `TokenDropout` replaced) adds nothing, as a linear model over a
            fixed vocabulary leaves it out.

    Call arguments:
        inputs: int ids `[B, T]`, 0 = padding (anywhere in the row).

    Returns:
        `[B, output_dim]`: the pooled rows of the row's real n-grams.

    Example:

    >>> layer = BagOfNgrams(10, 3, ngrams=2, buckets=16)
    >>> layer(np.array([[4, 5, 6, 0]])).shape
    TensorShape([1, 3])
    >>> ids, weights = layer.ngram_ids(np.array([[4, 5, 0]]))
    >>> ids.numpy().tolist(), weights.numpy().tolist()
    ([[4, 5, 0, 11, 25]], [[1.0, 1.0, 0.0, 1.0, 0.0]])
    >>> idf = BagOfNgrams(10, 3, ngrams=1, weighting="idf")
    >>> [round(float(w), 3) for w in idf.adapt(np.array([[4, 5], [4, 0]])).row_weights[4:7]]
    [1.0, 1.405, 2.099]
    """

    def __init__(self, vocabulary_size, output_dim, ngrams=2, buckets=2 ** 16, pooling="sqrt",
                 scale=1.0, embeddings_initializer="zeros", embeddings_regularizer=None,
                 row_l2=0.0, weighting=None, oov_id=None, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = check_units(vocabulary_size, "vocabulary_size", minimum=2)
        self.output_dim = check_units(output_dim, "output_dim")
        self.ngrams = check_units(ngrams, "ngrams")
        self.buckets = check_units(buckets, "buckets")
        check_choice(pooling, "pooling", POOLINGS)
        self.pooling = pooling
        self.scale = check_number(scale, "scale", minimum=0.0, inclusive=False)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.embeddings_regularizer = keras.regularizers.get(embeddings_regularizer)
        self.row_l2 = check_number(row_l2, "row_l2", minimum=0.0)
        check_choice(weighting, "weighting", WEIGHTINGS)
        self.weighting = weighting
        self.oov_id = None if oov_id is None else check_units(oov_id, "oov_id")

    @property
    def rows(self):
        """Rows of the weight table: one per token id, plus the buckets."""
        return self.vocabulary_size + (self.buckets if self.ngrams > 1 else 0)

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"BagOfNgrams expects ids of shape [batch, time]; got {tuple(input_shape)}")
        self.embeddings = self.add_weight(
            shape=(self.rows, self.output_dim), initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer, name="embeddings",
        )
        if self.weighting == "idf":
            self.row_weights = self.add_weight(
                shape=(self.rows,), initializer="ones", trainable=False, name="row_weights")
        self.built = True

    def adapt(self, ids, batch_size=1024):
        """Sets the IDF weights (`weighting="idf"`) from the texts `ids`.

        Args:
            ids: int ids `[N, T]` of N texts (0 = padding), e.g. the
                training texts as the model reads them.
            batch_size: texts per graph call while counting.

        Each table row's weight becomes `log((1 + N) / (1 + df)) + 1`, where
        `df` is the number of texts in which one of the row's n-grams is
        real (scikit-learn's `TfidfVectorizer(smooth_idf=True)`); a row no
        text reads gets `log(1 + N) + 1`. Returns the layer.
        """
        if self.weighting != "idf":
            raise ValueError(f"`adapt` sets IDF weights; this layer has weighting={self.weighting!r}")
        ids = np.asarray(ids)
        if ids.ndim != 2 or not len(ids) or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"`ids` must be a non-empty int array [texts, time]; got {ids.dtype} "
                             f"of shape {ids.shape}")
        if not self.built:
            self.build(ids.shape)
        df = np.zeros(self.rows, np.int64)
        for start in range(0, len(ids), int(batch_size)):
            rows, real = (np.asarray(t) for t in self.ngram_ids(ids[start:start + int(batch_size)]))
            doc = np.broadcast_to(np.arange(len(rows))[:, None], rows.shape)
            pairs = np.unique(doc[real > 0].astype(np.int64) * self.rows + rows[real > 0])
            np.add.at(df, pairs % self.rows, 1)
        self.row_weights.assign(np.log((1.0 + len(ids)) / (1.0 + df)) + 1.0)
        return self

    def naive_bayes(self, ids, labels, alpha=1.0, batch_size=1024):
        """Multinomial naive Bayes over the table's rows, from labelled texts.

        Args:
            ids: int ids `[N, T]` of N texts (0 = padding).
            labels: `[N]` class ids in `[0, output_dim)`.
            alpha: additive (Laplace) smoothing of the counts, > 0.
            batch_size: texts per graph call while counting.

        Returns:
            float64 `[rows, output_dim]`: `log p(row | class)` of every
            table row, `(count of the row's real n-grams in the class's
            texts + alpha) / (all the class's counts + alpha * rows)`, minus
            its mean over the classes (Wang & Manning's log-count ratios,
            for many classes). A table set to it divided by `scale` (pooled
            with "sum") gives naive Bayes' logits up to a per-class constant.
        """
        ids, labels = np.asarray(ids), np.asarray(labels)
        if ids.ndim != 2 or not len(ids) or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"`ids` must be a non-empty int array [texts, time]; got {ids.dtype} "
                             f"of shape {ids.shape}")
        if labels.shape != (len(ids),) or not np.issubdtype(labels.dtype, np.integer) \
                or labels.min() < 0 or labels.max() >= self.output_dim:
            raise ValueError(f"`labels` must be {len(ids)} class ids in [0, {self.output_dim}); "
                             f"got {labels.dtype} of shape {labels.shape}")
        alpha = check_number(alpha, "alpha", minimum=0.0, inclusive=False)
        counts = np.zeros((self.rows, self.output_dim))
        for start in range(0, len(ids), int(batch_size)):
            rows, real = (np.asarray(t) for t in self.ngram_ids(ids[start:start + int(batch_size)]))
            cls = np.broadcast_to(labels[start:start + int(batch_size), None], rows.shape)
            np.add.at(counts, (rows[real > 0], cls[real > 0]), 1.0)
        log_p = np.log((counts + alpha) / (counts.sum(0) + alpha * self.rows))
        return log_p - log_p.mean(1, keepdims=True)

    def ngram_ids(self, inputs):
        """The table rows of every n-gram position and whether it counts.

        Returns:
            `(ids, weights)`, both `[B, F]` with `F = sum over n of (T - n +
            1)`: unigrams first (positions 0..T-1), then bigrams, ...; `ids`
            int32 table rows, `weights` float32 1.0 where all the n-gram's
            tokens are real, else 0.0 (its row is then the row of padding
            or a hash of it, and is not read).
        """
        ids = ops.cast(inputs, "int32")
        real = ops.not_equal(ids, 0)
        if self.oov_id is not None:  # an unknown (or dropped) word adds nothing
            real = ops.logical_and(real, ops.not_equal(ids, self.oov_id))
        rows, keep = [ids], [real]
        h, ok = ops.cast(ids, "int64"), real
        steps = ids.shape[1]
        for n in range(2, self.ngrams + 1):
            if steps is not None and steps < n:
                break
            nxt = ops.cast(ids[:, n - 1:], "int64")
            h = ops.mod(h[:, :-1] * MULTIPLIER + nxt, self.buckets)
            ok = ops.logical_and(ok[:, :-1], real[:, n - 1:])
            rows.append(ops.cast(h, "int32") + self.vocabulary_size)
            keep.append(ok)
        return ops.concatenate(rows, axis=1), ops.cast(ops.concatenate(keep, axis=1), "float32")

    def call(self, inputs):
        rows, weights = self.ngram_ids(inputs)
        rows = ops.where(weights > 0, rows, 0)  # a position that does not count reads row 0
        if self.row_l2:
            read = tf.unique(ops.reshape(rows, (-1,)))[0]   # row 0 (no real n-gram) left out
            replica = tf.distribute.get_replica_context()
            if replica is not None and replica.num_replicas_in_sync > 1:
                # the rows the global batch reads: every replica adds their whole penalty
                # and Keras divides each replica's loss by the replica count, so the sum is
                # the one-device penalty (each replica's own rows would weigh a row read by
                # k of R replicas k/R)
                read = tf.unique(replica.all_gather(read, axis=0))[0]
            squares = ops.sum(ops.square(ops.take(self.embeddings, read, axis=0)), axis=1)
            self.add_loss(self.row_l2 * ops.sum(ops.where(read > 0, squares, 0.0)))
        table = ops.cast(self.embeddings, self.compute_dtype)
        vectors = ops.take(table, rows, axis=0)                       # [B, F, D]
        if self.weighting == "idf":
            weights = weights * ops.take(self.row_weights, rows, axis=0)
        weights = ops.cast(weights, self.compute_dtype)
        total = ops.sum(vectors * ops.expand_dims(weights, -1), axis=1)
        if self.scale != 1.0:
            total = total * self.scale
        if self.pooling == "sum":
            return total
        if self.weighting == "idf" and self.pooling == "sqrt":  # the weights' L2 norm
            return total / ops.sqrt(ops.maximum(ops.sum(ops.square(weights), axis=1,
                                                        keepdims=True), 1.0))
        count = ops.maximum(ops.sum(weights, axis=1, keepdims=True), 1.0)
        return total / (ops.sqrt(count) if self.pooling == "sqrt" else count)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "output_dim": self.output_dim,
            "ngrams": self.ngrams,
            "buckets": self.buckets,
            "pooling": self.pooling,
            "scale": self.scale,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": keras.regularizers.serialize(self.embeddings_regularizer),
            "row_l2": self.row_l2,
            "weighting": self.weighting,
            "oov_id": self.oov_id,
        }
