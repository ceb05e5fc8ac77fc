"""keras_rnnx: recurrent sequence models for Keras 3 that ship.

Layers (GRU, LSTM, bidirectional, Bahdanau attention, SkipGram), decoding
(greedy, sampling, beam search as a tf.function) and exporters (SavedModel for
TF Serving, builtin-op TFLite) for the TensorFlow backend.

Layout (each folder names a role):

* `keras_rnnx.layers`: the public Keras layers.
* `keras_rnnx.kernels`: the one seam between sequence layers and the kernels
  that run them (default loops, cuDNN, TFLite lowerings).
* `keras_rnnx.text`: tokenizer, vocabulary, in-graph text to ids.
* `keras_rnnx.decoding`: greedy, sampling and beam search strategies.
* `keras_rnnx.export`: SavedModel and TFLite export, the TFLite runner, verify.
* `keras_rnnx.models`: task models (text classifier, translator, language model).
* `keras_rnnx.word2vec`, `keras_rnnx.datasets`: embeddings and data.
* `keras_rnnx.optimizers`: `LazyAdam` (Adam on the rows a sparse gradient
  touches).

Importing the package registers every layer with Keras' serialization, so
`keras.saving.load_model("model.keras")` needs no `custom_objects`.
"""
import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_rnnx._version import __version__  # noqa: E402,F401

from keras_rnnx.layers import (  # noqa: E402
    AttentionDecoder,
    AttentionDecoderCell,
    AttentionPooling,
    BahdanauAttention,
    BiDirectional,
    GRUCellX,
    GRUX,
    LastStepPooling,
    LSTMCellX,
    LSTMX,
    MaskedMaxPooling,
    MaskedMeanPooling,
    SkipGram,
)
from keras_rnnx.text import TextToIds  # noqa: E402
from keras_rnnx.word2vec import Word2Vec  # noqa: E402
from keras_rnnx.models.language_model import LanguageModel  # noqa: E402
import keras_rnnx.models  # noqa: E402,F401  (registers the task models' layers)
import keras_rnnx.optimizers  # noqa: E402,F401  (registers LazyAdam)

__all__ = [
    "AttentionDecoder",
    "AttentionDecoderCell",
    "AttentionPooling",
    "BahdanauAttention",
    "BiDirectional",
    "GRUCellX",
    "GRUX",
    "LanguageModel",
    "LastStepPooling",
    "LSTMCellX",
    "LSTMX",
    "MaskedMaxPooling",
    "MaskedMeanPooling",
    "SkipGram",
    "TextToIds",
    "Word2Vec",
]
