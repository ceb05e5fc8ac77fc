"""Recurrent text classifier: token ids or raw strings in, class probabilities out.

`text_classifier(...)` builds the Keras functional model:

    ids [B, T] (0 = padding) -> SanitizeIds -> Embedding(mask_zero=True)
      -> layers x BiDirectional(LSTMX | GRUX, return_sequences=True)
      -> pooling over real steps (last | mean | max | attention)
      -> Dropout -> Dense(num_classes, softmax)

With `ngrams=N` (wide & deep) a linear part beside it: the same ids ->
`BagOfNgrams` (hashed 1..N-grams -> num_classes logits, pooled over the real
n-grams) added to the Dense's logits before the softmax.

With `inputs="strings"` the same model sits behind a `TextToIds` layer
(in-graph tensorflow-text tokenization), so the model takes raw strings.
Padding never changes a prediction: the embedding's mask reaches the
recurrent layers and the pooling, which read real steps only.

`TextClassifier` wraps a model with its vocabulary, tokenizer settings and
class names: `fit` on texts (class weights, balanced by default),
`predict`/`predict_proba`/`evaluate` (per-class metrics), `save`/`load` a
folder, `export_saved_model` (raw strings -> class names and probabilities)
and `export_tflite` (token ids -> probabilities, vocabulary file beside it).
"""
import inspect
import json
import os
import warnings

import keras
import numpy as np
from keras import ops

from keras_rnnx import classifier_defaults as defaults
from keras_rnnx import metrics as classification_metrics
from keras_rnnx.layers import bag_of_ngrams as ngram_lib
from keras_rnnx.layers import pooling as pooling_lib
from keras_rnnx.layers.preprocessing import SanitizeIds, TokenDropout
from keras_rnnx.text import TOKENIZER_KINDS, TextToIds, Tokenizer, Vocabulary
from keras_rnnx._atomic import atomic_write, check_target
from keras_rnnx._validation import check_choice, check_number, check_units
from keras_rnnx.training import load_model, save_model

__all__ = [
    "text_classifier",
    "pretrain_vectors",
    "with_string_input",
    "ids_model",
    "TextClassifier",
    "CELLS",
]

CELLS = ("lstm", "gru")
INPUTS = ("ids", "strings")
NGRAM_UPDATE_MODES = ("dense", "lazy")
NGRAM_WEIGHTINGS = ("none", "idf")
WIDE_INITS = ("zeros", "naive_bayes")
TOKENIZERS = TOKENIZER_KINDS


def character_vocabulary(texts, lowercase=True, normalization="NFKC", min_count=1, max_size=None):
    """A `Vocabulary` of the characters of `texts` as `TextToIds(kind="characters")`
    sees them: `Vocabulary.build` with a characters `Tokenizer`."""
    tokenizer = Tokenizer(kind="characters", lowercase=lowercase, normalization=normalization)
    return Vocabulary.build(list(texts), tokenizer, min_count=min_count, max_size=max_size)


def _recurrent_layer(cell, units, name):
    if cell == "lstm":
        from keras_rnnx.layers.lstm import LSTMX

        return LSTMX(units, return_sequences=True, name=name)
    from keras_rnnx.layers.gru import GRUX

    return GRUX(units, return_sequences=True, name=name)


def _bidirectional(layer, name):
    from keras_rnnx.layers.bidirectional import BiDirectional

    return BiDirectional(layer, merge_mode="concat", name=name)


def _vocabulary_tokens(vocabulary):
    """(tokens or None, size) from a Vocabulary, a token list, or a size."""
    if isinstance(vocabulary, Vocabulary):
        return list(vocabulary.tokens), len(vocabulary)
    if isinstance(vocabulary, (list, tuple)):
        if not all(isinstance(t, str) for t in vocabulary):
            raise TypeError("`vocabulary` as a list must hold str tokens")
        return list(vocabulary), len(vocabulary)
    if isinstance(vocabulary, (int, np.integer)) and not isinstance(vocabulary, bool):
        return None, int(vocabulary)
    raise TypeError(
        "`vocabulary` must be a keras_rnnx.text.Vocabulary, a list of tokens or "
        f"the vocabulary size (int); got {type(vocabulary).__name__}"
    )


def embedding_matrix(embeddings, tokens, vocabulary_size, seed=0):
    """A `[vocabulary_size, dim]` matrix to initialise the embedding.

    Args:
        embeddings: a NumPy matrix `[vocabulary_size, dim]` (row = id), or
            word vectors keyed by token: a keras_rnnx or gensim
            `KeyedVectors` (anything with `vectors` and `key_to_index`), or a
            `{token: vector}` dict.
        tokens: the vocabulary's tokens (needed for keyed vectors).

    Tokens without a vector get small random vectors (with the spread of
    the known ones); the padding row (id 0) is zero.
    """
    if isinstance(embeddings, np.ndarray) or hasattr(embeddings, "shape") and not hasattr(
        embeddings, "key_to_index"
    ):
        matrix = np.asarray(embeddings, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != vocabulary_size:
            raise ValueError(
                f"`embeddings` as a matrix must have shape [{vocabulary_size}, dim] "
                f"(one row per vocabulary id); got {matrix.shape}"
            )
        return matrix
    if tokens is None:
        raise ValueError("keyed `embeddings` need `vocabulary` as tokens, not a size")
    if isinstance(embeddings, dict):
        lookup = embeddings
        known = np.asarray(list(embeddings.values()), dtype=np.float32)
    elif hasattr(embeddings, "key_to_index") and hasattr(embeddings, "vectors"):
        vectors = np.asarray(embeddings.vectors, dtype=np.float32)
        index = embeddings.key_to_index
        lookup = {k: vectors[i] for k, i in index.items()}
        known = vectors
    else:
        raise TypeError(
            "`embeddings` must be a matrix, a KeyedVectors (with `vectors` and "
            f"`key_to_index`) or a dict token -> vector; got {type(embeddings).__name__}"
        )
    if known.ndim != 2 or len(known) == 0:
        raise ValueError("`embeddings` holds no vectors")
    dim = known.shape[1]
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, float(known.std()) or 0.05, (vocabulary_size, dim)).astype(np.float32)
    hits = 0
    for i, token in enumerate(tokens):
        vec = lookup.get(token)
        if vec is not None:
            matrix[i] = vec
            hits += 1
    matrix[0] = 0.0
    if hits == 0:
        raise ValueError("no vocabulary token has a vector in `embeddings`")
    return matrix


