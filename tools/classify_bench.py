"""`rnnx train-classifier` with its defaults vs TF-IDF + logistic regression on
real labelled sets that ship in Debian packages (see `keras_rnnx.datasets`).

For every set both models use the same stratified split, `split(0.2, seed=0)`
of `keras_rnnx.datasets` (the CLI's own `--test-fraction 0.2 --seed 0`). Ours
is the command itself, run in this process as a user would run it (plus
`--no-export`, and the extra options of a configuration), scored from
its `metrics.json`; its time is the command's training time (vocabulary,
fit, early stopping), the peer's the vectorizer + logistic-regression fit
(scikit-learn: `TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)`,
`LogisticRegression(C=10)`; C was chosen once by 3-fold cross-validation on
the fortunes-topic training part from {1, 10, 100}: accuracy 0.467, 0.506,
0.508).

    nice -n 5 python tools/classify_bench.py [--sets a,b] [--configs name,...] [--seed S] [--out FILE.md]

prints one row per set and configuration and, with `--out`, writes the
markdown table (the README's and bench_results.md's). `--seed S` (default 0)
runs both on `split(0.2, seed=S)` instead, ours with `--seed S` (its split
and its initial weights): a second seed moves the test texts and the model.

    nice -n 5 python tools/classify_bench.py --train-size N [--sets a,b] [--seed S]

trains both on a stratified sample of N texts of the training part of
`split(0.2, seed=S)` (drawn with S) and scores them on the whole held-out
part: how the defaults fare with little data. Ours is the library with its
defaults (`TextClassifier.create` + `fit`, whose defaults are the
command's), seeded with S; the peer's C is chosen by 3-fold cross-validation
on the sample (`tools.benchmarks.classification.baseline`), since C=10 was
chosen on a full training part.

    nice -n 5 python tools/classify_bench.py --epoch-time [--sets a,b] [--batch-size 32]

times one training epoch of the default model padded to `max_length` (the
peer) against the same model on `training.LengthBatches` (`--bucketing`),
called alternately in one process (`tools.timing.interleaved_medians`: one
warm-up each, median of 3), and prints the ratio.

    nice -n 5 python tools/classify_bench.py --step-time [--sets a,b] [--buckets 16,18]

times training steps of the default wide & deep model (the CLI's options) on
the set's training texts with the wide part's table trained three ways, in
turns in one process (`interleaved_medians`, one warm-up, median of 7 loops of 20
`train_on_batch` steps on the same batches):
dense (Adam on the whole table, its L2 on every row: the peer), lazy
(`--ngram-updates lazy`: `LazyAdam` on the rows a batch reads, its L2 on
those rows) and no wide part at all (`--ngrams 0`), for each number of
buckets (2^N), and prints ms per step and the ratios.
"""
import argparse
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SETS = ["fortunes-topic", "fortunes-language", "bible-genre", "wordnet-supersense",
        "fortunes-offensive", "wordnet-pos"]
