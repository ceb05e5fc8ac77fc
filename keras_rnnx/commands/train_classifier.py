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

Every default of the model and of its training is
`keras_rnnx.classifier_defaults`', the Python API's (`TextClassifier.create`
and `fit`), so the command and a Python user get the same classifier.
"""
import argparse

from keras_rnnx import classifier_defaults as defaults
from keras_rnnx.commands import _args

NAME = "train-classifier"
HELP = "train a recurrent text classifier from a data folder or file"


def _on(flag):
    return "on" if flag else "off"


def add_arguments(parser):
    parser.add_argument("data", help="data file/folder, or a built-in task: sentiment, topic, language")
    parser.add_argument("--format", choices=["fasttext", "csv", "folders"], default=None,
                        help="layout of DATA (default: folders for a folder, csv for *.csv, else fasttext)")
    parser.add_argument("--label-column", default="label", help="CSV: the label column")
    parser.add_argument("--text-column", default="text", help="CSV: the text column")
    parser.add_argument("--out", default="classifier", help="output folder (default: ./classifier)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the classifier files already in --out")
    _args.add_cell(parser, defaults.CELL)
    _args.add_units(parser, defaults.UNITS, "units per direction")
    _args.add_layers(parser, defaults.LAYERS)
    parser.add_argument("--unidirectional", dest="bidirectional", action="store_false",
                        default=defaults.BIDIRECTIONAL,
                        help="no backward direction (default: "
                             f"{'both directions' if defaults.BIDIRECTIONAL else 'forward only'})")
    parser.add_argument("--pooling", choices=["last", "mean", "max", "attention"], default=defaults.POOLING,
                        help=f"how the sequence becomes one vector (default {defaults.POOLING})")
    parser.add_argument("--embedding-dim", type=_args.positive_int, default=defaults.EMBEDDING_DIM,
                        help=f"token embedding size (default {defaults.EMBEDDING_DIM})")
    parser.add_argument("--embeddings", default=None, metavar="VECTORS", type=_args.input_file,
                        help="pretrained word vectors (word2vec text/binary format) to initialise the embedding")
    parser.add_argument("--pretrain", nargs="?", const="", default=None, metavar="CORPUS",
                        type=lambda t: t if t == "" else _args.utf8_file(t),
                        help="train skip-gram word vectors (the project's Word2Vec) on the "
                             "training texts, plus the unlabelled UTF-8 CORPUS file if given, "
                             f"and start the embedding from them (default: {_on(defaults.PRETRAIN)})")
    parser.add_argument("--no-pretrain", action="store_true",
                        help="start the embedding from random values")
    parser.add_argument("--embedding-warmup", type=_args.non_negative_int, default=None,
                        metavar="K",
                        help="with --pretrain or --embeddings: keep the embedding frozen at its "
                             "starting vectors for the first K epochs (and the refit's first K), "
                             f"then fine-tune it (default {defaults.EMBEDDING_WARMUP})")
    parser.add_argument("--wide-warmup", type=_args.non_negative_int,
                        default=defaults.WIDE_WARMUP, metavar="K",
                        help="wide first: the recurrent part's logits start at zero and it stays "
                             "frozen for the first K epochs (and the refit's) while the n-gram "
                             f"part trains alone (default {defaults.WIDE_WARMUP})")
    parser.add_argument("--wide-init", choices=["zeros", "naive_bayes"], default=None,
                        help="how the n-gram part's weights start: zeros, or the multinomial naive "
                             "Bayes log-count ratios of the texts trained on "
                             f"(default {defaults.WIDE_INIT} with --ngrams above 0)")
    parser.add_argument("--ngrams", type=_args.non_negative_int, default=defaults.NGRAMS, metavar="N",
                        help="wide & deep: add a linear part over the hashed token 1..N-grams "
                             f"to the recurrent logits; 0: off (default {defaults.NGRAMS})")
    parser.add_argument("--ngram-buckets", type=_args.positive_int, default=defaults.NGRAM_BUCKETS,
                        help="hash buckets of the 2..N-grams; the linear part holds "
                             "(vocabulary + buckets) x classes weights "
                             f"(default {defaults.NGRAM_BUCKETS})")
    parser.add_argument("--ngram-lr-multiplier", type=_args.positive_float,
                        default=defaults.NGRAM_LR_MULTIPLIER,
                        help="the n-gram part's learning rate as a multiple of --learning-rate "
                             f"(default {defaults.NGRAM_LR_MULTIPLIER:g})")
    parser.add_argument("--ngram-l2", type=_args.non_negative_float, default=defaults.NGRAM_L2,
                        help=f"L2 penalty on the n-gram part's weights (default {defaults.NGRAM_L2:g})")
    parser.add_argument("--ngram-updates", choices=["dense", "lazy"],
                        default=defaults.NGRAM_UPDATES,
                        help="dense: Adam updates the whole n-gram table every step, its L2 on "
                             "every row; lazy: LazyAdam updates only the rows a batch reads, its "
                             f"L2 on those rows (default {defaults.NGRAM_UPDATES})")
    parser.add_argument("--ngram-pooling", choices=["sqrt", "mean", "sum"],
                        default=defaults.NGRAM_POOLING,
                        help="how the n-gram part pools its rows: sum / sqrt(count), mean or "
                             f"sum (default {defaults.NGRAM_POOLING})")
    parser.add_argument("--ngram-weighting", choices=["none", "idf"],
                        default=defaults.NGRAM_WEIGHTING,
                        help="none: every n-gram counts 1 in the n-gram part; idf: its inverse "
                             "document frequency in the training texts, pooled with the weights' "
                             f"L2 norm, as TF-IDF (default {defaults.NGRAM_WEIGHTING})")
    parser.add_argument("--dropout", type=_args.rate, default=defaults.DROPOUT,
                        help="dropout rate after the embedding and pooling (and between "
                             f"recurrent layers), in [0, 1) (default {defaults.DROPOUT:g})")
    parser.add_argument("--token-dropout", type=_args.rate, default=defaults.TOKEN_DROPOUT,
                        help="word dropout: rate of replacing training tokens by the OOV id "
                             f"(default {defaults.TOKEN_DROPOUT:g})")
    parser.add_argument("--tokenizer", choices=["whitespace", "unicode_script", "characters"],
                        default=defaults.TOKENIZER,
                        help=f"words (whitespace, unicode_script) or characters (default {defaults.TOKENIZER})")
    parser.add_argument("--no-lowercase", dest="lowercase", action="store_false",
                        default=defaults.LOWERCASE,
                        help=f"keep the case of tokens (default: {'lowercase' if defaults.LOWERCASE else 'kept'})")
    parser.add_argument("--min-count", type=_args.positive_int, default=defaults.MIN_COUNT,
                        help=f"minimum token count for the vocabulary (default {defaults.MIN_COUNT})")
    parser.add_argument("--max-vocabulary", type=_args.positive_int, default=defaults.MAX_VOCABULARY,
                        help=f"vocabulary size limit (default {defaults.MAX_VOCABULARY})")
    parser.add_argument("--max-length", type=_args.positive_int, default=None,
                        help="tokens kept per text, all read by the wide part (default: the "
                             f"longest training text, <= {defaults.MAX_WIDE_LENGTH}, with the wide "
                             "part on; else the recurrent length)")
    parser.add_argument("--recurrent-length", type=_args.positive_int, default=None,
                        help="tokens the recurrent part reads, the first of each text, at most "
                             "--max-length (default: --max-length when given, else the "
                             f"{defaults.LENGTH_PERCENTILE}th percentile of the training lengths, "
                             f"<= {defaults.MAX_AUTO_LENGTH})")
    _args.add_epochs(parser, defaults.EPOCHS, "the maximum number of epochs; training stops "
                                              "earlier when the validation score stops improving")
    parser.add_argument("--validation-fraction", type=_args.rate, default=defaults.VALIDATION_FRACTION,
                        help="share of the training texts held out (stratified) to choose "
                             "the epoch, in [0, 1); 0: no early stopping "
                             f"(default {defaults.VALIDATION_FRACTION:g})")
    parser.add_argument("--monitor", choices=["macro_f1", "accuracy", "loss"], default=defaults.MONITOR,
                        help=f"validation score that picks the epoch kept (default {defaults.MONITOR})")
    parser.add_argument("--patience", type=_args.positive_int, default=defaults.PATIENCE,
                        help="epochs without a better validation score before stopping "
                             f"(default {defaults.PATIENCE})")
    parser.add_argument("--refit", action=argparse.BooleanOptionalAction, default=None,
                        help="after early stopping, train again from the start on all the "
                             "training texts (training and validation parts) for the epoch "
                             f"count found (default: {_on(defaults.REFIT)} when there is "
                             "a validation part)")
    parser.add_argument("--bucketing", action=argparse.BooleanOptionalAction, default=defaults.BUCKETING,
                        help="train on batches of texts of similar length, each padded only "
                             "to its own longest text (fewer recurrent steps on short texts) "
                             f"(default: {_on(defaults.BUCKETING)})")
    schedule = "plateau" if defaults.REDUCE_LR else "constant"
    parser.add_argument("--lr-schedule", dest="reduce_lr", choices=["plateau", "constant"],
                        action=_args.store_mapped({"plateau": defaults.PLATEAU_FACTOR,
                                                   "constant": None}),
                        default=defaults.REDUCE_LR,
                        help="constant: keep --learning-rate; plateau: multiply it by "
                             f"{defaults.PLATEAU_FACTOR:g} after each epoch without improvement "
                             f"(default {schedule}, measured: see README)")
    _args.add_batch_size(parser, defaults.BATCH_SIZE)
    _args.add_learning_rate(parser, defaults.LEARNING_RATE)
    parser.add_argument("--no-class-weights", dest="class_weight", action="store_const", const=None,
                        default=defaults.CLASS_WEIGHT,
                        help=f"do not weight the classes (default: {defaults.CLASS_WEIGHT} class weights)")
    parser.add_argument("--test-fraction", type=_args.open_fraction, default=0.2,
                        help="held-out fraction, stratified, in (0, 1) (default 0.2)")
    _args.add_seed(parser, 0)
    parser.add_argument("--no-export", action="store_true", help="skip the SavedModel and TFLite exports")
    parser.add_argument("--quantize", choices=["dynamic", "float16"], default=None, help="TFLite weight quantization")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress output (default: a bar on a terminal, one line "
                             "per epoch when piped)")
    _args.add_backup_dir(parser, "OUT/backup")


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


def _pretrains(args):
    """Whether skip-gram vectors are trained for the embedding (--pretrain or its default;
    not with --embeddings or characters)."""
    asked = args.pretrain is not None or (defaults.PRETRAIN and not args.no_pretrain)
    return asked and not args.embeddings and args.tokenizer != "characters"


def _starts_from_vectors(args):
    """Whether the embedding starts from word vectors (--embeddings, --pretrain or its default)."""
    return bool(args.embeddings) or _pretrains(args)


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
    pretrain = _pretrains(args)
    if pretrain:
        from keras_rnnx.models.text_classifier import pretrain_vectors

        t_w2v = time.perf_counter()
        try:
            embeddings = pretrain_vectors(
                train.texts, corpus=args.pretrain or None, tokenizer=args.tokenizer,
                lowercase=args.lowercase, vector_size=args.embedding_dim,
                seed=(args.seed + 1) % 2 ** 32, progress_bar=not args.quiet and progress.interactive())
        except ValueError as e:
            if args.pretrain is not None:  # asked for
                return fail(f"--pretrain: {e}")
            # the default on texts too small for it (no word occurs twice): a random start
            print(f"no word vectors pretrained ({e}); the embedding starts at random", flush=True)
            pretrain = False
        else:
            print(f"pretrained {len(embeddings)} word vectors in {time.perf_counter() - t_w2v:.1f}s",
                  flush=True)
    try:
        clf = TextClassifier.create(
            train.texts, train.labels, train.class_names,
            tokenizer=args.tokenizer, lowercase=args.lowercase,
            min_count=args.min_count, max_vocabulary=args.max_vocabulary,
            max_length=args.max_length, recurrent_length=args.recurrent_length,
            cell=args.cell, units=args.units,
            layers=args.layers, bidirectional=args.bidirectional,
            pooling=args.pooling, embedding_dim=args.embedding_dim,
            embeddings=embeddings, pretrain=False,  # pretrained above, with --pretrain's corpus
            dropout=args.dropout, token_dropout=args.token_dropout,
            ngrams=args.ngrams, ngram_buckets=args.ngram_buckets,
            ngram_lr_multiplier=args.ngram_lr_multiplier, ngram_l2=args.ngram_l2,
            ngram_updates=args.ngram_updates,
            ngram_pooling=args.ngram_pooling, ngram_weighting=args.ngram_weighting,
        )
    except (ValueError, TypeError) as e:
        return fail(e)
    print(f"vocabulary {len(clf.vocabulary)} tokens, max_length {clf.max_length} (the recurrent "
          f"part reads the first {clf.recurrent_length})", flush=True)
    backup_dir = args.backup_dir or os.path.join(args.out, "backup")
    callbacks = [AtomicBackupAndRestore(backup_dir, delete_checkpoint=True)]
    if not args.quiet:
        callbacks.append(progress.EpochProgress())
    clf.fit(
        train.texts, train.labels, epochs=args.epochs, batch_size=args.batch_size,
        class_weight=args.class_weight,
        validation_fraction=args.validation_fraction, monitor=args.monitor,
        patience=args.patience, reduce_lr=args.reduce_lr,
        learning_rate=args.learning_rate, verbose=0, seed=args.seed,
        callbacks=callbacks, backup_dir=backup_dir, refit=args.refit, bucketing=args.bucketing,
        embedding_warmup=args.embedding_warmup, wide_warmup=args.wide_warmup,
        wide_init=args.wide_init,
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
                    "pretrained_vectors": bool(pretrain), "embedding_warmup": training["embedding_warmup"],
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
