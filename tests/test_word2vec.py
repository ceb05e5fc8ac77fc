"""Word2Vec end to end: planted structure, determinism, bad input, lee corpus, CLI."""
import os

import numpy as np
import pytest

from keras_rnnx import Word2Vec
from keras_rnnx.cli import main as cli_main
from keras_rnnx.text import iter_lines
from keras_rnnx.word2vec import data as sd


def _two_topics(n=150, seed=0):
    rng = np.random.default_rng(seed)
    animals = ["cat", "dog", "cow", "pig", "hen", "fox"]
    tools = ["saw", "drill", "hammer", "wrench", "plane", "chisel"]
    lines = []
    for i in range(n):
        group = animals if i % 2 else tools
        lines.append(" ".join(rng.choice(group, 8)))
    return lines, animals, tools


def test_planted_topics_separate():
    lines, animals, tools = _two_topics(300)
    model = Word2Vec(vector_size=16, window=3, min_count=1, sample=0, epochs=8, alpha=0.05,
                     batch_size=128, seed=3)
    wv = model.fit(lines).wv
    within = np.mean([wv.similarity(a, b) for g in (animals, tools) for a in g for b in g if a != b])
    across = np.mean([wv.similarity(a, b) for a in animals for b in tools])
    assert within > across + 0.1, (within, across)
    for w in animals:
        assert all(x in animals for x, _ in wv.most_similar(w, topn=3))
    assert len(model.loss_history) == 8 and model.loss_history[-1] < model.loss_history[0]


def test_deterministic_under_seed(tmp_path):
    lines, _, _ = _two_topics(60)
    path = tmp_path / "c.txt"
    path.write_text("\n".join(lines) + "\n")
    kw = dict(vector_size=8, window=2, min_count=1, epochs=1, batch_size=64, seed=5)
    a = Word2Vec(**kw).fit(str(path)).wv
    b = Word2Vec(**kw).fit(lines).wv  # file path and list give the same stream
    assert a.index_to_key == b.index_to_key
    np.testing.assert_allclose(a.vectors, b.vectors, rtol=1e-5, atol=1e-7)
    c = Word2Vec(**{**kw, "seed": 6}).fit(lines).wv
    assert not np.allclose(a.vectors, c.vectors)
    one = Word2Vec(**{**kw, "workers": 1}).fit(lines).wv  # the parts change only the rounding
    np.testing.assert_allclose(one.vectors, a.vectors, rtol=1e-4, atol=1e-6)


