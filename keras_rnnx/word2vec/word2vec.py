"""Word2Vec: skip-gram with negative sampling, trained with TensorFlow.

Hyperparameters and conventions are gensim's (`vector_size`, `window`,
`negative`, `ns_exponent`, `sample`, `min_count`, `max_vocab_size`, `epochs`,
`alpha`, `min_alpha`, `seed`, `workers`), so runs are comparable. The corpus
is tokenized once in tf.data and held as word ids; each epoch's training
blocks are prepared in NumPy a chunk of lines at a time
(`keras_rnnx.word2vec.data.epoch_chunks`) on a background thread while
TensorFlow trains the previous chunk. One `tf.function` call trains a whole
chunk (`sgd_negative_sampling_chunk`: a loop over its blocks in the graph,
so the chunk's arrays are handed over once and nothing returns to Python
between blocks). A block is trained with one gather per table, small dense
products over tiles of consecutive windows that share their negatives, and
one sparse update per table (`sgd_negative_sampling_step`).
"""
import os
import queue
import threading
import time

import numpy as np
import tensorflow as tf

from keras_rnnx.word2vec import data as sd
from keras_rnnx._atomic import atomic_write
from keras_rnnx.commands._args import utf8_problem
from keras_rnnx.word2vec.keyed_vectors import KeyedVectors
from keras_rnnx.layers.skipgram import (
    AliasSampler,
    SkipGram,
    chunk_signature,
    sgd_negative_sampling_chunk,
    unigram_probabilities,
)
from keras_rnnx.text import Tokenizer, Vocabulary, iter_lines


def _check(name, value, kind, minimum=None):
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if ok and minimum is not None:
        ok = value >= minimum
    if not ok:
        expected = f"{'an int' if kind is int else 'a number'}" + (f" >= {minimum}" if minimum is not None else "")
        raise ValueError(f"{name} must be {expected}, got {value!r}")


