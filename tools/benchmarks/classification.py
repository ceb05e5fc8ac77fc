"""Text classification quality: recurrent classifier vs TF-IDF + logistic regression.

For each task (data shipped in installed packages, see `keras_rnnx.datasets`)
both models train on the same stratified split and are scored on the same
held-out part: accuracy and macro-F1 (`keras_rnnx.metrics`).
The small tasks (200 texts) are scored over several splits (seeds) and
averaged, since one 40-text test set is too noisy to rank two models.

Baseline: scikit-learn `TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)`
+ `LogisticRegression`, C chosen by 3-fold cross-validation on the training
part from {0.1, 1, 10, 100}.
"""
import statistics
import sys
import time

SECTION = "Text classification (accuracy / macro-F1 on held-out splits)"

# per task: data-set kwargs, splits (full, quick), model and fit settings (fixed
# epochs, no validation part: 200 texts are too few to hold some out; the
# real sets with the command's defaults are in tools/classify_bench.py). Every
# setting the rows were measured with is spelt out (no wide part: `ngrams=0`),
# so they mean the same run whatever the defaults.
TASKS = {
    "sentiment": {
        "load": {}, "splits": (5, 2),
        "create": dict(units=16, embedding_dim=64, pooling="max", dropout=0.5,
                       token_dropout=0.2, tokenizer="unicode_script", ngrams=0),
        "fit": dict(epochs=15, batch_size=32, learning_rate=3e-3, validation_fraction=0),
    },
    "topic": {
        "load": {}, "splits": (5, 2),
        "create": dict(units=16, embedding_dim=64, pooling="attention", dropout=0.5,
                       token_dropout=0.2, tokenizer="unicode_script", max_length=400, ngrams=0),
        "fit": dict(epochs=30, batch_size=32, learning_rate=3e-3, validation_fraction=0),
    },
    "language": {
        "load": {}, "splits": (1, 1),
        "create": dict(units=48, embedding_dim=32, pooling="max", dropout=0.2,
                       token_dropout=0.0, tokenizer="characters", ngrams=0),
        "fit": dict(epochs=30, batch_size=32, learning_rate=5e-3, validation_fraction=0),
    },
}


def baseline(train, test):
    """TF-IDF (word 1-2 grams) + logistic regression, C by 3-fold CV."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        LogisticRegression(max_iter=2000),
    )
    search = GridSearchCV(pipe, {"logisticregression__C": [0.1, 1, 10, 100]}, cv=3)
    search.fit(train.texts, train.labels)
    return search.predict(test.texts)


def evaluate_task(name, quick=False, splits=None, verbose=0):
    """Scores both models on `splits` seeds; returns a dict of mean metrics."""
    import keras

    from keras_rnnx import metrics as cm
    from keras_rnnx import datasets
    from keras_rnnx.models import TextClassifier

    spec = TASKS[name]
    data = datasets.load(name, **spec["load"])
    n_splits = splits or spec["splits"][1 if quick else 0]
    ours, peer = {"accuracy": [], "macro_f1": [], "seconds": []}, {"accuracy": [], "macro_f1": [], "seconds": []}
    for seed in range(n_splits):
        train, test = data.split(0.2, seed=seed)
        t0 = time.perf_counter()
        pred = baseline(train, test)
        peer["seconds"].append(time.perf_counter() - t0)
        peer["accuracy"].append(cm.accuracy(test.labels, pred))
        peer["macro_f1"].append(cm.macro_f1(test.labels, pred, data.num_classes))

        keras.utils.set_random_seed(seed)
        t0 = time.perf_counter()
        clf = TextClassifier.create(train.texts, train.labels, train.class_names, **spec["create"])
        clf.fit(train.texts, train.labels, verbose=verbose, **spec["fit"])
        ours["seconds"].append(time.perf_counter() - t0)
        report = clf.evaluate(test.texts, test.labels)
        ours["accuracy"].append(report["accuracy"])
        ours["macro_f1"].append(report["macro_f1"])
        print(f"    {name} split {seed}: rnn acc {report['accuracy']:.3f} f1 {report['macro_f1']:.3f}"
              f" | tfidf+lr acc {peer['accuracy'][-1]:.3f} f1 {peer['macro_f1'][-1]:.3f}", flush=True)
    mean = statistics.fmean
    return {
        "task": name, "size": len(data), "classes": data.num_classes, "splits": n_splits,
        "test_size": len(test), "max_length": clf.max_length,
        "ours": {k: mean(v) for k, v in ours.items()},
        "peer": {k: mean(v) for k, v in peer.items()},
    }


def run(args):
    rows = []
    for name in TASKS:
        r = evaluate_task(name, quick=getattr(args, "quick", False))
        notes = (f"{r['size']} texts, {r['classes']} classes, mean of {r['splits']} "
                 f"stratified 80/20 split(s); peer = TF-IDF + logistic regression")
        for metric in ("accuracy", "macro_f1"):
            o, p = r["ours"][metric], r["peer"][metric]
            rows.append({
                "benchmark": f"{name} {metric}", "ours": round(o, 4), "peer": round(p, 4),
                "ratio": round(o / p, 3) if p else float("nan"), "unit": metric, "notes": notes,
            })
        o, p = r["ours"]["seconds"], r["peer"]["seconds"]
        rows.append({
            "benchmark": f"{name} train time", "ours": round(o, 2), "peer": round(p, 2),
            "ratio": round(o / p, 2) if p else float("nan"), "unit": "s/split",
            "notes": "ours: vocabulary + model.fit; peer: grid search incl. 3-fold CV",
        })
    return rows


if __name__ == "__main__":  # python -m tools.benchmarks.classification TASK [SPLITS]
    print(evaluate_task(sys.argv[1], splits=int(sys.argv[2]) if len(sys.argv) > 2 else None))
