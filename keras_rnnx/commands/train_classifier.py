"""`rnnx train-classifier DATA --format fasttext|csv|folders --out DIR`.

Trains a recurrent text classifier with early stopping on a validation part
of the training texts, prints per-class metrics on a held-out test split
(never seen in training or in choosing the epoch), saves the model folder
(`model.keras` taking raw strings, `classifier.json`, `vocab.txt`,
`metrics.json` with the epoch kept and why, `split.json` with the positions
in DATA of the train, validation and test texts) and exports `saved_model/`
(TF Serving; `classify` signature: raw strings -> class names and
probabilities) and `model.tflite` (token ids in; `vocab.txt` beside it).

DATA is a file or folder in the given format, or the name of a built-in task
(`sentiment`, `topic`, `language`; see `keras_rnnx.datasets`).
"""
import argparse

from keras_rnnx.commands import _args

NAME = "train-classifier"
# skip-gram vectors from the training texts start the embedding (--pretrain), frozen for the
# first 2 epochs, then fine-tuned (--embedding-warmup 2): with the wide part and refit on,
# macro-F1 -0.5 / +0.8 / -0.3 / +1.1 (seed 0) and -0.2 / +0.8 / +0.9 / +0.1 (seed 1) on the four
# sets of tools/classify_bench.py, every run within 0.5 of TF-IDF + LR, at 1.0-2.1x the epochs
# plus Word2Vec (bench_results.md); without the warm-up -1.6 / +0.7 / -0.5 / +0.3 (seed 0)
PRETRAIN = True
# epochs the embedding stays frozen at the start when it starts from word vectors (--pretrain,
# --embeddings), then it is fine-tuned (--embedding-warmup)
EMBEDDING_WARMUP = 2
# train again on training + validation texts for the epoch found (--refit): on whenever there is
# a validation part; with the wide part on, macro-F1 +0.5 / -0.7 / +0.7 / +0.5 (seed 0) on the
# four sets of tools/classify_bench.py and it lifts the two sets where TF-IDF + LR is closest,
# at 1.1-1.9x the training time (bench_results.md)
REFIT = True
# batches of similar length, each padded to its own longest text (--bucketing): off, an epoch
# on Bible passages takes 0.56x the time, but macro-F1 moved +0.2 / -0.6 / -0.7 / -2.8
BUCKETING = False
# the wide part (hashed n-grams) and its buckets by default (see the README's measurements)
NGRAMS = 2
NGRAM_BUCKETS = 2 ** 16
NGRAM_LR_MULTIPLIER = 10.0
NGRAM_L2 = 1e-4
NGRAM_POOLING = "sqrt"
HELP = "train a recurrent text classifier from a data folder or file"


