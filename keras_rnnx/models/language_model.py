"""A uni-directional recurrent language model that plugs into the decoders.

`LanguageModel` is a functional `keras.Model` (a `Task`): embedding ->
`LSTMX` or `GRUX` layers -> logits over the vocabulary, the vocabulary in its
config. Training runs the fast whole-sequence layers; generation
runs one step at a time through the same layers' cells (`model.step`, the
`step_fn` of `keras_rnnx.decoding`: embedding, `rnn.cell(x, states)`, output
layer, as the translator steps its decoder), so a generation function is
matrix products, gathers and one `tf.while_loop`: it exports to a
SavedModel signature and to a builtin-ops TFLite model with no RNN lowering.

`Vocabulary` (the one `keras_rnnx.text.Vocabulary`, `level="char"` or
"word") maps characters (or whitespace-separated words) to ids with four
reserved ids: 0 padding, 1 start (`<s>`), 2 end (`</s>`), 3 unknown.
`load_corpus()` reads the Lee background corpus that gensim ships (300 news
documents, one per line), the default training text of `rnnx generate`.
"""
import math
import os

import keras
import numpy as np
import tensorflow as tf

from keras_rnnx import decoding
from keras_rnnx.datasets.corpora import lee_corpus_path, load_corpus  # noqa: F401 (public here too)
from keras_rnnx.layers.gru import GRUX
from keras_rnnx.layers.lstm import LSTMX
from keras_rnnx.models.task import Task
from keras_rnnx.text import LANGUAGE_MODEL_SPECIALS, Vocabulary

__all__ = [
    "Vocabulary",
    "LanguageModel",
    "load_corpus",
    "make_training_arrays",
    "train_language_model",
    "perplexity",
    "unigram_perplexity",
    "generation_function",
    "export_generator",
]

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = list(LANGUAGE_MODEL_SPECIALS)


# --------------------------------------------------------------------------
# vocabulary and corpus
# --------------------------------------------------------------------------
# The vocabulary is the one `keras_rnnx.text.Vocabulary`: `level="char"` or
# "word" gives the language model's specials (ids 0-3 above) and its
# Python-side split; `Vocabulary.build(texts, level=...)` its ordering.


def make_training_arrays(vocab, documents, seq_len=64):
    """(inputs, targets) int32 [N, seq_len]: every document as
    `<s> tokens </s>`, cut into windows; targets are inputs shifted by one,
    padded with 0 (ignored by the loss)."""
    if seq_len < 2:
        raise ValueError(f"`seq_len` must be >= 2, got {seq_len}")
    xs, ys = [], []
    for doc in documents:
        ids = vocab.encode(doc, add_bos=True, add_eos=True)
        for start in range(0, len(ids) - 1, seq_len):
            chunk = ids[start: start + seq_len + 1]
            x, y = chunk[:-1], chunk[1:]
            xs.append(x + [PAD] * (seq_len - len(x)))
            ys.append(y + [PAD] * (seq_len - len(y)))
    return np.asarray(xs, np.int32), np.asarray(ys, np.int32)


# --------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------
def _vocabulary(value):
    """(Vocabulary or None, number of ids) of a `vocabulary` argument."""
    if isinstance(value, dict):
        try:
            value = Vocabulary.from_config(value)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"`vocabulary` config is not a Vocabulary config ({e})") from None
    if isinstance(value, Vocabulary):
        if tuple(value.specials) != tuple(SPECIALS):
            raise ValueError(
                f"`vocabulary` must have the language model's specials {tuple(SPECIALS)} "
                f"(Vocabulary.build(texts, level=...)), got {tuple(value.specials)}")
        size = len(value)
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value, size = None, int(value)
    else:
        raise ValueError(
            f"`vocabulary` must be a Vocabulary or a number of ids, got {type(value).__name__}")
    if size < 5:
        raise ValueError(f"`vocabulary` must have at least 5 ids (4 reserved), got {size}")
    return value, size


