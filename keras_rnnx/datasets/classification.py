"""Labelled text for classification: loaders for data that ships in packages.

No function here downloads anything. The built-in tasks read files that
installed packages carry:

* `load_polarity()` (sentiment): the 200 movie-review sentences (100
  positive, 100 negative, Pang & Lee) in gensim's test data,
  `gensim/test/test_data/pang_lee_polarity.cor`, one `__label__neg text` line
  each.
* `load_newsgroups()` (topic): the 200 Usenet posts (100 alt.atheism,
  100 sci.space) in gensim's `test_data/mini_newsgroup`, a zlib-compressed
  pickle of scikit-learn's `Bunch`. The headers (which name the newsgroup)
  are stripped by default, as scikit-learn's `remove=("headers",)` does.
* `load_language_id()` (language identification): short snippets of 2-5
  words drawn at random from Faker's per-locale lorem word lists for eleven
  languages, nine in Latin script (en, de, fr, it, es, nl, pl, cs, da) and two
  in Cyrillic (ru, uk, whose lists are translations of each other). The
  snippets are synthetic (random words, no grammar), and words recur between
  the splits; short snippets and words that several languages share (`a`,
  `de`, `in`, `je`...) keep it from being trivially separable.

Readers for user data in common layouts: `read_fasttext` (`__label__x text`
lines), `read_csv` (a label and a text column) and `read_folders` (one folder
per class, one document per file), all behind `read(path, format)`.

Every loader returns a `TextDataset`; `TextDataset.split(test_fraction, seed)`
is a stratified, deterministic train/test split.
"""
import csv
import io
import os
import pickle
import zlib

import numpy as np

from keras_rnnx.datasets.packaged import gensim_test_file, package_dir

__all__ = [
    "TextDataset",
    "stratified_split",
    "load",
    "load_polarity",
    "load_newsgroups",
    "load_language_id",
    "read",
    "read_fasttext",
    "read_csv",
    "read_folders",
    "TASKS",
    "FORMATS",
]

FORMATS = ("fasttext", "csv", "folders")

LANGUAGE_LOCALES = {
    "en": "en_US",
    "de": "de_DE",
    "fr": "fr_FR",
    "it": "it_IT",
    "es": "es_ES",
    "nl": "nl_NL",
    "pl": "pl_PL",
    "cs": "cs_CZ",
    "da": "da_DK",
    "ru": "ru_RU",
    "uk": "uk_UA",
}


class TextDataset:
    """Texts, integer labels and the class names they index.

    Args:
        texts: list of `str`, one document each.
        labels: integer class ids, one per text, in `[0, len(class_names))`.
        class_names: list of `str`, the name of each class id.
        name: a short name for reports.
        source: where the data came from (a path or a package file).
    """

    def __init__(self, texts, labels, class_names, name="dataset", source=""):
        texts = list(texts)
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        class_names = [str(c) for c in class_names]
        if len(texts) != len(labels):
            raise ValueError(
                f"`texts` and `labels` must have the same length; got "
                f"{len(texts)} texts and {len(labels)} labels"
            )
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("`texts` must be a list of str")
        if len(set(class_names)) != len(class_names):
            raise ValueError(f"`class_names` must be unique; got {class_names}")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise ValueError(
                f"`labels` must lie in [0, {len(class_names)}); got values in "
                f"[{labels.min()}, {labels.max()}]"
            )
        self.texts = texts
        self.labels = labels
        self.class_names = class_names
        self.name = name
        self.source = source
        self._indices = None

    def __len__(self):
        return len(self.texts)

    def __repr__(self):
        counts = ", ".join(
            f"{c}={n}" for c, n in zip(self.class_names, self.class_counts())
        )
        return f"TextDataset({self.name!r}, {len(self)} texts: {counts})"

    @property
    def num_classes(self):
        return len(self.class_names)

    def class_counts(self):
        """Number of texts in each class, in class-id order."""
        return np.bincount(self.labels, minlength=self.num_classes)

    def subset(self, indices, name=None):
        """The texts at `indices`, as a `TextDataset` whose `indices` are
        their positions in this set's original data (so a subset of a subset
        still names positions in the data it was loaded from)."""
        indices = np.asarray(indices, dtype=np.int64)
        sub = TextDataset(
            [self.texts[i] for i in indices],
            self.labels[indices],
            self.class_names,
            name=name or self.name,
            source=self.source,
        )
        sub.indices = self.indices[indices]
        return sub

    @property
    def indices(self):
        """Positions of these texts in the data they were loaded from
        (`arange(len(self))` for a loaded set; see `subset`)."""
        if getattr(self, "_indices", None) is None:
            self._indices = np.arange(len(self), dtype=np.int64)
        return self._indices

    @indices.setter
    def indices(self, value):
        self._indices = np.asarray(value, dtype=np.int64)

    def split(self, test_fraction=0.2, seed=0):
        """Stratified train/test split, the same for the same `seed`.

        Each class contributes `round(n * test_fraction)` texts to the test
        part (at least one when it has two or more), chosen by a NumPy
        generator seeded with `seed`; both parts keep the original order
        (`stratified_split`).

        Returns:
            `(train, test)`, two `TextDataset`s; their `indices` are
            positions in the loaded data.
        """
        if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float, np.floating)) \
                or not 0.0 < float(test_fraction) < 1.0:
            raise ValueError(f"`test_fraction` must be in (0, 1); got {test_fraction!r}")
        train, test = stratified_split(self.labels, test_fraction, seed, self.num_classes)
        return (
            self.subset(train, f"{self.name}/train"),
            self.subset(test, f"{self.name}/test"),
        )