class Word2Vec:
    """Skip-gram word2vec with negative sampling (gensim's conventions).

    Args:
        vector_size: embedding size.
        window: maximum distance between centre and context words (each
            position draws a reduced window, as gensim).
        negative: negatives per pair, drawn from `count ** ns_exponent`.
        ns_exponent: exponent of the negative distribution.
        sample: frequent-word subsampling threshold (0 disables).
        min_count: ignore words seen fewer times.
        max_vocab_size: keep at most this many words (most frequent).
        epochs: passes over the corpus.
        alpha, min_alpha: learning rate, decayed linearly over training.
        batch_size: centre words per training block (each with up to
            `2 * window` contexts, rounded down to a multiple of the tile of
            max(16, 2 * window) words); the updates of a block are computed together and applied
            at once.
        seed: seeds initialisation and the example stream.
        tokenizer: a `keras_rnnx.text.Tokenizer`; default: whitespace
            split, case folding, NFKC, punctuation dropped.
        workers: parts of each block computed concurrently (threads). The
            result is the same for any value up to floating-point summation
            order, and for one value the same on every run with the same
            seed (unlike gensim's workers, whose threads race). Each part's
            products already run on every core through TensorFlow's
            intra-op threads, so more parts only pay off on machines with
            many cores (on 2 cores, 1 part trains fastest).
        lines_per_batch: lines tokenized together (the one tokenizing pass).
        max_update_norm: clip the norm of each word's summed update per
            block (None: plain sum). Guards tiny vocabularies, where the same
            pairs repeat many times in one block, against divergence.

    Example:

    >>> corpus = ["the cat sat on the mat", "the dog sat on the rug"] * 20
    >>> model = Word2Vec(vector_size=8, min_count=1, epochs=1, seed=1)
    >>> model = model.fit(corpus)
    >>> model.wv.most_similar("cat", topn=1)[0][0] in model.wv
    True
    """

    def __init__(self, vector_size=100, window=5, negative=5, ns_exponent=0.75, sample=1e-3,
                 min_count=5, max_vocab_size=None, epochs=5, alpha=0.025, min_alpha=1e-4,
                 batch_size=4096, seed=1, tokenizer=None, workers=1, lines_per_batch=1024, max_update_norm=1.0):
        _check("vector_size", vector_size, int, 1)
        _check("window", window, int, 1)
        _check("negative", negative, int, 1)
        _check("ns_exponent", ns_exponent, (int, float))
        _check("sample", sample, (int, float), 0)
        _check("min_count", min_count, int, 1)
        if max_vocab_size is not None:
            _check("max_vocab_size", max_vocab_size, int, 1)
        _check("epochs", epochs, int, 1)
        _check("alpha", alpha, (int, float), 0)
        _check("min_alpha", min_alpha, (int, float), 0)
        _check("batch_size", batch_size, int, 1)
        _check("seed", seed, int, 0)
        _check("workers", workers, int, 1)
        _check("lines_per_batch", lines_per_batch, int, 1)
        if tokenizer is not None and not isinstance(tokenizer, Tokenizer):
            raise TypeError(f"tokenizer must be a keras_rnnx.text.Tokenizer, got {type(tokenizer).__name__}")
        self.vector_size = vector_size
        self.window = window
        self.negative = negative
        self.ns_exponent = float(ns_exponent)
        self.sample = float(sample)
        self.min_count = min_count
        self.max_vocab_size = max_vocab_size
        self.epochs = epochs
        self.alpha = float(alpha)
        self.min_alpha = float(min_alpha)
        self.batch_size = batch_size
        self.seed = seed
        self.tokenizer = tokenizer or Tokenizer(kind="whitespace", drop_punctuation=True)
        self.workers = workers
        self.lines_per_batch = lines_per_batch
        if max_update_norm is not None:
            _check("max_update_norm", max_update_norm, (int, float), 0)
        self.max_update_norm = max_update_norm
        self.vocabulary = None
        self.layer = None
        self.wv = None
        self.total_words = 0
        self.train_seconds = 0.0
        self.loss_history = []

    # ---------------------------------------------------------------- vocab
    def build_vocab(self, corpus, progress=None):
        """Counts the words of the corpus and sets the vocabulary (and
        `total_words`): the pass `fit` begins with, so `fit` on the same
        corpus builds the same vocabulary. Like `fit`, it holds the corpus'
        word ids while it counts (4 bytes a word).

        Args:
            corpus: as in `fit`.
            progress: optional callable `progress(lines, tokens)`, called
                after each batch of `lines_per_batch` lines with the lines
                and tokens it counted.

        Returns:
            The `keras_rnnx.text.Vocabulary` (no special tokens; ids by
            count, ties in order of first appearance).
        """
        vocab, _, _ = self._scan(corpus, progress)
        return vocab

    def _scan(self, corpus, progress=None):
        """The one tokenizing pass (`data.counted_corpus_ids`): sets the
        vocabulary from its counts and returns it with every distinct token
        and the corpus' ids over those tokens."""
        tokens, counts, corpus_ids = sd.counted_corpus_ids(self._lines(corpus), self.tokenizer,
                                                           self.lines_per_batch, progress)
        if corpus_ids.raw_total == 0:
            raise ValueError("corpus is empty: no tokens found")
        self.vocabulary = Vocabulary.from_counts(
            dict(zip(tokens, counts.tolist())), min_count=self.min_count, max_size=self.max_vocab_size,
            specials=(),
        )
        self.total_words = corpus_ids.raw_total
        return self.vocabulary, tokens, corpus_ids

    def _lines(self, corpus):
        if isinstance(corpus, (str, os.PathLike)):
            path = os.fspath(corpus)
            if not os.path.isfile(path) or utf8_problem(path):
                for _ in iter_lines(path, "corpus"):  # raises naming the path (and line)
                    pass
            return sd.lines_dataset(path)
        return sd.lines_dataset(list(iter_lines(corpus, "corpus")))

    # ---------------------------------------------------------------- train
    def fit(self, corpus, progress_bar=False, backup_dir=None, on_epoch_end=None):
        """Builds the vocabulary and trains.

        Args:
            corpus: a text file path (one sentence or document a line; UTF-8)
                or an iterable of strings.
            progress_bar: show a tqdm bar with words per second.
            backup_dir: optional folder for a training backup committed
                atomically after every epoch. A run killed part-way and
                started again with the same corpus and settings resumes after
                its last completed epoch and ends with the same vectors as an
                uninterrupted run; the backup is removed when training ends.
            on_epoch_end: optional callable `on_epoch_end(epoch, logs,
                seconds)` called after each epoch this run trains, with the
                1-based epoch, `{"loss": mean loss of the epoch}` and the
                epoch's wall time (`rnnx word2vec` prints a line with it when
                its output is piped).

        Returns:
            self (with `.wv` set).
        """
        if on_epoch_end is not None and not callable(on_epoch_end):
            raise ValueError(f"on_epoch_end must be callable, got {on_epoch_end!r}")
        if isinstance(corpus, (str, os.PathLike)):
            corpus = os.fspath(corpus)
        # one tokenizing pass: counts and ids together, then the ids of the vocabulary
        vocab, tokens, all_ids = self._scan(corpus)
        ids = sd.restrict(all_ids, tokens, vocab.tokens)
        del all_ids
        counts = np.asarray(vocab.counts, np.float64)
        keep = sd.keep_probabilities(counts, self.sample) if self.sample else None
        sampler = AliasSampler(unigram_probabilities(counts, self.ns_exponent))
        self.layer = SkipGram(len(vocab), self.vector_size, num_negative=self.negative,
                              unigram_counts=None, seed=self.seed, name="skipgram")
        self.layer.build()
        syn0, syn1 = self.layer.embeddings, self.layer.context_embeddings
        # gensim-like initialisation: uniform(-0.5, 0.5) / vector_size, zeros.
        rng = np.random.default_rng(self.seed)
        syn0.assign(((rng.random((len(vocab), self.vector_size)) - 0.5) / self.vector_size).astype(np.float32))
        syn1.assign(np.zeros((len(vocab), self.vector_size), np.float32))
        start, losses = 0, [[] for _ in range(self.epochs)]
        if backup_dir is not None:
            start, done_losses = _restore_backup(backup_dir, syn0, syn1, self.get_config())
            for e, value in enumerate(done_losses):
                losses[e] = [value]

        @tf.function(input_signature=[chunk_signature(self.window, self.negative)])
        def train_chunk(chunk):  # one call, and one copy of its arrays, per chunk
            return sgd_negative_sampling_chunk(syn0, syn1, chunk, self.max_update_norm, self.workers, self.negative)

        bar = None
        if progress_bar:
            from tqdm import tqdm

            bar = tqdm(total=self.total_words * self.epochs, unit="word", unit_scale=True, desc="word2vec")
        chunks = _prefetched(self._chunks(ids, keep, sampler, start))
        t0 = time.perf_counter()
        done = start * self.total_words
        if bar is not None and done:
            bar.update(done)
        epoch_began = t0

        def epoch_done(e):
            nonlocal epoch_began
            if on_epoch_end is not None:
                now = time.perf_counter()
                on_epoch_end(e + 1, {"loss": _mean_loss(losses[e])}, now - epoch_began)
                epoch_began = now

        current = start
        for epoch, end, chunk in chunks:
            if epoch != current:
                epoch_done(current)
                if backup_dir is not None:
                    _commit_backup(backup_dir, syn0, syn1, epoch, losses, self.get_config())
                current = epoch
            losses[epoch].append(train_chunk(chunk))  # each block's mean loss
            if bar is not None:
                now = int((epoch + end) * self.total_words)
                if now > done:
                    bar.update(now - done)
                    done = now
                    bar.set_postfix(epoch=epoch + 1)
        if start < self.epochs:
            epoch_done(current)
        self.loss_history = [_mean_loss(ls) for ls in losses]
        if bar is not None:
            bar.update(self.total_words * self.epochs - done)
        self.train_seconds = time.perf_counter() - t0
        if bar is not None:
            bar.close()
        self.wv = KeyedVectors(vocab.tokens, syn0.numpy(), counts=vocab.counts)
        if backup_dir is not None:
            _remove_backup(backup_dir)
        return self

    def _chunks(self, ids, keep, sampler, start):
        """(epoch, fraction of it read after the chunk, chunk with each
        centre's learning rate) for epochs start.."""
        span = self.alpha - self.min_alpha
        for epoch in range(start, self.epochs):
            for chunk in sd.epoch_chunks(ids, keep_prob=keep, sampler=sampler, window=self.window,
                                         negative=self.negative, block_size=self.batch_size,
                                         seed=self.seed, epoch=epoch):
                progress, end = chunk.pop("progress"), chunk.pop("end")
                frac = np.minimum((epoch + progress) / self.epochs, 1.0)
                chunk["lr"] = (self.alpha - span * frac).astype(np.float32)
                yield epoch, end, chunk

    @property
    def words_per_second(self):
        """Raw corpus words trained per second (gensim's progress unit)."""
        return self.total_words * self.epochs / self.train_seconds if self.train_seconds else 0.0

    def get_config(self):
        return {
            "vector_size": self.vector_size, "window": self.window, "negative": self.negative,
            "ns_exponent": self.ns_exponent, "sample": self.sample, "min_count": self.min_count,
            "max_vocab_size": self.max_vocab_size, "epochs": self.epochs, "alpha": self.alpha,
            "min_alpha": self.min_alpha, "batch_size": self.batch_size, "seed": self.seed,
        }