@keras.saving.register_keras_serializable(package="keras_rnnx")
class LanguageModel(Task):
    """Recurrent language model: embedding, LSTMX/GRUX layers, logits.

    A `keras.Model` built with the functional API in `__init__`, as
    keras-hub's task models are: `token_ids -> Embedding(mask_zero) ->
    LSTMX | GRUX (x num_layers, dropout between) -> Dense`, next-token
    logits at every position (training, perplexity). `step_fn()` is the
    decoders' step over the same layers (the embedding, each layer's cell,
    the output layer), and `generate(prompt_ids, strategy, max_length)`
    primes the state on a prompt and decodes with any `keras_rnnx.decoding`
    strategy. The vocabulary is part of `get_config`, so `save("x.keras")`
    and `keras.saving.load_model` round-trip the model with it. The default
    `compile()` (a `Task`'s: Adam with clipnorm 1, cross-entropy ignoring
    padding) is in place.

    Args:
        vocabulary: a `keras_rnnx.text.Vocabulary` with the language model's
            specials (`Vocabulary.build(texts, level="char" | "word")`), its
            config dict, or just the number of token ids (no vocabulary:
            the model works on ids only); 0 = padding, 1 = `<s>`, 2 = `</s>`,
            3 = unknown.
        embedding_dim: size of the token embeddings.
        units: units of every recurrent layer.
        num_layers: number of stacked recurrent layers.
        cell_type: "lstm" (`LSTMX`) or "gru" (`GRUX`).
        dropout: dropout after every recurrent layer in training.
        **kwargs: base `keras.Model` arguments (`name`, ...).

    Call arguments:
        token_ids: int `[batch, time]`; 0 is padding (masked).
        training: Python boolean; enables dropout.

    Returns:
        Logits `[batch, time, vocabulary size]` of the next token.

    Attributes:
        vocabulary: the `Vocabulary` (None when built from a number of ids).
        vocabulary_size: the number of token ids.
        embedding, rnns, head: the embedding, the recurrent layers and the
            output layer (what `step_fn` runs).

    Example:

    >>> import numpy as np
    >>> from keras_rnnx.text import Vocabulary
    >>> from keras_rnnx.decoding import BeamSearch
    >>> vocab = Vocabulary.build(["abcab", "bca"], level="char")
    >>> lm = LanguageModel(vocab, embedding_dim=8, units=16)
    >>> tuple(lm(np.array([vocab.encode("abc")])).shape)
    (1, 4, 7)
    >>> seqs, scores = lm.generate(np.array([vocab.encode("ab")]), BeamSearch(3), 6)
    >>> tuple(seqs.shape), tuple(scores.shape)
    ((1, 1, 6), (1, 1))
    """

    def __init__(self, vocabulary, embedding_dim=64, units=256, num_layers=1,
                 cell_type="lstm", dropout=0.0, **kwargs):
        vocabulary, size = _vocabulary(vocabulary)
        for name, value in (("embedding_dim", embedding_dim), ("units", units),
                            ("num_layers", num_layers)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be an int >= 1, got {value!r}")
        if cell_type not in ("lstm", "gru"):
            raise ValueError(f"`cell_type` must be 'lstm' or 'gru', got {cell_type!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not (
                0.0 <= dropout < 1.0):
            raise ValueError(f"`dropout` must be in [0, 1), got {dropout!r}")
        # === layers ===
        embedding = keras.layers.Embedding(size, int(embedding_dim), mask_zero=True,
                                           name="embedding")
        rnn = LSTMX if cell_type == "lstm" else GRUX
        rnns = [rnn(int(units), return_sequences=True, name=f"{cell_type}_{i}")
                for i in range(int(num_layers))]
        drops = [keras.layers.Dropout(float(dropout), name=f"dropout_{i}")
                 for i in range(int(num_layers))]
        head = keras.layers.Dense(size, name="logits")
        # === the functional graph ===
        token_ids = keras.Input((None,), dtype="int32", name="token_ids")
        x = embedding(token_ids)  # the padding mask travels with x
        for layer, drop in zip(rnns, drops):
            x = drop(layer(x))
        logits = head(x)
        self.embedding = embedding
        self.rnns = rnns
        self.head = head
        super().__init__(token_ids, logits, **kwargs)
        self.vocabulary = vocabulary
        self.vocabulary_size = size
        self.embedding_dim = int(embedding_dim)
        self.units = int(units)
        self.num_layers = int(num_layers)
        self.cell_type = cell_type
        self.dropout = float(dropout)
        self.compile()  # the default: `fit` works without an explicit compile()

    def default_loss(self):
        """Cross-entropy from logits, padding targets (id 0) ignored."""
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD)

    def get_config(self):
        """`name`, `trainable`, the constructor's arguments, the vocabulary
        as `Vocabulary.get_config()` (or the number of ids)."""
        # not the functional model's config: `from_config` rebuilds the graph
        return {"name": self.name, "trainable": self.trainable,
                "vocabulary": (self.vocabulary_size if self.vocabulary is None
                               else self.vocabulary.get_config()),
                "embedding_dim": self.embedding_dim, "units": self.units,
                "num_layers": self.num_layers, "cell_type": self.cell_type,
                "dropout": self.dropout}

    # -- decoding ----------------------------------------------------------
    @property
    def _state_width(self):
        return 2 if self.cell_type == "lstm" else 1

    def initial_state(self, batch_size):
        """The zero recurrent state.

        Args:
            batch_size: int (or scalar tensor) `N`.

        Returns:
            A tuple per layer of `[N, units]` tensors (h, c for LSTMX; h for
            GRUX), what `step_fn` carries.
        """
        z = tf.zeros(tf.stack([batch_size, self.units]), self.compute_dtype)
        return tuple(tuple(z for _ in range(self._state_width))
                     for _ in range(self.num_layers))

    def step(self, tokens, state):
        """The decoders' `step_fn`: (tokens [N], state) -> (log_probs [N, V], state)."""
        return self.step_fn()(tokens, state)

    def step_fn(self):
        """The decoders' step function over this model's layers.

        Each token is embedded, run through every recurrent layer's cell
        (`LSTMCellX` / `GRUCellX`, the very cell, and weights, the
        whole-sequence layer trains) and projected by the output layer: the
        one way keras_rnnx runs a cell inside a decoding loop, shared with
        the translator.

        Returns:
            `step_fn(tokens [N], state) -> (log_probs float32 [N, V],
            new_state)`, `state` as `initial_state` builds it.

        Example:

        >>> lm = LanguageModel(12, embedding_dim=8, units=16)
        >>> log_probs, state = lm.step_fn()(tf.constant([1, 5]), lm.initial_state(2))
        >>> tuple(log_probs.shape)
        (2, 12)
        """
        def step_fn(tokens, state):
            # the embedding table looked up as the layer does, without the
            # padding mask the layer would attach (a cell takes no mask)
            x = tf.cast(tf.gather(self.embedding.embeddings, tf.cast(tokens, tf.int32)),
                        self.embedding.compute_dtype)
            new_state = []
            for rnn, s in zip(self.rnns, state):
                x, s = rnn.cell(x, list(s))
                new_state.append(tuple(s))
            logits = self.head(x)
            return tf.nn.log_softmax(tf.cast(logits, tf.float32)), tuple(new_state)

        return step_fn

    def prime(self, prompt_ids):
        """Runs prompts through the model up to their last token.

        Args:
            prompt_ids: int `[B, P]` prompts, right-padded with 0, each
                starting with `<s>`.

        Returns:
            `(state, last_token [B])`: the state after all but each prompt's
            last token, and that token, so decoding feeds it first.
        """
        prompt_ids = tf.cast(tf.convert_to_tensor(prompt_ids), tf.int32)
        if prompt_ids.shape.rank != 2:
            raise ValueError(
                f"`prompt_ids` must be a 2D int tensor [batch, length], got shape "
                f"{prompt_ids.shape}"
            )
        batch = tf.shape(prompt_ids)[0]
        lengths = tf.reduce_sum(tf.cast(tf.not_equal(prompt_ids, PAD), tf.int32), axis=1)
        lengths = tf.maximum(lengths, 1)
        last = tf.gather(prompt_ids, lengths - 1, batch_dims=1)
        last = tf.where(tf.equal(last, PAD), BOS, last)

        step_fn = self.step_fn()

        def body(t, state):
            _, new_state = step_fn(prompt_ids[:, t], state)
            keep = (t < lengths - 1)[:, None]
            return t + 1, tf.nest.map_structure(
                lambda n, o: tf.where(keep, n, o), new_state, state)

        steps = tf.maximum(tf.shape(prompt_ids)[1] - 1, 0)
        _, state = tf.while_loop(lambda t, s: t < steps, body,
                                 (tf.constant(0), self.initial_state(batch)))
        return state, last

    def generate(self, prompt_ids, strategy=None, max_length=100):
        """Decodes after each prompt with a `keras_rnnx.decoding` strategy.

        Args:
            prompt_ids: int `[B, P]` prompts, right-padded with 0, each
                starting with `<s>`.
            strategy: a strategy, its name ("greedy", "beam", "sample") or
                config dict (see `keras_rnnx.decoding.get`); default "greedy".
            max_length: maximum generated tokens, >= 1.

        Returns:
            `(sequences, scores)`: int32 `[B, R, max_length]` (the tokens
            after the prompt, padded with `</s>`) and float32 `[B, R]`, best
            first, `R` the strategy's `num_return`.
        """
        strategy = decoding.get("greedy" if strategy is None else strategy)
        state, last = self.prime(prompt_ids)
        return strategy(self.step_fn(), state, last, EOS, max_length)