def stratified_split(labels, fraction=0.2, seed=0, num_classes=None):
    """Positions `(kept, held_out)` of a stratified, deterministic split.

    Each class with two or more items gives `round(n * fraction)` of them
    (at least one, at most n - 1) to the held-out part, drawn by a NumPy
    generator seeded with `seed`; a class with one item stays in the kept
    part. Both index arrays are sorted. `TextDataset.split` (train/test) and
    `TextClassifier.fit` (train/validation) both split with this.

    Args:
        labels: integer class ids `[N]`.
        fraction: the held-out share, in (0, 1).
        seed: the generator seed.
        num_classes: the number of classes (default: max label + 1).

    Returns:
        Two sorted int64 arrays of positions that together cover `range(N)`.

    Example:

    >>> kept, held = stratified_split([0, 0, 0, 0, 1, 1, 1, 1], 0.25, seed=0)
    >>> len(held), sorted(set(kept) | set(held)) == list(range(8))
    (2, True)
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)) \
            or not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"`fraction` must be in (0, 1); got {fraction!r}")
    labels = np.asarray(labels, dtype=np.int64)
    if num_classes is None:
        num_classes = int(labels.max(initial=-1)) + 1
    rng = np.random.default_rng(seed)
    held = []
    for c in range(num_classes):
        idx = np.flatnonzero(labels == c)
        if len(idx) < 2:
            continue
        k = int(round(len(idx) * float(fraction)))
        k = min(max(k, 1), len(idx) - 1)
        held.extend(rng.permutation(idx)[:k].tolist())
    held = np.sort(np.asarray(held, dtype=np.int64))
    kept = np.setdiff1d(np.arange(len(labels)), held)
    return kept, held


# ----------------------------------------------------------------- packages


def load_polarity():
    """Sentiment: gensim's 200 Pang & Lee sentences, classes `neg`, `pos`."""
    path = gensim_test_file("pang_lee_polarity.cor")
    ds = read_fasttext(path)
    ds.name = "sentiment"
    return ds