def text_classifier(
    vocabulary,
    num_classes,
    cell=defaults.CELL,
    units=defaults.UNITS,
    layers=defaults.LAYERS,
    bidirectional=defaults.BIDIRECTIONAL,
    pooling=defaults.POOLING,
    embeddings=None,
    embedding_dim=defaults.EMBEDDING_DIM,
    dropout=defaults.DROPOUT,
    token_dropout=defaults.TOKEN_DROPOUT,
    inputs="ids",
    max_length=None,
    recurrent_length=None,
    tokenizer=defaults.TOKENIZER,
    lowercase=defaults.LOWERCASE,
    normalization=defaults.NORMALIZATION,
    train_embeddings=True,
    ngrams=defaults.NGRAMS,
    ngram_buckets=defaults.NGRAM_BUCKETS,
    ngram_pooling=defaults.NGRAM_POOLING,
    ngram_l2=defaults.NGRAM_L2,
    ngram_lr_multiplier=defaults.NGRAM_LR_MULTIPLIER,
    ngram_updates=defaults.NGRAM_UPDATES,
    ngram_weighting=defaults.NGRAM_WEIGHTING,
    name="text_classifier",
):
    """A recurrent text classifier as a Keras functional model.

    The defaults are `rnnx train-classifier`'s, each measured on real
    labelled sets (`keras_rnnx.classifier_defaults` holds them, with why):
    a wide & deep model, a 1-layer BiLSTM(32) with max pooling over 64-d
    embeddings (dropout 0.5, token dropout 0.1) beside a linear part over
    the hashed token uni- and bigrams, each counting its IDF.

    Args:
        vocabulary: a `keras_rnnx.text.Vocabulary`, its token list (pad id 0,
            OOV id 1), or the vocabulary size (ids input only).
        num_classes: int >= 2, the size of the softmax.
        cell: "lstm" (`LSTMX`, the default) or "gru" (`GRUX`).
        units: units of each recurrent layer, per direction (default 32).
        layers: number of stacked recurrent layers (default 1).
        bidirectional: wrap each recurrent layer in `BiDirectional` (concat;
            default True).
        pooling: "last" (last real step; per direction when bidirectional),
            "mean", "max" (over real steps; the default) or "attention".
        embeddings: optional pretrained vectors to initialise the embedding:
            a matrix `[vocabulary_size, dim]`, a KeyedVectors (keras_rnnx or
            gensim) or a dict token -> vector (see `embedding_matrix`).
        embedding_dim: the embedding size when `embeddings` is None
            (default 64).
        dropout: rate of the dropout after the embedding, between recurrent
            layers and before the softmax (default 0.5; 0: none).
        token_dropout: rate of `TokenDropout` (word dropout to the OOV id
            in training), so that unseen words at test time are understood
            (default 0.1; 0: none).
        inputs: "ids" (int32 `[B, T]`, 0-padded; the default) or "strings"
            (raw strings `[B]`, tokenized in-graph by `TextToIds`).
        max_length: the sequence length: fixes `T` of the ids input, and
            truncates/pads the tokenized strings. None: any length.
        recurrent_length: the recurrent (deep) part reads the first
            `recurrent_length` ids of each text, the wide part all of them
            (long texts: the linear part reads the whole text while the
            recurrent part's cost stays bounded), at most `max_length`.
            None (the default): both read every id.
        tokenizer, lowercase, normalization: the tokenizer settings for
            `inputs="strings"` (`TextToIds`): "whitespace" or
            "unicode_script" words (the default), or "characters";
            lowercase True and NFKC normalization by default.
        train_embeddings: whether the embedding is trained (default True).
        ngrams: 0 or None: no wide part. N >= 1: a wide & deep model, the
            recurrent (deep) logits plus a linear (wide) part over the
            token 1..N-grams (`keras_rnnx.layers.BagOfNgrams`: one weight row
            per token and per hash bucket of longer n-grams, straight to
            `num_classes` logits, pooled over the real n-grams), summed
            before the softmax. Default 2 (uni- and bigrams). The wide part
            leaves out every n-gram holding the OOV id
            (`BagOfNgrams(oov_id=1)`): words outside the vocabulary, and
            words `token_dropout` replaced in training, add nothing to it.
        ngram_buckets: hash buckets of the n-grams with n >= 2; the wide
            part holds `(vocabulary size + ngram_buckets) x num_classes`
            weights (default 65536).
        ngram_pooling: the wide part's pooling: "sqrt" (sum / sqrt(count);
            the default), "mean" or "sum".
        ngram_l2: L2 penalty on the wide part's table (default 1e-4; 0:
            none); the table is scaled by `ngram_lr_multiplier` in the
            logits.
        ngram_lr_multiplier: the wide part's learning rate as a multiple of
            the model's (with Adam; `BagOfNgrams(scale=...)`; default 10).
        ngram_updates: how the wide part's table is trained. "dense" (the
            default): its L2 counts the whole table (`embeddings_regularizer`)
            and Adam updates every row every step. "lazy": its L2 counts the rows a
            batch reads (`BagOfNgrams(row_l2=...)`), the table's gradient
            stays sparse, and `TextClassifier.compile` uses
            `keras_rnnx.optimizers.LazyAdam`, which updates those rows only
            (a step costs in proportion to the batch, not the table).
        ngram_weighting: "idf" (the default): each n-gram counts its
            inverse document frequency
            (`BagOfNgrams(weighting="idf")`; "sqrt" pooling divides by the
            weights' L2 norm), set from training texts by the wide part's
            `adapt` (`TextClassifier.create` does it with its texts; until
            then every weight is 1), or "none": every real n-gram counts 1.
        name: the model name.

    Returns:
        A `keras.Model` from ids (or strings) to probabilities `[B, num_classes]`.

    Example:

    >>> model = text_classifier(["[PAD]", "[UNK]", "good", "bad"], 2, units=4,
    ...                         embedding_dim=4, inputs="strings")
    >>> model(np.array(["good good", "bad"])).shape
    TensorShape([2, 2])
    """
    tokens, vocabulary_size = _vocabulary_tokens(vocabulary)
    if vocabulary_size < 3:
        raise ValueError(f"`vocabulary` must have at least 3 entries (pad, OOV, a token); got {vocabulary_size}")
    num_classes = check_units(num_classes, "num_classes", minimum=2)
    check_choice(cell, "cell", CELLS)
    units = check_units(units, "units")
    layers = check_units(layers, "layers")
    embedding_dim = check_units(embedding_dim, "embedding_dim")
    check_choice(pooling, "pooling", sorted(pooling_lib.POOLINGS))
    if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be a float in [0, 1); got {dropout!r}")
    if not isinstance(token_dropout, (int, float)) or not 0.0 <= token_dropout < 1.0:
        raise ValueError(f"`token_dropout` must be a float in [0, 1); got {token_dropout!r}")
    if inputs not in INPUTS:
        raise ValueError(f"`inputs` must be one of {INPUTS}; got {inputs!r}")
    if max_length is not None and (not isinstance(max_length, (int, np.integer)) or max_length < 1):
        raise ValueError(f"`max_length` must be a positive int or None; got {max_length!r}")
    if recurrent_length is not None:
        recurrent_length = check_units(recurrent_length, "recurrent_length")
    if recurrent_length is not None and max_length is not None and recurrent_length > max_length:
        raise ValueError(f"`recurrent_length` must be at most `max_length` ({max_length}), the ids "
                         f"the model keeps; got {recurrent_length}")
    if tokenizer not in TOKENIZERS:
        raise ValueError(f"`tokenizer` must be one of {TOKENIZERS}; got {tokenizer!r}")
    # the wide part: `BagOfNgrams`' own checks (`_validation`), under this function's names
    ngrams = check_units(0 if ngrams is None else ngrams, "ngrams", minimum=0)
    if ngrams:
        ngram_buckets = check_units(ngram_buckets, "ngram_buckets")
        check_choice(ngram_pooling, "ngram_pooling", ngram_lib.POOLINGS)
    ngram_lr_multiplier = check_number(ngram_lr_multiplier, "ngram_lr_multiplier", minimum=0.0,
                                       inclusive=False)
    ngram_l2 = check_number(ngram_l2, "ngram_l2", minimum=0.0)
    check_choice(ngram_updates, "ngram_updates", NGRAM_UPDATE_MODES)
    check_choice(ngram_weighting, "ngram_weighting", NGRAM_WEIGHTINGS)
    if inputs == "strings" and tokens is None:
        raise ValueError('`inputs="strings"` needs `vocabulary` as a Vocabulary or token list')

    matrix = None
    if embeddings is not None:
        matrix = embedding_matrix(embeddings, tokens, vocabulary_size)
        embedding_dim = matrix.shape[1]

    ids = keras.Input(shape=(max_length,), dtype="int32", name="token_ids")
    sanitize = SanitizeIds(vocabulary_size, name="sanitize_ids")  # its oov_id: the model's one
    x = sanitize(ids)
    if token_dropout:
        x = TokenDropout(token_dropout, oov_id=sanitize.oov_id, name="token_dropout")(x)
    wide = None
    if ngrams:
        wide = ngram_lib.BagOfNgrams(
            vocabulary_size, int(num_classes), ngrams=int(ngrams), buckets=int(ngram_buckets),
            pooling=ngram_pooling, scale=float(ngram_lr_multiplier),
            embeddings_regularizer=(keras.regularizers.L2(ngram_l2)
                                    if ngram_l2 and ngram_updates == "dense" else None),
            row_l2=ngram_l2 if ngram_updates == "lazy" else 0.0,
            weighting=None if ngram_weighting == "none" else ngram_weighting,
            oov_id=sanitize.oov_id, dtype="float32", name="bag_of_ngrams",
        )(x)
    if recurrent_length is not None and (max_length is None or recurrent_length < max_length):
        x = x[:, : int(recurrent_length)]  # the deep part reads the first ids only
    embedding = keras.layers.Embedding(
        vocabulary_size, int(embedding_dim), mask_zero=True,
        trainable=train_embeddings, name="embedding",
    )
    x = embedding(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    for i in range(int(layers)):
        rnn = _recurrent_layer(cell, int(units), name=f"{cell}_{i}")
        if bidirectional:
            rnn = _bidirectional(rnn, name=f"bidirectional_{i}")
        x = rnn(x)
        if dropout and i < layers - 1:
            x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
    x = pooling_lib.get(pooling, bidirectional=bool(bidirectional), name=f"{pooling}_pooling")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="pooled_dropout")(x)
    if wide is None:
        probs = keras.layers.Dense(int(num_classes), activation="softmax", dtype="float32", name="classes")(x)
    else:
        logits = keras.layers.Dense(int(num_classes), dtype="float32", name="classes")(x)
        logits = keras.layers.Add(dtype="float32", name="wide_and_deep")([logits, wide])
        probs = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(logits)
    model = keras.Model(ids, probs, name=name if inputs == "ids" else f"{name}_ids")
    if matrix is not None:
        embedding.set_weights([matrix])
    if inputs == "strings":
        model = with_string_input(
            model, tokens, tokenizer=tokenizer, lowercase=lowercase,
            normalization=normalization, max_length=max_length, name=name,
        )
    return model