def train_language_model(documents, level="char", seq_len=64, embedding_dim=64,
                         units=256, num_layers=1, cell_type="lstm", epochs=3,
                         batch_size=64, learning_rate=3e-3, min_count=2,
                         max_vocabulary=None, verbose=1, validation_split=0.0,
                         callbacks=None):
    """Builds a vocabulary and trains a `LanguageModel` on `documents`.

    Args:
        documents: a list of strings (one document each).
        level: "char" or "word" (`Vocabulary.build(..., level=)`).
        seq_len: training window in tokens (`make_training_arrays`).
        embedding_dim, units, num_layers, cell_type: the `LanguageModel`'s.
        epochs, batch_size, verbose, validation_split: `model.fit`'s.
        learning_rate: the default compile's Adam rate.
        min_count, max_vocabulary: tokens seen fewer times, or past the
            most frequent `max_vocabulary`, are unknown.
        callbacks: passed to `model.fit` (e.g.
            `keras_rnnx.training.AtomicBackupAndRestore` to resume a killed
            run).

    Returns:
        `(model, vocabulary, history)`; `model.vocabulary` is `vocabulary`.

    Example:

    >>> lm, vocab, _ = train_language_model(["abcab", "bca"] * 4, units=8,
    ...                                     embedding_dim=4, epochs=1, seq_len=4,
    ...                                     min_count=1, verbose=0)
    >>> lm.vocabulary is vocab, len(vocab)
    (True, 7)
    """
    vocab = Vocabulary.build(documents, min_count=min_count, max_size=max_vocabulary,
                             level=level)
    x, y = make_training_arrays(vocab, documents, seq_len)
    model = LanguageModel(vocab, embedding_dim=embedding_dim, units=units,
                          num_layers=num_layers, cell_type=cell_type)
    model.compile(learning_rate=learning_rate)
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=verbose,
                        shuffle=True, validation_split=validation_split,
                        callbacks=callbacks)
    return model, vocab, history


