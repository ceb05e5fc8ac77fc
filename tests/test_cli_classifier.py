"""`rnnx train-classifier` and `rnnx predict` end to end on a small fastText file."""
import json
import os

import numpy as np
import pytest

from keras_rnnx import cli

POS = ["great", "wonderful", "superb", "lovely"]
NEG = ["awful", "boring", "dreadful", "dull"]


def _write_data(path, n=60):
    rng = np.random.default_rng(0)
    lines = []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        word = rng.choice(POS if label == "pos" else NEG)
        filler = " ".join(rng.choice(["the", "film", "was", "a", "plot"], 3))
        lines.append(f"__label__{label} {filler} {word}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    data = tmp / "train.txt"
    _write_data(data)
    out = tmp / "model"
    code = cli.main([
        "train-classifier", str(data), "--out", str(out), "--epochs", "8", "--units", "4",
        "--embedding-dim", "8", "--learning-rate", "0.02", "--quiet", "--seed", "1",
        "--monitor", "loss",  # 4 validation texts: their macro-F1 is too coarse to pick by
    ])
    return out, code


def test_train_classifier_writes_model_metrics_and_exports(trained_dir, capsys):
    out, code = trained_dir
    assert code == 0
    files = set(os.listdir(out))
    assert {"model.keras", "classifier.json", "vocab.txt", "metrics.json",
            "saved_model", "model.tflite"} <= files
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_size"] == 12
    assert metrics["train_size"] + metrics["validation_size"] == 48
    assert metrics["validation_size"] == 4          # 10% of each class, stratified
    training = metrics["training"]
    assert 1 <= training["kept_epoch"] <= training["epochs_run"] <= 8
    assert f"kept epoch {training['kept_epoch']} of {training['epochs_run']}" in training["reason"]
    # the split's positions in DATA: three disjoint parts covering the 60 texts
    split = json.loads((out / "split.json").read_text())
    parts = [set(split[k]) for k in ("train", "validation", "test")]
    assert [len(p) for p in parts] == [44, 4, 12]
    assert set.union(*parts) == set(range(60)) and sum(map(len, parts)) == 60
    assert [r["class"] for r in metrics["held_out"]["per_class"]] == ["neg", "pos"]
    assert metrics["held_out"]["accuracy"] >= 0.75
    config = json.loads((out / "classifier.json").read_text())
    assert config["class_names"] == ["neg", "pos"] and config["pad_id"] == 0


def test_predict_prints_class_and_probability(trained_dir, capsys):
    out, _ = trained_dir
    capsys.readouterr()
    # undecodable bytes in an argument (surrogates in argv): refused, as every
    # command refuses non-UTF-8 input (README: one rule), naming the byte
    assert cli.main(["predict", str(out), "a wonderful film", "bad \udcff bytes"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "rnnx predict: error: TEXT 2: bytes that are not valid UTF-8 at byte 4: b'\\xff by'"]
    code = cli.main(["predict", str(out), "a wonderful film", "a dreadful plot",
                     "", "ภาษาไทย"])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    assert lines[0].split("\t")[0] == "pos" and lines[1].split("\t")[0] == "neg"
    for line in lines:
        label, prob = line.split("\t")[:2]
        assert label in ("neg", "pos") and 0.5 <= float(prob) <= 1.0
    code = cli.main(["predict", str(out / "model.keras"), "superb", "--json", "--top", "2"])
    row = json.loads(capsys.readouterr().out)
    assert code == 0 and row["class"] == "pos" and len(row["top"]) == 2
    assert row["top"][0][1] + row["top"][1][1] == pytest.approx(1.0, abs=1e-4)


def test_cli_errors_are_clear(tmp_path, capsys):
    assert cli.main(["train-classifier", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "o")]) == 2
    assert "path" in capsys.readouterr().err
    one = tmp_path / "one.txt"
    one.write_text("__label__a x\n__label__a y\n")
    assert cli.main(["train-classifier", str(one), "--out", str(tmp_path / "o")]) == 2
    assert "two classes" in capsys.readouterr().err
    assert cli.main(["train-classifier", str(one), "--units", "0"]) == 2
    assert "--units" in capsys.readouterr().err
    assert cli.main(["predict", str(tmp_path), "text"]) == 2
    assert "not a saved TextClassifier" in capsys.readouterr().err


def test_exports_predict_like_keras(trained_dir):
    """The CLI's SavedModel (raw strings) and TFLite (ids) agree with Keras."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

    from keras_rnnx import export
    from keras_rnnx.models import TextClassifier

    out, _ = trained_dir
    clf = TextClassifier.load(str(out))
    rng = np.random.default_rng(5)
    texts = [f"{rng.choice(['a', 'the'])} {rng.choice(POS + NEG)} film" for _ in range(20)]
    texts += ["", "great " * 5000, "ภาษาไทย", "💥 ok", "bad \ufffd bytes"]
    keras_probs = clf.predict_proba(texts)
    keras_classes = keras_probs.argmax(-1)

    loaded = tf.saved_model.load(str(out / "saved_model"))
    assert {"serving_default", "classify", "class_names"} <= set(loaded.signatures)
    result = loaded.signatures["classify"](text=tf.constant(texts))
    assert [c.decode() for c in result["class"].numpy()] == [clf.class_names[i] for i in keras_classes]
    np.testing.assert_allclose(result["probabilities"].numpy(), keras_probs, atol=1e-5)
    np.testing.assert_allclose(result["probability"].numpy(), keras_probs.max(-1), atol=1e-5)
    raw = loaded.signatures["classify"](text=tf.constant([b"bad \xff\xfe bytes", b""]))
    assert raw["probabilities"].numpy().shape == (2, 2)
    names = loaded.signatures["class_names"]()["class_names"].numpy()
    assert [c.decode() for c in names] == clf.class_names

    runner = export.load_tflite(str(out / "model.tflite"))
    vocab = (out / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert vocab == clf.vocabulary.tokens
    ids = clf.texts_to_ids(texts)
    tfl_probs = np.asarray(runner(ids))
    np.testing.assert_array_equal(tfl_probs.argmax(-1), keras_classes)
    np.testing.assert_allclose(tfl_probs, keras_probs, atol=1e-4)
    # an app tokenizing by itself: whitespace split, lowercase, vocab.txt lookup
    index = {t: i for i, t in enumerate(vocab)}
    app_ids = np.zeros((1, clf.max_length), np.int32)
    words = "the superb film".split()
    app_ids[0, :len(words)] = [index.get(w, 1) for w in words]
    np.testing.assert_allclose(np.asarray(runner(app_ids))[0], clf.predict_proba(["The superb film"])[0], atol=1e-4)


@pytest.mark.parametrize("updates", ["dense", "lazy"])
def test_train_classifier_resumes_an_interrupted_run(tmp_path, monkeypatch, updates):
    """A run that dies after its first committed epoch resumes from there
    (with the n-gram table trained lazily too: LazyAdam's state comes back)."""
    from keras_rnnx import training

    data = tmp_path / "train.txt"
    _write_data(data)
    backup = tmp_path / "backup"
    args = ["train-classifier", str(data), "--out", str(tmp_path / "model"), "--epochs", "3",
            "--units", "4", "--embedding-dim", "8", "--quiet", "--no-export",
            "--backup-dir", str(backup), "--ngram-updates", updates]
    original_end = training.AtomicBackupAndRestore.on_epoch_end

    def die_after_first_epoch(self, epoch, logs=None):
        original_end(self, epoch, logs)
        raise KeyboardInterrupt("simulated kill after epoch 0 was committed")

    monkeypatch.setattr(training.AtomicBackupAndRestore, "on_epoch_end", die_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        cli.main(args)
    assert training.read_state(str(backup))["epoch"] == 1
    monkeypatch.setattr(training.AtomicBackupAndRestore, "on_epoch_end", original_end)

    starts = []
    original_begin = training.AtomicBackupAndRestore.on_train_begin

    def record_start(self, logs=None):
        original_begin(self, logs)
        starts.append(self.initial_epoch)
        optimizer = self.model.optimizer
        if not starts[1:]:   # the resumed phase: its optimizer state is the backup's
            assert type(optimizer).__name__ == ("LazyAdam" if updates == "lazy" else "Adam")
            assert int(optimizer.iterations) > 0
            assert any(np.asarray(v).any() for v in optimizer.variables[2:])

    monkeypatch.setattr(training.AtomicBackupAndRestore, "on_train_begin", record_start)
    assert cli.main(args) == 0
    # early stopping resumed after the committed epoch; then the refit (on by default) starts
    # from its own first epoch
    assert starts == [1, 0]
    assert not backup.exists()           # removed once training finished


def test_tflite_takes_batch_by_max_length_in_a_stock_interpreter(trained_dir, capsys):
    """What README and the CLI's message say: int32 ids [batch, max_length]
    (allocated as [1, max_length]; resize_tensor_input for other batches)."""
    import tensorflow as tf

    out, _ = trained_dir
    max_length = json.loads((out / "classifier.json").read_text())["max_length"]
    interpreter = tf.lite.Interpreter(str(out / "model.tflite"))
    inp = interpreter.get_input_details()[0]
    assert list(inp["shape_signature"]) == [-1, max_length]
    interpreter.resize_tensor_input(inp["index"], [3, max_length])
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], np.ones([3, max_length], np.int32))
    interpreter.invoke()
    assert interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).shape == (3, 2)