def pretrain_vectors(texts, corpus=None, tokenizer=defaults.TOKENIZER, lowercase=defaults.LOWERCASE,
                     normalization=defaults.NORMALIZATION, vector_size=defaults.EMBEDDING_DIM,
                     epochs=10, min_count=2, window=5, seed=1, progress_bar=False):
    """Skip-gram word vectors for a classifier's embedding, trained with the
    project's `Word2Vec` on the training texts plus an optional unlabelled
    corpus, with the classifier's own tokenizer (so the keys are its
    vocabulary's tokens).

    Args:
        texts: the training texts (str).
        corpus: None, or a UTF-8 text file (one sentence or document a line)
            or an iterable of str, unlabelled, added to `texts`.
        tokenizer, lowercase, normalization: the classifier's tokenizer
            settings (`TextClassifier.create`'s, whose defaults they share).
        vector_size: the vectors' size (= the embedding size; default 64,
            the classifier's).
        epochs, min_count, window, seed: `Word2Vec` settings.
        progress_bar: show Word2Vec's progress bar.

    Returns:
        The trained `KeyedVectors` (`.wv`), for `TextClassifier.create(...,
        embeddings=...)`: every vocabulary token with a vector starts from
        it exactly; the others start small and random.

    Example:

    >>> wv = pretrain_vectors(["the cat sat", "the dog sat"] * 20, vector_size=4,
    ...                       epochs=1, min_count=1)
    >>> wv["cat"].shape
    (4,)
    """
    from keras_rnnx.text.lines import iter_lines
    from keras_rnnx.word2vec import Word2Vec

    lines = [" ".join((t.decode("utf-8", errors="replace") if isinstance(t, bytes) else t).split())
             for t in texts]
    if corpus is not None:
        lines += list(iter_lines(corpus, "corpus"))
    tok = Tokenizer(kind=tokenizer, lowercase=lowercase, normalization=normalization)
    # 2048-centre blocks: the classifier's measured defaults (README tables) were made with them
    w2v = Word2Vec(vector_size=int(vector_size), window=window, min_count=min_count,
                   epochs=epochs, seed=seed, tokenizer=tok, batch_size=2048)
    return w2v.fit([line for line in lines if line], progress_bar=progress_bar).wv


def with_string_input(model, vocabulary, tokenizer=defaults.TOKENIZER, lowercase=defaults.LOWERCASE,
                      normalization=defaults.NORMALIZATION, max_length=None, name=None):
    """Puts a `TextToIds` layer in front of an ids model (weights shared).

    Args:
        model: a model from int32 ids `[B, T]` to probabilities.
        vocabulary: the `Vocabulary` or token list the ids index.
        tokenizer: a `keras_rnnx.text.TOKENIZER_KINDS` kind: "whitespace"
            or "unicode_script" words (the classifier's default), or
            "characters" (one token per character).
        lowercase, normalization, max_length: the tokenizer settings.

    Returns:
        A `keras.Model` from strings `[B]` to the same probabilities.
    """
    fixed = model.inputs[0].shape[1]
    if fixed is not None and max_length is None:
        max_length = int(fixed)
    text = keras.Input(shape=(), dtype="string", name="text")
    to_ids = TextToIds(
        vocabulary, kind=tokenizer, lowercase=lowercase,
        normalization=normalization, max_length=max_length, name="text_to_ids",
    )
    return keras.Model(text, model(to_ids(text)), name=name or f"{model.name}_strings")


