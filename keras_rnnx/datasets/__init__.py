"""Data that ships in packages: labelled text for classification
(`keras_rnnx.datasets.classification`), dates for the translator demo
(`keras_rnnx.datasets.dates`).

Nothing here downloads; see each module for its sources.
"""
from keras_rnnx.datasets.classification import (  # noqa: F401
    FORMATS,
    LANGUAGE_LOCALES,
    TASKS,
    TextDataset,
    load,
    load_language_id,
    load_newsgroups,
    load_polarity,
    read,
    read_csv,
    read_fasttext,
    read_folders,
)

__all__ = [
    "TextDataset", "load", "load_polarity", "load_newsgroups", "load_language_id",
    "read", "read_fasttext", "read_csv", "read_folders", "TASKS", "FORMATS",
    "LANGUAGE_LOCALES",
]
