"""`Vocabulary`: tokens and their ids, with configurable special tokens."""
import collections
import json
import os

import keras
import numpy as np
import tensorflow as tf

from keras_rnnx._atomic import atomic_write, check_target
from keras_rnnx.text.lines import iter_lines
from keras_rnnx.text.tokenizer import Tokenizer

PAD, UNK = "[PAD]", "[UNK]"
LANGUAGE_MODEL_SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")
LEVELS = ("char", "word")
# the special tokens that play each role (the ids are read by role)
_ROLES = {
    "pad": (PAD, "<pad>"),
    "unk": (UNK, "<unk>"),
    "start": ("<s>", "[START]"),
    "end": ("</s>", "[END]"),
}


def level_tokenizer(level):
    """The language model's tokenizer of a level, splitting in Python.

    Args:
        level: "char" (every code point a token, as given) or "word"
            (`str.split`); no case or Unicode normalization either way.

    Returns:
        A `Tokenizer`.

    Example:

    >>> level_tokenizer("char").split("a b")
    ['a', ' ', 'b']
    """
    if level not in LEVELS:
        raise ValueError(f"`level` must be 'char' or 'word', got {level!r}")
    if level == "char":
        return Tokenizer("characters", lowercase=False, normalization=None, whitespace="keep")
    return Tokenizer("whitespace", lowercase=False, normalization=None)


def _keeps_whitespace(tokenizer):
    """True for tokenizers whose tokens may be any character (tab, newline)."""
    return tokenizer is not None and tokenizer.kind == "characters" and tokenizer.whitespace == "keep"


