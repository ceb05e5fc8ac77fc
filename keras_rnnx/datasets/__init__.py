"""Data that ships in packages: labelled text for classification
(`keras_rnnx.datasets.classification`), dates for the translator demo
(`keras_rnnx.datasets.dates`), unlabelled corpora for language models
(`keras_rnnx.datasets.corpora`); `keras_rnnx.datasets.packaged` locates the
files that installed packages ship.

Nothing here downloads; see each module for its sources.
"""
from keras_rnnx.datasets.classification import (  # noqa: F401
    FORMATS,
    LANGUAGE_LOCALES,
    TASKS,
    TextDataset,
    load,
    load_bible_genres,
    load_fortunes_languages,
    load_fortunes_offensive,
    load_fortunes_topics,
    load_language_id,
    read_fortune_file,
    read_sword_ztext,
    load_newsgroups,
    load_polarity,
    load_wordnet_pos,
    load_wordnet_supersenses,
    read_wordnet_glosses,
    read,
    read_csv,
    read_fasttext,
    read_folders,
    stratified_split,
)
from keras_rnnx.datasets.corpora import lee_corpus_path, load_corpus  # noqa: F401
from keras_rnnx.datasets.packaged import gensim_test_file, package_dir  # noqa: F401

__all__ = [
    "TextDataset", "load", "load_polarity", "load_newsgroups", "load_language_id",
    "load_fortunes_topics", "load_fortunes_languages", "load_fortunes_offensive",
    "load_bible_genres", "read_fortune_file",
    "read_sword_ztext", "load_wordnet_supersenses", "load_wordnet_pos", "read_wordnet_glosses",
    "read", "read_fasttext", "read_csv", "read_folders", "stratified_split", "TASKS", "FORMATS",
    "LANGUAGE_LOCALES", "load_corpus", "lee_corpus_path", "gensim_test_file", "package_dir",
]
