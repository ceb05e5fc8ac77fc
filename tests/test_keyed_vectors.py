"""KeyedVectors against gensim on the same vectors (no training needed)."""
import os

import numpy as np
import pytest

from keras_rnnx.word2vec.keyed_vectors import KeyedVectors

gensim = pytest.importorskip("gensim")
DATA = os.path.join(os.path.dirname(gensim.__file__), "test", "test_data")
QUESTIONS = os.path.join(DATA, "questions-words.txt")
WORDSIM = os.path.join(DATA, "wordsim353.tsv")


def _eval_words(limit=400):
    """Lower-cased words of the first questions of each section + wordsim."""
    words, seen = [], set()
    with open(QUESTIONS, encoding="utf-8") as f:
        per_section = 0
        for line in f:
            if line.startswith(":"):
                per_section = 0
                continue
            per_section += 1
            if per_section > 40:
                continue
            for w in line.lower().split():
                if w not in seen:
                    seen.add(w)
                    words.append(w)
    with open(WORDSIM, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("#"):
                for w in line.lower().split("\t")[:2]:
                    if w not in seen:
                        seen.add(w)
                        words.append(w)
    return words[:limit]


@pytest.fixture(scope="module")
def vectors_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    words = _eval_words()
    # planted structure: every analogy word pair shares a component, so
    # some questions are answered correctly and some not
    vecs = rng.normal(size=(len(words), 16)).astype(np.float32)
    kv = KeyedVectors(words, vecs)
    path = str(tmp_path_factory.mktemp("kv") / "vecs.txt")
    kv.save_word2vec_format(path)
    return kv, path


def test_text_and_binary_roundtrip_with_gensim(vectors_file, tmp_path):
    kv, path = vectors_file
    g = gensim.models.KeyedVectors.load_word2vec_format(path)
    assert g.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(g.vectors, kv.vectors)
    bin_path = str(tmp_path / "v.bin")
    kv.save_word2vec_format(bin_path, binary=True)
    g2 = gensim.models.KeyedVectors.load_word2vec_format(bin_path, binary=True)
    np.testing.assert_array_equal(g2.vectors, kv.vectors)
    ours = KeyedVectors.load_word2vec_format(bin_path)
    np.testing.assert_array_equal(ours.vectors, kv.vectors)
    # and gensim-written files load in ours
    gpath = str(tmp_path / "g.bin")
    g.save_word2vec_format(gpath, binary=True)
    back = KeyedVectors.load_word2vec_format(gpath, binary=True)
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(back.vectors, kv.vectors)


def test_most_similar_and_similarity_agree_with_gensim_and_brute_force(vectors_file):
    kv, path = vectors_file
    g = gensim.models.KeyedVectors.load_word2vec_format(path)
    a, b, c = kv.index_to_key[:3]
    ours = kv.most_similar(positive=[b, c], negative=[a], topn=5)
    theirs = g.most_similar(positive=[b, c], negative=[a], topn=5)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-5)
    unit = kv.vectors / np.linalg.norm(kv.vectors, axis=1, keepdims=True)
    q = unit[1] + unit[2] - unit[0]
    sims = unit @ (q / np.linalg.norm(q))
    sims[:3] = -np.inf
    assert ours[0][0] == kv.index_to_key[int(np.argmax(sims))]
    assert kv.similarity(a, b) == pytest.approx(float(g.similarity(a, b)), rel=1e-5)
    with pytest.raises(KeyError, match="not in vocabulary"):
        kv.most_similar("zzzz-not-a-word")


def test_evaluations_agree_with_gensim(vectors_file):
    kv, path = vectors_file
    g = gensim.models.KeyedVectors.load_word2vec_format(path)
    for restrict in (300000, 150):
        score, sections = kv.evaluate_word_analogies(QUESTIONS, restrict_vocab=restrict)
        gscore, gsections = g.evaluate_word_analogies(QUESTIONS, restrict_vocab=restrict)
        assert score == pytest.approx(gscore)
        assert [s["section"] for s in sections] == [s["section"] for s in gsections]
        for s, gs in zip(sections, gsections):
            assert s["correct"] == gs["correct"] and s["incorrect"] == gs["incorrect"]
    assert len(sections[-1]["correct"]) + len(sections[-1]["incorrect"]) > 50
    pearson, spearman, oov = kv.evaluate_word_pairs(WORDSIM)
    gp, gs, goov = g.evaluate_word_pairs(WORDSIM)
    assert pearson[0] == pytest.approx(gp.statistic, abs=1e-6)
    assert spearman[0] == pytest.approx(gs.statistic, abs=1e-6)
    assert oov == pytest.approx(goov)


def test_planted_analogy_is_solved():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(6, 32))
    gender = rng.normal(size=32)
    words = ["king", "queen", "man", "woman", "apple", "river"]
    vecs = np.stack([base[0], base[0] + gender, base[2], base[2] + gender, base[4], base[5]])
    kv = KeyedVectors(words, vecs.astype(np.float32))
    assert kv.most_similar(positive=["woman", "king"], negative=["man"], topn=1)[0][0] == "queen"


def test_wrong_format_files_raise_clear_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("hello world\nfoo 1 2\n")
    with pytest.raises(ValueError, match="not in word2vec format"):
        KeyedVectors.load_word2vec_format(str(bad))
    short = tmp_path / "short.txt"
    short.write_text("2 3\na 1 2 3\nb 1 2\n")
    with pytest.raises(ValueError, match="expected a word and 3 numbers"):
        KeyedVectors.load_word2vec_format(str(short), binary=False)
    with pytest.raises(ValueError, match="does not exist"):
        KeyedVectors.load_word2vec_format(str(tmp_path / "missing.txt"))
    kv = KeyedVectors(["a", "b", "c"], np.eye(3))
    noq = tmp_path / "q.txt"
    noq.write_text("a b c d\n")
    with pytest.raises(ValueError, match="section"):
        kv.evaluate_word_analogies(str(noq))
    pairs = tmp_path / "p.tsv"
    pairs.write_text("x\ty\t1.0\n")
    with pytest.raises(ValueError, match="fewer than 3"):
        kv.evaluate_word_pairs(str(pairs))
    with pytest.raises(ValueError, match="vectors must have shape"):
        KeyedVectors(["a"], np.zeros((2, 3)))


def test_projector_tsv_and_pca_plot(tmp_path):
    rng = np.random.default_rng(2)
    kv = KeyedVectors([f"w{i}" for i in range(10)], rng.normal(size=(10, 5)))
    v, m = str(tmp_path / "v.tsv"), str(tmp_path / "m.tsv")
    kv.save_projector_tsv(v, m)
    loaded = np.loadtxt(v, delimiter="\t")
    np.testing.assert_allclose(loaded, kv.vectors, rtol=1e-5, atol=1e-6)
    assert open(m).read().split() == kv.index_to_key
    png = str(tmp_path / "pca.png")
    xy = kv.plot_pca(kv.index_to_key, png)
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    centred = kv.vectors - kv.vectors.mean(0)
    # the first PC carries the most variance: brute-force check against SVD
    assert np.var(xy[:, 0]) >= np.var(xy[:, 1])
    assert np.var(xy[:, 0]) == pytest.approx(np.linalg.svd(centred, compute_uv=False)[0] ** 2 / 10, rel=1e-3)
    with pytest.raises(ValueError, match="at least 2"):
        kv.plot_pca(["w0", "nope"], png)
