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

The real labelled sets read files that Debian packages install, and each
loader names the package to `apt-get install` when they are missing:
`fortunes-topic`, `fortunes-language` and `fortunes-offensive` (fortune
cookies), `bible-genre` (a SWORD Bible module), `wordnet-supersense` and
`wordnet-pos` (WordNet's data files).

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
    "load_fortunes_topics",
    "load_fortunes_languages",
    "load_fortunes_offensive",
    "load_bible_genres",
    "read_fortune_file",
    "read_sword_ztext",
    "load_wordnet_supersenses",
    "read_wordnet_glosses",
    "load_wordnet_pos",
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


# ------------------------------------------------------- Debian packages

FORTUNES_DIR = "/usr/share/games/fortunes"
# English fortune files of Debian's `fortunes` package used as topics: the
# largest categories with a distinct subject
FORTUNE_TOPICS = ("computers", "definitions", "people", "politics", "science",
                  "songs-poems", "work", "zippy")
# language -> (Debian package, folder or files under FORTUNES_DIR)
FORTUNE_LANGUAGES = {
    "en": ("fortunes", ("art", "computers", "cookie", "definitions", "people", "politics",
                        "science", "songs-poems", "work", "wisdom", "platitudes")),
    "de": ("fortunes-de", "de"),
    "es": ("fortunes-es", "es"),
    "it": ("fortunes-it", "it"),
    "pt": ("fortunes-br", ("brasil",)),
    "ru": ("fortunes-ru", "ru"),
    "pl": ("fortunes-pl", "pl"),
    "cs": ("fortunes-cs", "cs"),
}


def read_fortune_file(path):
    """The entries of one fortune file: texts between lines holding only `%`.

    Entries are stripped; empty ones are skipped. Bytes that are not UTF-8
    are decoded as Latin-1 (a few old files). A file whose `strfile` index
    (`PATH.dat`: version, count, longest, shortest, flags, big-endian
    uint32 each) has the `STR_ROTATED` flag (4) is stored in ROT13, as
    offensive sections often are, and is decoded.
    """
    import codecs
    import struct

    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    rotated = False
    if os.path.isfile(path + ".dat"):
        with open(path + ".dat", "rb") as f:
            header = f.read(20)
        rotated = len(header) == 20 and bool(struct.unpack(">5I", header)[4] & 4)
    if rotated:
        text = codecs.encode(text, "rot13")
    entries, current = [], []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.strip() == "%":
            entries.append("\n".join(current).strip())
            current = []
        else:
            current.append(line)
    entries.append("\n".join(current).strip())
    return [e for e in entries if e]


def _package_path(name, package, folder=FORTUNES_DIR):
    """`folder/name`, a file or folder that Debian's `package` installs, or
    a `ValueError` that says which package to install."""
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        raise ValueError(
            f"this data set reads {path}, which Debian's package {package!r} installs; "
            f"`apt-get install {package}`"
        )
    return path


def _fortune_files(spec, package, folder):
    if isinstance(spec, str):  # a folder: every fortune file in it
        sub = _package_path(spec, package, folder)
        names = sorted(n for n in os.listdir(sub) if not n.endswith((".dat", ".u8")))
        return [os.path.join(sub, n) for n in names
                if os.path.isfile(os.path.join(sub, n)) and not os.path.islink(os.path.join(sub, n))]
    return [_package_path(n, package, folder) for n in spec]


def load_fortunes_topics(topics=FORTUNE_TOPICS, folder=FORTUNES_DIR):
    """Topic: English fortune cookies by category (Debian's `fortunes`).

    Each class is one fortune file (`computers`, `definitions`, `people`,
    `politics`, `science`, `songs-poems`, `work`, `zippy` by default): short
    informal texts (quotes, jokes, one-liners, verse) of a few to a few
    hundred words.

    Args:
        topics: the fortune file names to use as classes.
        folder: where the files are (default the Debian location).
    """
    texts, names = [], []
    for topic in topics:
        for entry in read_fortune_file(_package_path(topic, "fortunes", folder)):
            texts.append(entry)
            names.append(topic)
    ds = _from_named_labels(texts, names, "fortunes-topic", folder)
    return ds


def load_fortunes_languages(languages=None, per_language=1000, seed=0, folder=FORTUNES_DIR):
    """Language identification on real text: fortune cookies in 8 languages.

    English (`fortunes`), German (`fortunes-de`), Spanish (`fortunes-es`),
    Italian (`fortunes-it`), Brazilian Portuguese (`fortunes-br`), Russian
    (`fortunes-ru`), Polish (`fortunes-pl`) and Czech/Slovak
    (`fortunes-cs`): up to `per_language` entries of each, drawn with
    `seed`. Quotes and jokes hold names and loanwords of other languages,
    so a few texts are ambiguous.

    Args:
        languages: codes from `FORTUNE_LANGUAGES` (default all eight).
        per_language: the most entries taken per language.
        seed: the draw's seed.
        folder: where the fortune files are.
    """
    languages = list(FORTUNE_LANGUAGES if languages is None else languages)
    unknown = [lang for lang in languages if lang not in FORTUNE_LANGUAGES]
    if unknown or not languages:
        raise ValueError(f"`languages` must be a non-empty list of {sorted(FORTUNE_LANGUAGES)}; "
                         f"got {languages!r}")
    if isinstance(per_language, bool) or not isinstance(per_language, int) or per_language < 1:
        raise ValueError(f"`per_language` must be an int >= 1; got {per_language!r}")
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for label, lang in enumerate(languages):
        package, spec = FORTUNE_LANGUAGES[lang]
        entries = []
        for path in _fortune_files(spec, package, folder):
            entries.extend(read_fortune_file(path))
        entries = list(dict.fromkeys(entries))
        pick = np.sort(rng.permutation(len(entries))[:per_language])
        texts.extend(entries[i] for i in pick)
        labels.extend([label] * len(pick))
    return TextDataset(texts, labels, languages, name="fortunes-language", source=folder)


# language -> (package, folder of offensive fortunes, package, folder of the others), under
# FORTUNES_DIR. Debian's `fortunes-es` carries its offensive section in `es/off` itself
# (`fortunes-es-off` installs the same files elsewhere); Italian's is `fortunes-it-off`.
FORTUNE_OFFENSIVE = {
    "es": ("fortunes-es", "es/off", "fortunes-es", "es"),
    "it": ("fortunes-it-off", "off/it", "fortunes-it", "it"),
}


def load_fortunes_offensive(languages=None, seed=0, folder=FORTUNES_DIR):
    """Offensive or not: Spanish and Italian fortune cookies, two classes.

    Short informal texts (jokes, proverbs, one-liners; median 11 words in
    Spanish, 21 in Italian). Class `offensive`: every entry of the
    language's offensive section, the files its fortune package keeps apart
    so that `fortune` shows them only when asked (`fortune -o`): Spanish
    `es/off` of Debian's `fortunes-es` (crude, sexist and truckers'
    jokes and sayings, vulgar proverbs), Italian `off/it` of `fortunes-it-off`. Class `clean`:
    as many entries of the same language's other files (`es`, `it` of
    `fortunes-es`, `fortunes-it`), drawn with `seed`; an entry found in both
    sections counts as offensive. Each language is balanced, so the label
    is what a filter would decide, not which language the text is in. With
    the defaults: 4,672 texts (1,220 + 1,220 Spanish, 1,116 + 1,116 Italian).
    The packages' `copyright` files call the fortunes public domain; some
    entries are offensive by design.

    Args:
        languages: codes from `FORTUNE_OFFENSIVE` (default `es` and `it`).
        seed: the draw of the clean entries.
        folder: where the fortune files are (default the Debian location).
    """
    languages = list(FORTUNE_OFFENSIVE if languages is None else languages)
    unknown = [lang for lang in languages if lang not in FORTUNE_OFFENSIVE]
    if unknown or not languages:
        raise ValueError(f"`languages` must be a non-empty list of {sorted(FORTUNE_OFFENSIVE)}; "
                         f"got {languages!r}")
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for lang in languages:
        off_package, off_folder, package, clean_folder = FORTUNE_OFFENSIVE[lang]
        offensive, clean = [], []
        for path in _fortune_files(off_folder, off_package, folder):
            offensive.extend(read_fortune_file(path))
        for path in _fortune_files(clean_folder, package, folder):
            clean.extend(read_fortune_file(path))
        offensive = list(dict.fromkeys(offensive))
        seen = set(offensive)
        clean = [t for t in dict.fromkeys(clean) if t not in seen]
        pick = np.sort(rng.permutation(len(clean))[:len(offensive)])
        texts.extend(offensive)
        labels.extend([1] * len(offensive))
        texts.extend(clean[i] for i in pick)
        labels.extend([0] * len(pick))
    return TextDataset(texts, labels, ["clean", "offensive"], name="fortunes-offensive",
                       source=folder)


SWORD_DIR = "/usr/share/sword/modules/texts/ztext"
# OSIS book abbreviations of the 66 books, by genre
BIBLE_GENRES = {
    "law": "Gen Exod Lev Num Deut",
    "history": "Josh Judg Ruth 1Sam 2Sam 1Kgs 2Kgs 1Chr 2Chr Ezra Neh Esth",
    "wisdom": "Job Ps Prov Eccl Song",
    "prophets": "Isa Jer Lam Ezek Dan Hos Joel Amos Obad Jonah Mic Nah Hab Zeph Hag Zech Mal",
    "gospels": "Matt Mark Luke John Acts",
    "letters": "Rom 1Cor 2Cor Gal Eph Phil Col 1Thess 2Thess 1Tim 2Tim Titus Phlm Heb Jas "
               "1Pet 2Pet 1John 2John 3John Jude Rev",
}


def read_sword_ztext(module_dir):
    """Verses of a SWORD zText Bible module: a list of `(osis_chapter, text)`.

    The module's `ot`/`nt` `.bzs` (block index: offset, size, uncompressed
    size, uint32 each), `.bzv` (entry index: block, offset uint32, size
    uint16) and `.bzz` (zlib blocks) files are read directly; an entry
    holding `<chapter osisID="Gen.1" .../>` starts a chapter, the entries
    after it are its verses. OSIS markup and footnotes are removed.
    """
    import re
    import struct

    note = re.compile(r"<note\b.*?</note>", re.S)
    tag = re.compile(r"<[^>]+>")
    chapter_re = re.compile(r'<chapter\b[^>]*osisID="([^"]+)"')
    space_before = re.compile(r" ([,.;:!?])")  # left where a footnote was
    verses = []
    for part in ("ot", "nt"):
        stem = os.path.join(module_dir, part)
        if not os.path.exists(stem + ".bzv"):
            continue
        with open(stem + ".bzs", "rb") as f:
            bzs = f.read()
        with open(stem + ".bzv", "rb") as f:
            bzv = f.read()
        with open(stem + ".bzz", "rb") as f:
            bzz = f.read()
        blocks = [struct.unpack_from("<III", bzs, i) for i in range(0, len(bzs) - 11, 12)]
        cache, chapter = {}, None
        for i in range(0, len(bzv) - 9, 10):
            block, offset, size = struct.unpack_from("<IIH", bzv, i)
            if not size or block >= len(blocks):
                continue
            if block not in cache:
                start, length, _ = blocks[block]
                cache = {block: zlib.decompress(bzz[start:start + length])}
            raw = cache[block][offset:offset + size].decode("utf-8", errors="replace")
            found = chapter_re.search(raw)
            if found:
                chapter = found.group(1)
            text = space_before.sub(r"\1", " ".join(tag.sub("", note.sub(" ", raw)).split()))
            if chapter and text and not found:
                verses.append((chapter, text))
    if not verses:
        raise ValueError(f"no verses found in the SWORD module at {module_dir!r}")
    return verses


def load_bible_genres(module="engWEB2015eb", verses_per_text=8, folder=SWORD_DIR):
    """Long passages: Bible passages classified by the genre of their book.

    The World English Bible (Debian's `sword-text-web`; any zText module of
    the 66 books works, e.g. `engKJV2006eb` from `sword-text-kjv`) cut into
    passages of `verses_per_text` consecutive verses of one chapter (about
    200 words), labelled `law`, `history`, `wisdom`, `prophets`, `gospels`
    (with Acts) or `letters` (with Revelation); books outside the 66 are
    skipped.
    """
    path = os.path.join(folder, module)
    if not os.path.isdir(path):
        package = {"engWEB2015eb": "sword-text-web", "engKJV2006eb": "sword-text-kjv"}.get(
            module, "sword-text-web")
        raise ValueError(f"this data set reads the SWORD module {path}, which Debian's package "
                         f"{package!r} installs; `apt-get install {package}`")
    if isinstance(verses_per_text, bool) or not isinstance(verses_per_text, int) or verses_per_text < 1:
        raise ValueError(f"`verses_per_text` must be an int >= 1; got {verses_per_text!r}")
    genre = {book: g for g, books in BIBLE_GENRES.items() for book in books.split()}
    texts, names, current, current_chapter = [], [], [], None

    def flush():
        if current and current_chapter.split(".")[0] in genre:
            texts.append(" ".join(current))
            names.append(genre[current_chapter.split(".")[0]])

    for chapter, verse in read_sword_ztext(path):
        if chapter != current_chapter or len(current) == verses_per_text:
            flush()
            current, current_chapter = [], chapter
        current.append(verse)
    flush()
    order = list(BIBLE_GENRES)
    return TextDataset(texts, [order.index(n) for n in names], order, name="bible-genre",
                       source=path)


WORDNET_DIR = "/usr/share/wordnet"
# WordNet's lexicographer files (its `lexnames`), numbered as in the data files
WORDNET_LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
    "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group "
    "noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant "
    "noun.possession noun.process noun.quantity noun.relation noun.shape noun.state "
    "noun.substance noun.time verb.body verb.change verb.cognition verb.communication "
    "verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion "
    "verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()


def read_wordnet_glosses(path):
    """`(lexname, gloss)` for every synset of a WordNet 3.0 `data.POS` file.

    The gloss is the text after `|`: the definition and its quoted usage
    examples. The synset's own words are not part of it.
    """
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("  "):  # the licence header
                continue
            fields, bar, gloss = line.partition(" | ")
            parts = fields.split()
            if not bar or len(parts) < 2 or not parts[1].isdigit():
                continue
            lexfile = int(parts[1])
            if lexfile < len(WORDNET_LEXNAMES) and gloss.strip():
                out.append((WORDNET_LEXNAMES[lexfile], gloss.strip()))
    return out


def load_wordnet_supersenses(pos="noun", per_class=600, min_class=600, seed=0, folder=WORDNET_DIR):
    """Short texts, many classes: WordNet definitions by supersense.

    Each text is one synset's gloss (definition and usage examples, about 12
    words, Debian's `wordnet-base`) and its class the lexicographer file the
    synset belongs to (`noun.animal`, `noun.artifact`, `noun.feeling`...).
    Classes with fewer than `min_class` synsets are left out; up to
    `per_class` glosses of each other class are drawn with `seed`. With the
    defaults: 21 noun classes, 12,600 texts.

    Args:
        pos: `noun` or `verb` (the `data.POS` file read).
        per_class: the most glosses taken per class.
        min_class: the fewest synsets a class needs to be kept.
        seed: the draw's seed.
        folder: where WordNet's data files are (default the Debian location).
    """
    if pos not in ("noun", "verb"):
        raise ValueError(f"`pos` must be 'noun' or 'verb'; got {pos!r}")
    for arg, value in (("per_class", per_class), ("min_class", min_class)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{arg}` must be an int >= 1; got {value!r}")
    path = _package_path(f"data.{pos}", "wordnet-base", folder)
    by_class = {}
    for lexname, gloss in read_wordnet_glosses(path):
        by_class.setdefault(lexname, []).append(gloss)
    names = sorted(n for n, glosses in by_class.items() if len(glosses) >= min_class)
    if not names:
        raise ValueError(f"no class of {path} has `min_class`={min_class} synsets")
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for label, name in enumerate(names):
        glosses = by_class[name]
        pick = np.sort(rng.permutation(len(glosses))[:per_class])
        texts.extend(glosses[i] for i in pick)
        labels.extend([label] * len(pick))
    return TextDataset(texts, labels, names, name="wordnet-supersense", source=path)


WORDNET_POS = ("noun", "verb", "adj", "adv")


def load_wordnet_pos(per_class=5000, seed=0, folder=WORDNET_DIR):
    """Short texts, few classes: WordNet definitions by the part of speech defined.

    Each text is one synset's gloss (definition and usage examples, median
    11 words, Debian's `wordnet-base`), its class whether the synset
    is a `noun`, `verb`, `adj` or `adv` (the `data.POS` file it is in); the
    defined word itself is not part of the text. A gloss found under two
    parts of speech is left out. Up to `per_class` glosses of each part of
    speech are drawn with `seed`; WordNet 3.0 has 3,621 adverb synsets, so
    with the defaults: 18,620 texts (one adverb gloss is also another part
    of speech's). WordNet's licence allows use and redistribution with its
    copyright notice (`/usr/share/doc/wordnet-base/copyright`).

    Args:
        per_class: the most glosses taken per part of speech.
        seed: the draw's seed.
        folder: where WordNet's data files are (default the Debian location).
    """
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"`per_class` must be an int >= 1; got {per_class!r}")
    by_pos = {}
    for pos in WORDNET_POS:
        path = _package_path(f"data.{pos}", "wordnet-base", folder)
        by_pos[pos] = list(dict.fromkeys(g for _, g in read_wordnet_glosses(path)))
    counts = {}
    for glosses in by_pos.values():
        for g in glosses:
            counts[g] = counts.get(g, 0) + 1
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for label, pos in enumerate(WORDNET_POS):
        glosses = [g for g in by_pos[pos] if counts[g] == 1]
        pick = np.sort(rng.permutation(len(glosses))[:per_class])
        texts.extend(glosses[i] for i in pick)
        labels.extend([label] * len(pick))
    return TextDataset(texts, labels, list(WORDNET_POS), name="wordnet-pos", source=folder)


TASKS = {
    "sentiment": load_polarity,
    "topic": load_newsgroups,
    "language": load_language_id,
    "fortunes-topic": load_fortunes_topics,
    "fortunes-language": load_fortunes_languages,
    "fortunes-offensive": load_fortunes_offensive,
    "bible-genre": load_bible_genres,
    "wordnet-supersense": load_wordnet_supersenses,
    "wordnet-pos": load_wordnet_pos,
}


def load(name, **kwargs):
    """Loads a built-in task by name: one of `TASKS` (`sentiment`, `topic`, `language`, and
    the sets from Debian packages: `fortunes-topic`, `wordnet-pos`...)."""
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
