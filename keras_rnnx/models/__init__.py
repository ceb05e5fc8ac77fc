"""Ready-made models built from keras_rnnx layers.

* `text_classifier(...)`: a functional Keras model, token ids (or raw strings)
  -> embedding -> `BiDirectional` LSTMX/GRUX stack -> pooling over real steps
  -> softmax.
* `TextClassifier`: the model plus what it needs around it (vocabulary,
  tokenizer settings, class names): training from texts, per-class metrics,
  saving to a folder, export to SavedModel (raw strings in) and TFLite (ids
  in).
"""
from keras_rnnx.models.text_classifier import (  # noqa: F401
    TextClassifier,
    ids_model,
    text_classifier,
    with_string_input,
)

__all__ = ["text_classifier", "with_string_input", "ids_model", "TextClassifier"]
