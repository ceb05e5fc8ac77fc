"""Early stopping (`training.BestEpoch`, `TextClassifier.fit`), the test split
kept out of training, and the training commands' progress output."""
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_rnnx import cli, datasets
from keras_rnnx.models import TextClassifier
from keras_rnnx.progress import EpochProgress, epoch_line
from keras_rnnx.training import BestEpoch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Record(keras.callbacks.Callback):
    """Weights and logs at the end of every epoch (runs after BestEpoch)."""

    def __init__(self):
        super().__init__()
        self.weights, self.logs = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([w.copy() for w in self.model.get_weights()])
        self.logs.append(dict(logs or {}))


def _dense_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    return model


@pytest.mark.parametrize("in_backup", [False, True])
def test_best_epoch_restores_the_best_weights_and_stops_after_patience(tmp_path, in_backup):
    scores = iter([0.5, 0.7, 0.6, 0.4, 0.3, 0.9, 0.9])   # best: epoch index 1
    best = BestEpoch(lambda m: {"f1": next(scores)}, "f1", patience=3, reduce_lr=0.5,
                     backup_dir=str(tmp_path) if in_backup else None)
    record = _Record()
    model = _dense_model()
    x, y = np.random.default_rng(0).normal(size=(16, 3)), np.ones((16, 2))
    model.fit(x, y, epochs=7, batch_size=4, verbose=0, callbacks=[best, record])
    assert len(record.weights) == 5                   # epochs 2, 3, 4 did not improve
    assert best.best_epoch == 1 and best.best_score == 0.7 and best.stopped_early
    for got, want in zip(model.get_weights(), record.weights[1]):
        np.testing.assert_array_equal(got, want)      # exactly epoch 2's weights
    assert not np.allclose(record.weights[1][0], record.weights[4][0])
    assert [r["val_f1"] for r in record.logs] == [0.5, 0.7, 0.6, 0.4, 0.3]
    # the plateau schedule: halved after each epoch without improvement
    np.testing.assert_allclose([r["lr"] for r in record.logs], [0.1, 0.1, 0.05, 0.025, 0.0125])
    assert best.reason == ("kept epoch 2 of 5 (best validation f1 0.7000); "
                           "stopped: no improvement for 3 epoch(s)")
    assert os.listdir(tmp_path) == []                 # the best-weights file is removed


def test_best_epoch_arguments():
    with pytest.raises(ValueError, match="patience"):
        BestEpoch(lambda m: {}, "f1", patience=0)
    with pytest.raises(ValueError, match="mode"):
        BestEpoch(lambda m: {}, "f1", mode="up")
    with pytest.raises(ValueError, match="reduce_lr"):
        BestEpoch(lambda m: {}, "f1", reduce_lr=2.0)


WORDS = {0: ["awful", "dull", "boring"], 1: ["great", "superb", "lovely"]}


def _toy(n, seed):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    texts = [f"the film was {rng.choice(WORDS[y])} {rng.choice(['really', 'quite', 'a'])}"
             for y in labels]
    return texts, labels


def test_fit_keeps_the_best_epoch_when_validation_turns_bad():
    """Validation labels are the training labels inverted: the better the
    model learns, the worse it scores there, so an early epoch is kept."""
    texts, labels = _toy(64, 0)
    keras.utils.set_random_seed(3)
    clf = TextClassifier.create(texts, labels, ["neg", "pos"], units=4, embedding_dim=8,
                                pooling="last", dropout=0.0, token_dropout=0.0, ngrams=0)
    record = _Record()
    history = clf.fit(texts, labels, epochs=12, batch_size=8, learning_rate=0.03, verbose=0,
                      validation_data=(texts, 1 - labels), patience=3, callbacks=[record])
    f1 = history.history["val_macro_f1"]
    report = clf.training_report
    kept = int(np.argmax(f1))
    assert report["kept_epoch"] == kept + 1 and report["stopped_early"]
    assert report["epochs_run"] == len(f1) == kept + 4 < 12
    assert f1[-1] < f1[kept]                          # it did turn bad
    for got, want in zip(clf.ids_model.get_weights(), record.weights[kept]):
        np.testing.assert_array_equal(got, want)
    assert clf.evaluate(texts, 1 - labels)["macro_f1"] == pytest.approx(f1[kept], abs=1e-12)
    assert report["reason"].startswith(f"kept epoch {kept + 1} of {kept + 4} ")


