"""The public Keras layers: recurrent cells and sequence layers, the
mask-exact `BiDirectional` wrapper, attention, masked pooling, `SkipGram`, the
bag of hashed n-grams (`BagOfNgrams`, a wide & deep classifier's linear part) and
the preprocessing layers (`SanitizeIds`, `TokenDropout`; `TextToIds` lives with
the text pipeline in `keras_rnnx.text` and is exported here too).

Every layer here is registered for `.keras` saving under the package name
`keras_rnnx` (e.g. `"keras_rnnx>LSTMX"`).
"""
from keras_rnnx.layers.attention import BahdanauAttention
from keras_rnnx.layers.attention_decoder import AttentionDecoder, AttentionDecoderCell
from keras_rnnx.layers.bag_of_ngrams import BagOfNgrams
from keras_rnnx.layers.bidirectional import BiDirectional
from keras_rnnx.layers.gru import GRUCellX, GRUX
from keras_rnnx.layers.lstm import LSTMCellX, LSTMX
from keras_rnnx.layers.pooling import (
    AttentionPooling,
    LastStepPooling,
    MaskedMaxPooling,
    MaskedMeanPooling,
)
from keras_rnnx.layers.preprocessing import SanitizeIds, TokenDropout
from keras_rnnx.layers.skipgram import SkipGram
from keras_rnnx.text.text_to_ids import TextToIds

__all__ = [
    "AttentionDecoder", "AttentionDecoderCell", "AttentionPooling", "BagOfNgrams",
    "BahdanauAttention", "BiDirectional", "GRUCellX", "GRUX", "LastStepPooling", "LSTMCellX", "LSTMX",
    "MaskedMaxPooling", "MaskedMeanPooling", "SanitizeIds", "SkipGram", "TextToIds",
    "TokenDropout",
]
