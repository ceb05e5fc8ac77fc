"""rnnx Word2Vec vs gensim.models.Word2Vec: words/second and quality.

Same corpus, same tokens (gensim gets the token lists our tokenizer makes, so
its time excludes tokenization while ours includes it: our pipeline tokenizes
in tf.data every epoch), same hyperparameters (skip-gram, negative=5,
window=5, sample=1e-3, min_count=5, epochs=5, vector_size=100), gensim with 2
worker threads.

Corpora: gensim's `lee_background.cor` (60k words), and a >= 1M-word corpus:
the King James Bible from the Debian package `bible-kjv` (public domain;
`apt-get install bible-kjv`, dumped with `bible gen1:1-rev22:21`) followed by
gensim's `head500.noblanks.cor` (330k words of Wikipedia text, stemmed),
about 1.15M words. Set RNNX_W2V_CORPUS=path to use another file instead.
"""
import os
import shutil
import subprocess
import tempfile
import time

SECTION = "word2vec: rnnx Word2Vec vs gensim (skip-gram, negative sampling)"

PARAMS = dict(vector_size=100, window=5, negative=5, sample=1e-3, min_count=5, epochs=5, alpha=0.025, min_alpha=1e-4)


def _gensim_data():
    import gensim

    return os.path.join(os.path.dirname(gensim.__file__), "test", "test_data")


def big_corpus():
    """Path of the >= 1M-word corpus (built once into the temp dir), or None."""
    env = os.environ.get("RNNX_W2V_CORPUS")
    if env:
        return env if os.path.isfile(env) else None
    out = os.path.join(tempfile.gettempdir(), "rnnx_kjv_wiki500.txt")
    if os.path.isfile(out):
        return out
    if not shutil.which("bible"):
        return None
    kjv = subprocess.run(["bible", "gen1:1-rev22:21"], capture_output=True, text=True, timeout=300).stdout
    with open(os.path.join(_gensim_data(), "head500.noblanks.cor"), encoding="utf-8") as f:
        wiki = f.read()
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(kjv)
        f.write(wiki)
    os.replace(tmp, out)
    return out


def compare(path, name, epochs=None, batch_size=2048):
    import gensim
    import numpy as np

    from keras_rnnx.word2vec import Word2Vec

    params = dict(PARAMS)
    if epochs:
        params["epochs"] = epochs
    data = _gensim_data()
    questions = os.path.join(data, "questions-words.txt")
    wordsim = os.path.join(data, "wordsim353.tsv")
    t0 = time.perf_counter()
    ours = Word2Vec(seed=1, batch_size=batch_size, **params).fit(path)
    ours_sec = time.perf_counter() - t0  # end to end: vocabulary pass, tracing, training
    with open(path, encoding="utf-8") as f:
        lines = [ln.rstrip("\n") for ln in f]
    sents = []
    for i in range(0, len(lines), 4096):
        sents.extend(ours.tokenizer.tokenize_python(lines[i:i + 4096]))
    words = sum(len(s) for s in sents)
    gparams = {k: v for k, v in params.items()}
    t0 = time.perf_counter()
    g = gensim.models.Word2Vec(sents, sg=1, hs=0, workers=2, seed=1, **gparams)
    gsec = time.perf_counter() - t0
    g_wps = words * params["epochs"] / gsec
    rows = [{
        "benchmark": f"{name}: train words/s ({words / 1e6:.2f}M words x {params['epochs']} epochs)",
        "ours": words * params["epochs"] / ours_sec, "peer": g_wps,
        "ratio": words * params["epochs"] / ours_sec / g_wps,
        "unit": "words/s end to end (ratio = ours/gensim, higher is better)",
        "ours_train_loop_words_per_s": round(ours.words_per_second),
        "vocab": f"{len(ours.wv)} vs {len(g.wv)}",
    }]
    a_ours = ours.wv.evaluate_word_analogies(questions)
    a_g = g.wv.evaluate_word_analogies(questions)
    n_q = len(a_ours[1][-1]["correct"]) + len(a_ours[1][-1]["incorrect"])
    rows.append({
        "benchmark": f"{name}: analogy accuracy (questions-words, {n_q} in-vocab questions)",
        "ours": a_ours[0], "peer": a_g[0], "ratio": a_ours[0] - a_g[0], "unit": "accuracy (ratio = difference)",
    })
    s_ours = ours.wv.evaluate_word_pairs(wordsim)
    s_g = g.wv.evaluate_word_pairs(wordsim)
    rows.append({
        "benchmark": f"{name}: WordSim353 Spearman (oov {s_ours[2]:.0f}%)",
        "ours": s_ours[1][0], "peer": float(s_g[1].statistic), "ratio": s_ours[1][0] - float(s_g[1].statistic),
        "unit": "Spearman rho (ratio = difference)",
    })
    # neighbour overlap: how many of gensim's top-10 neighbours we also find, over frequent words
    probe = [w for w in g.wv.index_to_key[50:150] if w in ours.wv]
    overlap = np.mean([
        len({w for w, _ in ours.wv.most_similar(p, topn=10)} & {w for w, _ in g.wv.most_similar(p, topn=10)}) / 10
        for p in probe
    ])
    # calibration: the same overlap between two gensim runs that differ only in seed
    g2 = gensim.models.Word2Vec(sents, sg=1, hs=0, workers=2, seed=2, **gparams)
    base = np.mean([
        len({w for w, _ in g2.wv.most_similar(p, topn=10)} & {w for w, _ in g.wv.most_similar(p, topn=10)}) / 10
        for p in probe
    ])
    rows.append({
        "benchmark": f"{name}: top-10 neighbour overlap with gensim seed 1 (words ranked 50-150)",
        "ours": float(overlap), "peer": float(base), "ratio": float(overlap / base) if base else "",
        "unit": "fraction (peer = gensim seed 2 vs seed 1)",
    })
    return rows


def run(args):
    rows = compare(os.path.join(_gensim_data(), "lee_background.cor"), "lee_background",
                   epochs=2 if args.quick else None)
    if not args.quick:
        big = big_corpus()
        if big:
            rows += compare(big, "kjv+wiki500")
        else:
            rows.append({"benchmark": "1M-word corpus", "ours": "", "peer": "", "ratio": "",
                         "unit": "", "notes": "skipped: apt-get install bible-kjv or set RNNX_W2V_CORPUS"})
    return rows
