"""The classifier's training procedure: length bucketing
(`training.LengthBatches`, `TextClassifier.fit(bucketing=True)`) and the
refit on training + validation texts (`fit(refit=True)`, `--refit`)."""
import json

import keras
import numpy as np
import pytest

from keras_rnnx import cli, training
from keras_rnnx.models import TextClassifier
from keras_rnnx.training import LengthBatches


def _ragged_ids(n, max_len, seed):
    """Right-padded ids [n, max_len] with lengths 0..max_len; row i's first
    id is i + 2, so a batch row names its source row."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, max_len + 1, n)
    ids = np.zeros((n, max_len), np.int32)
    for i, length in enumerate(lengths):
        ids[i, :length] = rng.integers(2, 50, length)
        if length:
            ids[i, 0] = i + 2
    return ids, lengths


@pytest.mark.parametrize("batch_size,window", [(4, 2), (7, 3), (32, 32)])
def test_length_batches_give_every_row_once_per_epoch_padded_to_the_batch_longest(batch_size, window):
    ids, lengths = _ragged_ids(61, 20, 0)
    labels = np.arange(61) * 10
    lb = LengthBatches(ids, labels, batch_size=batch_size, window=window, seed=3)
    assert lb.steps == -(-61 // batch_size)
    np.testing.assert_array_equal(lb.lengths, np.maximum(lengths, 1))
    orders = []
    for epoch in range(3):
        batches = lb.batches(epoch)
        assert len(batches) == lb.steps
        rows = np.concatenate(batches)
        assert sorted(rows.tolist()) == list(range(61))          # each row exactly once
        orders.append(rows.tolist())
        for b in batches:
            x, y = lb.batch(b)
            assert x.shape == (len(b), max(1, lengths[b].max()))  # padded to its longest only
            np.testing.assert_array_equal(x, ids[b, :x.shape[1]])
            np.testing.assert_array_equal(y, labels[b])
            assert not ids[b, x.shape[1]:].any()                  # nothing cut but padding
    assert orders[0] != orders[1] != orders[2]                    # a new order every epoch
    again = LengthBatches(ids, labels, batch_size, window=window, seed=3).batches(1)
    assert len(again) == lb.steps                                 # and the same one again
    assert all(np.array_equal(a, b) for a, b in zip(lb.batches(1), again))


def test_length_batches_sort_inside_windows():
    """Within one window the batches hold consecutive lengths: the total
    padding is what sorting gives, far below padding to the set's longest."""
    ids, lengths = _ragged_ids(256, 40, 1)
    lb = LengthBatches(ids, np.zeros(256), batch_size=8, window=32, seed=0)  # one window
    batches = lb.batches(0)
    padded = sum(len(b) * lb.lengths[b].max() for b in batches)
    sorted_lengths = np.sort(lb.lengths)
    best = sum(sorted_lengths[i:i + 8].max() * len(sorted_lengths[i:i + 8]) for i in range(0, 256, 8))
    assert padded == best < 256 * 40 * 0.6


def test_length_batches_dataset_is_one_epoch_per_pass_with_labels_and_weights():
    ids, lengths = _ragged_ids(30, 12, 2)
    labels = np.arange(30, dtype=np.int64)
    weights = np.linspace(0.5, 2.0, 30).astype(np.float32)
    lb = LengthBatches(ids, labels, batch_size=8, sample_weight=weights, seed=5)
    data = lb.dataset()
    assert int(data.cardinality()) == lb.steps == 4
    for epoch in range(2):
        seen = []
        for (x, y, w), rows in zip(data, lb.batches(epoch)):
            x, y, w = x.numpy(), y.numpy(), w.numpy()
            np.testing.assert_array_equal(y, labels[rows])
            np.testing.assert_array_equal(w, weights[rows])
            np.testing.assert_array_equal(x, ids[rows, :x.shape[1]])
            assert x.shape[1] == max(1, lengths[rows].max())
            seen.extend(y.tolist())
        assert sorted(seen) == list(range(30))


