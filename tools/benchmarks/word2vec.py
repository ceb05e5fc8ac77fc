"""rnnx Word2Vec vs gensim.models.Word2Vec: words/second and quality.

Same corpus, same tokens (gensim gets the token lists our tokenizer makes, so
its time excludes tokenization while ours includes it: the vocabulary pass
and the one tokenizing pass are inside our time), same hyperparameters
(skip-gram, negative=5, window=5, sample=1e-3, min_count=5, epochs=5,
vector_size=100), gensim with 2 worker threads (`compare(gensim_workers=)`:
the GPU row, `tools/gpu/check.sh`, gives it every core of that machine),
ours with its defaults (`batch_size`, `workers`: one part per block, whose
products TensorFlow's intra-op threads run on both cores; on a GPU the
chunk loop runs there).

The corpus: the King James Bible from the Debian package `bible-kjv` (public
domain; `apt-get install bible-kjv`, dumped with `bible gen1:1-rev22:21`)
followed by gensim's `head500.noblanks.cor` (330k words of Wikipedia text,
stemmed), about 1.16M words. Set RNNX_W2V_CORPUS=path to use another file
instead. Without either (and with `--quick`) gensim's `lee_background.cor`
(60k words) is used.

Each of `--processes` fresh processes (default 3) trains both, in
alternating order (ours first in the first process, gensim first in the
next, ...), so both see the same load; the rows give the median of the
per-process ratios (and differences) with their range.
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


def compare(path, name, epochs=None, ours_first=True, gensim_workers=2):
    import gensim
    import numpy as np

    from keras_rnnx.word2vec import Word2Vec

    params = dict(PARAMS)
    if epochs:
        params["epochs"] = epochs
    data = _gensim_data()
    questions = os.path.join(data, "questions-words.txt")
    wordsim = os.path.join(data, "wordsim353.tsv")
    with open(path, encoding="utf-8") as f:
        lines = [ln.rstrip("\n") for ln in f]
    tokenizer = Word2Vec().tokenizer
    sents = []
    for i in range(0, len(lines), 4096):
        sents.extend(tokenizer.tokenize_python(lines[i:i + 4096]))
    words = sum(len(s) for s in sents)
    gparams = {k: v for k, v in params.items()}
    load = [round(os.getloadavg()[0], 1)]

    def train_ours():
        t0 = time.perf_counter()
        model = Word2Vec(seed=1, **params).fit(path)
        return model, time.perf_counter() - t0  # end to end: vocabulary pass, tokenizing, tracing, training

    def train_gensim():
        t0 = time.perf_counter()
        model = gensim.models.Word2Vec(sents, sg=1, hs=0, workers=gensim_workers, seed=1, **gparams)
        return model, time.perf_counter() - t0

    if ours_first:
        (ours, ours_sec), (g, gsec) = train_ours(), train_gensim()
    else:
        (g, gsec), (ours, ours_sec) = train_gensim(), train_ours()
    load.append(round(os.getloadavg()[0], 1))
    g_wps = words * params["epochs"] / gsec
    rows = [{
        "benchmark": f"{name}: train words/s ({words / 1e6:.2f}M words x {params['epochs']} epochs)",
        "ours": words * params["epochs"] / ours_sec, "peer": g_wps,
        "ratio": words * params["epochs"] / ours_sec / g_wps,
        "unit": "words/s end to end (ratio = ours/gensim, higher is better)",
        "ours_train_loop_words_per_s": round(ours.words_per_second),
        "vocab": f"{len(ours.wv)} vs {len(g.wv)}",
        "order": "ours first" if ours_first else "gensim first",
        "gensim_workers": gensim_workers,
        "load": "-".join(map(str, load)),
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
    g2 = gensim.models.Word2Vec(sents, sg=1, hs=0, workers=gensim_workers, seed=2, **gparams)
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


def _compare_in_process(path, name, epochs, ours_first):
    import json
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = (f"import json; from tools.benchmarks import word2vec; print('ROWS' + json.dumps("
            f"word2vec.compare({path!r}, {name!r}, epochs={epochs!r}, ours_first={ours_first!r}), default=float))")
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=3600, cwd=root)
    except subprocess.TimeoutExpired:
        return []
    for line in proc.stdout.splitlines():
        if line.startswith("ROWS"):
            return json.loads(line[4:])
    print(proc.stderr[-2000:])
    return []


def combine(runs):
    """One row per benchmark: medians of ours, peer and ratio over processes,
    the ratio's range and each process' load average in the notes."""
    import statistics

    runs = [r for r in runs if r]
    out = []
    for i, row in enumerate(runs[0] if runs else []):
        same = [r[i] for r in runs if len(r) > i and r[i]["benchmark"] == row["benchmark"]]
        ratios = [r["ratio"] for r in same]
        notes = {k: v for k, v in row.items()
                 if k not in ("benchmark", "ours", "peer", "ratio", "unit", "order", "load",
                              "ours_train_loop_words_per_s")}
        notes["processes"] = (f"median of {len(same)}, ratio {min(ratios):.3g} to {max(ratios):.3g}"
                              f" ({', '.join(f'{x:.3g}' for x in ratios)})")
        if "load" in row:
            notes["order"] = " / ".join(r["order"] for r in same)
            notes["load average before-after"] = " / ".join(r["load"] for r in same)
        out.append(dict(notes, benchmark=row["benchmark"], unit=row["unit"],
                        ours=statistics.median(r["ours"] for r in same),
                        peer=statistics.median(r["peer"] for r in same),
                        ratio=statistics.median(ratios)))
    return out


def run(args):
    big = None if args.quick else big_corpus()
    path, name = (big, "kjv+wiki500") if big else (os.path.join(_gensim_data(), "lee_background.cor"),
                                                  "lee_background")
    epochs = 2 if args.quick else None
    processes = getattr(args, "processes", None) or (1 if args.quick else 3)
    if processes <= 1:
        rows = compare(path, name, epochs=epochs)
    else:
        rows = combine([_compare_in_process(path, name, epochs, i % 2 == 0) for i in range(processes)])
    if not big and not args.quick:
        rows.append({"benchmark": "1M-word corpus", "ours": "", "peer": "", "ratio": "",
                     "unit": "", "notes": "skipped: apt-get install bible-kjv or set RNNX_W2V_CORPUS"})
    return rows
