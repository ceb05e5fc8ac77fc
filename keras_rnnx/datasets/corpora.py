"""Unlabelled text corpora that ship in packages (language-model training)."""
import os

from keras_rnnx.datasets.packaged import gensim_test_file

__all__ = ["lee_corpus_path", "load_corpus"]


def lee_corpus_path():
    """Path of gensim's `lee_background.cor` (300 news documents).

    Returns:
        The absolute path of the file.

    Raises:
        ValueError: gensim (a test dependency) is not installed or lacks the
            file; pass your own text file to `load_corpus` instead.

    Example:

    >>> os.path.basename(lee_corpus_path())
    'lee_background.cor'
    """
    return gensim_test_file("lee_background.cor")


def load_corpus(path=None, max_documents=None):
    """Documents (non-empty lines, stripped) of a text file.

    Args:
        path: a UTF-8 text file, one document a line (undecodable bytes
            become U+FFFD); default the Lee corpus (`lee_corpus_path()`).
        max_documents: keep at most this many documents (None or 0: all).

    Returns:
        A list of str, in file order.

    Raises:
        ValueError: `path` is not a file or holds no text.

    Example:

    >>> len(load_corpus())
    300
    """
    path = path or lee_corpus_path()
    if not os.path.isfile(path):
        raise ValueError(f"`path`: no such text file: {path!r}")
    with open(path, encoding="utf-8", errors="replace") as f:
        docs = [line.strip() for line in f if line.strip()]
    if not docs:
        raise ValueError(f"`path`: {path!r} holds no text")
    return docs[:max_documents] if max_documents else docs