def test_validation_part_is_stratified_and_from_the_training_texts_only():
    texts, labels = _toy(40, 1)
    clf = TextClassifier.create(texts, labels, ["neg", "pos"], units=2, embedding_dim=2)
    clf.fit(texts, labels, epochs=1, verbose=0, validation_fraction=0.25, seed=4)
    train, val = clf.fit_indices["train"], clf.fit_indices["validation"]
    assert sorted(np.r_[train, val].tolist()) == list(range(40))
    assert np.bincount(labels[val]).tolist() == [5, 5]
    assert clf.training_report["train_size"] == 30
    with pytest.raises(ValueError, match="validation_fraction"):
        clf.fit(texts, labels, epochs=1, verbose=0, validation_fraction=1.0)
    with pytest.raises(ValueError, match="monitor"):
        clf.fit(texts, labels, epochs=1, verbose=0, monitor="f2")


def test_the_test_split_never_reaches_training(tmp_path, monkeypatch):
    """Every text the classifier reads while fitting (training and
    validation) comes from the train positions of split.json; none of the
    test positions does."""
    texts = [f"doc{i} " + " ".join(np.random.default_rng(i).choice(WORDS[i % 2], 3))
             for i in range(50)]
    data = tmp_path / "data.txt"
    data.write_text("".join(f"__label__{'ab'[i % 2]} {t}\n" for i, t in enumerate(texts)))
    seen, fitting = [], []
    real_fit, real_ids = TextClassifier.fit, TextClassifier.texts_to_ids

    def fit(self, *args, **kwargs):
        fitting.append(True)
        try:
            return real_fit(self, *args, **kwargs)
        finally:
            fitting.pop()

    def texts_to_ids(self, batch, *args, **kwargs):
        if fitting:
            seen.extend(t.decode() if isinstance(t, bytes) else t for t in batch)
        return real_ids(self, batch, *args, **kwargs)

    monkeypatch.setattr(TextClassifier, "fit", fit)
    monkeypatch.setattr(TextClassifier, "texts_to_ids", texts_to_ids)
    out = tmp_path / "out"
    assert cli.main(["train-classifier", str(data), "--out", str(out), "--epochs", "2",
                     "--units", "2", "--embedding-dim", "4", "--quiet", "--no-export"]) == 0
    split = json.loads((out / "split.json").read_text())
    test, train, val = (set(split[k]) for k in ("test", "train", "validation"))
    assert len(test) == 10 and not test & (train | val) and len(train | val | test) == 50
    read_positions = {int(t.split()[0][3:]) for t in seen}
    assert read_positions == train | val
    assert not read_positions & test


def test_epoch_lines_without_carriage_returns():
    import io

    out = io.StringIO()
    model = _dense_model()
    model.fit(np.ones((8, 3)), np.zeros((8, 2)), epochs=3, verbose=0,
              callbacks=[EpochProgress(stream=out, bar=False)])
    lines = out.getvalue().splitlines()
    assert [l.split(":")[0] for l in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert "\r" not in out.getvalue() and "loss " in lines[0]
    assert epoch_line(2, 5, {"loss": 0.5, "name": "x"}) == "epoch 2/5: loss 0.5000"


def test_piped_train_classifier_prints_one_plain_line_per_epoch(tmp_path):
    texts, labels = _toy(40, 2)
    data = tmp_path / "data.txt"
    data.write_text("".join(f"__label__{'ab'[y]} {t}\n" for t, y in zip(texts, labels)))
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, "-m", "keras_rnnx_cli", "train-classifier", str(data), "--out",
         str(tmp_path / "out"), "--epochs", "3", "--units", "2", "--embedding-dim", "4",
         "--no-export", "--validation-fraction", "0"],
        capture_output=True, env=env, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert b"\r" not in proc.stdout and b"\r" not in proc.stderr
    epochs = [l for l in proc.stdout.decode().splitlines() if l.startswith("epoch ")]
    assert [l.split(":")[0] for l in epochs] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]


def test_an_error_prints_on_its_own_line_below_a_live_bar():
    import io

    from tqdm import tqdm

    from keras_rnnx import progress

    out = io.StringIO()
    bar = tqdm(total=10, desc="export", file=out)
    bar.update(3)
    progress.error("rnnx export: cannot load model 'm.keras': truncated", stream=out)
    bar.close()
    lines = out.getvalue().replace("\r", "\n").split("\n")
    assert "rnnx export: cannot load model 'm.keras': truncated" in lines
    plain = io.StringIO()
    progress.error("rnnx x: no bar", stream=plain)
    assert plain.getvalue() == "rnnx x: no bar\n"