def add_arguments(parser):
    parser.add_argument("data", help="data file/folder, or a built-in task: sentiment, topic, language")
    parser.add_argument("--format", choices=["fasttext", "csv", "folders"], default=None,
                        help="layout of DATA (default: folders for a folder, csv for *.csv, else fasttext)")
    parser.add_argument("--label-column", default="label", help="CSV: the label column")
    parser.add_argument("--text-column", default="text", help="CSV: the text column")
    parser.add_argument("--out", default="classifier", help="output folder (default: ./classifier)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the classifier files already in --out")
    parser.add_argument("--cell", choices=["lstm", "gru"], default="lstm",
                        help="recurrent cell (default lstm)")
    parser.add_argument("--units", type=_args.positive_int, default=32,
                        help="units per direction (default 32)")
    parser.add_argument("--layers", type=_args.positive_int, default=1,
                        help="stacked recurrent layers (default 1)")
    parser.add_argument("--unidirectional", action="store_true", help="no backward direction")
    parser.add_argument("--pooling", choices=["last", "mean", "max", "attention"], default="max",
                        help="how the sequence becomes one vector (default max)")
    parser.add_argument("--embedding-dim", type=_args.positive_int, default=64,
                        help="token embedding size (default 64)")
    parser.add_argument("--embeddings", default=None, metavar="VECTORS", type=_args.input_file,
                        help="pretrained word vectors (word2vec text/binary format) to initialise the embedding")
    parser.add_argument("--pretrain", nargs="?", const="", default=None, metavar="CORPUS",
                        type=lambda t: t if t == "" else _args.utf8_file(t),
                        help="train skip-gram word vectors (the project's Word2Vec) on the "
                             "training texts, plus the unlabelled UTF-8 CORPUS file if given, "
                             f"and start the embedding from them (default: {'on' if PRETRAIN else 'off'})")
    parser.add_argument("--no-pretrain", action="store_true",
                        help="start the embedding from random values")
    parser.add_argument("--embedding-warmup", type=_args.non_negative_int, default=None,
                        metavar="K",
                        help="with --pretrain or --embeddings: keep the embedding frozen at its "
                             "starting vectors for the first K epochs (and the refit's first K), "
                             f"then fine-tune it (default {EMBEDDING_WARMUP})")
    parser.add_argument("--ngrams", type=_args.non_negative_int, default=NGRAMS, metavar="N",
                        help="wide & deep: add a linear part over the hashed token 1..N-grams "
                             f"to the recurrent logits; 0: off (default {NGRAMS})")
    parser.add_argument("--ngram-buckets", type=_args.positive_int, default=NGRAM_BUCKETS,
                        help="hash buckets of the 2..N-grams; the linear part holds "
                             "(vocabulary + buckets) x classes weights "
                             f"(default {NGRAM_BUCKETS})")
    parser.add_argument("--ngram-lr-multiplier", type=_args.positive_float, default=NGRAM_LR_MULTIPLIER,
                        help="the n-gram part's learning rate as a multiple of --learning-rate "
                             f"(default {NGRAM_LR_MULTIPLIER:g})")
    parser.add_argument("--ngram-l2", type=_args.non_negative_float, default=NGRAM_L2,
                        help=f"L2 penalty on the n-gram part's weights (default {NGRAM_L2:g})")
    parser.add_argument("--ngram-pooling", choices=["sqrt", "mean", "sum"], default=NGRAM_POOLING,
                        help="how the n-gram part pools its rows: sum / sqrt(count), mean or "
                             f"sum (default {NGRAM_POOLING})")
    parser.add_argument("--dropout", type=_args.rate, default=0.5,
                        help="dropout rate after the embedding and pooling (and between "
                             "recurrent layers), in [0, 1) (default 0.5)")
    parser.add_argument("--token-dropout", type=_args.rate, default=0.1,
                        help="word dropout: rate of replacing training tokens by the OOV id")
    parser.add_argument("--tokenizer", choices=["whitespace", "unicode_script", "characters"],
                        default="unicode_script", help="words (whitespace, unicode_script) or characters")
    parser.add_argument("--no-lowercase", action="store_true", help="keep the case of tokens")
    parser.add_argument("--min-count", type=_args.positive_int, default=1,
                        help="minimum token count for the vocabulary (default 1)")
    parser.add_argument("--max-vocabulary", type=_args.positive_int, default=20000,
                        help="vocabulary size limit (default 20000)")
    parser.add_argument("--max-length", type=_args.positive_int, default=None,
                        help="tokens kept per text (default: 95th percentile of the training lengths, <= 256)")
    parser.add_argument("--epochs", type=_args.positive_int, default=30,
                        help="the maximum number of epochs (default 30); training stops "
                             "earlier when the validation score stops improving")
    parser.add_argument("--validation-fraction", type=_args.rate, default=0.1,
                        help="share of the training texts held out (stratified) to choose "
                             "the epoch, in [0, 1); 0: no early stopping (default 0.1)")
    parser.add_argument("--monitor", choices=["macro_f1", "accuracy", "loss"], default="macro_f1",
                        help="validation score that picks the epoch kept (default macro_f1)")
    parser.add_argument("--patience", type=_args.positive_int, default=3,
                        help="epochs without a better validation score before stopping (default 3)")
    parser.add_argument("--refit", action=argparse.BooleanOptionalAction, default=None,
                        help="after early stopping, train again from the start on all the "
                             "training texts (training and validation parts) for the epoch "
                             f"count found (default: {'on' if REFIT else 'off'} when there is "
                             "a validation part)")
    parser.add_argument("--bucketing", action=argparse.BooleanOptionalAction, default=BUCKETING,
                        help="train on batches of texts of similar length, each padded only "
                             "to its own longest text (fewer recurrent steps on short texts) "
                             f"(default: {'on' if BUCKETING else 'off'})")
    parser.add_argument("--lr-schedule", choices=["plateau", "constant"], default="constant",
                        help="constant: keep --learning-rate; plateau: halve it after each "
                             "epoch without improvement (default constant, measured: see README)")
    parser.add_argument("--batch-size", type=_args.positive_int, default=32,
                        help="training batch size (default 32)")
    parser.add_argument("--learning-rate", type=_args.positive_float, default=3e-3,
                        help="Adam learning rate (default 3e-3)")
    parser.add_argument("--no-class-weights", action="store_true", help="do not balance the classes")
    parser.add_argument("--test-fraction", type=_args.open_fraction, default=0.2,
                        help="held-out fraction, stratified, in (0, 1) (default 0.2)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--no-export", action="store_true", help="skip the SavedModel and TFLite exports")
    parser.add_argument("--quantize", choices=["dynamic", "float16"], default=None, help="TFLite weight quantization")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress output (default: a bar on a terminal, one line "
                             "per epoch when piped)")
    parser.add_argument("--backup-dir", default=None,
                        help="training backup folder (default OUT/backup): a run killed "
                             "part-way resumes after its last completed epoch; removed "
                             "when training finishes")