def test_fit_equals_a_loop_over_each_block():
    """`fit` trains each chunk's blocks in one call (a loop inside one
    `tf.function`); a hand-written loop that calls the step once per block,
    over the same public seams (`epoch_chunks`, `sgd_negative_sampling_step`
    with `block_signature`, gensim's learning-rate decay), gives bit-identical vectors and losses."""
    import tensorflow as tf

    from keras_rnnx.layers.skipgram import (AliasSampler, block_signature, sgd_negative_sampling_step,
                                            tile_size, unigram_probabilities)
    from keras_rnnx.word2vec import data as sd

    lines, _, _ = _two_topics(60)
    kw = dict(vector_size=8, window=2, min_count=1, epochs=2, batch_size=32, sample=0.05, seed=5,
              max_update_norm=1.0, workers=1, negative=3, alpha=0.05, min_alpha=0.001)
    model = Word2Vec(**kw).fit(lines)
    tokens, _, corpus = sd.counted_corpus_ids(sd.lines_dataset(lines), model.tokenizer)
    corpus = sd.restrict(corpus, tokens, model.vocabulary.tokens)
    counts = np.asarray(model.vocabulary.counts, np.float64)
    keep = sd.keep_probabilities(counts, kw["sample"])
    sampler = AliasSampler(unigram_probabilities(counts))
    v, d, w, t = len(counts), kw["vector_size"], kw["window"], tile_size(kw["window"])
    rng = np.random.default_rng(kw["seed"])
    syn0 = tf.Variable(((rng.random((v, d)) - 0.5) / d).astype(np.float32))
    syn1 = tf.Variable(np.zeros((v, d), np.float32))
    step = tf.function(lambda block: sgd_negative_sampling_step(syn0, syn1, block, 1.0, 1, 3),
                       input_signature=[block_signature(w, 3)])
    history, blocks = [], 0
    for epoch in range(2):
        losses = []
        for c in sd.epoch_chunks(corpus, keep_prob=keep, sampler=sampler, window=w, negative=3,
                                 block_size=32, seed=5, epoch=epoch):
            frac = np.minimum((epoch + c["progress"]) / 2, 1.0)
            lr = (0.05 - (0.05 - 0.001) * frac).astype(np.float32)
            for s, e in zip(c["bounds"][:-1], c["bounds"][1:]):
                losses.append(float(step({"words": c["words"][s:e + 2 * w], "weights": c["weights"][s:e],
                                          "negatives": c["negatives"][s // t:e // t], "lr": lr[s:e]})))
                blocks += 1
        history.append(float(np.mean(losses)))
    assert blocks > 2 * 4  # several blocks per chunk
    np.testing.assert_array_equal(model.wv.vectors, syn0.numpy())
    assert model.loss_history == history


def _interrupt_after_first_backup(folder, fit):
    """Runs `fit(on_epoch_end)` and interrupts it (KeyboardInterrupt, as
    Ctrl-C does) at the first epoch end at which `folder` holds a committed
    backup. Raised from the run's own callback, not from a watcher thread,
    so a loaded machine cannot let the run finish first."""

    def stop(epoch, logs, seconds):
        # a committed state file (not the hidden temporary one it is written
        # to before it is moved into place)
        if os.path.isdir(folder) and any(n.endswith(".json") and not n.startswith(".")
                                         for n in os.listdir(folder)):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(stop)


def test_killed_run_resumes_to_the_same_vectors(tmp_path):
    """A run interrupted after a committed epoch, started again, resumes from
    its backup (the restored epochs' losses are the backup's, not
    recomputed) and ends with the vectors of an uninterrupted run; a
    corrupt backup is a clear `backup_dir` error."""
    import json
    import shutil

    lines, _, _ = _two_topics(60)
    kw = dict(vector_size=8, window=2, min_count=1, epochs=8, batch_size=64, seed=5)
    want = Word2Vec(**kw).fit(lines)
    backup = tmp_path / "backup"
    _interrupt_after_first_backup(
        str(backup), lambda stop: Word2Vec(**kw).fit(lines, backup_dir=str(backup),
                                                      on_epoch_end=stop))
    [state_file] = [p for p in backup.iterdir()
                    if p.suffix == ".json" and not p.name.startswith(".")]
    shutil.copytree(backup, tmp_path / "corrupt")
    # mark the committed epochs' losses: a resumed run reports these
    state = json.loads(state_file.read_text())
    done = state["epoch"]
    assert 1 <= done < kw["epochs"]
    state["losses"] = [-1.0 - e for e in range(done)]
    state_file.write_text(json.dumps(state))
    got = Word2Vec(**kw).fit(lines, backup_dir=str(backup))
    assert got.loss_history[:done] == [-1.0 - e for e in range(done)]
    np.testing.assert_allclose(got.loss_history[done:], want.loss_history[done:], rtol=1e-5)
    np.testing.assert_allclose(got.wv.vectors, want.wv.vectors, rtol=1e-5, atol=1e-6)
    assert not backup.exists()
    corrupt = tmp_path / "corrupt"
    (corrupt / state_file.name).write_text("{not json")
    with pytest.raises(ValueError, match="backup_dir"):
        Word2Vec(**kw).fit(lines, backup_dir=str(corrupt))


def test_vocabulary_hand_checked():
    model = Word2Vec(min_count=2, epochs=1)
    vocab = model.build_vocab(["the cat sat, on the mat.", "The dog SAT"])
    assert vocab.tokens == ["the", "sat"] and vocab.counts == [3, 2]
    assert model.total_words == 9
    # fit counts in its one tokenizing pass: the same vocabulary as build_vocab's pass
    fitted = Word2Vec(min_count=2, epochs=1, vector_size=4).fit(
        (line for line in ["the cat sat, on the mat.", "The dog SAT"]))  # a generator: read once
    assert fitted.vocabulary.tokens == vocab.tokens and fitted.vocabulary.counts == vocab.counts
    assert fitted.total_words == 9 and fitted.wv.index_to_key == ["the", "sat"]


def test_build_vocab_is_fits_counting_pass(tmp_path):
    """`build_vocab` counts with `fit`'s own pass: the same vocabulary and
    `total_words` on a file whose lines a different reader would split
    otherwise (a lone CR inside a line, CRLF, U+2028), progress over every
    line and token, and `build_vocab` then `fit` trains exactly the vectors
    of `fit` alone."""
    lines, _, _ = _two_topics(40)
    path = tmp_path / "c.txt"
    path.write_bytes(("\n".join(lines) + "\ncat dog\rhen saw\r\ncow\u2028pig\n").encode())
    kw = dict(vector_size=8, window=2, min_count=2, epochs=2, batch_size=32, seed=5, lines_per_batch=7)
    seen = []
    model = Word2Vec(**kw)
    vocab = model.build_vocab(str(path), progress=lambda n, t: seen.append((n, t)))
    built = (list(vocab.tokens), list(vocab.counts), model.total_words)
    assert [n for n, _ in seen] == [7] * 6  # 42 lines, 7 a batch
    assert sum(t for _, t in seen) == model.total_words
    model.fit(str(path))
    alone = Word2Vec(**kw).fit(str(path))
    assert built == (alone.vocabulary.tokens, alone.vocabulary.counts, alone.total_words)
    assert model.wv.index_to_key == alone.wv.index_to_key
    np.testing.assert_array_equal(model.wv.vectors, alone.wv.vectors)
    assert model.loss_history == alone.loss_history


@pytest.mark.parametrize("block_bytes", [5, 64, 1 << 20])
def test_a_file_reads_as_iter_lines_reads_it(tmp_path, block_bytes):
    """A file's lines in `fit` are exactly `iter_lines`' (a CR inside a line
    kept for the tokenizer, trailing CRs dropped, empty lines kept), whatever
    the blocks it is read in; TensorFlow's `TextLineDataset` would glue
    "dog\rhen" into one word."""
    text = "cat dog\rhen saw\r\ncow\u2028pig\n\nlong line of many words here\r\r\n\rx\r\nend"
    for tail in ("", "\n", "\r\n"):
        path = tmp_path / f"c{len(tail)}.txt"
        path.write_bytes((text + tail).encode())
        got = [b.decode() for b in sd.lines_dataset(str(path), block_bytes=block_bytes).as_numpy_iterator()]
        assert got == list(iter_lines(str(path))), tail
    assert [b.decode() for b in sd.lines_dataset(str(path)).as_numpy_iterator()][0] == "cat dog\rhen saw"
    for name, raw in (("empty", b""), ("newline", b"\n"), ("cr", b"\r"), ("two", b"a\n\nb")):
        path = tmp_path / f"{name}.txt"
        path.write_bytes(raw)
        got = [b.decode() for b in sd.lines_dataset(str(path), block_bytes=block_bytes).as_numpy_iterator()]
        assert got == list(iter_lines(str(path))), name
    lines, _, _ = _two_topics(30)
    path = tmp_path / "corpus.txt"
    path.write_bytes(("\r\n".join(lines) + "\nbird dog\rhen cow\n").encode())
    kw = dict(vector_size=8, window=2, min_count=1, epochs=2, batch_size=32, seed=5)
    from_file = Word2Vec(**kw).fit(str(path))
    from_lines = Word2Vec(**kw).fit(list(iter_lines(str(path))))
    assert "hen" in from_file.wv.key_to_index and "doghen" not in from_file.wv.key_to_index
    assert from_file.wv.index_to_key == from_lines.wv.index_to_key
    np.testing.assert_array_equal(from_file.wv.vectors, from_lines.wv.vectors)


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        Word2Vec(min_count=1).fit([])
    with pytest.raises(ValueError, match="empty"):
        Word2Vec(min_count=1).fit(["", "  ...  "])
    with pytest.raises(ValueError, match="min_count=50 is above every token count"):
        Word2Vec(min_count=50).fit(["a b c a"])
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"good words here\nbad \xff\xfe bytes\n")
    with pytest.raises(ValueError, match="line 2.*not valid UTF-8"):
        Word2Vec(min_count=1).fit(str(bad))
    with pytest.raises(ValueError, match="vector_size"):
        Word2Vec(vector_size=0)
    with pytest.raises(ValueError, match="window"):
        Word2Vec(window=-1)
    with pytest.raises(ValueError, match="workers"):
        Word2Vec(workers=0)
    with pytest.raises(ValueError, match="not an existing file"):
        Word2Vec(min_count=1).fit("/no/such/corpus.txt")


@pytest.mark.slow
def test_lee_corpus_end_to_end_evaluations_agree_with_gensim(tmp_path):
    gensim = pytest.importorskip("gensim")
    data = os.path.join(os.path.dirname(gensim.__file__), "test", "test_data")
    out = str(tmp_path / "lee.txt")
    png = str(tmp_path / "lee.png")
    rc = cli_main([
        "word2vec", os.path.join(data, "lee_background.cor"), "--out", out, "--epochs", "2",
        "--vector-size", "32", "--quiet", "--plot", png, "--projector", str(tmp_path / "proj"),
    ])
    assert rc == 0 and os.path.getsize(png) > 1000
    g = gensim.models.KeyedVectors.load_word2vec_format(out)
    from keras_rnnx.word2vec.keyed_vectors import KeyedVectors

    ours = KeyedVectors.load_word2vec_format(out)
    assert g.index_to_key == ours.index_to_key and len(ours) > 1000
    assert ours.index_to_key[:3] == ["the", "to", "of"]
    questions = os.path.join(data, "questions-words.txt")
    wordsim = os.path.join(data, "wordsim353.tsv")
    score, sections = ours.evaluate_word_analogies(questions)
    gscore, gsections = g.evaluate_word_analogies(questions)
    assert score == pytest.approx(gscore) and sections[-1]["incorrect"] == gsections[-1]["incorrect"]
    p, s, oov = ours.evaluate_word_pairs(wordsim)
    gp, gs, goov = g.evaluate_word_pairs(wordsim)
    assert s[0] == pytest.approx(gs.statistic, abs=1e-6) and oov == pytest.approx(goov)
    # topical neighbours, not noise: the corpus is news about Australia
    assert cli_main(["word2vec-eval", out, "--analogies", questions, "--pairs", wordsim]) == 0


def test_cli_errors(tmp_path, capsys):
    assert cli_main(["word2vec", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "v.txt")]) == 2
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert cli_main(["word2vec", str(empty), "--out", str(tmp_path / "v.txt"), "--quiet"]) == 2
    assert "empty" in capsys.readouterr().err
    bad = tmp_path / "bad.vec"
    bad.write_text("not a vectors file\n")
    assert cli_main(["word2vec-eval", str(bad)]) == 2
    assert "word2vec format" in capsys.readouterr().err


def test_on_epoch_end_reports_each_trained_epoch_with_its_loss():
    lines, _, _ = _two_topics(40)
    seen = []
    model = Word2Vec(vector_size=8, window=2, min_count=1, epochs=3, batch_size=64, seed=2).fit(
        lines, on_epoch_end=lambda epoch, logs, seconds: seen.append((epoch, logs, seconds)))
    assert [e for e, _, _ in seen] == [1, 2, 3]
    np.testing.assert_allclose([logs["loss"] for _, logs, _ in seen], model.loss_history,
                               rtol=1e-6)
    assert all(seconds >= 0 for _, _, seconds in seen)
    with pytest.raises(ValueError, match="on_epoch_end"):
        Word2Vec(min_count=1, epochs=1).fit(lines, on_epoch_end="print")


def test_piped_word2vec_prints_one_plain_line_per_epoch(tmp_path):
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    lines, _, _ = _two_topics(40)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n")
    env = dict(os.environ, PYTHONPATH=root, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, "-m", "keras_rnnx_cli", "word2vec", str(corpus), "--out",
         str(tmp_path / "v.txt"), "--epochs", "2", "--vector-size", "8", "--min-count", "1"],
        capture_output=True, env=env, cwd=root, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert b"\r" not in proc.stdout and b"\r" not in proc.stderr
    out = proc.stdout.decode().splitlines()
    assert [l.split(":")[0] for l in out if l.startswith("epoch ")] == ["epoch 1/2", "epoch 2/2"]
    assert "words x 8 written to" in out[-1]
    quiet = subprocess.run(
        [sys.executable, "-m", "keras_rnnx_cli", "word2vec", str(corpus), "--out",
         str(tmp_path / "q.txt"), "--epochs", "2", "--vector-size", "8", "--min-count", "1",
         "--quiet"], capture_output=True, env=env, cwd=root, timeout=600)
    assert quiet.returncode == 0 and b"epoch " not in quiet.stdout


def test_progress_bar_advances_with_every_epoch(monkeypatch):
    """The bar moves as blocks train (not once at the end): its postfix
    names each epoch in turn and it ends at epochs x corpus words."""
    import tqdm as tqdm_module

    seen = []

    class Recording(tqdm_module.tqdm):
        def update(self, n=1):
            seen.append(("update", n))
            return super().update(n)

        def set_postfix(self, *args, **kwargs):
            seen.append(("epoch", kwargs.get("epoch")))
            return super().set_postfix(*args, **kwargs)

    monkeypatch.setattr(tqdm_module, "tqdm", Recording)
    lines, _, _ = _two_topics(200)
    model = Word2Vec(vector_size=8, window=2, min_count=1, epochs=3, batch_size=16,
                     lines_per_batch=8, seed=2).fit(lines, progress_bar=True)
    epochs = [v for k, v in seen if k == "epoch"]
    assert epochs == sorted(epochs) and set(epochs) == {1, 2, 3}
    updates = [n for k, n in seen if k == "update"]
    assert len(updates) > 3 and sum(updates) == model.total_words * 3
