"""One set of text classifier defaults (`keras_rnnx.classifier_defaults`):
`rnnx train-classifier` and the Python API (`text_classifier`,
`TextClassifier.create`, `TextClassifier.fit`) build and train the same
classifier when given no options."""
import argparse
import inspect
import itertools
import json
import re

import keras
import numpy as np
import pytest

from keras_rnnx import classifier_defaults, cli, datasets
from keras_rnnx.commands import train_classifier
from keras_rnnx.models import TextClassifier, text_classifier

POS = ["great", "wonderful", "superb", "lovely"]
NEG = ["awful", "boring", "dreadful", "dull"]


def _texts(n=60, seed=0):
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        words = list(rng.choice(["the", "film", "was", "a", "plot"], 3))
        words.append(rng.choice(POS if i % 2 else NEG))
        texts.append(" ".join(words))
        labels.append(i % 2)
    return texts, np.array(labels)


def _parser():
    parser = argparse.ArgumentParser()
    train_classifier.add_arguments(parser)
    return parser


def _signature_defaults(function):
    return {k: p.default for k, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty}


def test_the_command_defaults_are_the_python_defaults():
    """Every option of `rnnx train-classifier` that the command passes to
    `TextClassifier.create` (and through it `text_classifier`) or to
    `TextClassifier.fit` defaults to that parameter's default."""
    parser = _parser()
    args = parser.parse_args(["DATA"])
    model = _signature_defaults(text_classifier)
    create = _signature_defaults(TextClassifier.create)
    fit = _signature_defaults(TextClassifier.fit)
    as_passed = {  # parameter: (its Python default, what the command passes by default)
        "cell": (model["cell"], args.cell),
        "units": (model["units"], args.units),
        "layers": (model["layers"], args.layers),
        "bidirectional": (model["bidirectional"], args.bidirectional),
        "pooling": (model["pooling"], args.pooling),
        "embedding_dim": (model["embedding_dim"], args.embedding_dim),
        "dropout": (model["dropout"], args.dropout),
        "token_dropout": (model["token_dropout"], args.token_dropout),
        "ngrams": (model["ngrams"], args.ngrams),
        "ngram_buckets": (model["ngram_buckets"], args.ngram_buckets),
        "ngram_lr_multiplier": (model["ngram_lr_multiplier"], args.ngram_lr_multiplier),
        "ngram_l2": (model["ngram_l2"], args.ngram_l2),
        "ngram_pooling": (model["ngram_pooling"], args.ngram_pooling),
        "ngram_updates": (model["ngram_updates"], args.ngram_updates),
        "ngram_weighting": (model["ngram_weighting"], args.ngram_weighting),
        "wide_warmup": (fit["wide_warmup"], args.wide_warmup),
        "wide_init": (fit["wide_init"], args.wide_init),
        "pretrain": (create["pretrain"], args.pretrain is not None
                     or (classifier_defaults.PRETRAIN and not args.no_pretrain)),
        "embedding_warmup": (fit["embedding_warmup"], args.embedding_warmup),
        "tokenizer": (create["tokenizer"], args.tokenizer),
        "lowercase": (create["lowercase"], args.lowercase),
        "min_count": (create["min_count"], args.min_count),
        "max_vocabulary": (create["max_vocabulary"], args.max_vocabulary),
        "max_length": (create["max_length"], args.max_length),
        "recurrent_length": (create["recurrent_length"], args.recurrent_length),
        "epochs": (fit["epochs"], args.epochs),
        "batch_size": (fit["batch_size"], args.batch_size),
        "class_weight": (fit["class_weight"], args.class_weight),
        "validation_fraction": (fit["validation_fraction"], args.validation_fraction),
        "monitor": (fit["monitor"], args.monitor),
        "patience": (fit["patience"], args.patience),
        "reduce_lr": (fit["reduce_lr"], args.reduce_lr),
        "learning_rate": (fit["learning_rate"], args.learning_rate),
        "refit": (fit["refit"], args.refit),
        "bucketing": (fit["bucketing"], args.bucketing),
        "seed": (fit["seed"], args.seed),
    }
    assert {k: v[0] for k, v in as_passed.items()} == {k: v[1] for k, v in as_passed.items()}
    # and they are the measured defaults: the wide & deep BiLSTM, refit on
    assert (model["units"], model["pooling"], model["dropout"], model["ngrams"],
            create["tokenizer"]) == (32, "max", 0.5, 2, "unicode_script")
    assert fit["refit"] is None and classifier_defaults.REFIT is True
    # pretrained vectors, frozen for the first epochs (None: EMBEDDING_WARMUP when they start it)
    assert create["pretrain"] is True and fit["embedding_warmup"] is None
    assert classifier_defaults.EMBEDDING_WARMUP == 2
    # the help texts state the same values
    help_text = " ".join(parser.format_help().split())
    for option, value in (("--units", 32), ("--dropout", 0.5), ("--token-dropout", 0.1),
                          ("--ngrams", 2), ("--tokenizer", "unicode_script"),
                          ("--learning-rate", 0.003), ("--patience", 3)):
        assert re.search(rf" {option} (?:(?! --).)*\(default:? {value}\)", help_text), option