def _check_count(name, value, minimum, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        expected = f"an int >= {minimum}" + (" or None" if allow_none else "")
        raise ValueError(f"{name} must be {expected}, got {value!r}")


class Vocabulary:
    """Tokens and their ids, with configurable special tokens first.

    One class for every model: the classifier's specials are "[PAD]" = 0 and
    "[UNK]" = 1 (the default), the language model's `<pad> <s> </s> <unk>`
    (`LANGUAGE_MODEL_SPECIALS`), the translator's its own. Ids: the specials
    take ids 0.. in order, then the tokens (built ones by count descending,
    ties broken by first occurrence, i.e. the insertion order of `counts`).
    The special ids are read by role (`pad_id`, `oov_id`/`unk_id`,
    `start_id`, `end_id`), so callers do not hard-code them.

    Args:
        tokens: the token list, index = id. If it does not start with
            `specials`, they are put first (a special elsewhere in it is an
            error: the specials are reserved).
        counts: the count of each token of `tokens` (0 for specials).
        specials: the special tokens at the head of the ids; default
            ("[PAD]", "[UNK]"), or `LANGUAGE_MODEL_SPECIALS` with `level`.
        tokenizer: the `Tokenizer` that `encode` and `decode` use (None:
            those need one).
        level: the language model's shorthand, "char" (every code point a
            token, as given) or "word" (`str.split`): sets `tokenizer` to
            `level_tokenizer(level)` and the default specials to
            `LANGUAGE_MODEL_SPECIALS`.

    Example:

    >>> v = Vocabulary.from_counts({"b": 1, "a": 3, "c": 1})
    >>> v.tokens
    ['[PAD]', '[UNK]', 'a', 'b', 'c']
    >>> v.lookup(["a", "zzz"])
    [2, 1]
    >>> lm = Vocabulary(["a", "b", "c"], level="char")
    >>> lm.encode("cab"), lm.start_id, lm.end_id
    ([1, 6, 4, 5], 1, 2)
    """

    def __init__(self, tokens, counts=None, specials=None, tokenizer=None, level=None):
        if level is not None:
            if tokenizer is not None:
                raise ValueError("give `tokenizer` or `level`, not both")
            tokenizer = level_tokenizer(level)
            if specials is None:
                specials = LANGUAGE_MODEL_SPECIALS
        if tokenizer is not None and not isinstance(tokenizer, Tokenizer):
            raise TypeError(f"tokenizer must be a keras_rnnx.text.Tokenizer, got {type(tokenizer).__name__}")
        tokens = list(tokens)
        specials = (PAD, UNK) if specials is None else tuple(specials)
        if any(not isinstance(t, str) for t in tokens):
            raise TypeError("tokens must all be str")
        if tuple(tokens[: len(specials)]) != specials:
            reserved = [t for t in tokens if t in specials]
            if reserved:
                raise ValueError(
                    f"tokens must start with the specials {specials}; the reserved tokens "
                    f"{reserved[:5]} are out of place"
                )
            tokens = list(specials) + tokens
            if counts is not None:
                counts = [0] * len(specials) + list(counts)
        if len(set(tokens)) != len(tokens):
            dup = [t for t, c in collections.Counter(tokens).items() if c > 1][:5]
            raise ValueError(f"tokens must be unique; duplicated: {dup}")
        raw = _keeps_whitespace(tokenizer)
        for t in tokens:
            if t == "" or (not raw and any(ch in t for ch in "\n\r\t")):
                raise ValueError(f"tokens must be non-empty and contain no tab or newline, got {t!r}")
        if counts is None:
            counts = [0] * len(tokens)
        counts = [int(c) for c in counts]
        if len(counts) != len(tokens):
            raise ValueError(f"counts must have one entry per token: {len(counts)} != {len(tokens)}")
        self.tokens = tokens
        self.counts = counts
        self.specials = specials
        self.tokenizer = tokenizer
        self._index = {t: i for i, t in enumerate(tokens)}

    # ---------------------------------------------------------------- build
    @classmethod
    def from_counts(cls, counts, min_count=1, max_size=None, specials=None, tokenizer=None,
                    order="count"):
        """Builds a vocabulary from a {token: count} mapping.

        Args:
            counts: mapping token -> count; its iteration order is the
                first-occurrence order used to break ties.
            min_count: drop tokens seen fewer times.
            max_size: keep at most this many tokens (specials included).
            specials: tokens given the first ids (default "[PAD]", "[UNK]").
            tokenizer: stored on the vocabulary (for `encode`).
            order: "count" (ids by count descending, ties by first
                occurrence) or "token" (the kept tokens in code-point order).

        Returns:
            A `Vocabulary`.
        """
        specials = (PAD, UNK) if specials is None else tuple(specials)
        _check_count("min_count", min_count, 1)
        _check_count("max_size", max_size, len(specials) + 1, allow_none=True)
        if order not in ("count", "token"):
            raise ValueError(f"order must be 'count' or 'token', got {order!r}")
        if not hasattr(counts, "items"):
            raise TypeError(f"counts must be a mapping token -> count, got {type(counts).__name__}")
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
        if order == "token":
            items.sort(key=lambda tc: tc[0])
        tokens = list(specials) + [t for t, _ in items]
        cnts = [0] * len(specials) + [c for _, c in items]
        return cls(tokens, cnts, specials, tokenizer)

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
    def build(cls, texts, tokenizer=None, min_count=1, max_size=None, specials=None, batch_size=4096,
              level=None):
        """Counts tokens over `texts` (streaming) and builds the vocabulary.

        Args:
            texts: a text file path (one document a line) or an iterable of
                strings; read once, never held in memory. With `level`, an
                iterable of str (a str is one text).
            tokenizer: a `Tokenizer` (default: whitespace, lowercase, NFKC),
                stored on the vocabulary.
            min_count, max_size, specials: as in `from_counts`.
            batch_size: lines tokenized together.
            level: the language model's rules instead of `tokenizer`: "char"
                or "word" tokens split in Python (`level_tokenizer`), specials
                `LANGUAGE_MODEL_SPECIALS`, ties broken by token, and "char"
                ids in code-point order.

        Returns:
            A `Vocabulary`.

        Example:

        >>> Vocabulary.build(["abba", "cab"], level="char").tokens[4:]
        ['a', 'b', 'c']
        """
        _check_count("min_count", min_count, 1)
        if level is not None:
            if tokenizer is not None:
                raise ValueError("give `tokenizer` or `level`, not both")
            tokenizer = level_tokenizer(level)
            counts = collections.Counter()
            for text in [texts] if isinstance(texts, str) else texts:
                counts.update(tokenizer.split(text))
            return cls.from_counts(
                dict(sorted(counts.items())), min_count, max_size,
                LANGUAGE_MODEL_SPECIALS if specials is None else specials, tokenizer,
                order="token" if level == "char" else "count",
            )
        tokenizer = tokenizer or Tokenizer()
        counts, _ = cls.count_tokens(texts, tokenizer, batch_size)
        return cls.from_counts(counts, min_count, max_size, specials, tokenizer)

    # ---------------------------------------------------------------- use
    def __len__(self):
        return len(self.tokens)

    def __contains__(self, token):
        return token in self._index

    def __repr__(self):
        return f"Vocabulary(size={len(self)}, specials={self.specials})"

    @property
    def level(self):
        """ "char" (a characters tokenizer), "word" (another) or None."""
        if self.tokenizer is None:
            return None
        return "char" if self.tokenizer.kind == "characters" else "word"

    def _special_id(self, role):
        for token in _ROLES[role]:
            if token in self.specials:
                return self._index[token]
        return None

    @property
    def pad_id(self):
        """The id of the padding special ("[PAD]" or "<pad>"), or None."""
        return self._special_id("pad")

    @property
    def oov_id(self):
        """The id of the unknown-token special ("[UNK]" or "<unk>"), or None."""
        return self._special_id("unk")

    @property
    def unk_id(self):
        """Same as `oov_id`."""
        return self.oov_id

    @property
    def start_id(self):
        """The id of the start special ("<s>" or "[START]"), or None."""
        return self._special_id("start")

    @property
    def end_id(self):
        """The id of the end special ("</s>" or "[END]"), or None."""
        return self._special_id("end")

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

    def _require_tokenizer(self, method):
        if self.tokenizer is None:
            raise ValueError(f"{method} needs a vocabulary with a tokenizer (Vocabulary(..., tokenizer=...))")
        return self.tokenizer

    def encode(self, text, add_bos=True, add_eos=False):
        """Ids of one text, split by the vocabulary's tokenizer.

        Args:
            text: a str.
            add_bos: put the start id first (needs a start special).
            add_eos: put the end id last (needs an end special).

        Returns:
            A list of int; tokens not in the vocabulary get the OOV id.

        Example:

        >>> Vocabulary(["a", "b", "c"], level="char").encode("cab", add_bos=False, add_eos=True)
        [6, 4, 5, 2]
        """
        ids = [self.index(t) for t in self._require_tokenizer("encode").split(text)]
        for arg, wanted, special in (("add_bos", add_bos, self.start_id), ("add_eos", add_eos, self.end_id)):
            if wanted and special is None:
                raise ValueError(f"{arg} needs a start/end special; the specials are {self.specials}")
        return [self.start_id] * bool(add_bos) + ids + [self.end_id] * bool(add_eos)

    def decode(self, ids):
        """Text of `ids`: stops at the end id, skips padding and start ids.

        Args:
            ids: ints (any shape, read flat).

        Returns:
            A str: tokens joined by "" (characters) or " " (words); ids
            outside the vocabulary give the unknown token.

        Example:

        >>> Vocabulary(["a", "b", "c"], level="char").decode([1, 6, 4, 5, 2, 4])
        'cab'
        """
        end = self.end_id
        skip = {i for i in (self.pad_id, self.start_id) if i is not None}
        unknown = self.tokens[self.oov_id] if self.oov_id is not None else UNK
        out = []
        for i in np.asarray(ids).reshape(-1).tolist():
            if i == end:
                break
            if i in skip:
                continue
            out.append(self.tokens[i] if 0 <= i < len(self.tokens) else unknown)
        return ("" if self.level == "char" else " ").join(out)

    # ---------------------------------------------------------------- io
    def get_config(self):
        """The vocabulary as a JSON-able dict (what `save` writes to .json)."""
        return {
            "specials": list(self.specials),
            "tokens": list(self.tokens),
            "counts": list(self.counts),
            "tokenizer": None if self.tokenizer is None else self.tokenizer.get_config(),
        }

    @classmethod
    def from_config(cls, config):
        """A vocabulary from `get_config()` (or the language model's older
        `{"tokens": [...], "level": ...}`)."""
        if "level" in config:
            return cls(config["tokens"], level=config["level"])
        tok = config.get("tokenizer")
        return cls(config["tokens"], config.get("counts"), config["specials"],
                   None if tok is None else Tokenizer.from_config(tok))

    def save(self, path, with_counts=True, overwrite=False):
        """Writes the vocabulary, atomically.

        Args:
            path: a `.json` path: JSON with the specials and the tokenizer
                (any token); any other: one token a line (`token<TAB>count`
                with counts) after a `# specials=N` line, the tokenizer not
                kept (tokens must hold no tab or newline).
            with_counts: write the counts (text format).
            overwrite: replace an existing `path` (by default it is refused
                with `ExportError`).
        """
        check_target(path, overwrite)
        if os.fspath(path).endswith(".json"):
            atomic_write(path, json.dumps(self.get_config(), ensure_ascii=False))
            return
        bad = [t for t in self.tokens if any(ch in t for ch in "\n\r\t")]
        if bad:
            raise ValueError(f"tokens {bad[:5]} hold a tab or newline: save to a .json path")
        lines = [f"# specials={len(self.specials)}"]
        for t, c in zip(self.tokens, self.counts):
            lines.append(f"{t}\t{c}" if with_counts else t)
        atomic_write(path, "\n".join(lines) + "\n")

    @classmethod
    def load(cls, path):
        """Reads a file written by `save` (or a plain one-token-a-line list)."""
        if os.fspath(path).endswith(".json"):
            if not os.path.isfile(path):
                raise ValueError(f"vocabulary file {os.fspath(path)!r} does not exist")
            with open(path, encoding="utf-8") as f:
                return cls.from_config(json.load(f))
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