# configuration name -> extra train-classifier options
CONFIGS = {
    # the command's defaults of the day: since issue 18's third round they pretrain the embedding
    # (--pretrain --embedding-warmup 2), since its fourth the wide part counts IDF and starts from
    # naive Bayes (= `naive-bayes-idf`); rows measured before either are `before-idf` or
    # `no-pretrain` runs of today's options
    "defaults": [],
    # the architecture defaults before the wide part (no n-grams, dropout 0.2)
    "before-wide": ["--ngrams", "0", "--dropout", "0.2", "--no-pretrain"],
    "before": ["--epochs", "10", "--validation-fraction", "0", "--no-pretrain"],   # those of 0.2
    "constant-lr": ["--lr-schedule", "constant"],   # the default since these measurements
    "plateau-lr": ["--lr-schedule", "plateau"],
    "no-pretrain": ["--no-pretrain"],   # the defaults before pretraining was on (wide part, refit)
    "pretrain": ["--pretrain", "--embedding-warmup", "0"],   # trained from the first epoch
    "length-384": ["--max-length", "384"],   # long documents: less truncation
    "mean-pooling": ["--pooling", "mean"],
    "monitor-loss": ["--monitor", "loss"],
    # training procedure and input defaults (issue 18, second round; measured before the wide
    # part was on by default, so these rows ran without it)
    "refit": ["--refit"],
    "no-refit": ["--no-refit"],
    "bucketing": ["--bucketing"],
    "no-bucketing": ["--no-bucketing"],
    "refit-bucketing": ["--refit", "--bucketing"],
    "batch-16": ["--batch-size", "16"],
    "batch-64": ["--batch-size", "64"],
    "token-dropout-0": ["--token-dropout", "0"],
    "token-dropout-0.2": ["--token-dropout", "0.2"],
    "whitespace": ["--tokenizer", "whitespace"],
    "length-128": ["--max-length", "128"],
    "length-64": ["--max-length", "64"],
    # a second seed (its own test split: compare these two rows with each other only)
    "seed-1": ["--seed", "1"],
    "bucketing-seed-1": ["--bucketing", "--seed", "1"],
    # wide & deep: a linear part over hashed token n-grams beside the BiRNN. Every option the
    # rows were measured with is spelt out, so each name means the same run whatever the
    # defaults (the defaults at first: no n-grams, dropout 0.2; lr multiplier 1, L2 0, 2^16 buckets)
    **{name: ["--ngrams", str(n), "--ngram-lr-multiplier", str(lr), "--ngram-l2", str(l2),
              "--dropout", str(dropout), "--ngram-buckets", str(2 ** buckets)]
       for name, (n, lr, l2, dropout, buckets) in {
           "ngrams-2": (2, 1, 0, 0.2, 16),
           "ngrams-2-lr10": (2, 10, 0, 0.2, 16),
           "ngrams-2-lr30": (2, 30, 0, 0.2, 16),
           "ngrams-2-lr100": (2, 100, 0, 0.2, 16),
           "ngrams-2-lr10-l2e-4": (2, 10, 1e-4, 0.2, 16),
           "ngrams-2-lr10-l2e-3": (2, 10, 1e-3, 0.2, 16),
           "ngrams-2-lr10-dropout-0.5": (2, 10, 0, 0.5, 16),
           "ngrams-2-lr20-dropout-0.5": (2, 20, 0, 0.5, 16),
           "ngrams-2-lr10-l2e-4-dropout-0.5": (2, 10, 1e-4, 0.5, 16),   # = the defaults now
           "ngrams-2-lr10-l2e-4-dropout-0.5-b18": (2, 10, 1e-4, 0.5, 18),
       }.items()},
    # the wide part's table trained lazily (`--ngram-updates lazy`: LazyAdam on the rows a batch
    # reads, the L2 on those rows) at 2^16 and 2^18 buckets, the other wide options the defaults'
    # (`-l2e-N`: `--ngram-l2 1e-N`, counted on the rows read)
    **{f"lazy-b{bits}{suffix}": ["--ngrams", "2", "--ngram-lr-multiplier", "10", "--ngram-l2", l2,
                                 "--dropout", "0.5", "--ngram-buckets", str(2 ** bits),
                                 "--ngram-updates", "lazy"]
       for bits in (16, 18) for suffix, l2 in (("", "1e-4"), ("-l2e-3", "1e-3"),
                                               ("-l2e-2", "1e-2"))},
    # the recurrent part's sizes, with the wide defaults
    "units-64": ["--units", "64"],
    "embedding-dim-128": ["--embedding-dim", "128"],
    # issue 18, third round, with the wide part and the refit on, no pretraining (the defaults then)
    "ngrams-3": ["--ngrams", "3", "--no-pretrain"],
    "layers-2": ["--layers", "2", "--no-pretrain"],
    "ngram-pooling-mean": ["--ngram-pooling", "mean", "--no-pretrain"],
    "ngram-pooling-sum": ["--ngram-pooling", "sum", "--no-pretrain"],
    # pretrained vectors with the embedding frozen for the first K epochs, then fine-tuned
    # (pretrain-warmup-2 = the defaults since these measurements)
    "pretrain-warmup-1": ["--pretrain", "--embedding-warmup", "1"],
    "pretrain-warmup-2": ["--pretrain", "--embedding-warmup", "2"],
    # issue 18, fourth round: what the linear model gets that the wide part did not, on today's
    # defaults (pretraining, warm-up 2, refit)
    "idf": ["--ngram-weighting", "idf"],
    "wide-first-1": ["--wide-warmup", "1"],
    "wide-first-2": ["--wide-warmup", "2"],
    "wide-first-2-idf": ["--wide-warmup", "2", "--ngram-weighting", "idf"],
    "naive-bayes": ["--wide-init", "naive_bayes"],
    "naive-bayes-idf": ["--wide-init", "naive_bayes", "--ngram-weighting", "idf"],
    "naive-bayes-idf-no-pretrain": ["--wide-init", "naive_bayes", "--ngram-weighting", "idf",
                                    "--no-pretrain"],
    # the defaults before naive-bayes-idf became them (pretraining, warm-up 2, the wide part
    # from zeros, every n-gram counting 1)
    "before-idf": ["--wide-init", "zeros", "--ngram-weighting", "none"],
    "wide-first-2-naive-bayes": ["--wide-warmup", "2", "--wide-init", "naive_bayes"],
    "naive-bayes-idf-monitor-loss": ["--wide-init", "naive_bayes", "--ngram-weighting", "idf",
                                     "--monitor", "loss"],
}