def _load_data(args):
    import os

    from keras_rnnx import datasets

    if not os.path.exists(args.data) and args.data in datasets.TASKS:
        return datasets.load(args.data)
    fmt = args.format
    if fmt is None:
        if os.path.isdir(args.data):
            fmt = "folders"
        elif args.data.lower().endswith((".csv", ".tsv")):
            fmt = "csv"
        else:
            fmt = "fasttext"
    if fmt == "csv":
        return datasets.read_csv(args.data, args.label_column, args.text_column)
    return datasets.read(args.data, fmt)


# what train-classifier writes in --out
OUTPUTS = ("model.keras", "classifier.json", "vocab.txt", "metrics.json", "split.json",
           "saved_model", "model.tflite")


def _starts_from_vectors(args):
    """Whether the embedding starts from word vectors (--embeddings, --pretrain or its default)."""
    pretrain = args.pretrain is not None or (PRETRAIN and not args.no_pretrain)
    return bool(args.embeddings) or (pretrain and args.tokenizer != "characters")


def check(args):
    import os

    from keras_rnnx.datasets import TASKS

    _args.check_output_folder(args.out, "--out", args.overwrite, OUTPUTS)
    if args.pretrain is not None and args.embeddings:
        raise _args.UsageError("argument --pretrain: not allowed with --embeddings "
                               "(both give the embedding's starting vectors)")
    if args.pretrain is not None and args.tokenizer == "characters":
        raise _args.UsageError("argument --pretrain: word vectors need a word tokenizer "
                               "(--tokenizer whitespace or unicode_script), not characters")
    if args.embedding_warmup and not _starts_from_vectors(args):
        raise _args.UsageError("argument --embedding-warmup: freezes starting word vectors; "
                               "give them with --pretrain or --embeddings")
    if args.refit and args.validation_fraction == 0:  # asked for explicitly
        raise _args.UsageError("argument --refit: needs a validation part to choose the epoch "
                               "count (--validation-fraction > 0)")
    if os.path.isdir(args.data):
        _args.check_utf8_tree(args.data, "DATA")
    elif os.path.isfile(args.data):
        problem = _args.utf8_problem(args.data)
        if problem:
            raise _args.UsageError(f"DATA: {args.data!r}: {problem}")
    elif args.data not in TASKS:
        raise _args.UsageError(f"DATA: no file or folder at path {args.data!r}, and not a "
                               f"built-in task ({', '.join(sorted(TASKS))})")


