"""Word embeddings: `Word2Vec` (skip-gram with negative sampling, gensim's
settings), `KeyedVectors` (gensim's evaluations and file format) and the
training blocks prepared in NumPy (`keras_rnnx.word2vec.data`)."""
from keras_rnnx.word2vec.keyed_vectors import KeyedVectors
from keras_rnnx.word2vec.word2vec import Word2Vec

__all__ = ["KeyedVectors", "Word2Vec"]