def test_an_existing_classifier_folder_is_kept_without_overwrite(trained_dir, capsys):
    out, _ = trained_dir
    before = {n: os.stat(out / n).st_mtime_ns for n in os.listdir(out)}
    assert cli.main(["train-classifier", str(out.parent / "train.txt"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "--overwrite" in err and len(err.splitlines()) == 1
    assert {n: os.stat(out / n).st_mtime_ns for n in os.listdir(out)} == before


def test_pretrain_trains_vectors_on_the_texts_and_a_corpus(tmp_path, capsys):
    data = tmp_path / "train.txt"
    _write_data(data, n=40)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the film was a plot\n" * 20, encoding="utf-8")
    out = tmp_path / "model"
    assert cli.main(["train-classifier", str(data), "--out", str(out), "--epochs", "1",
                     "--units", "2", "--embedding-dim", "4", "--quiet", "--no-export",
                     "--pretrain", str(corpus)]) == 0
    assert "pretrained" in capsys.readouterr().out
    assert json.loads((out / "metrics.json").read_text())["pretrained_vectors"] is True
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\n")
    assert cli.main(["train-classifier", str(data), "--out", str(tmp_path / "m2"),
                     "--pretrain", str(bad)]) == 2
    assert "--pretrain" in capsys.readouterr().err


def test_pretrain_conflicts_are_usage_errors(tmp_path, capsys):
    data = tmp_path / "train.txt"
    _write_data(data, n=20)
    vectors = tmp_path / "v.txt"
    vectors.write_text("1 2\nfilm 0.1 0.2\n")
    for extra in (["--embeddings", str(vectors)], ["--tokenizer", "characters"]):
        assert cli.main(["train-classifier", str(data), "--out", str(tmp_path / "m"),
                         "--pretrain", *extra]) == 2
        err = capsys.readouterr().err
        assert "--pretrain" in err and len(err.splitlines()) == 1