def run(args):
    import json
    import os
    import sys
    import time

    from keras_rnnx import progress

    def fail(msg):
        progress.error(f"rnnx train-classifier: {msg}")
        return 2

    try:
        data = _load_data(args)
    except (ValueError, TypeError) as e:
        return fail(e)
    if data.num_classes < 2:
        return fail(f"DATA must hold at least two classes; found {data.class_names}")
    too_small = [c for c, n in zip(data.class_names, data.class_counts()) if n < 2]
    if too_small:
        return fail(f"every class needs at least 2 texts for a held-out split; too few: {too_small}")

    import keras

    from keras_rnnx import metrics as classification_metrics
    from keras_rnnx.models import TextClassifier
    from keras_rnnx.text import atomic_write
    from keras_rnnx.training import AtomicBackupAndRestore

    keras.utils.set_random_seed(args.seed)
    train, test = data.split(args.test_fraction, seed=args.seed)
    print(f"{data!r}\ntrain {len(train)}, held out {len(test)}", flush=True)
    embeddings = None
    if args.embeddings:
        from keras_rnnx.word2vec.keyed_vectors import KeyedVectors

        try:
            embeddings = KeyedVectors.load_word2vec_format(args.embeddings)
        except (ValueError, OSError) as e:
            return fail(f"--embeddings: {e}")
    t_start = time.perf_counter()
    pretrain = (args.pretrain is not None or (PRETRAIN and not args.no_pretrain)) \
        and embeddings is None and args.tokenizer != "characters"
    if pretrain:
        from keras_rnnx.models.text_classifier import pretrain_vectors

        t_w2v = time.perf_counter()
        try:
            embeddings = pretrain_vectors(
                train.texts, corpus=args.pretrain or None, tokenizer=args.tokenizer,
                lowercase=not args.no_lowercase, vector_size=args.embedding_dim,
                seed=max(args.seed, 0) + 1, progress_bar=not args.quiet and progress.interactive())
        except ValueError as e:
            return fail(f"--pretrain: {e}")
        print(f"pretrained {len(embeddings)} word vectors in {time.perf_counter() - t_w2v:.1f}s",
              flush=True)
    try:
        clf = TextClassifier.create(
            train.texts, train.labels, train.class_names,
            tokenizer=args.tokenizer, lowercase=not args.no_lowercase,
            min_count=args.min_count, max_vocabulary=args.max_vocabulary,
            max_length=args.max_length, cell=args.cell, units=args.units,
            layers=args.layers, bidirectional=not args.unidirectional,
            pooling=args.pooling, embedding_dim=args.embedding_dim,
            embeddings=embeddings, dropout=args.dropout, token_dropout=args.token_dropout,
            ngrams=args.ngrams, ngram_buckets=args.ngram_buckets,
            ngram_lr_multiplier=args.ngram_lr_multiplier, ngram_l2=args.ngram_l2,
            ngram_pooling=args.ngram_pooling,
        )
    except (ValueError, TypeError) as e:
        return fail(e)
    print(f"vocabulary {len(clf.vocabulary)} tokens, max_length {clf.max_length}", flush=True)
    warmup = 0 if embeddings is None else (
        EMBEDDING_WARMUP if args.embedding_warmup is None else args.embedding_warmup)
    backup_dir = args.backup_dir or os.path.join(args.out, "backup")
    callbacks = [AtomicBackupAndRestore(backup_dir, delete_checkpoint=True)]
    if not args.quiet:
        callbacks.append(progress.EpochProgress())
    clf.fit(
        train.texts, train.labels, epochs=args.epochs, batch_size=args.batch_size,
        class_weight=None if args.no_class_weights else "balanced",
        validation_fraction=args.validation_fraction, monitor=args.monitor,
        patience=args.patience, reduce_lr=0.5 if args.lr_schedule == "plateau" else None,
        learning_rate=args.learning_rate, verbose=0, seed=args.seed,
        callbacks=callbacks, backup_dir=backup_dir, refit=(REFIT if args.refit is None else args.refit) and args.validation_fraction > 0,
        bucketing=args.bucketing, embedding_warmup=warmup,
    )
    seconds = time.perf_counter() - t_start  # pretraining, vocabulary and fit
    training = clf.training_report
    report = clf.evaluate(test.texts, test.labels)
    print(f"\ntrained in {seconds:.1f}s on {training['train_size']} texts "
          f"(validation {training['validation_size']}): {training['reason']}")
    print(f"held-out metrics ({len(test)} texts, never seen in training or model selection):")
    print(classification_metrics.format_report(report))

    os.makedirs(args.out, exist_ok=True)
    clf.save(args.out, overwrite=args.overwrite)
    atomic_write(
        os.path.join(args.out, "metrics.json"),
        json.dumps({"held_out": report, "train_seconds": seconds, "training": training,
                    "pretrained_vectors": bool(pretrain), "embedding_warmup": warmup,
                    "bucketing": bool(args.bucketing),
                    "refit": training["refit"],
                    "train_size": training["train_size"],
                    "validation_size": training["validation_size"],
                    "test_size": len(test)}, indent=2) + "\n",
    )
    # positions in DATA of each part, for reproducing the split
    split = {
        "seed": args.seed, "test_fraction": args.test_fraction,
        "validation_fraction": args.validation_fraction,
        "train": train.indices[clf.fit_indices["train"]].tolist(),
        "validation": train.indices[clf.fit_indices["validation"]].tolist(),
        # the texts of the refit (training + validation), when it ran
        "refit": (train.indices[clf.fit_indices["refit"]].tolist()
                  if "refit" in clf.fit_indices else None),
        "test": test.indices.tolist(),
    }
    atomic_write(os.path.join(args.out, "split.json"), json.dumps(split) + "\n")
    print(f"saved {os.path.join(args.out, 'model.keras')} (raw strings in)")
    if not args.no_export:
        sm = os.path.join(args.out, "saved_model")
        clf.export_saved_model(sm, overwrite=args.overwrite)
        print(f"exported {sm} (signatures: classify, serving_default, class_names)")
        tfl = os.path.join(args.out, "model.tflite")
        clf.export_tflite(tfl, quantize=args.quantize, overwrite=args.overwrite)
        print(f"exported {tfl} (int32 token ids [batch, {clf.max_length}] in; "
              "vocab.txt beside it)")
    return 0