class _BunchUnpickler(pickle.Unpickler):
    """Unpickles only what the newsgroup sample holds (a Bunch of arrays)."""

    _ALLOWED = {
        ("copy_reg", "_reconstructor"),
        ("copyreg", "_reconstructor"),
        ("__builtin__", "dict"),
        ("builtins", "dict"),
        ("__builtin__", "object"),
        ("builtins", "object"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
    }

    def find_class(self, module, name):
        if name == "Bunch" and module.startswith("sklearn"):
            return dict
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _strip_headers(text):
    head, sep, body = text.partition("\n\n")
    return body if sep else text


def load_newsgroups(strip_headers=True):
    """Topic: gensim's 200-post sample, classes `alt.atheism`, `sci.space`.

    Args:
        strip_headers: drop everything before the first blank line (the
            headers name the newsgroup, which would give the label away).
    """
    path = gensim_test_file("mini_newsgroup")
    with open(path, "rb") as f:
        raw = zlib.decompress(f.read())
    bunch = _BunchUnpickler(io.BytesIO(raw), encoding="latin1").load()
    texts = [str(t) for t in bunch["data"]]
    if strip_headers:
        texts = [_strip_headers(t) for t in texts]
    return TextDataset(
        texts,
        np.asarray(bunch["target"], dtype=np.int64),
        list(bunch["target_names"]),
        name="topic",
        source=path,
    )


def _lorem_words(locale):
    import importlib

    mod = importlib.import_module(f"faker.providers.lorem.{locale}")
    words = getattr(mod.Provider, "word_list", None)
    if not words:
        raise ValueError(f"Faker's lorem provider for {locale!r} has no word list")
    # unique, order kept; one-word entries only (a few lists hold phrases)
    return list(dict.fromkeys(w.strip() for w in words if w.strip() and len(w.split()) == 1))


def load_language_id(
    languages=None, samples_per_language=300, min_words=2, max_words=5, seed=0
):
    """Language identification from Faker's per-locale lorem word lists.

    Each text is `min_words..max_words` words drawn (uniformly, without
    replacement) from one language's list; see the module docstring for
    what that task is and is not.

    Args:
        languages: language codes to include (keys of `LANGUAGE_LOCALES`);
            default all eleven.
        samples_per_language: texts generated per language.
        min_words, max_words: the length range of each snippet, in words.
        seed: the generator seed; the same seed gives the same texts.
    """
    package_dir("faker")
    languages = list(LANGUAGE_LOCALES if languages is None else languages)
    unknown = [lang for lang in languages if lang not in LANGUAGE_LOCALES]
    if unknown or not languages:
        raise ValueError(
            f"`languages` must be a non-empty list of {sorted(LANGUAGE_LOCALES)}; "
            f"got {languages!r}"
        )
    if not 1 <= int(min_words) <= int(max_words):
        raise ValueError(
            f"need 1 <= `min_words` <= `max_words`; got {min_words}, {max_words}"
        )
    if int(samples_per_language) < 1:
        raise ValueError(
            f"`samples_per_language` must be >= 1; got {samples_per_language}"
        )
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for label, lang in enumerate(languages):
        words = _lorem_words(LANGUAGE_LOCALES[lang])
        for _ in range(int(samples_per_language)):
            n = int(rng.integers(min_words, max_words + 1))
            pick = rng.choice(len(words), size=min(n, len(words)), replace=False)
            texts.append(" ".join(words[i] for i in pick))
            labels.append(label)
    return TextDataset(
        texts, labels, languages, name="language", source="faker.providers.lorem"
    )


TASKS = {
    "sentiment": load_polarity,
    "topic": load_newsgroups,
    "language": load_language_id,
}


def load(name, **kwargs):
    """Loads a built-in task by name: one of `TASKS` (sentiment, topic, language)."""
    if name not in TASKS:
        raise ValueError(f"unknown data set {name!r}; expected one of {sorted(TASKS)}")
    return TASKS[name](**kwargs)


# ------------------------------------------------------------- user layouts


def _check_path(path, want_dir=False):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a str or os.PathLike; got {type(path).__name__}")
    path = os.fspath(path)
    if want_dir and not os.path.isdir(path):
        raise ValueError(f"`path` must be a folder with one sub-folder per class; got {path!r}")
    if not want_dir and not os.path.isfile(path):
        raise ValueError(f"`path` must be an existing file; got {path!r}")
    return path


def _read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", errors="replace")


def _from_named_labels(texts, names, name, source):
    class_names = sorted(set(names))
    index = {c: i for i, c in enumerate(class_names)}
    return TextDataset(texts, [index[n] for n in names], class_names, name, source)


def read_fasttext(path):
    """Reads fastText-style lines: `__label__pos __label__x? some text`.

    The first `__label__` prefix of each line is its class (extra labels are
    dropped from the text); blank lines are skipped; classes are sorted.
    """
    path = _check_path(path)
    texts, names = [], []
    for lineno, line in enumerate(_read_text(path).splitlines(), 1):
        tokens = line.split()
        if not tokens:
            continue
        labels = [t[len("__label__"):] for t in tokens if t.startswith("__label__")]
        if not tokens[0].startswith("__label__") or not labels[0]:
            raise ValueError(
                f"{path}:{lineno}: expected a line starting `__label__NAME text`; "
                f"got {line[:60]!r}"
            )
        texts.append(" ".join(t for t in tokens if not t.startswith("__label__")))
        names.append(labels[0])
    if not texts:
        raise ValueError(f"`path` {path!r} holds no labelled lines")
    return _from_named_labels(texts, names, os.path.basename(path), path)


def read_csv(path, label_column="label", text_column="text", delimiter=None):
    """Reads a CSV file with a header row naming a label and a text column.

    Args:
        path: the file.
        label_column, text_column: header names (or 0-based integer
            positions) of the two columns.
        delimiter: the field separator; default: sniffed (`,`, `;`, tab).
    """
    path = _check_path(path)
    content = _read_text(path)
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(content[:4096], delimiters=",;\t").delimiter
        except csv.Error:
            delimiter = ","
    rows = list(csv.reader(io.StringIO(content), delimiter=delimiter))
    if not rows:
        raise ValueError(f"`path` {path!r} is empty")
    header = [h.strip() for h in rows[0]]

    def column(col, arg):
        if isinstance(col, int):
            if not 0 <= col < len(header):
                raise ValueError(f"`{arg}` {col} is out of range for {len(header)} columns")
            return col
        if col not in header:
            raise ValueError(f"`{arg}` {col!r} is not a column of {path!r}; columns: {header}")
        return header.index(col)

    li, ti = column(label_column, "label_column"), column(text_column, "text_column")
    texts, names = [], []
    for lineno, row in enumerate(rows[1:], 2):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) <= max(li, ti):
            raise ValueError(f"{path}:{lineno}: expected {len(header)} columns; got {len(row)}")
        if not row[li].strip():
            raise ValueError(f"{path}:{lineno}: empty label")
        names.append(row[li].strip())
        texts.append(row[ti])
    if not texts:
        raise ValueError(f"`path` {path!r} holds no data rows")
    return _from_named_labels(texts, names, os.path.basename(path), path)