def perplexity(model, inputs, targets, batch_size=256):
    """exp(mean negative log-likelihood) of the non-padding targets."""
    total, count = 0.0, 0
    for i in range(0, len(inputs), batch_size):
        logits = model(inputs[i: i + batch_size])
        lp = tf.nn.log_softmax(tf.cast(logits, tf.float32)).numpy()
        y = targets[i: i + batch_size]
        m = y != PAD
        total -= np.take_along_axis(lp, y[..., None], axis=-1)[..., 0][m].sum()
        count += int(m.sum())
    return math.exp(total / max(count, 1))


def unigram_perplexity(train_targets, eval_targets, vocabulary_size):
    """Perplexity on `eval_targets` of token frequencies of `train_targets`
    (add-one smoothed): the baseline a language model must beat."""
    counts = np.bincount(train_targets[train_targets != PAD], minlength=vocabulary_size)
    probs = (counts + 1.0) / (counts.sum() + vocabulary_size)
    y = eval_targets[eval_targets != PAD]
    return float(np.exp(-np.log(probs[y]).mean()))


# --------------------------------------------------------------------------
# export with a generation signature
# --------------------------------------------------------------------------
def generation_function(model, strategy=None, max_length=100):
    """A `tf.function` `generate(prompt_ids) -> {"sequences", "scores"}`:
    prompt ids int32 [batch, length] (right-padded with 0, starting with
    `<s>`) in; the strategy's sequences `[batch, R, max_length]` and scores
    `[batch, R]` out (`strategy` as in `LanguageModel.generate`; default
    "beam", `BeamSearch(4)`)."""
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
        raise ValueError(f"`max_length` must be an int >= 1, got {max_length!r}")
    strategy = decoding.get("beam" if strategy is None else strategy)

    def generate(prompt_ids):
        sequences, scores = model.generate(prompt_ids, strategy, max_length)
        return {"sequences": sequences, "scores": scores}

    return tf.function(generate, input_signature=[
        tf.TensorSpec([None, None], tf.int32, name="prompt_ids")])