def test_the_command_switches_give_the_python_values():
    """The boolean switches and --lr-schedule store what the command passes
    to the Python API (defaults above), set: the other value."""
    parser = _parser()
    args = parser.parse_args(["DATA", "--unidirectional", "--no-lowercase", "--no-class-weights",
                              "--lr-schedule", "plateau"])
    assert (args.bidirectional, args.lowercase, args.class_weight, args.reduce_lr) == (
        False, False, None, classifier_defaults.PLATEAU_FACTOR)
    assert parser.parse_args(["DATA", "--lr-schedule", "constant"]).reduce_lr is None
    assert classifier_defaults.PLATEAU_FACTOR == 0.5   # halves the rate, as before
    help_text = " ".join(parser.format_help().split())
    for said in ("(default: both directions)", "(default: lowercase)",
                 "(default: balanced class weights)", "multiply it by 0.5 after each epoch",
                 "(default constant,"):
        assert said in help_text, said


def _layers(model):
    """Each layer's class and config, in order, as JSON has them (a loaded
    model's shapes are lists); Keras' anonymous op layers (`ops.not_equal`
    ...) by class only, as their names count up per process."""
    return [(type(layer).__name__,
             None if type(layer).__module__.startswith("keras.src.ops")
             else json.loads(json.dumps(layer.get_config())))
            for layer in model.layers]


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """`rnnx train-classifier DATA` with its defaults (but one epoch, no export)."""
    tmp = tmp_path_factory.mktemp("defaults")
    texts, labels = _texts()
    data = tmp / "train.txt"
    data.write_text("".join(f"__label__{'pos' if y else 'neg'} {t}\n" for t, y in zip(texts, labels)),
                    encoding="utf-8")
    out = tmp / "model"
    assert cli.main(["train-classifier", str(data), "--out", str(out), "--epochs", "1",
                     "--no-export", "--quiet"]) == 0
    return data, out


def test_create_and_fit_with_no_options_are_the_command(cli_run):
    """The same split, `create` with no options and `fit` with its defaults
    (but the command's one epoch): the model's config, vocabulary,
    classifier.json settings, training report and predictions are the
    command's."""
    data, out = cli_run
    train, test = datasets.read(str(data), "fasttext").split(0.2, seed=0)
    keras.utils.set_random_seed(0)  # as the command does with its --seed 0
    clf = TextClassifier.create(train.texts, train.labels, train.class_names)
    saved = TextClassifier.load(str(out))
    assert _layers(clf.ids_model) == _layers(saved.ids_model)
    assert clf.vocabulary.tokens == saved.vocabulary.tokens
    config = json.loads((out / "classifier.json").read_text(encoding="utf-8"))
    assert {k: config[k] for k in clf.settings} == json.loads(json.dumps(clf.settings))
    assert clf.settings["model"]["ngrams"] == 2 and clf.settings["model"]["units"] == 32
    assert clf.settings["starts_from_vectors"] is True   # pretrained, as the command does

    clf.fit(train.texts, train.labels, epochs=1, verbose=0)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert clf.training_report == metrics["training"]
    assert clf.training_report["refit"] == {"epochs": 1, "train_size": len(train)}
    assert clf.training_report["embedding_warmup"] == 2 == metrics["embedding_warmup"]
    np.testing.assert_allclose(clf.predict_proba(test.texts), saved.predict_proba(test.texts),
                               atol=1e-6)


def test_fit_refits_by_default_whenever_there_is_a_validation_part():
    texts, labels = _texts(40, seed=1)
    clf = TextClassifier.create(texts, labels, ["neg", "pos"], units=2, embedding_dim=2,
                                ngrams=0)
    clf.fit(texts, labels, epochs=1, verbose=0)
    assert clf.training_report["refit"] == {"epochs": 1, "train_size": 40}
    assert sorted(clf.fit_indices["refit"]) == list(range(40))
    clf.fit(texts, labels, epochs=1, verbose=0, validation_fraction=0)
    assert clf.training_report["refit"] is None and "refit" not in clf.fit_indices
    clf.fit(texts, labels, epochs=1, verbose=0, validation_data=(texts[:4], labels[:4]))
    assert clf.training_report["refit"] is None
    clf.fit(texts, labels, epochs=1, verbose=0, refit=False)
    assert clf.training_report["refit"] is None
    with pytest.raises(ValueError, match="refit"):
        clf.fit(texts, labels, epochs=1, verbose=0, refit=True,
                validation_data=(texts[:4], labels[:4]))


def test_default_pretraining_falls_back_to_a_random_start_on_texts_too_small_for_it(tmp_path):
    """No word occurs twice: `create`'s default pretraining warns and starts
    the embedding at random (no warm-up in `fit`); the command says so and
    trains; an explicit `--pretrain` is still an error naming it."""
    words = ["".join(p) for p in itertools.permutations("abcde", 3)]   # letters only: one word each
    texts = [f"{words[2 * i]} {words[2 * i + 1]}" for i in range(12)]
    labels = np.arange(12) % 2
    with pytest.warns(UserWarning, match="no word vectors pretrained"):
        clf = TextClassifier.create(texts, labels, ["a", "b"], units=2, embedding_dim=2)
    assert clf.settings["starts_from_vectors"] is False
    clf.fit(texts, labels, epochs=1, verbose=0)
    assert clf.training_report["embedding_warmup"] == 0

    data = tmp_path / "tiny.txt"
    data.write_text("".join(f"__label__{'ab'[y]} {t}\n" for t, y in zip(texts, labels)),
                    encoding="utf-8")
    assert cli.main(["train-classifier", str(data), "--out", str(tmp_path / "m"), "--epochs", "1",
                     "--units", "2", "--embedding-dim", "2", "--no-export", "--quiet"]) == 0
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["pretrained_vectors"] is False and metrics["embedding_warmup"] == 0
    assert cli.main(["train-classifier", str(data), "--out", str(tmp_path / "p"), "--pretrain",
                     "--epochs", "1", "--no-export", "--quiet"]) != 0
