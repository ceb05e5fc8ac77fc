"""Text pipeline: in-graph tokenization, vocabularies, strings -> token ids.

Three pieces, each usable alone:

* `Tokenizer`: Unicode-safe tokenization in the TensorFlow graph with
  tensorflow-text (invalid UTF-8 is replaced by U+FFFD, optional NFKC
  normalization, case folding, whitespace or Unicode-script splitting).
  Optional stemming (`stem="english"`, ... with the `snowballstemmer` package)
  runs in Python: it is applied by `Tokenizer.tokenize` through
  `tf.numpy_function` (fine for vocabulary building and tf.data), but a model
  that must be exported should use `stem=None`.
* `Vocabulary`: tokens ordered by count (descending, ties by first
  occurrence), built streaming from corpora larger than memory, saved as plain
  text, and turned into an in-graph `keras.layers.StringLookup` with pad id 0
  and OOV id 1.
* `TextToIds`: a Keras layer mapping raw strings `[B]` to padded int32 ids
  `[B, T]`, serializable in `.keras` files and exportable to SavedModel (load
  the SavedModel after `import tensorflow_text`, which registers the ops).
"""
import collections
import io
import os

import keras
import numpy as np
import tensorflow as tf

from keras_rnnx._atomic import atomic_write  # noqa: F401  (public here too)

TOKENIZER_KINDS = ("whitespace", "unicode_script", "characters")
NORMALIZATIONS = (None, "NFC", "NFKC", "NFD", "NFKD")
PAD, UNK = "[PAD]", "[UNK]"


def _tf_text():
    import tensorflow_text  # noqa: WPS433 (slow import, paid on first use)

    return tensorflow_text


def stemmer_languages():
    """Languages accepted by `Tokenizer(stem=...)` (needs `snowballstemmer`)."""
    try:
        import snowballstemmer
    except ImportError:  # pragma: no cover - optional dependency
        return ()
    return tuple(snowballstemmer.algorithms())


def _make_stemmer(language):
    try:
        import snowballstemmer
    except ImportError as e:  # pragma: no cover - optional dependency
        raise ImportError(
            "stem=... needs the 'snowballstemmer' package: pip install snowballstemmer"
        ) from e
    if language not in snowballstemmer.algorithms():
        raise ValueError(
            f"stem must be None or one of {sorted(snowballstemmer.algorithms())}, "
            f"got {language!r}"
        )
    return snowballstemmer.stemmer(language)


def _as_string_tensor(strings, name="strings"):
    if isinstance(strings, (str, bytes)):
        strings = [strings]
    if isinstance(strings, tf.RaggedTensor):
        raise TypeError(f"{name} must be a dense string tensor or a list of str, got a RaggedTensor")
    try:
        t = tf.convert_to_tensor(strings)
    except (ValueError, TypeError) as e:
        raise TypeError(f"{name} must be str, bytes, a list of them or a string tensor; {e}") from None
    if t.dtype != tf.string:
        raise TypeError(f"{name} must have dtype string, got {t.dtype.name}")
    return t