def test_length_batches_arguments():
    ids = np.ones((4, 3), np.int32)
    with pytest.raises(ValueError, match="ids"):
        LengthBatches(np.ones((4,), np.int32), np.zeros(4))
    with pytest.raises(ValueError, match="labels"):
        LengthBatches(ids, np.zeros(3))
    with pytest.raises(ValueError, match="batch_size"):
        LengthBatches(ids, np.zeros(4), batch_size=0)
    with pytest.raises(ValueError, match="sample_weight"):
        LengthBatches(ids, np.zeros(4), sample_weight=np.ones(2))


# ------------------------------------------------------------ in fit

WORDS = {0: ["awful", "dull", "boring"], 1: ["great", "superb", "lovely"]}


def _toy(n, seed):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    texts = [" ".join(["the"] * int(rng.integers(0, 12)) + [str(rng.choice(WORDS[y]))]
                      + ["film"] * int(rng.integers(0, 3))) for y in labels]
    return texts, labels


class _Phases(keras.callbacks.Callback):
    """Per `fit` phase: the starting weights, the steps per epoch, the epochs."""

    def __init__(self):
        super().__init__()
        self.starts, self.steps, self.epochs = [], [], []

    def on_train_begin(self, logs=None):
        self.starts.append([w.copy() for w in self.model.get_weights()])
        self.steps.append(self.params.get("steps"))
        self.epochs.append(0)

    def on_epoch_end(self, epoch, logs=None):
        self.epochs[-1] += 1


@pytest.mark.parametrize("recurrent_length", [None, 6])
def test_bucketing_fit_learns_and_keeps_the_fixed_length_model(recurrent_length):
    """Batches padded to their own longest text; with `recurrent_length` the
    recurrent part reads each batch's first 6 ids (fewer in a batch of
    shorter texts), the wide part the whole batch."""
    texts, labels = _toy(96, 0)
    keras.utils.set_random_seed(1)
    clf = TextClassifier.create(texts, labels, ["neg", "pos"], units=4, embedding_dim=8,
                                dropout=0.0, max_length=10, recurrent_length=recurrent_length)
    phases = _Phases()
    clf.fit(texts, labels, epochs=8, batch_size=8, learning_rate=0.03, verbose=0,
            bucketing=True, validation_fraction=0, callbacks=[phases])
    assert phases.epochs == [8] and phases.steps == [12]
    assert clf.ids_model.inputs[0].shape == (None, 10)          # export contract unchanged
    test_texts, test_labels = _toy(40, 1)
    assert clf.evaluate(test_texts, test_labels)["accuracy"] >= 0.9


