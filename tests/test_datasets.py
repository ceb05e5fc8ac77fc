"""Loaders of labelled text: built-in tasks from package data, user layouts, splits."""
import numpy as np
import pytest

from keras_rnnx import datasets


def test_polarity_counts_and_labels():
    ds = datasets.load_polarity()
    assert len(ds) == 200 and ds.class_names == ["neg", "pos"]
    assert ds.class_counts().tolist() == [100, 100]
    # labels come from the `__label__` prefix, which is not left in the text
    assert not any("__label__" in t for t in ds.texts)
    assert ds.texts[0] == "simplistic , silly and tedious ."
    assert ds.labels[0] == 0


def test_newsgroups_counts_and_headers_stripped():
    ds = datasets.load_newsgroups()
    assert len(ds) == 200 and ds.class_names == ["alt.atheism", "sci.space"]
    assert ds.class_counts().tolist() == [100, 100]
    raw = datasets.load_newsgroups(strip_headers=False)
    assert sum("Newsgroups:" in t for t in raw.texts) > 150
    # the header that names the label is gone
    assert not any(t.startswith(("From:", "Path:", "Newsgroups:")) for t in ds.texts)
    assert not any("\nNewsgroups: " in t.split("\n\n")[0] for t in ds.texts)
    np.testing.assert_array_equal(ds.labels, raw.labels)


def test_language_id_is_deterministic_and_balanced():
    a = datasets.load_language_id(samples_per_language=20, seed=3)
    b = datasets.load_language_id(samples_per_language=20, seed=3)
    c = datasets.load_language_id(samples_per_language=20, seed=4)
    assert a.texts == b.texts and a.texts != c.texts
    assert a.class_names == list(datasets.LANGUAGE_LOCALES)
    assert a.class_counts().tolist() == [20] * 11
    lengths = [len(t.split()) for t in a.texts]
    assert min(lengths) >= 2 and max(lengths) <= 5
    from faker.providers.lorem.de_DE import Provider

    german = set(Provider.word_list)
    de = a.class_names.index("de")
    assert all(set(t.split()) <= german for t, y in zip(a.texts, a.labels) if y == de)
    with pytest.raises(ValueError, match="languages"):
        datasets.load_language_id(languages=["xx"])
    with pytest.raises(ValueError, match="min_words"):
        datasets.load_language_id(min_words=4, max_words=2)


def test_split_is_stratified_deterministic_and_disjoint():
    ds = datasets.load_polarity()
    train, test = ds.split(0.2, seed=5)
    train2, test2 = ds.split(0.2, seed=5)
    _, test3 = ds.split(0.2, seed=6)
    assert test.texts == test2.texts and train.texts == train2.texts
    assert test.texts != test3.texts
    assert len(train) == 160 and len(test) == 40
    assert test.class_counts().tolist() == [20, 20]
    assert not set(train.texts) & set(test.texts) - set(t for t in ds.texts if ds.texts.count(t) > 1)
    assert sorted(train.texts + test.texts) == sorted(ds.texts)
    with pytest.raises(ValueError, match="test_fraction"):
        ds.split(1.5)


def test_load_by_name():
    assert datasets.load("sentiment").name == "sentiment"
    with pytest.raises(ValueError, match="unknown data set"):
        datasets.load("spam")


def test_read_fasttext(tmp_path):
    path = tmp_path / "d.txt"
    path.write_bytes("__label__b hello world\n\n__label__a__x Bonjour \xe0 tous\n__label__b bad \xff byte\n".encode("latin-1"))
    ds = datasets.read_fasttext(str(path))
    assert ds.class_names == ["a__x", "b"]
    assert ds.labels.tolist() == [1, 0, 1]
    assert ds.texts[0] == "hello world"
    assert "\ufffd" in ds.texts[2]  # undecodable bytes are replaced, not fatal
    (tmp_path / "bad.txt").write_text("no label here\n")
    with pytest.raises(ValueError, match="__label__"):
        datasets.read_fasttext(str(tmp_path / "bad.txt"))
    with pytest.raises(ValueError, match="path"):
        datasets.read_fasttext(str(tmp_path / "missing.txt"))


