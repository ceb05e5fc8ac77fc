"""`Vocabulary`: tokens and their ids, with configurable special tokens."""
import collections
import os

import keras
import numpy as np
import tensorflow as tf

from keras_rnnx._atomic import atomic_write
from keras_rnnx.text.lines import iter_lines
from keras_rnnx.text.tokenizer import Tokenizer

PAD, UNK = "[PAD]", "[UNK]"


def _check_count(name, value, minimum, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        expected = f"an int >= {minimum}" + (" or None" if allow_none else "")
        raise ValueError(f"{name} must be {expected}, got {value!r}")


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