def baseline(train, test):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                         LogisticRegression(C=10, max_iter=1000))
    t0 = time.perf_counter()
    pipe.fit(train.texts, train.labels)
    return pipe.predict(test.texts), time.perf_counter() - t0


def ours(name, extra):
    from keras_rnnx import cli

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "clf")
        code = cli.main(["train-classifier", name, "--out", out, "--no-export", *extra])
        if code:
            raise RuntimeError(f"train-classifier {name} {extra} exited {code}")
        with open(os.path.join(out, "metrics.json"), encoding="utf-8") as f:
            return json.load(f)


def epoch_time(name, batch_size=32, repeats=3):
    """Median seconds of one epoch, padded vs bucketed, on the training part."""
    import keras
    import numpy as np

    from keras_rnnx import datasets, training
    from keras_rnnx.models import TextClassifier
    from tools.timing import interleaved_medians

    keras.utils.set_random_seed(0)
    train, _ = datasets.load(name).split(0.2, seed=0)
    clf = TextClassifier.create(train.texts, train.labels, train.class_names)  # the defaults
    clf.compile()
    x, y = clf.texts_to_ids(train.texts), np.asarray(train.labels)
    padded = clf.ids_model
    view = keras.models.clone_model(
        padded, input_tensors=keras.Input((None,), dtype="int32", name="token_ids"),
        clone_function=lambda layer: layer)
    view.compile(optimizer=padded.optimizer, loss=padded.loss, metrics=["accuracy"])
    data = training.LengthBatches(x, y, batch_size).dataset()
    t_pad, t_bucket = interleaved_medians(
        lambda: padded.fit(x, y, epochs=1, batch_size=batch_size, verbose=0, shuffle=True),
        lambda: view.fit(data, epochs=1, verbose=0, shuffle=False),
        repeats=repeats, warmup=1)
    steps = training.LengthBatches(x, y, batch_size)
    mean_steps = float(np.mean([steps.lengths[b].max() for b in steps.batches(0)]))
    return (f"| {name} | one epoch, batch {batch_size}, max_length {clf.max_length} | "
            f"padded {t_pad:.1f} s | bucketed {t_bucket:.1f} s | ratio {t_bucket / t_pad:.2f} | "
            f"mean batch length {mean_steps:.0f} | load {os.getloadavg()[0]:.1f} |")


def step_time(name, bucket_bits=(16, 18), batch_size=32, steps=20, repeats=7):
    """ms per training step: dense vs lazy wide-part updates vs no wide part."""
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_rnnx import datasets
    from keras_rnnx.commands import train_classifier as cli_defaults
    from keras_rnnx.models import TextClassifier
    from tools.timing import interleaved_medians

    train, _ = datasets.load(name).split(0.2, seed=0)
    common = dict(tokenizer="unicode_script", pooling="max", units=32, embedding_dim=64,
                  dropout=0.5, token_dropout=0.1, ngrams=cli_defaults.NGRAMS,
                  ngram_lr_multiplier=cli_defaults.NGRAM_LR_MULTIPLIER,
                  ngram_l2=cli_defaults.NGRAM_L2)
    rows = []
    for bits in bucket_bits:
        loops = []
        for kind in ("dense", "lazy", "none"):
            keras.utils.set_random_seed(0)
            options = dict(common, ngram_buckets=2 ** bits, ngram_updates=kind)
            if kind == "none":
                options.update(ngrams=0, ngram_updates="dense")
            clf = TextClassifier.create(train.texts, train.labels, train.class_names, **options)
            clf.compile()
            x = clf.texts_to_ids(train.texts)
            y = np.asarray(train.labels)
            batches = [(tf.constant(x[i:i + batch_size]), tf.constant(y[i:i + batch_size]))
                       for i in range(0, steps * batch_size, batch_size)]
            model = clf.ids_model

            def loop(model=model, batches=batches):
                for xb, yb in batches:
                    model.train_on_batch(xb, yb)

            loops.append(loop)
        t_dense, t_lazy, t_none = (1000 * t / steps for t in interleaved_medians(
            loops[0], loops[1], repeats=repeats, warmup=1, more=loops[2:]))
        rows.append(
            f"| {name} | {len(train.class_names)} classes, 2^{bits} buckets, batch {batch_size}, "
            f"max_length {clf.max_length} | dense {t_dense:.1f} ms | lazy {t_lazy:.1f} ms | "
            f"no wide part {t_none:.1f} ms | lazy / dense {t_lazy / t_dense:.2f} | "
            f"dense / none {t_dense / t_none:.2f} | lazy / none {t_lazy / t_none:.2f} | "
            f"load {os.getloadavg()[0]:.1f} |")
        print(rows[-1], flush=True)
    return rows


