"""Where installed packages keep the data files the loaders read.

One place locates package data: `package_dir` finds an installed package's
folder without importing it, `gensim_test_file` a file of gensim's test data
(`gensim/test/test_data/`), which the classification loaders and the Lee
corpus of `keras_rnnx.datasets.corpora` read.
"""
import importlib.util
import os

__all__ = ["package_dir", "gensim_test_file"]


def package_dir(package):
    """The folder of an installed package, found without importing it.

    Args:
        package: the top-level package name, e.g. "gensim".

    Returns:
        The absolute path of the package's folder.

    Raises:
        ValueError: the package is not installed (the message says how to
            install it).

    Example:

    >>> os.path.isdir(package_dir("gensim"))
    True
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            f"this data set needs the package {package!r}, which is not "
            f"installed; `pip install {package}`"
        )
    return list(spec.submodule_search_locations)[0]


def gensim_test_file(name):
    """The path of a file in gensim's packaged test data.

    Args:
        name: a file or folder name under `gensim/test/test_data/`, e.g.
            "lee_background.cor".

    Returns:
        The absolute path of that file (it exists).

    Raises:
        ValueError: gensim is not installed, or does not ship `name`.

    Example:

    >>> os.path.basename(gensim_test_file("lee_background.cor"))
    'lee_background.cor'
    """
    path = os.path.join(package_dir("gensim"), "test", "test_data", name)
    if not os.path.exists(path):
        raise ValueError(
            f"the installed gensim does not ship {name!r} (looked for {path})"
        )
    return path