def test_refit_starts_again_on_train_and_validation_for_the_kept_epochs(monkeypatch):
    texts, labels = _toy(80, 2)
    keras.utils.set_random_seed(2)
    clf = TextClassifier.create(texts, labels, ["neg", "pos"], units=4, embedding_dim=8)
    fits = []
    real_fit = keras.Model.fit

    def spy(self, x=None, y=None, **kwargs):
        fits.append((np.array(x), np.array(y)))
        return real_fit(self, x, y, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy)
    phases = _Phases()
    # wide_init="zeros": the refit starts from the first phase's weights bit for bit (with the
    # default naive Bayes start it re-counts the wide table on all texts: tested below)
    history = clf.fit(texts, labels, epochs=6, batch_size=8, learning_rate=0.02, verbose=0,
                      validation_fraction=0.25, patience=2, refit=True, seed=1,
                      callbacks=[phases], wide_init="zeros")
    report = clf.training_report
    train, val = clf.fit_indices["train"], clf.fit_indices["validation"]
    assert len(fits) == 2 and len(train) == 60 and len(val) == 20
    # the first phase: the training part only; the refit: every text, in order
    np.testing.assert_array_equal(fits[0][0], clf.texts_to_ids([texts[i] for i in train]))
    np.testing.assert_array_equal(fits[1][0], clf.texts_to_ids(texts))
    np.testing.assert_array_equal(fits[1][1], labels)
    np.testing.assert_array_equal(clf.fit_indices["refit"], np.arange(80))
    # the refit runs the kept number of epochs, from the same starting weights
    assert report["refit"] == {"epochs": report["kept_epoch"], "train_size": 80}
    assert phases.epochs == [report["epochs_run"], report["kept_epoch"]]
    assert phases.steps == [60 // 8 + 1, 80 // 8] and history.epoch == list(range(report["kept_epoch"]))
    for a, b in zip(*phases.starts):
        np.testing.assert_array_equal(a, b)
    # with a fresh optimizer state: its step count is the refit's steps alone
    assert int(clf.ids_model.optimizer.iterations) == report["kept_epoch"] * 10
    assert "then trained again from the start on all 80 training texts" in report["reason"]
    with pytest.raises(ValueError, match="refit"):
        clf.fit(texts, labels, epochs=1, verbose=0, refit=True, validation_data=(texts, labels))


def _write(tmp_path, n=50):
    texts = [f"doc{i} " + " ".join(np.random.default_rng(i).choice(WORDS[i % 2], 3))
             for i in range(n)]
    data = tmp_path / "data.txt"
    data.write_text("".join(f"__label__{'ab'[i % 2]} {t}\n" for i, t in enumerate(texts)))
    return data


def test_cli_refit_reads_exactly_the_train_and_validation_texts(tmp_path, monkeypatch):
    """The refit's texts are the train + validation positions of split.json,
    never a test one; metrics.json says it ran and for how many epochs."""
    data = _write(tmp_path)
    calls = []
    real_ids = TextClassifier.texts_to_ids

    def texts_to_ids(self, batch, *args, **kwargs):
        calls.append([t.decode() if isinstance(t, bytes) else t for t in batch])
        return real_ids(self, batch, *args, **kwargs)

    monkeypatch.setattr(TextClassifier, "texts_to_ids", texts_to_ids)
    out = tmp_path / "out"
    assert cli.main(["train-classifier", str(data), "--out", str(out), "--epochs", "3",
                     "--units", "2", "--embedding-dim", "4", "--quiet", "--no-export",
                     "--refit", "--bucketing"]) == 0
    split = json.loads((out / "split.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    test, train, val = (set(split[k]) for k in ("test", "train", "validation"))
    # the test texts are read once, last (scoring); before that every read is of training or
    # validation texts (validation, the training part, the naive Bayes counts and the IDF of
    # each phase, the refit's texts), and one read is the refit's: train + validation
    reads = [sorted(int(t.split()[0][3:]) for t in call) for call in calls]
    assert reads[-1] == sorted(test)
    assert all(not set(r) & test for r in reads[:-1])
    assert sorted(split["refit"]) == sorted(train | val) and sorted(train | val) in reads[:-1]
    assert metrics["refit"] == {"epochs": metrics["training"]["kept_epoch"], "train_size": 40}
    assert metrics["bucketing"] is True
    assert "trained again from the start on all 40" in metrics["training"]["reason"]


def test_cli_refit_needs_a_validation_part(tmp_path, capsys):
    data = _write(tmp_path, 20)
    assert cli.main(["train-classifier", str(data), "--out", str(tmp_path / "out"), "--refit",
                     "--validation-fraction", "0"]) == 2
    err = capsys.readouterr().err
    assert "--refit" in err and "--validation-fraction" in err and "Traceback" not in err


def test_cli_refit_resumes_after_a_kill_without_choosing_the_epoch_again(tmp_path, monkeypatch):
    data = _write(tmp_path, 40)
    backup = tmp_path / "backup"
    args = ["train-classifier", str(data), "--out", str(tmp_path / "model"), "--epochs", "3",
            "--units", "2", "--embedding-dim", "4", "--quiet", "--no-export", "--refit",
            "--monitor", "loss", "--backup-dir", str(backup)]
    original_end = training.AtomicBackupAndRestore.on_epoch_end

    def die_in_the_refit(self, epoch, logs=None):
        original_end(self, epoch, logs)
        if self.backup_dir.endswith("refit"):
            raise KeyboardInterrupt("simulated kill after the refit's first epoch")

    monkeypatch.setattr(training.AtomicBackupAndRestore, "on_epoch_end", die_in_the_refit)
    with pytest.raises(KeyboardInterrupt):
        cli.main(args)
    first = json.loads((backup / "refit.json").read_text())
    assert training.read_state(str(backup / "refit"))["epoch"] == 1
    monkeypatch.setattr(training.AtomicBackupAndRestore, "on_epoch_end", original_end)
    starts = []
    original_begin = training.AtomicBackupAndRestore.on_train_begin

    def record_start(self, logs=None):
        original_begin(self, logs)
        starts.append((self.backup_dir.endswith("refit"), self.initial_epoch))

    monkeypatch.setattr(training.AtomicBackupAndRestore, "on_train_begin", record_start)
    assert cli.main(args) == 0
    assert starts == [(True, 1)]          # only the refit ran, from its committed epoch
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert metrics["training"]["kept_epoch"] == first["kept_epoch"]
    assert metrics["refit"]["epochs"] == first["kept_epoch"]
    assert not backup.exists()


# ------------------------------------------------------------ embedding warm-up

class _EpochWeights(keras.callbacks.Callback):
    """Per `fit` phase, after every epoch: the embedding and the wide part's table."""

    def __init__(self):
        super().__init__()
        self.phases = []

    def on_train_begin(self, logs=None):
        self.phases.append([])

    def on_epoch_end(self, epoch, logs=None):
        self.phases[-1].append((np.array(self.model.get_layer("embedding").embeddings),
                                np.array(self.model.get_layer("bag_of_ngrams").embeddings)))


def test_embedding_warmup_keeps_the_vectors_exact_then_fine_tunes_and_the_refit_repeats_it():
    texts, labels = _toy(80, 3)
    keras.utils.set_random_seed(3)
    probe = TextClassifier.create(texts, labels, ["neg", "pos"], units=4, embedding_dim=6)
    vectors = np.random.default_rng(0).normal(0, 0.3, (len(probe.vocabulary), 6)).astype("float32")
    clf = TextClassifier.create(texts, labels, ["neg", "pos"], units=4, embeddings=vectors,
                                ngrams=2, dropout=0.0)
    start = np.array(clf.ids_model.get_layer("embedding").embeddings)
    np.testing.assert_array_equal(start, vectors)   # the pretrained rows, exactly
    seen = _EpochWeights()
    clf.fit(texts, labels, epochs=4, batch_size=8, learning_rate=0.003, verbose=0,
            validation_fraction=0.25, monitor="loss", patience=4, refit=True, seed=1,
            embedding_warmup=2, callbacks=[seen], wide_init="zeros")   # (naive Bayes: kept epoch 2)
    report = clf.training_report
    kept = report["kept_epoch"]
    assert report["embedding_warmup"] == 2 and report["epochs_run"] == 4
    assert kept > 2, "the toy set's validation loss should fall for more than the warm-up"
    first, refit = seen.phases
    assert len(first) == 4 and len(refit) == kept
    for phase in (first, refit):
        for epoch, (embedding, table) in enumerate(phase):
            if epoch < 2:   # frozen: every row stays the pretrained vector, bit for bit
                np.testing.assert_array_equal(embedding, vectors)
            else:           # fine-tuned from then on
                assert np.abs(embedding - vectors).max() > 1e-4
            assert np.abs(table).max() > 0     # the rest of the model trains all along
    assert clf.ids_model.get_layer("embedding").trainable     # trainable again afterwards
    assert "the embedding frozen for the first 2 epoch(s)" in report["reason"]
    assert "(the embedding frozen for the first 2)" in report["reason"]
    with pytest.raises(ValueError, match="embedding_warmup"):
        clf.fit(texts, labels, epochs=1, verbose=0, embedding_warmup=-1)


def test_frozen_warmup_leaves_a_layer_frozen_by_the_user_alone():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name="pre"),
                              keras.layers.Dense(1)])
    model.get_layer("pre").trainable = False
    model.compile("adam", "mse")
    before = np.array(model.get_layer("pre").kernel)
    model.fit(np.ones((8, 2)), np.zeros((8, 1)), epochs=3, verbose=0,
              callbacks=[training.FrozenWarmup("pre", 1)])
    np.testing.assert_array_equal(model.get_layer("pre").kernel, before)
    assert not model.get_layer("pre").trainable
    with pytest.raises(ValueError, match="epochs"):
        training.FrozenWarmup("pre", -1)
    with pytest.raises(ValueError, match="layers"):
        training.FrozenWarmup(3, 1)
    import doctest

    finder = doctest.DocTestFinder().find(training.FrozenWarmup, "FrozenWarmup",
                                          globs={"FrozenWarmup": training.FrozenWarmup})
    runner = doctest.DocTestRunner()
    for test in finder:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0 and runner.summarize(verbose=False).attempted


