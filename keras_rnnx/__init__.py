"""keras_rnnx: recurrent sequence models for Keras 3 that ship.

Layers (GRU, LSTM, bidirectional, Bahdanau attention, SkipGram), decoding
(greedy, sampling, beam search as a tf.function) and exporters (SavedModel for
TF Serving, builtin-op TFLite) for the TensorFlow backend.
"""
import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

# Public names are imported lazily so that `import keras_rnnx` stays cheap and
# a module that fails to import does not take the others down with it.
_LAZY = {
    "LSTMCellX": "keras_rnnx.lstm",
    "LSTMX": "keras_rnnx.lstm",
    "GRUCellX": "keras_rnnx.gru",
    "GRUX": "keras_rnnx.gru",
    "BiDirectional": "keras_rnnx.bidirectional",
    "BahdanauAttention": "keras_rnnx.attention",
    "AttentionDecoderCell": "keras_rnnx.attention_decoder",
    "AttentionDecoder": "keras_rnnx.attention_decoder",
    "SkipGram": "keras_rnnx.skipgram",
    "Word2Vec": "keras_rnnx.word2vec",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keras_rnnx' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
