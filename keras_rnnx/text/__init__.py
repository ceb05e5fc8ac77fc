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
from keras_rnnx._atomic import atomic_write  # noqa: F401  (public here too)
from keras_rnnx.text.lines import iter_lines
from keras_rnnx.text.text_to_ids import TextToIds
from keras_rnnx.text.tokenizer import (
    NORMALIZATIONS,
    TOKENIZER_KINDS,
    Tokenizer,
    stemmer_languages,
)
from keras_rnnx.text.vocabulary import PAD, UNK, Vocabulary

__all__ = [
    "Tokenizer", "Vocabulary", "TextToIds", "iter_lines", "stemmer_languages",
    "TOKENIZER_KINDS", "NORMALIZATIONS", "PAD", "UNK", "atomic_write",
]