def _killed_and_resumed(monkeypatch, args, killed_after, snapshot, after_kill=None):
    """Runs `rnnx ARGS`, kills it (KeyboardInterrupt) at the end of epoch
    `killed_after` once its backup is written, calls `after_kill()`, runs it
    again to the end. Returns `[epoch, snapshot(model) at the epoch's start,
    at its end]` for every epoch of both runs, and how many the killed run
    had. The snapshots are taken by the backup callback, after FrozenWarmup
    set the epoch's phase."""
    epochs = []
    original_end = training.AtomicBackupAndRestore.on_epoch_end

    def begin(self, epoch, logs=None):
        epochs.append([epoch, snapshot(self.model), None])

    def end(self, epoch, logs=None):
        epochs[-1][2] = snapshot(self.model)
        original_end(self, epoch, logs)

    def die(self, epoch, logs=None):
        end(self, epoch, logs)
        if epoch == killed_after:
            raise KeyboardInterrupt("simulated kill")

    monkeypatch.setattr(training.AtomicBackupAndRestore, "on_epoch_begin", begin)
    monkeypatch.setattr(training.AtomicBackupAndRestore, "on_epoch_end", die)
    with pytest.raises(KeyboardInterrupt):
        cli.main(args)
    if after_kill is not None:
        after_kill()
    before_kill = len(epochs)
    monkeypatch.setattr(training.AtomicBackupAndRestore, "on_epoch_end", end)
    assert cli.main(args) == 0
    return epochs, before_kill


