"""Ready-made models built from keras_rnnx layers.

* `text_classifier(...)`: a functional Keras model, token ids (or raw strings)
  -> embedding -> `BiDirectional` LSTMX/GRUX stack -> pooling over real steps
  -> softmax.
* `TextClassifier`: the model plus what it needs around it (vocabulary,
  tokenizer settings, class names): training from texts, per-class metrics,
  saving to a folder, export to SavedModel (raw strings in) and TFLite (ids
  in).
* `Translator` (`keras_rnnx.models.translator`): the attention seq2seq
  translator behind `rnnx demo`.
* `LanguageModel` (`keras_rnnx.models.language_model`): a character or word
  language model with generation and its export.

`Translator` and `LanguageModel` are `keras.Model`s built with the functional
API in their `__init__`, on the `Task` base (`keras_rnnx.models.task`: default
compile, atomic `.keras` save); their vocabularies are in their configs.
"""
from keras_rnnx.models.text_classifier import (  # noqa: F401
    TextClassifier,
    ids_model,
    text_classifier,
    with_string_input,
)
from keras_rnnx.models.language_model import LanguageModel  # noqa: F401
from keras_rnnx.models.translator import Translator  # noqa: F401

__all__ = ["text_classifier", "with_string_input", "ids_model", "TextClassifier",
           "LanguageModel", "Translator"]