class Tokenizer:
    """In-graph text tokenizer built on tensorflow-text.

    Pipeline, all in the TensorFlow graph: invalid UTF-8 is replaced by U+FFFD
    (never an error), optional Unicode normalization, optional case folding
    (`tensorflow_text.case_fold_utf8`, i.e. NFKC_Casefold), then splitting on
    whitespace or on Unicode-script boundaries (which also splits punctuation
    from words and CJK runs from Latin). Optional stemming runs in Python.

    Args:
        kind: "whitespace", "unicode_script", or "characters" (one token per
            Unicode code point, runs of whitespace collapsed to one space).
        lowercase: fold case (Unicode-aware, "Straße" -> "strasse").
        normalization: None or a Unicode normal form ("NFKC", "NFC", "NFD",
            "NFKD") applied before case folding.
        stem: None or a Snowball language ("english", "german", ...): stems
            each token in Python (`tf.numpy_function`); not exportable.
        drop_punctuation: replace every run of characters that are not
            letters, marks, digits or whitespace by a space before splitting
            (so "U.S.-led," -> "u", "s", "led"), in-graph with a regular
            expression on Unicode classes.

    Example:

    >>> tok = Tokenizer(kind="unicode_script")
    >>> tok.tokenize(["Hello, World!"]).to_list()
    [[b'hello', b',', b'world', b'!']]
    """

    def __init__(self, kind="whitespace", lowercase=True, normalization="NFKC", stem=None,
                 drop_punctuation=False):
        if kind not in TOKENIZER_KINDS:
            raise ValueError(f"kind must be one of {TOKENIZER_KINDS}, got {kind!r}")
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
        if not isinstance(lowercase, bool):
            raise TypeError(f"lowercase must be a bool, got {lowercase!r}")
        self.kind = kind
        self.lowercase = lowercase
        self.normalization = normalization
        self.stem = stem
        self.drop_punctuation = bool(drop_punctuation)
        self._stemmer = _make_stemmer(stem) if stem is not None else None
        self._tokenizer = None

    def get_config(self):
        return {
            "kind": self.kind,
            "lowercase": self.lowercase,
            "normalization": self.normalization,
            "stem": self.stem,
            "drop_punctuation": self.drop_punctuation,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"Tokenizer({args})"

    def _split(self, strings):
        if self.kind == "characters":
            # One token per code point, runs of whitespace collapsed to one space.
            text = tf.strings.strip(tf.strings.regex_replace(strings, r"\s+", " "))
            return tf.strings.unicode_split(text, "UTF-8")
        tft = _tf_text()
        if self._tokenizer is None:
            if self.kind == "whitespace":
                self._tokenizer = tft.WhitespaceTokenizer()
            else:
                self._tokenizer = tft.UnicodeScriptTokenizer(keep_whitespace=False)
        return self._tokenizer.tokenize(strings)

    def normalize(self, strings):
        """Cleans strings in-graph (UTF-8 repair, normalization, case folding)."""
        tft = _tf_text()
        strings = tf.strings.unicode_transcode(
            strings, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
        )
        if self.normalization is not None:
            strings = tft.normalize_utf8(strings, self.normalization)
        if self.lowercase:
            strings = tft.case_fold_utf8(strings)
        if self.drop_punctuation:
            strings = tf.strings.regex_replace(strings, r"[^\p{L}\p{M}\p{N}\s]+", " ")
        # tensorflow-text's WhitespaceTokenizer cuts tokens in the middle of
        # multi-byte whitespace (U+0085, U+00A0, U+2028, ...): map every
        # Unicode space to an ASCII space first.
        return tf.strings.regex_replace(strings, r"[\p{Z}\x{85}]", " ")

    def tokenize(self, strings):
        """Tokenizes a batch of strings.

        Args:
            strings: str, bytes, list of them, or a string tensor of any rank.

        Returns:
            A `tf.RaggedTensor` of tokens (bytes, UTF-8) with one more ragged
            dimension than `strings`.
        """
        strings = _as_string_tensor(strings)
        tokens = self._split(self.normalize(strings))
        if self._stemmer is not None:
            tokens = tokens.with_flat_values(self._stem_tensor(tokens.flat_values))
        return tokens

    def _stem_tensor(self, flat):
        stemmer = self._stemmer

        def _stem(words):
            words = [w.decode("utf-8") for w in words.tolist()]
            out = stemmer.stemWords(words)
            return np.array([w.encode("utf-8") for w in out], dtype=object).reshape(-1)

        out = tf.numpy_function(_stem, [flat], tf.string, stateful=False)
        out.set_shape(flat.shape)
        return out

    def stem_words(self, words):
        """Stems a list of Python strings (identity when `stem=None`)."""
        if self._stemmer is None:
            return list(words)
        return self._stemmer.stemWords(list(words))

    def tokenize_python(self, strings):
        """Tokenizes and returns a list of lists of Python `str` tokens."""
        tokens = self.tokenize(strings)
        return [[t.decode("utf-8") for t in row] for row in tokens.to_list()]


def _check_count(name, value, minimum, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        expected = f"an int >= {minimum}" + (" or None" if allow_none else "")
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def iter_lines(source, name="corpus", errors="strict"):
    """Yields text lines (str) from a path, a file object or an iterable of str.

    Bytes that are not valid UTF-8 raise a `ValueError` naming the line (with
    `errors="strict"`) or are replaced by U+FFFD (`errors="replace"`).
    """
    if isinstance(source, (str, os.PathLike)) and (
        not isinstance(source, str) or ("\n" not in source and os.path.exists(source))
    ):
        path = os.fspath(source)
        if os.path.isdir(path):
            raise ValueError(f"{name} must be a text file, got the directory {path!r}")
        with open(path, "rb") as f:
            for i, raw in enumerate(f, 1):
                try:
                    yield raw.decode("utf-8", errors=errors).rstrip("\r\n")
                except UnicodeDecodeError as e:
                    raise ValueError(
                        f"{name} {path!r} line {i}: bytes that are not valid UTF-8 "
                        f"(at byte {e.start}: {raw[e.start:e.start + 4]!r})"
                    ) from None
        return
    if isinstance(source, str):
        raise ValueError(
            f"{name} must be a path to an existing text file or an iterable of strings; "
            f"{source[:80]!r} is not an existing file"
        )
    if isinstance(source, io.IOBase):
        source = iter(source)
    try:
        iterator = iter(source)
    except TypeError:
        raise TypeError(f"{name} must be a file path or an iterable of strings, got {type(source).__name__}") from None
    for i, line in enumerate(iterator, 1):
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8", errors=errors)
            except UnicodeDecodeError as e:
                raise ValueError(
                    f"{name} item {i}: bytes that are not valid UTF-8 "
                    f"(at byte {e.start}: {line[e.start:e.start + 4]!r})"
                ) from None
        elif isinstance(line, (list, tuple)):
            line = " ".join(line)
        elif not isinstance(line, str):
            raise TypeError(f"{name} item {i} must be str or bytes, got {type(line).__name__}")
        yield line.rstrip("\r\n")


class Vocabulary:
    """A token vocabulary ordered by count, with special tokens first.

    Ids: the specials take ids 0.. in order (by default "[PAD]" = 0 and
    "[UNK]" = 1), then the tokens by count descending, ties broken by first
    occurrence in the corpus (the insertion order of `counts`).

    Args:
        tokens: the full token list, specials included, index = id.
        counts: the count of each token (0 for specials), same length.
        specials: the special tokens at the head of `tokens`.

    Example:

    >>> v = Vocabulary.from_counts({"b": 1, "a": 3, "c": 1})
    >>> v.tokens
    ['[PAD]', '[UNK]', 'a', 'b', 'c']
    >>> v.lookup(["a", "zzz"])
    [2, 1]
    """

    def __init__(self, tokens, counts=None, specials=(PAD, UNK)):
        tokens = list(tokens)
        specials = tuple(specials)
        if any(not isinstance(t, str) for t in tokens):
            raise TypeError("tokens must all be str")
        if tuple(tokens[: len(specials)]) != specials:
            raise ValueError(f"tokens must start with the specials {specials}, got {tokens[:len(specials)]}")
        if len(set(tokens)) != len(tokens):
            dup = [t for t, c in collections.Counter(tokens).items() if c > 1][:5]
            raise ValueError(f"tokens must be unique; duplicated: {dup}")
        for t in tokens:
            if t == "" or any(ch in t for ch in "\n\r\t"):
                raise ValueError(f"tokens must be non-empty and contain no tab or newline, got {t!r}")
        if counts is None:
            counts = [0] * len(tokens)
        counts = [int(c) for c in counts]
        if len(counts) != len(tokens):
            raise ValueError(f"counts must have one entry per token: {len(counts)} != {len(tokens)}")
        self.tokens = tokens
        self.counts = counts
        self.specials = specials
        self._index = {t: i for i, t in enumerate(tokens)}

    # ---------------------------------------------------------------- build
    @classmethod
    def from_counts(cls, counts, min_count=1, max_size=None, specials=(PAD, UNK)):
        """Builds a vocabulary from a {token: count} mapping.

        Args:
            counts: mapping token -> count; its iteration order is the
                first-occurrence order used to break ties.
            min_count: drop tokens seen fewer times.
            max_size: keep at most this many tokens (specials included).
            specials: tokens given the first ids.
        """
        _check_count("min_count", min_count, 1)
        _check_count("max_size", max_size, len(tuple(specials)) + 1, allow_none=True)
        if not hasattr(counts, "items"):
            raise TypeError(f"counts must be a mapping token -> count, got {type(counts).__name__}")
        specials = tuple(specials)
        items = [(t, int(c)) for t, c in counts.items() if int(c) >= min_count and t not in specials]
        if not items:
            if not counts:
                raise ValueError("cannot build a vocabulary from an empty corpus (no tokens)")
            top = max(int(c) for c in counts.values())
            raise ValueError(
                f"min_count={min_count} is above every token count (the most frequent "
                f"token occurs {top} times): the vocabulary would be empty"
            )
        items.sort(key=lambda tc: -tc[1])  # stable: ties keep first occurrence
        if max_size is not None:
            items = items[: max_size - len(specials)]
        tokens = list(specials) + [t for t, _ in items]
        cnts = [0] * len(specials) + [c for _, c in items]
        return cls(tokens, cnts, specials)

    @staticmethod
    def count_tokens(texts, tokenizer=None, batch_size=4096, progress=None):
        """Streams over `texts` and returns ({token: count}, total_tokens).

        Tokenizes `batch_size` lines at a time in-graph, so memory is bounded
        by the number of distinct tokens, not the corpus size.
        """
        tokenizer = tokenizer or Tokenizer()
        counts = collections.Counter()
        total = 0
        batch = []

        def flush():
            nonlocal total
            if not batch:
                return
            flat = tokenizer.tokenize(tf.constant(batch)).flat_values
            uniq, _, cnt = tf.unique_with_counts(flat)
            for t, c in zip(uniq.numpy().tolist(), cnt.numpy().tolist()):
                counts[t] += c
            total += int(flat.shape[0])
            if progress is not None:
                progress(len(batch), int(flat.shape[0]))
            batch.clear()

        for line in iter_lines(texts, "texts"):
            batch.append(line)
            if len(batch) >= batch_size:
                flush()
        flush()
        return {t.decode("utf-8"): c for t, c in counts.items()}, total

    @classmethod
    def build(cls, texts, tokenizer=None, min_count=1, max_size=None, specials=(PAD, UNK), batch_size=4096):
        """Counts tokens over `texts` (streaming) and builds the vocabulary.

        Args:
            texts: a text file path (one document a line) or an iterable of
                strings; read once, never held in memory.
            tokenizer: a `Tokenizer` (default: whitespace, lowercase, NFKC).
            min_count, max_size, specials: as in `from_counts`.
            batch_size: lines tokenized together.
        """
        _check_count("min_count", min_count, 1)
        counts, _ = cls.count_tokens(texts, tokenizer, batch_size)
        return cls.from_counts(counts, min_count, max_size, specials)

    # ---------------------------------------------------------------- use
    def __len__(self):
        return len(self.tokens)

    def __contains__(self, token):
        return token in self._index

    def __repr__(self):
        return f"Vocabulary(size={len(self)}, specials={self.specials})"

    @property
    def pad_id(self):
        return 0 if self.specials and self.specials[0] == PAD else None

    @property
    def oov_id(self):
        return self._index.get(UNK)

    def index(self, token):
        """The id of `token`, or the OOV id (KeyError without an OOV token)."""
        i = self._index.get(token)
        if i is None:
            if self.oov_id is None:
                raise KeyError(token)
            return self.oov_id
        return i

    def lookup(self, tokens):
        """Maps tokens to ids.

        A list of str (or nested lists) gives Python ints; a string
        `tf.Tensor`/`tf.RaggedTensor` gives an int32 tensor of the same
        structure, computed in-graph. Unknown tokens get the OOV id; a
        literal "[PAD]" token is text, not padding, so it gets the OOV id too.
        """
        if isinstance(tokens, (tf.Tensor, tf.RaggedTensor)):
            layer = self.lookup_layer()
            if isinstance(tokens, tf.RaggedTensor):
                return tf.ragged.map_flat_values(lambda t: tf.cast(layer(_pad_to_unk(t)), tf.int32), tokens)
            return tf.cast(layer(_pad_to_unk(tokens)), tf.int32)
        if isinstance(tokens, str):
            return self._text_index(tokens)
        out = []
        for t in tokens:
            if isinstance(t, bytes):
                t = t.decode("utf-8")
            out.append(self._text_index(t) if isinstance(t, str) else self.lookup(t))
        return out

    def _text_index(self, token):
        # a literal "[PAD]" in text is an unknown word, never padding
        if token == PAD and self.pad_id == 0 and self.oov_id is not None:
            return self.oov_id
        return self.index(token)

    def lookup_layer(self, invert=False):
        """A `keras.layers.StringLookup` with pad id 0 and OOV id 1.

        Needs specials starting with ("[PAD]", "[UNK]"); further specials
        get the next ids.
        """
        if self.specials[:2] != (PAD, UNK):
            raise ValueError(
                f"lookup_layer needs specials starting with {(PAD, UNK)}, got {self.specials}"
            )
        return keras.layers.StringLookup(
            vocabulary=self.tokens[2:],
            mask_token=PAD,
            oov_token=UNK,
            num_oov_indices=1,
            invert=invert,
            output_mode="int",
        )

    # ---------------------------------------------------------------- io
    def save(self, path, with_counts=True):
        """Writes one token a line (`token<TAB>count` with counts), atomically."""
        lines = [f"# specials={len(self.specials)}"]
        for t, c in zip(self.tokens, self.counts):
            lines.append(f"{t}\t{c}" if with_counts else t)
        atomic_write(path, "\n".join(lines) + "\n")

    @classmethod
    def load(cls, path):
        """Reads a file written by `save` (or a plain one-token-a-line list)."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise ValueError(f"vocabulary file {path!r} does not exist")
        tokens, counts = [], []
        n_specials = None
        with open(path, "rb") as f:
            for i, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError:
                    raise ValueError(f"vocabulary file {path!r} line {i} is not valid UTF-8") from None
                if i == 1 and line.startswith("# specials="):
                    n_specials = int(line.split("=", 1)[1])
                    continue
                if not line:
                    continue
                if "\t" in line:
                    tok, cnt = line.rsplit("\t", 1)
                    try:
                        counts.append(int(cnt))
                    except ValueError:
                        raise ValueError(f"vocabulary file {path!r} line {i}: count {cnt!r} is not an int") from None
                else:
                    tok = line
                    counts.append(0)
                tokens.append(tok)
        if not tokens:
            raise ValueError(f"vocabulary file {path!r} is empty")
        if n_specials is None:
            n_specials = sum(1 for t in tokens[:2] if t in (PAD, UNK))
        return cls(tokens, counts, tuple(tokens[:n_specials]))


def _pad_to_unk(tokens):
    return tf.where(tf.equal(tokens, PAD), tf.constant(UNK), tokens)


@keras.saving.register_keras_serializable(package="keras_rnnx")
class TextToIds(keras.layers.Layer):
    """Maps raw strings to padded token ids, in the graph.

    Tokenizes with `Tokenizer(kind, lowercase, normalization)` and looks
    tokens up in `vocabulary` (a `Vocabulary`, a list of tokens starting with
    "[PAD]", "[UNK]", or a vocabulary file path). Pad id 0, OOV id 1. The
    vocabulary is stored in the layer config, so `.keras` files are
    self-contained. String ops are not XLA-compilable: keep this layer
    outside `jit_compile` regions (use it in the serving model, or in
    `tf.data`, and train the rest on ids).

    Args:
        vocabulary: `Vocabulary`, list of tokens, or a path to a saved one.
        kind, lowercase, normalization, drop_punctuation: the `Tokenizer`
            settings.
        max_length: None (pad to the longest in the batch) or an int: truncate
            and pad every row to exactly this length.

    Call arguments:
        inputs: string tensor `[B]` (or `[B, 1]`).

    Returns:
        int32 ids `[B, T]`, 0 after the end of each text.

    Example:

    >>> layer = TextToIds(["[PAD]", "[UNK]", "hello", "world"], max_length=4)
    >>> layer(tf.constant(["Hello big world"])).numpy().tolist()
    [[2, 1, 3, 0]]
    """

    def __init__(self, vocabulary, kind="whitespace", lowercase=True, normalization="NFKC",
                 max_length=None, drop_punctuation=False, **kwargs):
        kwargs.setdefault("trainable", False)
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        if isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = Vocabulary.load(vocabulary)
        if isinstance(vocabulary, Vocabulary):
            tokens = list(vocabulary.tokens)
        elif isinstance(vocabulary, (list, tuple)):
            tokens = [t.decode("utf-8") if isinstance(t, bytes) else t for t in vocabulary]
        else:
            raise TypeError(
                f"vocabulary must be a Vocabulary, a list of tokens or a file path, got {type(vocabulary).__name__}"
            )
        if tokens[:2] != [PAD, UNK]:
            raise ValueError(f"vocabulary must start with {[PAD, UNK]}, got {tokens[:2]}")
        _check_count("max_length", max_length, 1, allow_none=True)
        self.tokenizer = Tokenizer(
            kind=kind, lowercase=lowercase, normalization=normalization, drop_punctuation=drop_punctuation
        )
        self.vocabulary = tokens
        self.max_length = max_length
        self._lookup = keras.layers.StringLookup(
            vocabulary=tokens[2:], mask_token=PAD, oov_token=UNK, num_oov_indices=1,
            output_mode="int", name="lookup",
        )
        self.supports_jit = False

    def build(self, input_shape=None):
        self.built = True

    def call(self, inputs):
        inputs = tf.convert_to_tensor(inputs)
        if inputs.dtype != tf.string:
            raise TypeError(f"TextToIds expects string inputs, got {inputs.dtype.name}")
        if inputs.shape.rank == 2:
            if inputs.shape[-1] is not None and inputs.shape[-1] != 1:
                raise ValueError(f"TextToIds expects strings of shape [B] or [B, 1], got shape {inputs.shape}")
            inputs = tf.squeeze(inputs, axis=-1)
        elif inputs.shape.rank == 0:
            inputs = tf.reshape(inputs, [1])
        elif inputs.shape.rank is not None and inputs.shape.rank != 1:
            raise ValueError(f"TextToIds expects strings of shape [B] or [B, 1], got {inputs.shape}")
        tokens = self.tokenizer.tokenize(inputs)
        ids = tf.ragged.map_flat_values(lambda t: tf.cast(self._lookup(_pad_to_unk(t)), tf.int32), tokens)
        if self.max_length is not None:
            ids = ids[:, : self.max_length]
            return ids.to_tensor(default_value=0, shape=[None, self.max_length])
        return ids.to_tensor(default_value=0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.max_length)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor((inputs.shape[0], self.max_length), dtype="int32")

    def vocabulary_size(self):
        return len(self.vocabulary)

    def get_config(self):
        config = super().get_config()
        config.update(self.tokenizer.get_config())
        config.pop("stem")
        config.update({"vocabulary": list(self.vocabulary), "max_length": self.max_length})
        return config