@pytest.mark.parametrize("killed_after", [0, 2])
def test_cli_embedding_warmup_resumes_in_the_phase_of_its_epoch(tmp_path, monkeypatch, killed_after):
    """Killed after epoch 1 (frozen) or 3 (fine-tuning) of `--embedding-warmup 2`: the resumed
    run trains its next epoch in that epoch's phase; frozen epochs keep the embedding exact."""
    data = _write(tmp_path, 40)
    backup = tmp_path / "backup"
    args = ["train-classifier", str(data), "--out", str(tmp_path / "model"), "--epochs", "4",
            "--units", "2", "--embedding-dim", "4", "--quiet", "--no-export", "--no-refit",
            "--pretrain", "--embedding-warmup", "2", "--patience", "4",
            "--backup-dir", str(backup)]
    def embedding(model):   # the backup runs after FrozenWarmup set the phase
        layer = model.get_layer("embedding")
        return layer.trainable, np.array(layer.embeddings)

    def after_kill():
        assert training.read_state(str(backup))["epoch"] == killed_after + 1

    epochs, before_kill = _killed_and_resumed(monkeypatch, args, killed_after, embedding, after_kill)
    resumed = epochs[before_kill:]
    assert [e[0] for e in resumed] == list(range(killed_after + 1, 4))
    for epoch, (trainable, at_start), (_, at_end) in epochs:
        assert trainable == (epoch >= 2)
        if epoch < 2:
            np.testing.assert_array_equal(at_end, at_start)
        else:
            assert np.abs(at_end - at_start).max() > 0
    # the resumed run starts from the embedding of the last committed epoch
    np.testing.assert_array_equal(resumed[0][1][1], epochs[before_kill - 1][2][1])
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert metrics["embedding_warmup"] == 2 and metrics["pretrained_vectors"] is True


