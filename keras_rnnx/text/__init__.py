"""Text pipeline: in-graph tokenization, vocabularies, strings -> token ids.

Three pieces, each usable alone:

* `Tokenizer`: Unicode-safe tokenization in the TensorFlow graph with
  tensorflow-text (invalid UTF-8 is replaced by U+FFFD, optional NFKC
  normalization, case folding, whitespace or Unicode-script splitting).
  Optional stemming (`stem="english"`, ... with the `snowballstemmer` package)
  runs in Python: it is applied by `Tokenizer.tokenize` through
  `tf.numpy_function` (fine for vocabulary building and tf.data), but a model
  that must be exported should use `stem=None`.
* `Vocabulary`: the one vocabulary of every model, with configurable special
  tokens (classifier "[PAD]" 0, "[UNK]" 1 by default; the language model's
  `<pad> <s> </s> <unk>`; the translator's) read by role (`pad_id`, `oov_id`,
  `start_id`, `end_id`); tokens ordered by count (descending, ties by first
  occurrence), built streaming from corpora larger than memory, saved as plain
  text (or JSON), turned into an in-graph `keras.layers.StringLookup` with
  pad id 0 and OOV id 1, and `encode`/`decode` of one text with its tokenizer.
* `TextToIds`: a Keras layer mapping raw strings `[B]` to padded int32 ids
  `[B, T]`, serializable in `.keras` files and exportable to SavedModel (load
  the SavedModel after `import tensorflow_text`, which registers the ops).
* `PortableTokenizer`: a `Tokenizer`'s exact twin in core TensorFlow ops
  (normalization and case folding as tables built with tensorflow-text), for
  graphs that load on plain TensorFlow (the text classifier's SavedModel).
"""
from keras_rnnx._atomic import atomic_write  # noqa: F401  (public here too)
from keras_rnnx.text.lines import iter_lines
from keras_rnnx.text.portable import PortableTokenizer
from keras_rnnx.text.text_to_ids import CharactersToIds, TextToIds
from keras_rnnx.text.tokenizer import (
    NORMALIZATIONS,
    TOKENIZER_KINDS,
    WHITESPACE_MODES,
    Tokenizer,
    stemmer_languages,
)
from keras_rnnx.text.vocabulary import (
    LANGUAGE_MODEL_SPECIALS,
    LEVELS,
    PAD,
    UNK,
    Vocabulary,
    level_tokenizer,
)

__all__ = [
    "Tokenizer", "PortableTokenizer", "Vocabulary", "TextToIds", "CharactersToIds", "iter_lines", "stemmer_languages",
    "TOKENIZER_KINDS", "NORMALIZATIONS", "WHITESPACE_MODES", "PAD", "UNK",
    "LANGUAGE_MODEL_SPECIALS", "LEVELS", "level_tokenizer", "atomic_write",
]