def ids_model(model):
    """The ids model inside a string model (or `model` itself if it takes ids)."""
    if model.inputs[0].dtype != "string":
        return model
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            return layer
    raise ValueError("`model` takes strings but holds no ids sub-model")


# ---------------------------------------------------------------- wrapper

_CONFIG = "classifier.json"
_MODEL = "model.keras"
_VOCAB = "vocab.txt"


def _as_texts(texts, arg="texts"):
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"`{arg}` must be a list of strings, not a single string")
    try:
        out = list(texts)
    except TypeError:
        raise TypeError(f"`{arg}` must be a list of strings; got {type(texts).__name__}") from None
    for i, t in enumerate(out):
        if not isinstance(t, (str, bytes)):
            raise TypeError(f"`{arg}`[{i}] must be str or bytes; got {type(t).__name__}")
    return [t if isinstance(t, bytes) else _utf8(t) for t in out]


def _utf8(text):
    """UTF-8 bytes of `text`; lone surrogates (undecodable command-line or
    file bytes) are passed through as bytes, repaired to U+FFFD in-graph."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", errors="surrogateescape")
        except UnicodeEncodeError:
            return text.encode("utf-8", errors="surrogatepass")


def _lengths(texts, vocabulary, tokenizer, lowercase, normalization):
    """Number of tokens of each text under the tokenizer settings."""
    tok = Tokenizer(kind=tokenizer, lowercase=lowercase, normalization=normalization)
    return tok.tokenize(texts).row_lengths().numpy()


# `text_classifier`'s hyper-parameters that `TextClassifier.settings["model"]` records (the
# others are the vocabulary, the tokenizer settings, `max_length` and `recurrent_length`,
# recorded apart)
_MODEL_PARAMETERS = {
    k: p for k, p in inspect.signature(text_classifier).parameters.items()
    if k not in ("vocabulary", "num_classes", "embeddings", "inputs", "max_length",
                 "recurrent_length", "tokenizer", "lowercase", "normalization")}

_REFIT_MARKER = "refit.json"  # in backup_dir: the first phase's report, while the refit runs


def _class_weights(class_weight, labels, k):
    """"balanced" -> {class: n / (k * count)}; None or a dict as given."""
    if class_weight != "balanced":
        return class_weight
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    return {c: float(len(labels) / (k * counts[c])) if counts[c] else 1.0 for c in range(k)}


def _refit_callbacks(callbacks):
    """The callbacks for the refit: an `AtomicBackupAndRestore` backs up into
    its folder's `refit/` part, so that the first phase's backup and the
    refit's are never mistaken for one another."""
    from keras_rnnx.training import AtomicBackupAndRestore

    out = []
    for cb in callbacks:
        if isinstance(cb, AtomicBackupAndRestore):
            cb = AtomicBackupAndRestore(os.path.join(cb.backup_dir, "refit"),
                                        delete_checkpoint=cb.delete_checkpoint,
                                        on_commit=cb.on_commit)
        out.append(cb)
    return out


