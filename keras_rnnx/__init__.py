"""keras_rnnx: recurrent sequence models for Keras 3 that ship.

Layers (GRU, LSTM, bidirectional, Bahdanau attention, SkipGram), decoding
(greedy, sampling, beam search as a tf.function) and exporters (SavedModel for
TF Serving, builtin-op TFLite) for the TensorFlow backend.

Importing the package registers every layer with Keras' serialization, so
`keras.saving.load_model("model.keras")` needs no `custom_objects`.
"""
import importlib as _importlib
import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

# public name -> module that defines it
_PUBLIC = {
    "LSTMCellX": "lstm",
    "LSTMX": "lstm",
    "GRUCellX": "gru",
    "GRUX": "gru",
    "BiDirectional": "bidirectional",
    "BahdanauAttention": "attention",
    "AttentionDecoderCell": "attention_decoder",
    "AttentionDecoder": "attention_decoder",
    "SkipGram": "skipgram",
    "Word2Vec": "word2vec",
    "LanguageModel": "language_model",
    "TextToIds": "text",
    "MaskedMeanPooling": "pooling",
    "MaskedMaxPooling": "pooling",
    "LastStepPooling": "pooling",
    "AttentionPooling": "pooling",
}

# Modules that register further Keras objects (layers used inside saved
# models) without exposing them at the package root.
_REGISTERING = ("seq2seq", "models/__init__")

__all__ = []
_here = _os.path.dirname(__file__)
for _name, _module in _PUBLIC.items():
    if _os.path.exists(_os.path.join(_here, _module + ".py")):
        globals()[_name] = getattr(
            _importlib.import_module(f"keras_rnnx.{_module}"), _name
        )
        __all__.append(_name)
for _module in _REGISTERING:
    if _os.path.exists(_os.path.join(_here, _module + ".py")):
        _importlib.import_module(
            "keras_rnnx." + _module.replace("/__init__", "").replace("/", ".")
        )
