"""Text classification quality: `rnnx train-classifier` with its defaults vs
TF-IDF + logistic regression on the three small built-in tasks.

For each task (data shipped in installed packages, see `keras_rnnx.datasets`)
both models train on the same stratified split, `split(0.2, seed=S)`, and are
scored on the same held-out part: accuracy and macro-F1 (`keras_rnnx.metrics`).
Ours is the command itself with its defaults and `--seed S`, run in this
process as a user runs it (`tools.classify_bench.ours`, the real sets'
benchmark, which has the larger sets). The 200-text tasks are scored over
several splits (seeds) and averaged, since one 40-text test set is too noisy
to rank two models.

Baseline: scikit-learn `TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)`
+ `LogisticRegression`, C chosen by 3-fold cross-validation on the training
part from {0.1, 1, 10, 100}.
"""
import statistics
import sys
import time

SECTION = "Text classification (accuracy / macro-F1 on held-out splits)"

# per task: the number of splits (full run, --quick)
TASKS = {"sentiment": (5, 2), "topic": (5, 2), "language": (1, 1)}


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


def evaluate_task(name, quick=False, splits=None):
    """Scores both models on `splits` seeds; returns a dict of mean metrics."""
    from keras_rnnx import datasets
    from keras_rnnx import metrics as cm
    from tools.classify_bench import ours as run_command

    data = datasets.load(name)
    n_splits = splits or TASKS[name][1 if quick else 0]
    ours, peer = {"accuracy": [], "macro_f1": [], "seconds": []}, {"accuracy": [], "macro_f1": [], "seconds": []}
    for seed in range(n_splits):
        train, test = data.split(0.2, seed=seed)
        t0 = time.perf_counter()
        pred = baseline(train, test)
        peer["seconds"].append(time.perf_counter() - t0)
        peer["accuracy"].append(cm.accuracy(test.labels, pred))
        peer["macro_f1"].append(cm.macro_f1(test.labels, pred, data.num_classes))

        metrics = run_command(name, ["--seed", str(seed), "--quiet"])
        report = metrics["held_out"]
        ours["seconds"].append(metrics["train_seconds"])
        ours["accuracy"].append(report["accuracy"])
        ours["macro_f1"].append(report["macro_f1"])
        print(f"    {name} split {seed}: rnn acc {report['accuracy']:.3f} f1 {report['macro_f1']:.3f}"
              f" | tfidf+lr acc {peer['accuracy'][-1]:.3f} f1 {peer['macro_f1'][-1]:.3f}", flush=True)
    mean = statistics.fmean
    return {
        "task": name, "size": len(data), "classes": data.num_classes, "splits": n_splits,
        "test_size": len(test),
        "ours": {k: mean(v) for k, v in ours.items()},
        "peer": {k: mean(v) for k, v in peer.items()},
    }


def run(args):
    rows = []
    for name in TASKS:
        r = evaluate_task(name, quick=getattr(args, "quick", False))
        notes = (f"{r['size']} texts, {r['classes']} classes, mean of {r['splits']} "
                 f"stratified 80/20 split(s); ours = `rnnx train-classifier` with its defaults; "
                 f"peer = TF-IDF + logistic regression")
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
            "notes": "ours: the command's training time (pretraining, vocabulary, fit, refit); peer: grid search incl. 3-fold CV",
        })
    return rows


if __name__ == "__main__":  # python -m tools.benchmarks.classification TASK [SPLITS]
    print(evaluate_task(sys.argv[1], splits=int(sys.argv[2]) if len(sys.argv) > 2 else None))