def small_training(name, size, seed=0):
    """Macro-F1 of ours and the peer trained on `size` training texts (the
    `--train-size` mode); prints and returns a table row."""
    import keras

    from keras_rnnx import datasets
    from keras_rnnx import metrics as cm
    from keras_rnnx.datasets.classification import stratified_split
    from keras_rnnx.models import TextClassifier
    from tools.benchmarks.classification import baseline as cv_baseline

    data = datasets.load(name)
    train, test = data.split(0.2, seed=seed)
    if size < len(train):
        _, sample = stratified_split(train.labels, fraction=size / len(train), seed=seed,
                                     num_classes=data.num_classes)
        train = train.subset(sample)
    peer = cm.macro_f1(test.labels, cv_baseline(train, test), data.num_classes)
    keras.utils.set_random_seed(seed)
    t0 = time.perf_counter()
    clf = TextClassifier.create(train.texts, train.labels, train.class_names)
    clf.fit(train.texts, train.labels, verbose=0, seed=seed)
    seconds = time.perf_counter() - t0
    ours = clf.evaluate(test.texts, test.labels)["macro_f1"]
    t = clf.training_report
    row = (f"| {name} | {len(train)} | {len(test)} | {seed} | {ours:.3f} | {peer:.3f} | "
           f"{ours - peer:+.3f} | {t['kept_epoch']} of {t['epochs_run']}, {seconds:.0f} s |")
    print(row, flush=True)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--configs", default="defaults")
    parser.add_argument("--out", default=None, help="write the markdown table here")
    parser.add_argument("--epoch-time", action="store_true",
                        help="time one epoch padded vs bucketed instead")
    parser.add_argument("--step-time", action="store_true",
                        help="time training steps: dense vs lazy n-gram updates vs none")
    parser.add_argument("--buckets", default="16,18",
                        help="with --step-time: log2 of the n-gram buckets to time")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-size", type=int, default=None,
                        help="train both on a stratified sample of this many training texts")
    parser.add_argument("--seed", type=int, default=0,
                        help="the split's seed for both models, and ours' --seed")
    args = parser.parse_args(argv)
    if args.train_size is not None:
        if args.train_size < 2:
            parser.error(f"--train-size must be an int >= 2, got {args.train_size}")
        rows = [small_training(name, args.train_size, args.seed) for name in args.sets.split(",")]
        _write_table(args.out, ["set", "training texts", "held-out texts", "seed", "ours: macro-F1",
                                "TF-IDF + LR (C by 3-fold CV): macro-F1", "difference",
                                "epoch kept, train time"], rows)
        return
    if args.step_time:
        for name in args.sets.split(","):
            step_time(name, [int(b) for b in args.buckets.split(",")], args.batch_size)
        return
    if args.epoch_time:
        for name in args.sets.split(","):
            print(epoch_time(name, args.batch_size), flush=True)
        return
    from keras_rnnx import datasets
    from keras_rnnx import metrics as cm

    rows = []
    for name in args.sets.split(","):
        data = datasets.load(name)
        train, test = data.split(0.2, seed=args.seed)
        pred, peer_s = baseline(train, test)
        peer = (cm.accuracy(test.labels, pred), cm.macro_f1(test.labels, pred, data.num_classes))
        for config in args.configs.split(","):
            seeded = ["--seed", str(args.seed)] if args.seed else []
            m = ours(name, CONFIGS[config] + seeded)
            h, t = m["held_out"], m["training"]
            label = f"{config}, seed {args.seed}" if args.seed else config
            row = (f"| {name} | {len(data):,} | {data.num_classes} | {label} | "
                   f"{h['accuracy']:.3f} / {h['macro_f1']:.3f}, {m['train_seconds']:.0f} s "
                   f"(epoch {t['kept_epoch']} of {t['epochs_run']}) | "
                   f"{peer[0]:.3f} / {peer[1]:.3f}, {peer_s:.1f} s | {os.getloadavg()[0]:.1f} |")
            print(row, flush=True)
            rows.append(row)
    _write_table(args.out, ["set", "texts", "classes", "configuration",
                            "ours: accuracy / macro-F1, train time (epoch kept)",
                            "TF-IDF + LR: accuracy / macro-F1, train time", "load average"], rows)


def _write_table(path, columns, rows):
    """Writes the markdown table of `rows` (printed rows) to `path`, if given."""
    if path:
        head = "| " + " | ".join(columns) + " |\n" + "|---" * len(columns) + "|\n"
        with open(path, "w", encoding="utf-8") as f:
            f.write(head + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
