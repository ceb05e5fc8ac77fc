"""`TextToIds`: a Keras layer from raw strings to padded token ids."""
import os

import keras
import tensorflow as tf

from keras_rnnx.text.tokenizer import Tokenizer
from keras_rnnx.text.vocabulary import PAD, UNK, Vocabulary, _check_count, _pad_to_unk


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
        config.pop("whitespace")  # always "collapse" here
        config.update({"vocabulary": list(self.vocabulary), "max_length": self.max_length})
        return config


@keras.saving.register_keras_serializable(package="keras_rnnx")
class CharactersToIds(TextToIds):
    """Maps raw strings to padded character ids, in the graph.

    `keras_rnnx.text.TextToIds` with `kind="characters"` fixed, kept so that
    `.keras` files saved with `keras_rnnx>CharactersToIds` load (new models
    use `TextToIds(kind="characters")`): in-graph cleaning (invalid UTF-8 ->
    U+FFFD, Unicode normalization, case folding), runs of whitespace
    collapsed to one space, then one token per Unicode code point, looked up
    in `vocabulary` (pad id 0, OOV id 1).

    Args:
        vocabulary: a `Vocabulary` or a token list starting "[PAD]", "[UNK]".
        lowercase, normalization: as in `keras_rnnx.text.Tokenizer`.
        max_length: None (pad to the longest) or truncate/pad to this length.

    Call arguments:
        inputs: string tensor `[B]` (or `[B, 1]`).

    Returns:
        int32 ids `[B, T]`, 0 after the end of each text.

    Example:

    >>> layer = CharactersToIds(["[PAD]", "[UNK]", "a", "b", " "], max_length=6)
    >>> layer(np.array(["Ab  c"])).numpy().tolist()
    [[2, 3, 4, 1, 0, 0]]
    """

    def __init__(self, vocabulary, lowercase=True, normalization="NFKC", max_length=None, **kwargs):
        for fixed in ("kind", "drop_punctuation"):
            kwargs.pop(fixed, None)
        super().__init__(vocabulary, kind="characters", lowercase=lowercase,
                         normalization=normalization, max_length=max_length, **kwargs)

    def get_config(self):
        config = super().get_config()
        for fixed in ("kind", "drop_punctuation"):
            config.pop(fixed, None)
        return config