def export_generator(model, path, strategy=None, max_length=100, format="saved_model",
                     overwrite=False):
    """Exports `model`'s generation function with a "generate" signature.

    `format="saved_model"`: a SavedModel folder written by
    `keras_rnnx.export.to_saved_model` (servable by TF Serving, loads with
    `tf.saved_model.load` and no keras_rnnx), whose "serving_default" gives
    next-token logits (`logits`) of `token_ids`; `format="tflite"`: a
    builtin-ops `.tflite` file with the one signature "generate", written by
    `keras_rnnx.export.functions_to_tflite` (op check, metadata), which
    `keras_rnnx.export.load_tflite(path)` runs. Written atomically.

    Args:
        model: a `LanguageModel`.
        path: the SavedModel folder or `.tflite` file.
        strategy: as in `LanguageModel.generate` (default "beam",
            `BeamSearch(4)`; for TFLite sampling only with `seed=None`).
        max_length: generated tokens, >= 1.
        format: "saved_model" or "tflite".
        overwrite: replace an existing `path` (default: refuse it with
            `ExportError`).

    Returns:
        `path`.
    """
    from keras_rnnx import export

    if format not in ("saved_model", "tflite"):
        raise ValueError(f"`format` must be 'saved_model' or 'tflite', got {format!r}")
    if not isinstance(model, LanguageModel):
        raise TypeError(f"`model` must be a LanguageModel, got {type(model).__name__}")
    strategy = decoding.get("beam" if strategy is None else strategy)
    if (format == "tflite" and isinstance(strategy, decoding.RandomSampler)
            and strategy.seed is not None):
        raise ValueError(
            "`strategy`: a seeded RandomSampler cannot export to TFLite (stateless "
            "random ops are not builtins); use RandomSampler(seed=None) there"
        )
    if format == "saved_model":
        # through the project's exporter: "serving_default" (the model itself:
        # next-token logits of token ids) plus the "generate" signature
        export.to_saved_model(
            model, path, overwrite=overwrite,
            signatures={"generate": generation_function(model, strategy, max_length)})
        return path
    export.functions_to_tflite(
        {"generate": generation_function(model, strategy, max_length)}, path,
        track=[model], overwrite=overwrite)
    return path