def test_cli_embedding_warmup_needs_starting_vectors(tmp_path, capsys):
    data = _write(tmp_path, 20)
    assert cli.main(["train-classifier", str(data), "--out", str(tmp_path / "out"),
                     "--no-pretrain", "--embedding-warmup", "2"]) == 2
    err = capsys.readouterr().err
    assert "--embedding-warmup" in err and "--pretrain" in err and "Traceback" not in err


# ------------------------------------------------------------ wide first

_DEEP = ("bidirectional_0", "classes")


class _LayerWeights(keras.callbacks.Callback):
    """Per `fit` phase: every layer's weights at its start and after every epoch."""

    def __init__(self):
        super().__init__()
        self.phases = []

    def _weights(self):
        return {layer.name: [np.array(w) for w in layer.weights]
                for layer in self.model.layers if layer.weights}

    def on_train_begin(self, logs=None):
        self.phases.append([self._weights()])

    def on_epoch_end(self, epoch, logs=None):
        self.phases[-1].append(self._weights())


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_wide_warmup_trains_the_wide_part_alone_then_all_and_the_refit_repeats_it():
    texts, labels = _toy(80, 4)
    keras.utils.set_random_seed(4)
    clf = TextClassifier.create(texts, labels, ["neg", "pos"], units=4, embedding_dim=6,
                                ngrams=2, dropout=0.0, pretrain=False)
    seen = _LayerWeights()
    clf.fit(texts, labels, epochs=5, batch_size=8, learning_rate=0.003, verbose=0,
            validation_fraction=0.25, monitor="loss", patience=5, refit=True, seed=1,
            wide_warmup=2, embedding_warmup=1, callbacks=[seen], wide_init="zeros")
    report = clf.training_report
    assert report["wide_warmup"] == 2 and report["epochs_run"] == 5
    kept = report["kept_epoch"]
    assert kept > 3, "the toy set's validation loss should fall for more than the warm-ups"
    first, refit = seen.phases
    assert len(first) == 6 and len(refit) == kept + 1
    for phase in (first, refit):
        start = phase[0]
        assert not start["classes"][0].any()       # the deep logits start at zero
        for epoch, weights in enumerate(phase[1:]):
            deep_frozen = epoch < 2
            for name in _DEEP:      # bit for bit through the wide part's epochs, then trained
                assert _same(weights[name], start[name]) == deep_frozen, (name, epoch)
            assert _same(weights["embedding"], start["embedding"]) == (epoch < 3)
            assert not _same(weights["bag_of_ngrams"], start["bag_of_ngrams"])
    # the refit starts from the same weights as the first phase did
    for name, weights in first[0].items():
        assert _same(refit[0][name], weights), name
    model = clf.ids_model
    assert all(model.get_layer(n).trainable for n in _DEEP + ("embedding",))
    assert "the wide part trained alone for the first 2 epoch(s)" in report["reason"]
    assert "the embedding frozen for the first 3 epoch(s)" in report["reason"]
    assert "(the wide part alone for the first 2, the embedding frozen for the first 3)" \
        in report["reason"]


def test_wide_warmup_arguments():
    texts, labels = _toy(16, 5)
    clf = TextClassifier.create(texts, labels, ["neg", "pos"], units=2, embedding_dim=4,
                                ngrams=0, pretrain=False)
    with pytest.raises(ValueError, match="wide_warmup.*ngrams=0"):
        clf.fit(texts, labels, epochs=1, verbose=0, wide_warmup=1)
    with pytest.raises(ValueError, match="wide_warmup"):
        clf.fit(texts, labels, epochs=1, verbose=0, wide_warmup=-1)
    with pytest.raises(ValueError, match="wide_init.*ngrams=0"):
        clf.fit(texts, labels, epochs=1, verbose=0, wide_init="naive_bayes")
    clf.fit(texts, labels, epochs=1, verbose=0)       # the default needs no wide part
    assert clf.training_report["wide_init"] == "zeros"