def _mean_loss(losses):
    """The mean of an epoch's block losses (arrays of them, one per chunk, or
    a backup's number), or NaN for none."""
    values = [np.asarray(x, np.float64).reshape(-1) for x in losses]
    return float(np.mean(np.concatenate(values))) if values else float("nan")


def _prefetched(items, depth=2):
    """Iterates `items` on a background thread, `depth` items ahead (NumPy
    prepares the next chunks while TensorFlow trains). An exception in the
    producer is raised in the consumer."""
    q = queue.Queue(maxsize=depth)
    end = object()
    stop = threading.Event()

    def produce():
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        pass
                if stop.is_set():
                    return
            q.put(end)
        except BaseException as e:  # handed to the consumer
            q.put(e)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


_BACKUP_STATE = "word2vec_state.json"


def _commit_backup(folder, syn0, syn1, epochs_done, losses, config):
    """Writes the vectors after `epochs_done` epochs, then commits the state."""
    import json

    os.makedirs(folder, exist_ok=True)
    name = f"vectors-{epochs_done}.npz"
    tmp = os.path.join(folder, name + ".tmp.npz")
    np.savez(tmp, syn0=syn0.numpy(), syn1=syn1.numpy())
    os.replace(tmp, os.path.join(folder, name))
    state = {
        "epoch": epochs_done, "vectors": name, "config": config,
        "losses": [_mean_loss(ls) for ls in losses[:epochs_done]],
    }
    atomic_write(os.path.join(folder, _BACKUP_STATE), json.dumps(state))
    for old in os.listdir(folder):  # earlier epochs' vectors are no longer referenced
        if old.startswith("vectors-") and old.endswith(".npz") and old != name:
            os.remove(os.path.join(folder, old))


def _restore_backup(folder, syn0, syn1, config):
    """(epochs done, their mean losses) from `folder`, loading the vectors."""
    import json

    path = os.path.join(os.fspath(folder), _BACKUP_STATE)
    if not os.path.exists(path):
        return 0, []
    try:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
        epoch, name, saved = int(state["epoch"]), str(state["vectors"]), state["config"]
        with np.load(os.path.join(folder, name)) as arrays:
            v0, v1 = arrays["syn0"], arrays["syn1"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"backup_dir: {folder!r} holds no readable word2vec backup: {e}") from e
    if saved != config or v0.shape != tuple(syn0.shape):
        raise ValueError(
            f"backup_dir: {folder!r} was written by a run with other settings or another "
            f"vocabulary ({saved} / {v0.shape}); remove it or pass another backup_dir"
        )
    syn0.assign(v0)
    syn1.assign(v1)
    return epoch, list(state["losses"])


def _remove_backup(folder):
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        if name == _BACKUP_STATE or (name.startswith("vectors-") and name.endswith(".npz")):
            os.remove(os.path.join(folder, name))
    try:
        os.rmdir(folder)
    except OSError:
        pass