def test_read_csv(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('text,label\n"hi, there",spam\nhello,ham\n\n"multi\nline",spam\n', encoding="utf-8")
    ds = datasets.read_csv(str(path))
    assert ds.class_names == ["ham", "spam"]
    assert ds.texts == ["hi, there", "hello", "multi\nline"]
    assert ds.labels.tolist() == [1, 0, 1]
    semi = tmp_path / "s.csv"
    semi.write_text("cat;body\nx;one\ny;two\n", encoding="utf-8")
    ds = datasets.read(str(semi), "csv", label_column="cat", text_column="body")
    assert ds.texts == ["one", "two"] and ds.class_names == ["x", "y"]
    with pytest.raises(ValueError, match="label_column"):
        datasets.read_csv(str(path), label_column="missing")


def test_read_folders(tmp_path):
    for cls, docs in {"sport": ["goal", "match"], "tech": ["cpu"]}.items():
        (tmp_path / cls).mkdir()
        for i, d in enumerate(docs):
            (tmp_path / cls / f"{i}.txt").write_text(d, encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    ds = datasets.read(str(tmp_path), "folders")
    assert ds.class_names == ["sport", "tech"]
    assert ds.texts == ["goal", "match", "cpu"] and ds.labels.tolist() == [0, 0, 1]
    with pytest.raises(ValueError, match="folder"):
        datasets.read_folders(str(tmp_path / "sport" / "0.txt"))
    with pytest.raises(ValueError, match="format"):
        datasets.read(str(tmp_path), "xml")


def test_dataset_validation():
    with pytest.raises(ValueError, match="same length"):
        datasets.TextDataset(["a"], [0, 1], ["x", "y"])
    with pytest.raises(ValueError, match="labels"):
        datasets.TextDataset(["a"], [3], ["x", "y"])
    with pytest.raises(TypeError, match="texts"):
        datasets.TextDataset([1], [0], ["x"])


# ------------------------------------------------- Debian package loaders


def test_read_fortune_file(tmp_path):
    path = tmp_path / "topic"
    path.write_bytes("First one,\n  two lines.\n%\n%\nSecond: caf\u00e9\n%\n".encode())
    assert datasets.read_fortune_file(str(path)) == ["First one,\n  two lines.", "Second: caf\u00e9"]
    path.write_bytes(b"latin-1 caf\xe9\n%\n")
    assert datasets.read_fortune_file(str(path)) == ["latin-1 caf\u00e9"]


def _strfile_index(path, entries, flags=0):
    """`path`.dat as `strfile` writes it: a version-2 header (big-endian uint32
    version, count, longest, shortest, flags), the delimiter, then offsets."""
    import struct

    lengths = [len(e.encode()) for e in entries]
    header = struct.pack(">5I", 2, len(entries), max(lengths), min(lengths), flags) + b"%\0\0\0"
    with open(str(path) + ".dat", "wb") as f:
        f.write(header + b"\0" * 4 * (len(entries) + 1))


def test_read_fortune_file_decodes_rot13_when_its_index_says_so(tmp_path):
    path = tmp_path / "off"
    entries = ["Nal sbby pna jevgr pbqr.", "Pnsé pba yrpur"]  # ROT13 of the texts below
    path.write_bytes(("\n%\n".join(entries) + "\n%\n").encode())
    assert datasets.read_fortune_file(str(path)) == entries  # no index: read as stored
    _strfile_index(path, entries, flags=0)
    assert datasets.read_fortune_file(str(path)) == entries
    _strfile_index(path, entries, flags=4)  # STR_ROTATED
    assert datasets.read_fortune_file(str(path)) == ["Any fool can write code.", "Café con leche"]


def test_fortunes_offensive_on_a_fixture_folder(tmp_path):
    def write(rel, entries, flags=None):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n%\n".join(entries) + "\n%\n")
        if flags is not None:
            _strfile_index(path, entries, flags)

    import codecs

    rot = [codecs.encode(t, "rot13") for t in ("un chiste grosero", "otro chiste feo")]
    write("es/off/varios.fortunes", rot, flags=4)  # Spanish: rotated, inside fortunes-es
    write("es/refranes.fortunes", ["refran uno", "refran dos", "refran tres", "un chiste grosero"])
    write("es/vida.fortunes", ["la vida es bella"])
    write("off/it/italia-o", ["battuta volgare"])  # Italian: plain text, fortunes-it-off
    write("it/italia", ["proverbio uno", "proverbio due"])
    ds = datasets.load_fortunes_offensive(folder=str(tmp_path), seed=0)
    assert ds.class_names == ["clean", "offensive"] and ds.class_counts().tolist() == [3, 3]
    off = [t for t, y in zip(ds.texts, ds.labels) if y == 1]
    assert off == ["un chiste grosero", "otro chiste feo", "battuta volgare"]
    clean = [t for t, y in zip(ds.texts, ds.labels) if y == 0]
    # two of the four Spanish clean entries (the one also offensive is not among them), one Italian
    assert set(clean[:2]) <= {"refran uno", "refran dos", "refran tres", "la vida es bella"}
    assert clean[2] in {"proverbio uno", "proverbio due"}
    assert ds.texts == datasets.load_fortunes_offensive(folder=str(tmp_path), seed=0).texts
    assert len({tuple(datasets.load_fortunes_offensive(folder=str(tmp_path), seed=s).texts)
                for s in range(8)}) > 1  # the seed draws the clean entries
    italian = datasets.load_fortunes_offensive(["it"], folder=str(tmp_path))
    assert italian.texts[0] == "battuta volgare" and italian.labels.tolist() == [1, 0]
    assert italian.texts[1] in {"proverbio uno", "proverbio due"}
    (tmp_path / "off/it/italia-o").unlink()
    (tmp_path / "off/it").rmdir()
    with pytest.raises(ValueError, match="apt-get install fortunes-it-off"):
        datasets.load_fortunes_offensive(folder=str(tmp_path))
    with pytest.raises(ValueError, match="`languages` must be a non-empty list"):
        datasets.load_fortunes_offensive(["fr"], folder=str(tmp_path))


def test_fortune_loaders_on_a_fixture_folder(tmp_path):
    for name, entries in {"computers": ["a byte", "a bug", "a RAM"],
                          "zippy": ["yow", "are we having fun yet"]}.items():
        (tmp_path / name).write_text("\n%\n".join(entries) + "\n%\n")
    ds = datasets.load_fortunes_topics(["computers", "zippy"], folder=str(tmp_path))
    assert ds.class_names == ["computers", "zippy"] and ds.class_counts().tolist() == [3, 2]
    with pytest.raises(ValueError, match="apt-get install fortunes"):
        datasets.load_fortunes_topics(["politics"], folder=str(tmp_path))
    with pytest.raises(ValueError, match="apt-get install fortunes-de"):
        datasets.load_fortunes_languages(["de"], folder=str(tmp_path))


def _ztext_module(folder, chapters):
    """A tiny zText module: one block, a chapter heading entry per chapter."""
    import struct
    import zlib

    text, index = b"", [(0, 0, 0), (0, 0, 0)]
    for osis, verses in chapters:
        for raw in [f'<chapter osisID="{osis}" sID="{osis}"/>'] + verses:
            data = raw.encode()
            index.append((0, len(text), len(data)))
            text += data
    block = zlib.compress(text)
    (folder / "ot.bzs").write_bytes(struct.pack("<III", 0, len(block), len(text)))
    (folder / "ot.bzz").write_bytes(block)
    (folder / "ot.bzv").write_bytes(b"".join(struct.pack("<IIH", *e) for e in index))


def test_sword_reader_and_bible_genres_on_a_fixture_module(tmp_path):
    module = tmp_path / "tiny"
    module.mkdir()
    _ztext_module(module, [
        ("Gen.1", ['<w lemma="x">In</w> <w>the</w> beginning<note>a note</note>.', "Then light."]),
        ("Ps.1", ["Blessed <w>is</w> the man.", "His delight.", "Like a tree."]),
        ("Tob.1", ["Not one of the 66."]),
    ])
    verses = datasets.read_sword_ztext(str(module))
    assert verses[0] == ("Gen.1", "In the beginning.") and len(verses) == 6
    ds = datasets.load_bible_genres("tiny", verses_per_text=2, folder=str(tmp_path))
    assert ds.texts == ["In the beginning. Then light.", "Blessed is the man. His delight.",
                        "Like a tree."]
    assert [ds.class_names[y] for y in ds.labels] == ["law", "wisdom", "wisdom"]
    with pytest.raises(ValueError, match="apt-get install sword-text-web"):
        datasets.load_bible_genres(folder=str(tmp_path))


def test_wordnet_supersenses_on_a_fixture_file(tmp_path):
    header = "  1 This software and database is being provided to you, the LICENSEE\n"
    lines = [
        "00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which is perceived  \n",
        "00015388 05 n 01 animal 0 001 @ 00004475 n 0000 | a living organism; \"an animal\"  \n",
        "00015568 05 n 01 pet 0 000 | a domesticated animal  \n",
        "00016000 05 n 01 cat 0 000 | a small feline  \n",
        "02700000 06 n 01 car 0 000 | a motor vehicle  \n",
        "02700001 06 n 01 bus 0 000 | a large vehicle  \n",
    ]
    (tmp_path / "data.noun").write_text(header + "".join(lines))
    assert datasets.read_wordnet_glosses(str(tmp_path / "data.noun"))[1] == (
        "noun.animal", 'a living organism; "an animal"')
    ds = datasets.load_wordnet_supersenses(per_class=2, min_class=2, folder=str(tmp_path))
    assert ds.class_names == ["noun.animal", "noun.artifact"]  # noun.Tops has 1 synset
    assert ds.class_counts().tolist() == [2, 2]
    assert set(ds.texts[2:]) == {"a motor vehicle", "a large vehicle"}
    with pytest.raises(ValueError, match="apt-get install wordnet-base"):
        datasets.load_wordnet_supersenses(pos="verb", folder=str(tmp_path))
    with pytest.raises(ValueError, match="`per_class` must be an int >= 1"):
        datasets.load_wordnet_supersenses(per_class=0, folder=str(tmp_path))


def test_wordnet_pos_on_fixture_files(tmp_path):
    rows = {
        "noun": ["00015388 05 n 01 animal 0 000 | a living organism", "02700000 06 n 01 car 0 000 | a motor vehicle",
                 "02700001 06 n 01 go 0 000 | a turn to play"],
        "verb": ["00001740 29 v 01 breathe 0 000 | draw air into the lungs",
                 "00002000 38 v 01 go 0 000 | a turn to play"],  # the same gloss as a noun's
        "adj": ["00001740 00 a 01 able 0 000 | having the necessary means"],
        "adv": ["00001740 02 r 01 a_cappella 0 000 | without musical accompaniment"],
    }
    for pos, lines in rows.items():
        (tmp_path / f"data.{pos}").write_text(
            "  1 This software and database is being provided to you\n" + "\n".join(lines) + "\n")
    ds = datasets.load_wordnet_pos(folder=str(tmp_path))
    assert ds.class_names == ["noun", "verb", "adj", "adv"]
    assert ds.class_counts().tolist() == [2, 1, 1, 1]  # "a turn to play" is under two
    assert ds.texts == ["a living organism", "a motor vehicle", "draw air into the lungs",
                        "having the necessary means", "without musical accompaniment"]
    assert datasets.load_wordnet_pos(per_class=1, folder=str(tmp_path)).class_counts().tolist() \
        == [1, 1, 1, 1]
    with pytest.raises(ValueError, match="`per_class` must be an int >= 1"):
        datasets.load_wordnet_pos(per_class=True, folder=str(tmp_path))
    (tmp_path / "data.adv").unlink()
    with pytest.raises(ValueError, match="apt-get install wordnet-base"):
        datasets.load_wordnet_pos(folder=str(tmp_path))


def _installed(name):
    try:
        return datasets.load(name)
    except ValueError as e:
        if "apt-get install" in str(e):
            pytest.skip(f"Debian package not installed: {e}")
        raise


@pytest.mark.parametrize("name", ["fortunes-topic", "fortunes-language", "bible-genre",
                                  "wordnet-supersense"])
def test_installed_package_sets(name):
    ds = _installed(name)
    assert len(ds) > 4000 and ds.num_classes >= 6 and min(ds.class_counts()) > 400
    assert all(t.strip() for t in ds.texts)


def test_installed_fortunes_offensive():
    ds = _installed("fortunes-offensive")
    # Debian 12: 1,220 Spanish (fortunes-es 1.36) and 1,116 Italian (fortunes-it-off 1.99)
    # offensive entries once duplicates are dropped, each matched by as many clean ones
    assert ds.class_counts().tolist() == [2336, 2336]
    off = [t for t, y in zip(ds.texts, ds.labels) if y == 1]
    assert len(set(off)) == len(off) and not set(off) & set(ds.texts[i] for i in
                                                          np.flatnonzero(ds.labels == 0))
    # the Spanish section is stored in ROT13: decoded, its texts hold common Spanish words
    words = " ".join(off[:1220]).lower().split()
    assert words.count("que") > 100 and words.count("qhr") == 0


def test_installed_wordnet_pos():
    ds = _installed("wordnet-pos")
    # WordNet 3.0: 3,621 adverb synsets, one of whose glosses is also a noun's or an adjective's
    assert ds.class_counts().tolist() == [5000, 5000, 5000, 3620]
    assert len(set(ds.texts)) == len(ds) and all(t.strip() for t in ds.texts)