@pytest.mark.parametrize("killed_after", [0, 2])
def test_cli_wide_warmup_resumes_in_the_phase_of_its_epoch(tmp_path, monkeypatch, killed_after):
    """Killed after epoch 0 (the wide part alone) or 2 (all trained) of `--wide-warmup 2`: the
    resumed run starts from the backup's weights (a trained deep part is not zeroed again) in
    that epoch's phase; the deep weights stay bit for bit through the wide part's epochs."""
    data = _write(tmp_path, 40)
    backup = tmp_path / "backup"
    args = ["train-classifier", str(data), "--out", str(tmp_path / "model"), "--epochs", "4",
            "--units", "2", "--embedding-dim", "4", "--quiet", "--no-export", "--no-refit",
            "--no-pretrain", "--wide-warmup", "2", "--patience", "4",
            "--backup-dir", str(backup)]
    def weights(model):   # (deep weights, wide table)
        return ([np.array(w) for n in _DEEP for w in model.get_layer(n).weights],
                np.array(model.get_layer("bag_of_ngrams").embeddings))

    epochs, before_kill = _killed_and_resumed(monkeypatch, args, killed_after, weights)
    assert [e[0] for e in epochs[before_kill:]] == list(range(killed_after + 1, 4))
    assert not epochs[0][1][0][-2].any()     # the classes kernel (last but one): zero at the start
    for epoch, (deep0, wide0), (deep1, wide1) in epochs:
        assert _same(deep1, deep0) == (epoch < 2), epoch
        assert np.abs(wide1 - wide0).max() > 0
    # the resumed run starts from the last committed epoch's weights, deep part included
    resumed, last = epochs[before_kill][1], epochs[before_kill - 1][2]
    assert _same(resumed[0], last[0]) and np.array_equal(resumed[1], last[1])
    if killed_after == 2:
        assert resumed[0][-2].any()          # a trained deep part, not zeroed again
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert metrics["training"]["wide_warmup"] == 2


def test_wide_init_naive_bayes_starts_each_phase_from_the_texts_it_trains_on():
    texts, labels = _toy(60, 6)
    keras.utils.set_random_seed(6)
    clf = TextClassifier.create(texts, labels, ["neg", "pos"], units=2, embedding_dim=4,
                                ngrams=2, ngram_buckets=32, pretrain=False)
    seen = _LayerWeights()
    clf.fit(texts, labels, epochs=2, batch_size=8, verbose=0, validation_fraction=0.25,
            monitor="loss", patience=2, refit=True, seed=2, wide_init="naive_bayes",
            callbacks=[seen])
    wide = clf.ids_model.get_layer("bag_of_ngrams")
    train = clf.fit_indices["train"]
    assert 0 < len(train) < len(texts)
    want_first = wide.naive_bayes(clf.texts_to_ids([texts[i] for i in train]), labels[train])
    want_refit = wide.naive_bayes(clf.texts_to_ids(texts), labels)   # all of them
    first, refit = seen.phases
    for phase, want in ((first, want_first), (refit, want_refit)):
        np.testing.assert_array_equal(phase[0]["bag_of_ngrams"][0],
                                      (want / wide.scale).astype("float32"))
    assert not np.array_equal(want_first, want_refit)
    # the signs of the two class words' unigram rows: what naive Bayes learned
    row = {t: i for i, t in enumerate(clf.vocabulary.tokens)}
    assert want_first[row["great"], 1] > 0 > want_first[row["awful"], 1]
    with pytest.raises(ValueError, match="wide_init"):
        clf.fit(texts, labels, epochs=1, verbose=0, wide_init="ones")