def read_folders(path):
    """Reads one sub-folder per class, each file in it one document.

    Hidden files and folders are skipped; classes are the sorted folder names.
    """
    path = _check_path(path, want_dir=True)
    texts, names = [], []
    classes = sorted(
        d for d in os.listdir(path)
        if not d.startswith(".") and os.path.isdir(os.path.join(path, d))
    )
    for c in classes:
        folder = os.path.join(path, c)
        for fname in sorted(os.listdir(folder)):
            fpath = os.path.join(folder, fname)
            if fname.startswith(".") or not os.path.isfile(fpath):
                continue
            texts.append(_read_text(fpath))
            names.append(c)
    if len(set(names)) < 2:
        raise ValueError(
            f"`path` {path!r} must hold at least two non-empty class folders; "
            f"found {sorted(set(names))}"
        )
    return _from_named_labels(texts, names, os.path.basename(os.path.normpath(path)), path)


def read(path, format="fasttext", **kwargs):
    """Reads labelled text in one of `FORMATS`: fasttext, csv or folders."""
    readers = {"fasttext": read_fasttext, "csv": read_csv, "folders": read_folders}
    if format not in readers:
        raise ValueError(f"`format` must be one of {FORMATS}; got {format!r}")
    return readers[format](path, **kwargs)