class TextClassifier:
    """A trained-or-trainable text classifier with everything it needs.

    Build one with `TextClassifier.create(train_texts, train_labels,
    class_names, ...)`, which builds the vocabulary from the training texts
    and the model with `text_classifier(...)`; then `fit`, `evaluate`,
    `save`, `export_saved_model`, `export_tflite`.

    Args:
        model: the string model (`text_classifier(..., inputs="strings")`).
        vocabulary: its `Vocabulary`.
        class_names: list of str, one per class id.
        settings: dict of tokenizer settings and model hyper-parameters.

    Example:

    >>> clf = TextClassifier.create(["good film", "bad film"] * 8, [1, 0] * 8,
    ...                             ["neg", "pos"], units=4, embedding_dim=4)
    >>> _ = clf.fit(["good film", "bad film"] * 8, [1, 0] * 8, epochs=1, verbose=0)
    >>> clf.predict(["good"])[0] in (0, 1)
    True
    """

    def __init__(self, model, vocabulary, class_names, settings):
        self.model = model
        self.vocabulary = vocabulary
        self.class_names = [str(c) for c in class_names]
        self.settings = dict(settings)
        self._to_ids = None
        self._bucketing_view = None  # the [B, None] view `fit(bucketing=True)` trains

    # -------------------------------------------------------------- build
    @classmethod
    def create(cls, texts, labels, class_names, *, tokenizer=defaults.TOKENIZER,
               lowercase=defaults.LOWERCASE, normalization=defaults.NORMALIZATION,
               min_count=defaults.MIN_COUNT, max_vocabulary=defaults.MAX_VOCABULARY,
               max_length=None, recurrent_length=None,
               length_percentile=defaults.LENGTH_PERCENTILE,
               max_auto_length=defaults.MAX_AUTO_LENGTH,
               max_wide_length=defaults.MAX_WIDE_LENGTH, pretrain=defaults.PRETRAIN,
               **model_kwargs):
        """Builds the vocabulary from `texts` and an untrained model.

        With no options this is the model `rnnx train-classifier` builds
        for the same training texts (`keras_rnnx.classifier_defaults`).

        Args:
            texts, labels: training texts and their integer class ids.
            class_names: the name of each class id.
            tokenizer, lowercase, normalization: tokenizer settings
                (default "unicode_script" words, lowercased, NFKC).
            min_count, max_vocabulary: vocabulary pruning (default: every
                token seen once, at most 20000 tokens).
            max_length: tokens kept per text (the ids model's input
                length), all read by the wide part; None (the default): the
                longest training text, at most `max_wide_length` (default
                1024), when the model has a wide part (`ngrams`), else
                `recurrent_length`.
            recurrent_length: tokens the recurrent part reads, the first of
                each text, at most `max_length` (a `max_length` left to
                default is raised to it); None (the default): `max_length`
                when it is given, else the `length_percentile` (default
                95) of the training lengths, at most `max_auto_length`
                (default 256).
            pretrain: with no `embeddings` and a word tokenizer, start the
                embedding from skip-gram vectors trained on `texts`
                (`pretrain_vectors`, sized `embedding_dim`; default True, as
                `rnnx train-classifier`); `fit` then keeps it frozen for its
                first epochs (`embedding_warmup`). On texts where no word
                occurs twice there is nothing to pretrain: a warning, and
                the embedding starts at random.
            **model_kwargs: passed to `text_classifier` (cell, units,
                layers, bidirectional, pooling, embeddings, dropout,
                ngrams...), whose defaults apply to the rest.

        Returns:
            A `TextClassifier` with an untrained model; `settings["model"]`
            holds every hyper-parameter of `text_classifier` it was built
            with (given or default; not `embeddings`), and
            `settings["starts_from_vectors"]` whether the embedding starts
            from word vectors (`embeddings` or `pretrain`).
        """
        texts = _as_texts(texts)
        labels = np.asarray(labels, dtype=np.int64)
        if len(texts) != len(labels) or not texts:
            raise ValueError(f"`texts` and `labels` must be non-empty and of equal length; got {len(texts)} and {len(labels)}")
        if tokenizer not in TOKENIZERS:
            raise ValueError(f"`tokenizer` must be one of {TOKENIZERS}; got {tokenizer!r}")
        if max_length is not None:
            max_length = check_units(max_length, "max_length")
        if recurrent_length is not None:
            recurrent_length = check_units(recurrent_length, "recurrent_length")
        max_wide_length = check_units(max_wide_length, "max_wide_length")
        if None not in (max_length, recurrent_length) and recurrent_length > max_length:
            # both given (a defaulted max_length is raised to recurrent_length below)
            raise ValueError(f"`recurrent_length` must be at most `max_length` ({max_length}), the "
                             f"tokens kept per text; got {recurrent_length}")
        decoded = [t.decode("utf-8", errors="replace") for t in texts]
        tok = Tokenizer(kind=tokenizer, lowercase=lowercase, normalization=normalization)
        vocabulary = Vocabulary.build(decoded, tok, min_count=min_count, max_size=max_vocabulary)
        if max_length is None:  # the lengths of the training texts set what is not given
            lengths = _lengths(decoded, vocabulary, tokenizer, lowercase, normalization)
            if recurrent_length is None:
                recurrent_length = int(min(max(np.percentile(lengths, length_percentile), 1),
                                           max_auto_length))
            wide = model_kwargs.get("ngrams", defaults.NGRAMS)
            longest = int(min(max(lengths.max(), 1), max_wide_length)) if wide else 0
            max_length = max(longest, recurrent_length)
        elif recurrent_length is None:
            recurrent_length = max_length
        if pretrain and model_kwargs.get("embeddings") is None and tokenizer != "characters":
            try:
                model_kwargs["embeddings"] = pretrain_vectors(
                    decoded, tokenizer=tokenizer, lowercase=lowercase, normalization=normalization,
                    vector_size=model_kwargs.get("embedding_dim", defaults.EMBEDDING_DIM))
            except ValueError as e:  # texts too small for it (no word occurs twice)
                warnings.warn(f"no word vectors pretrained ({e}); the embedding starts at random",
                              stacklevel=2)
        settings = {
            "tokenizer": tokenizer, "lowercase": lowercase, "normalization": normalization,
            "max_length": int(max_length), "recurrent_length": int(recurrent_length),
            "starts_from_vectors": model_kwargs.get("embeddings") is not None,
        }
        model_kwargs.setdefault("name", "text_classifier")
        model = text_classifier(
            vocabulary, len(class_names), inputs="strings", max_length=int(max_length),
            recurrent_length=int(recurrent_length), tokenizer=tokenizer, lowercase=lowercase,
            normalization=normalization, **model_kwargs,
        )
        settings["model"] = {  # every hyper-parameter, given or default
            k: model_kwargs.get(k, p.default) for k, p in _MODEL_PARAMETERS.items()}
        clf = cls(model, vocabulary, class_names, settings)
        if settings["model"]["ngrams"] and settings["model"]["ngram_weighting"] == "idf":
            clf.ids_model.get_layer("bag_of_ngrams").adapt(clf.texts_to_ids(texts))
        return clf

    @property
    def ids_model(self):
        return ids_model(self.model)

    @property
    def max_length(self):
        """Tokens kept per text: the ids model's input length."""
        return self.settings["max_length"]

    @property
    def recurrent_length(self):
        """Tokens the recurrent part reads, the first `recurrent_length` of
        each text (the wide part reads all `max_length`)."""
        return self.settings.get("recurrent_length", self.max_length)

    def texts_to_ids(self, texts, batch_size=1024):
        """int32 ids `[N, max_length]` for a list of texts (in-graph tokenizer)."""
        import tensorflow as tf

        texts = _as_texts(texts)
        if self._to_ids is None:
            self._to_ids = self.model.get_layer("text_to_ids")
        out = [np.zeros((0, self.max_length), np.int32)]
        for i in range(0, len(texts), batch_size):
            out.append(np.asarray(self._to_ids(tf.constant(texts[i:i + batch_size], tf.string))))
        return np.concatenate(out, axis=0)

    # -------------------------------------------------------------- train
    def compile(self, learning_rate=defaults.LEARNING_RATE, jit_compile="auto"):
        """Compiles the ids model: Adam (`clipnorm=1`), or
        `keras_rnnx.optimizers.LazyAdam` when the model was created with
        `ngram_updates="lazy"`; sparse categorical cross-entropy."""
        from keras_rnnx.optimizers import LazyAdam

        lazy = self.settings.get("model", {}).get("ngram_updates") == "lazy"
        self.ids_model.compile(
            optimizer=(LazyAdam if lazy else keras.optimizers.Adam)(learning_rate, clipnorm=1.0),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=jit_compile,
        )

    def fit(self, texts, labels, epochs=defaults.EPOCHS, batch_size=defaults.BATCH_SIZE,
            class_weight=defaults.CLASS_WEIGHT, validation_data=None,
            validation_fraction=defaults.VALIDATION_FRACTION, monitor=defaults.MONITOR,
            patience=defaults.PATIENCE, reduce_lr=defaults.REDUCE_LR, verbose="auto",
            callbacks=None, learning_rate=defaults.LEARNING_RATE, seed=0, backup_dir=None,
            refit=None, bucketing=defaults.BUCKETING, embedding_warmup=None,
            wide_warmup=defaults.WIDE_WARMUP, wide_init=None):
        """Trains on texts with `model.fit` (on the ids model), with early stopping.

        Part of the training texts (`validation_fraction`, stratified by
        class, drawn with `seed`; or `validation_data`) is held out and
        scored after every epoch; training stops when the `monitor` score
        has not improved for `patience` epochs, and the best epoch's weights
        are kept (`keras_rnnx.training.BestEpoch`). `epochs` is a maximum.
        With `reduce_lr` the learning rate is multiplied by it after an
        epoch without improvement (measured no better than a constant rate
        on the README's sets, so off by default). With `refit` (on by
        default whenever a validation part of `texts` is held out), the
        epoch count found that way is then trained again on all of
        `texts`. The defaults are `rnnx train-classifier`'s procedure
        (`keras_rnnx.classifier_defaults`). Only the texts given here are
        read: keep the test texts out of them.

        Args:
            texts, labels: the training texts and their class ids.
            epochs: the maximum number of epochs (default 30).
            batch_size: texts per training batch (default 32).
            class_weight: "balanced" (n / (k * count); the default), None,
                or a dict class id -> weight.
            validation_data: optional `(texts, labels)` to score on instead
                of a part of `texts`.
            validation_fraction: the share of `texts` held out for
                validation when `validation_data` is None (default 0.1); 0
                trains on everything for exactly `epochs` epochs.
            monitor: "macro_f1" (higher is better; the default), "accuracy"
                or "loss"; equal macro-F1 or accuracy scores are ranked by
                the loss.
            patience: epochs without improvement before stopping (default 3).
            reduce_lr: None (the default: a constant rate), or a factor in
                (0, 1) applied to the learning rate after each epoch without
                improvement.
            learning_rate: Adam's initial learning rate, when `fit` compiles
                (default 3e-3).
            seed: the seed of the validation split and of the batches' order
                with `bucketing`.
            backup_dir: the folder of an `AtomicBackupAndRestore` in
                `callbacks`, so that a resumed run keeps its best epoch (and,
                with `refit`, resumes the refit without choosing the epoch
                again).
            refit: after early stopping on the validation part of `texts`,
                start again from the weights and optimizer state this call
                started from, and train on
                all of `texts` (training and validation parts) for the kept
                number of epochs; that model is the one kept. None (the
                default): on whenever there is a validation part of
                `texts`, off with `validation_data` or
                `validation_fraction=0`. True: the same, but refused with
                `validation_data` (there is no part to add); False: off.
            bucketing: train on `keras_rnnx.training.LengthBatches`
                (batches of texts of similar length, each padded only to
                its own longest text, so short batches run fewer recurrent
                steps) instead of batches padded to `max_length` (default
                False).
            embedding_warmup: None (the default): 2 epochs
                (`classifier_defaults.EMBEDDING_WARMUP`) when the embedding
                starts from word vectors (`create`'s `embeddings` or
                `pretrain`), else 0. An int >= 0: the embedding is frozen (its rows
                stay exactly as they started, e.g. pretrained vectors) for
                the first `embedding_warmup` epochs while the rest of the
                model trains, then fine-tuned with it
                (`keras_rnnx.training.FrozenWarmup`). The refit repeats the
                schedule (frozen for the first `min(embedding_warmup, kept)`
                epochs). Early stopping counts the warm-up epochs like any
                other, so with `embedding_warmup > patience` it can stop
                before the embedding is ever trained.
            wide_warmup: int >= 0 (default 0), for a wide & deep model
                (`ngrams`): wide first. A model not trained yet starts its
                deep logits at zero (the `classes` kernel), and every layer
                with weights but the wide part (`bag_of_ngrams`) is frozen
                for the first `wide_warmup` epochs, so the wide part trains
                alone, as a linear model; then all train, the embedding
                after `embedding_warmup` more epochs. The refit repeats the
                schedule.
            wide_init: how the wide part's table starts, in a model not
                trained yet. "zeros": as the model was built (zero).
                "naive_bayes": the multinomial naive Bayes log-count ratios
                of the texts trained on (`BagOfNgrams.naive_bayes`, divided
                by its `scale`): the training part's, and for the refit all
                of `texts`. None (the default):
                `classifier_defaults.WIDE_INIT` ("naive_bayes") for a model
                with a wide part, nothing for one without. A model that has
                trained already (a second `fit`, a resumed run) keeps its
                table.

        Returns:
            The Keras `History` (of the refit when `refit`).
            `self.training_report` says how many epochs ran, which was kept
            and why (`epochs_run`, `kept_epoch` (1-based), `reason`,
            `monitor`, `best_score`, sizes, `embedding_warmup`, `wide_warmup`, `wide_init`, `refit`:
            None or the refit's `epochs` and `train_size`); `self.fit_indices` holds the
            positions in `texts` used for `train` and `validation` (with
            `refit`, also `refit`: every position).
        """
        from keras_rnnx.datasets.classification import stratified_split
        from keras_rnnx.training import BestEpoch, FrozenWarmup

        texts = _as_texts(texts)
        labels = np.asarray(labels, dtype=np.int64)
        k = len(self.class_names)
        if len(texts) != len(labels):
            raise ValueError(f"`texts` and `labels` must have the same length; got {len(texts)} and {len(labels)}")
        if labels.size and (labels.min() < 0 or labels.max() >= k):
            raise ValueError(f"`labels` must be class ids in [0, {k}); got [{labels.min()}, {labels.max()}]")
        if monitor not in ("macro_f1", "accuracy", "loss"):
            raise ValueError(f'`monitor` must be "macro_f1", "accuracy" or "loss"; got {monitor!r}')
        if isinstance(validation_fraction, bool) or not isinstance(validation_fraction, (int, float)) \
                or not 0.0 <= validation_fraction < 1.0:
            raise ValueError(f"`validation_fraction` must be in [0, 1); got {validation_fraction!r}")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"`epochs` must be a positive int; got {epochs!r}")
        if refit and validation_data is not None:
            raise ValueError("`refit` trains again on `texts` with their validation part; with "
                             "`validation_data` there is no part to add: pass refit=False")
        if embedding_warmup is None:
            embedding_warmup = (defaults.EMBEDDING_WARMUP
                                if self.settings.get("starts_from_vectors") else 0)
        embedding_warmup = check_units(embedding_warmup, "embedding_warmup", minimum=0)
        wide_warmup = check_units(wide_warmup, "wide_warmup", minimum=0)
        if wide_warmup and not self.settings.get("model", {}).get("ngrams"):
            raise ValueError(f"`wide_warmup` trains the wide part first; this model has none "
                             f"(ngrams=0); received wide_warmup={wide_warmup}")
        if wide_init is None:
            wide_init = defaults.WIDE_INIT if self.settings.get("model", {}).get("ngrams") \
                else "zeros"
        check_choice(wide_init, "wide_init", WIDE_INITS)
        if wide_init != "zeros" and not self.settings.get("model", {}).get("ngrams"):
            raise ValueError(f"`wide_init` starts the wide part; this model has none "
                             f"(ngrams=0); received wide_init={wide_init!r}")
        if class_weight is not None and class_weight != "balanced" and not isinstance(class_weight, dict):
            raise ValueError(f'`class_weight` must be "balanced", None or a dict; got {class_weight!r}')
        positions = np.arange(len(texts))
        val_texts = val_labels = None
        if validation_data is not None:
            val_texts, val_labels = _as_texts(validation_data[0], "validation_data"), \
                np.asarray(validation_data[1], np.int64)
            train_idx, val_idx = positions, np.zeros(0, np.int64)
        elif validation_fraction > 0:
            train_idx, val_idx = stratified_split(labels, validation_fraction, seed, k)
            val_texts, val_labels = [texts[i] for i in val_idx], labels[val_idx]
        else:
            train_idx, val_idx = positions, np.zeros(0, np.int64)
        refit = bool(defaults.REFIT if refit is None else refit) and len(val_idx) > 0
        self.fit_indices = {"train": train_idx, "validation": val_idx}
        if getattr(self.ids_model, "optimizer", None) is None:
            self.compile(learning_rate)
        deep = []
        untrained = not int(self.ids_model.optimizer.iterations)
        if wide_warmup:
            model = self.ids_model
            deep = [layer.name for layer in model.layers
                    if layer.weights and layer.name not in ("bag_of_ngrams", "embedding")]
            if untrained:  # the deep logits start at zero
                classes = model.get_layer("classes")
                classes.kernel.assign(np.zeros(classes.kernel.shape, "float32"))
        naive_bayes = wide_init == "naive_bayes" and untrained
        x = None  # the training part's ids, made once: for naive Bayes and for the fit
        if naive_bayes:
            x = self.texts_to_ids([texts[i] for i in train_idx])
            self._naive_bayes_start(x, labels[train_idx])
        if refit:  # where the refit starts from: these weights, the optimizer's state now
            optimizer = self.ids_model.optimizer
            if not optimizer.built:
                optimizer.build(self.ids_model.trainable_variables)
            start_weights = self.ids_model.get_weights()
            start_optimizer = [np.array(v) for v in optimizer.variables]
        marker = os.path.join(backup_dir, _REFIT_MARKER) if refit and backup_dir else None
        train_labels = labels[train_idx]
        callbacks = list(callbacks or [])
        # first, so the phase is set before any other callback's epoch
        if embedding_warmup or wide_warmup:
            callbacks.insert(0, FrozenWarmup("embedding", wide_warmup + embedding_warmup))
        if wide_warmup:
            callbacks.insert(0, FrozenWarmup(deep, wide_warmup))
        history = None
        if marker and os.path.exists(marker):  # resumed during the refit
            with open(marker, encoding="utf-8") as f:
                self.training_report = json.load(f)
        else:
            best = None
            if val_texts is not None and len(val_texts):
                val_x = self.texts_to_ids(val_texts)
                model = self.ids_model

                def score(_):
                    probs = np.asarray(model.predict(val_x, batch_size=256, verbose=0), np.float64)
                    pred = probs.argmax(-1)
                    p_true = probs[np.arange(len(val_labels)), val_labels]
                    return {
                        "macro_f1": classification_metrics.macro_f1(val_labels, pred, k),
                        "accuracy": classification_metrics.accuracy(val_labels, pred),
                        "loss": float(-np.mean(np.log(np.maximum(p_true, 1e-12)))),
                    }

                best = BestEpoch(score, monitor, mode="min" if monitor == "loss" else "max",
                                 patience=patience, reduce_lr=reduce_lr, backup_dir=backup_dir,
                                 tie_break=None if monitor == "loss" else "loss")
            if x is None:
                x = self.texts_to_ids([texts[i] for i in train_idx])
            history = self._fit_ids(x, train_labels, int(epochs), batch_size,
                                    _class_weights(class_weight, train_labels, k), verbose,
                                    ([best] if best else []) + callbacks, bucketing, seed)
            ran = len(getattr(history, "epoch", None) or []) if best is None else best.epochs_run
            self.training_report = {
                "max_epochs": int(epochs), "epochs_run": ran,
                "kept_epoch": ran if best is None or best.best_epoch is None else best.best_epoch + 1,
                "monitor": None if best is None else f"validation {monitor}",
                "best_score": None if best is None else best.best_score,
                "stopped_early": bool(best is not None and best.stopped_early),
                "reason": (best.reason if best is not None and best.reason else
                           f"no validation data: kept the last of {ran} epoch(s)"),
                "train_size": int(len(train_idx)),
                "validation_size": int(len(val_labels) if val_labels is not None else 0),
                "embedding_warmup": embedding_warmup,
                "wide_warmup": wide_warmup,
                "wide_init": wide_init,
                "refit": None,
            }
            if wide_warmup:
                self.training_report["reason"] += (
                    f"; the wide part trained alone for the first {min(wide_warmup, ran)} epoch(s)")
            if embedding_warmup or wide_warmup:
                self.training_report["reason"] += (
                    f"; the embedding frozen for the first "
                    f"{min(wide_warmup + embedding_warmup, ran)} epoch(s)")
            if marker:
                os.makedirs(backup_dir, exist_ok=True)
                atomic_write(marker, json.dumps(self.training_report))
        if refit:
            report = self.training_report
            kept = int(report["kept_epoch"])
            self.ids_model.set_weights(start_weights)
            for v, value in zip(optimizer.variables, start_optimizer):
                v.assign(value)  # a fresh optimizer, without tracing the step again
            all_x = self.texts_to_ids(texts)
            if naive_bayes:
                self._naive_bayes_start(all_x, labels)
            history = self._fit_ids(all_x, labels, kept, batch_size,
                                    _class_weights(class_weight, labels, k), verbose,
                                    _refit_callbacks(callbacks), bucketing, seed)
            report["refit"] = {"epochs": kept, "train_size": len(texts)}
            frozen = (f" (the embedding frozen for the first "
                      f"{min(wide_warmup + embedding_warmup, kept)})"
                      if embedding_warmup or wide_warmup else "")
            if wide_warmup:
                frozen = (f" (the wide part alone for the first {min(wide_warmup, kept)}, "
                          + frozen[2:])
            report["reason"] += (f"; then trained again from the start on all {len(texts)} "
                                 f"training texts (training and validation parts) for {kept} "
                                 f"epoch(s){frozen}, the model kept")
            self.fit_indices["refit"] = positions
            if marker:
                os.remove(marker)
                try:
                    os.rmdir(backup_dir)  # only when nothing else is in it
                except OSError:
                    pass
        return history

    def _naive_bayes_start(self, ids, labels):
        """The wide part's table from naive Bayes on the texts' `ids` (`fit(wide_init=...)`)."""
        wide = self.ids_model.get_layer("bag_of_ngrams")
        table = wide.naive_bayes(ids, labels) / wide.scale
        wide.embeddings.assign(table.astype("float32"))

    def _fit_ids(self, x, y, epochs, batch_size, class_weight, verbose, callbacks, bucketing, seed):
        """`model.fit` of the ids model on ids `x`: batches padded to
        `max_length`, or with `bucketing` `LengthBatches` through a view of
        the same layers that takes any time dimension."""
        model = self.ids_model
        if not bucketing:
            return model.fit(x, y, epochs=epochs, batch_size=batch_size, class_weight=class_weight,
                             verbose=verbose, callbacks=callbacks, shuffle=True)
        from keras_rnnx.training import LengthBatches

        view = self._bucketing_view
        if view is None or view.optimizer is not model.optimizer:
            view = keras.models.clone_model(  # the same layers and weights, [B, None] ids
                model, input_tensors=keras.Input((None,), dtype="int32", name="token_ids"),
                clone_function=lambda layer: layer)
            view.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"])
            self._bucketing_view = view
        batches = LengthBatches(x, y, batch_size, seed=seed)
        return view.fit(batches.dataset(), epochs=epochs, class_weight=class_weight,
                        verbose=verbose, callbacks=callbacks, shuffle=False)

    # -------------------------------------------------------------- use
    def predict_proba(self, texts, batch_size=256):
        """Probabilities `[N, num_classes]`."""
        x = self.texts_to_ids(texts)
        if not len(x):
            return np.zeros((0, len(self.class_names)), np.float32)
        return np.asarray(self.ids_model.predict(x, batch_size=batch_size, verbose=0))

    def predict(self, texts):
        """Class ids `[N]`."""
        return np.argmax(self.predict_proba(texts), axis=-1)

    def evaluate(self, texts, labels):
        """`classification_metrics.classification_report` on `texts`."""
        return classification_metrics.classification_report(
            np.asarray(labels, np.int64), self.predict(texts), self.class_names
        )

    # -------------------------------------------------------------- files
    def save(self, folder, overwrite=False):
        """Writes `model.keras` (raw strings in), `vocab.txt`, `classifier.json`.

        A `folder` that already holds any of these is refused (`ExportError`
        naming the file) unless `overwrite=True`; nothing is written then.
        """
        for name in (_MODEL, _VOCAB, _CONFIG):
            check_target(os.path.join(folder, name), overwrite, argument="folder")
        save_model(self.model, os.path.join(folder, _MODEL), overwrite=overwrite)
        self.write_vocabulary(os.path.join(folder, _VOCAB))
        self.write_config(os.path.join(folder, _CONFIG))

    def write_vocabulary(self, path):
        """One token a line; line i (from 0) is id i. Pad id 0, OOV id 1."""
        atomic_write(path, "\n".join(self.vocabulary.tokens) + "\n")

    def write_config(self, path, extra=None):
        config = {
            "class_names": self.class_names, **self.settings,
            "pad_id": 0, "oov_id": 1, "vocabulary_file": _VOCAB, **(extra or {}),
        }
        atomic_write(path, json.dumps(config, indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path):
        """Loads a folder written by `save` (or its `model.keras` file)."""
        folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
        model_path = os.path.join(folder, _MODEL) if os.path.isdir(path) else path
        config_path = os.path.join(folder, _CONFIG)
        for p in (model_path, config_path):
            if not os.path.isfile(p):
                raise ValueError(f"`path` {path!r} is not a saved TextClassifier: {p} is missing")

        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
        model = load_model(model_path)
        to_ids = model.get_layer("text_to_ids")
        vocabulary = Vocabulary(to_ids.vocabulary)
        class_names = config.pop("class_names")
        for key in ("pad_id", "oov_id", "vocabulary_file"):
            config.pop(key, None)
        return cls(model, vocabulary, class_names, config)

    # -------------------------------------------------------------- export
    def portable_model(self):
        """The string model with its tokenizer in core TensorFlow ops.

        The same ids model behind a `_PortableToIds` layer: the `TextToIds`
        layer's tokenizer as a `keras_rnnx.text.PortableTokenizer` (its
        exact twin without tensorflow-text), its vocabulary as a lookup
        table, the same `max_length`. A graph traced from it loads on plain
        TensorFlow; `export_saved_model` writes it.
        """
        to_ids = self.model.get_layer("text_to_ids")
        text = keras.Input(shape=(), dtype="string", name="text")
        portable = _PortableToIds(to_ids.tokenizer, to_ids.vocabulary, to_ids.max_length,
                                  name="portable_text_to_ids")
        return keras.Model(text, self.ids_model(portable(text)), name=self.model.name)

    def serving_function(self, model=None):
        """A `tf.function` strings `[B]` -> {class, probability, probabilities}
        over `model` (default: the string model)."""
        import tensorflow as tf

        model = self.model if model is None else model
        names = tf.constant(self.class_names)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(text):
            probs = model(text, training=False)
            best = tf.argmax(probs, axis=-1, output_type=tf.int32)
            return {
                "class": tf.gather(names, best),
                "probability": tf.reduce_max(probs, axis=-1),
                "probabilities": probs,
            }

        return serve

    def export_saved_model(self, path, overwrite=False):
        """SavedModel for TF Serving, raw strings in (`keras_rnnx.export`).

        Signatures: `serving_default(text: string[B])` -> probabilities
        `[B, C]`; `classify(text: string[B])` -> `class` (string[B], the
        class name), `probability` (float[B]) and `probabilities`
        (float[B, C]); `class_names()` -> `class_names` (string[C]). It
        needs nothing but TensorFlow: the tokenizer is `portable_model`'s,
        core ops giving the same ids as the in-graph tokenizer (tensorflow-
        text, used for training). An existing `path` is refused
        (`ExportError`) unless `overwrite=True`.
        """
        import tensorflow as tf

        from keras_rnnx import export as export_lib

        names = list(self.class_names)

        @tf.function(input_signature=[])
        def class_names():
            return {"class_names": tf.constant(names)}

        model = self.portable_model()
        serve = self.serving_function(model)
        signatures = {"classify": serve, "class_names": class_names}
        portable = model.get_layer("portable_text_to_ids")
        return export_lib.to_saved_model(
            model, path, signatures=signatures, overwrite=overwrite,
            track=[portable.tokenizer, portable.table],
        )

    def export_tflite(self, path, quantize=None, overwrite=False):
        """TFLite model of the ids model: int32 ids `[1, max_length]`
        (0-padded) -> probabilities; writes `vocab.txt` and `classifier.json`
        (tokenizer settings, class names) beside it. An existing `path` is
        refused (`ExportError`) unless `overwrite=True`."""
        from keras_rnnx import export as export_lib

        result = export_lib.to_tflite(
            self.ids_model, path, quantize=quantize, overwrite=overwrite
        )
        folder = os.path.dirname(os.path.abspath(path))
        self.write_vocabulary(os.path.join(folder, _VOCAB))
        self.write_config(os.path.join(folder, _CONFIG))
        return result


class _PortableToIds(keras.layers.Layer):
    """`TextToIds` for export: the same ids from core TensorFlow ops only
    (`PortableTokenizer`, a `tf.lookup` table; pad 0, unknown 1, the token
    "[PAD]" unknown as in `TextToIds`). Never saved in a `.keras` file."""

    def __init__(self, tokenizer, vocabulary, max_length, **kwargs):
        import tensorflow as tf

        from keras_rnnx.text.portable import PortableTokenizer

        super().__init__(trainable=False, dtype="int32", **kwargs)
        self.tokenizer = PortableTokenizer(tokenizer)
        self.max_length = max_length
        tokens = list(vocabulary)[2:]
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(tokens, tf.string), tf.range(2, len(tokens) + 2, dtype=tf.int32)),
            1)

    def call(self, inputs):
        import tensorflow as tf

        tokens = self.tokenizer(tf.reshape(inputs, [-1]))
        ids = tf.ragged.map_flat_values(self.table.lookup, tokens)
        if self.max_length is not None:
            return ids[:, : self.max_length].to_tensor(0, shape=[None, self.max_length])
        return ids.to_tensor(0)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor((inputs.shape[0], self.max_length), dtype="int32")
