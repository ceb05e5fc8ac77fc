"""`Tokenizer`: Unicode-safe tokenization in the TensorFlow graph."""
import numpy as np
import tensorflow as tf

TOKENIZER_KINDS = ("whitespace", "unicode_script", "characters")
NORMALIZATIONS = (None, "NFC", "NFKC", "NFD", "NFKD")
WHITESPACE_MODES = ("collapse", "keep")


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



def _repair_utf8(strings):
    """Invalid UTF-8 becomes U+FFFD (core ops)."""
    return tf.strings.unicode_transcode(
        strings, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)


def _punctuation_and_spaces(strings, drop_punctuation, whitespace):
    """The core-op tail of `Tokenizer.normalize` (after case folding),
    shared with `PortableTokenizer`."""
    if drop_punctuation:
        strings = tf.strings.regex_replace(strings, r"[^\p{L}\p{M}\p{N}\s]+", " ")
    if whitespace == "keep":
        return strings
    # tensorflow-text's WhitespaceTokenizer cuts tokens in the middle of
    # multi-byte whitespace (U+0085, U+00A0, U+2028, ...): map every
    # Unicode space to an ASCII space first.
    return tf.strings.regex_replace(strings, r"[\p{Z}\x{85}]", " ")


class Tokenizer:
    """In-graph text tokenizer built on tensorflow-text.

    Pipeline, all in the TensorFlow graph: invalid UTF-8 is replaced by U+FFFD
    (never an error), optional Unicode normalization, optional case folding
    (`tensorflow_text.case_fold_utf8`, i.e. NFKC_Casefold) or lowercasing,
    then splitting on whitespace, on Unicode-script boundaries (which also
    splits punctuation from words and CJK runs from Latin) or into characters.
    Optional stemming runs in Python. `split` tokenizes one Python string.

    Args:
        kind: "whitespace", "unicode_script", or "characters" (one token per
            Unicode code point).
        lowercase: True: fold case (Unicode-aware, "Straße" -> "strasse");
            "lower": Unicode lowercase mapping only (`tf.strings.lower`,
            "Straße" -> "straße", no tensorflow-text op); False: keep case.
        normalization: None or a Unicode normal form ("NFKC", "NFC", "NFD",
            "NFKD") applied before case folding.
        stem: None or a Snowball language ("english", "german", ...): stems
            each token in Python (`tf.numpy_function`); not exportable.
        drop_punctuation: replace every run of characters that are not
            letters, marks, digits or whitespace by a space before splitting
            (so "U.S.-led," -> "u", "s", "led"), in-graph with a regular
            expression on Unicode classes.
        whitespace: "collapse" (Unicode spaces become " "; with
            `kind="characters"` runs of whitespace are collapsed to one space
            and the ends stripped) or "keep" (`kind="characters"` only: every
            code point is a token as given, whitespace included).

    Example:

    >>> tok = Tokenizer(kind="unicode_script")
    >>> tok.tokenize(["Hello, World!"]).to_list()
    [[b'hello', b',', b'world', b'!']]
    >>> Tokenizer("characters", lowercase=False, normalization=None, whitespace="keep").split("a  b")
    ['a', ' ', ' ', 'b']
    """

    def __init__(self, kind="whitespace", lowercase=True, normalization="NFKC", stem=None,
                 drop_punctuation=False, whitespace="collapse"):
        if kind not in TOKENIZER_KINDS:
            raise ValueError(f"kind must be one of {TOKENIZER_KINDS}, got {kind!r}")
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
        if not isinstance(lowercase, bool) and lowercase != "lower":
            raise TypeError(f"lowercase must be a bool or 'lower', got {lowercase!r}")
        if whitespace not in WHITESPACE_MODES:
            raise ValueError(f"whitespace must be one of {WHITESPACE_MODES}, got {whitespace!r}")
        if whitespace == "keep" and kind != "characters":
            raise ValueError(f'whitespace="keep" needs kind="characters", got kind={kind!r}')
        self.kind = kind
        self.lowercase = lowercase
        self.normalization = normalization
        self.stem = stem
        self.drop_punctuation = bool(drop_punctuation)
        self.whitespace = whitespace
        self._stemmer = _make_stemmer(stem) if stem is not None else None
        self._tokenizer = None

    def get_config(self):
        return {
            "kind": self.kind,
            "lowercase": self.lowercase,
            "normalization": self.normalization,
            "stem": self.stem,
            "drop_punctuation": self.drop_punctuation,
            "whitespace": self.whitespace,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"Tokenizer({args})"

    def _characters(self, strings):
        """The cleaned text whose code points are the "characters" tokens."""
        if self.whitespace == "keep":
            return strings
        # runs of whitespace collapsed to one space, ends stripped
        return tf.strings.strip(tf.strings.regex_replace(strings, r"\s+", " "))

    def _split(self, strings):
        if self.kind == "characters":
            return tf.strings.unicode_split(self._characters(strings), "UTF-8")
        tft = _tf_text()
        if self._tokenizer is None:
            if self.kind == "whitespace":
                self._tokenizer = tft.WhitespaceTokenizer()
            else:
                self._tokenizer = tft.UnicodeScriptTokenizer(keep_whitespace=False)
        return self._tokenizer.tokenize(strings)

    def normalize(self, strings):
        """Cleans strings in-graph (UTF-8 repair, normalization, case folding)."""
        strings = _repair_utf8(strings)
        if self.normalization is not None:
            strings = _tf_text().normalize_utf8(strings, self.normalization)
        if self.lowercase == "lower":
            strings = tf.strings.lower(strings, encoding="utf-8")
        elif self.lowercase:
            strings = _tf_text().case_fold_utf8(strings)
        return _punctuation_and_spaces(strings, self.drop_punctuation, self.whitespace)

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

    def code_points(self, strings):
        """The Unicode code points of the tokens of a "characters" tokenizer.

        Uses only core TensorFlow ops when `normalization` is None and
        `lowercase` is not True, so a graph holding it needs no
        tensorflow-text.

        Args:
            strings: str, bytes, list of them, or a string tensor.

        Returns:
            A `tf.RaggedTensor` of int32 code points, one per token of
            `tokenize(strings)`.

        Example:

        >>> Tokenizer("characters", lowercase="lower", normalization=None,
        ...           whitespace="keep").code_points(["Ab c"]).to_list()
        [[97, 98, 32, 99]]
        """
        if self.kind != "characters":
            raise ValueError(f'code_points needs kind="characters", got kind={self.kind!r}')
        if self._stemmer is not None:
            raise ValueError("code_points needs stem=None")
        strings = self._characters(self.normalize(_as_string_tensor(strings)))
        return tf.strings.unicode_decode(strings, "UTF-8")

    @property
    def _python_side(self):
        """True when `split` runs in Python: no case, normalization, stemming
        or punctuation change, and characters kept as given (or words)."""
        plain = (self.lowercase is False and self.normalization is None
                 and self._stemmer is None and not self.drop_punctuation)
        return plain and (self.kind == "whitespace"
                          or (self.kind == "characters" and self.whitespace == "keep"))

    def split(self, text):
        """Tokenizes one Python string into a list of str tokens.

        Tokenizers that change nothing but the splitting run in Python:
        `kind="characters", whitespace="keep"` gives every code point
        (`list(text)`), `kind="whitespace"` gives `text.split()` (Python's
        whitespace, which also counts U+001C..U+001F). Any other setting runs
        `tokenize` in the graph.

        Args:
            text: a str.

        Returns:
            A list of str tokens.

        Example:

        >>> Tokenizer("whitespace", lowercase=False, normalization=None).split("the  cat")
        ['the', 'cat']
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if self._python_side:
            return list(text) if self.kind == "characters" else text.split()
        return self.tokenize_python([text])[0]

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
