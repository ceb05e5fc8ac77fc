"""Per-class metrics for classifiers: confusion matrix, precision, recall, F1.

Plain NumPy on integer class ids, so they run on any predictions (Keras,
SavedModel, TFLite). Conventions follow scikit-learn's
`precision_recall_fscore_support(..., zero_division=0)`: a class never
predicted has precision 0, a class absent from `y_true` has recall 0, and
macro averages weigh every class equally.

Example:

>>> report = classification_report([0, 1, 1, 2], [0, 1, 2, 2], ["a", "b", "c"])
>>> round(report["macro_f1"], 4)
0.7778
"""
import numpy as np

__all__ = [
    "confusion_matrix",
    "precision_recall_f1",
    "macro_f1",
    "accuracy",
    "classification_report",
    "format_report",
]


def _ids(y, name, num_classes=None):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"`{name}` must be a 1-D sequence of class ids; got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        else:
            raise TypeError(f"`{name}` must hold integer class ids; got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ValueError(f"`{name}` must hold class ids >= 0; got {y.min()}")
    if num_classes is not None and y.size and y.max() >= num_classes:
        raise ValueError(
            f"`{name}` holds class id {y.max()}, but `num_classes` is {num_classes}"
        )
    return y


def _pair(y_true, y_pred, num_classes):
    y_true = _ids(y_true, "y_true", num_classes)
    y_pred = _ids(y_pred, "y_pred", num_classes)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"`y_true` and `y_pred` must have the same length; got "
            f"{len(y_true)} and {len(y_pred)}"
        )
    if num_classes is None:
        num_classes = int(max(y_true.max(initial=-1), y_pred.max(initial=-1)) + 1)
    return y_true, y_pred, num_classes


def confusion_matrix(y_true, y_pred, num_classes=None):
    """`[num_classes, num_classes]` counts: row = true class, column = predicted."""
    y_true, y_pred, k = _pair(y_true, y_pred, num_classes)
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def precision_recall_f1(y_true, y_pred, num_classes=None):
    """Per-class `(precision, recall, f1, support)`, each an array `[num_classes]`."""
    cm = confusion_matrix(y_true, y_pred, num_classes).astype(np.float64)
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1, support.astype(np.int64)


def macro_f1(y_true, y_pred, num_classes=None):
    """Unweighted mean of the per-class F1 scores."""
    _, _, f1, _ = precision_recall_f1(y_true, y_pred, num_classes)
    return float(f1.mean()) if f1.size else 0.0


def accuracy(y_true, y_pred):
    """Fraction of predictions equal to the true class."""
    y_true, y_pred, _ = _pair(y_true, y_pred, None)
    return float(np.mean(y_true == y_pred)) if y_true.size else 0.0


def classification_report(y_true, y_pred, class_names=None, num_classes=None):
    """All metrics in one dict.

    Args:
        y_true, y_pred: integer class ids.
        class_names: the name of each class id (default `"0"`, `"1"`, ...).
        num_classes: defaults to `len(class_names)`, else to the largest id + 1.

    Returns:
        dict with `accuracy`, `macro_precision`, `macro_recall`, `macro_f1`,
        `confusion_matrix` (list of lists) and `per_class`, a list of dicts
        `{"class", "precision", "recall", "f1", "support"}`.
    """
    if class_names is not None:
        class_names = [str(c) for c in class_names]
        if num_classes is None:
            num_classes = len(class_names)
        elif num_classes != len(class_names):
            raise ValueError(
                f"`class_names` has {len(class_names)} names but `num_classes` is {num_classes}"
            )
    y_true, y_pred, k = _pair(y_true, y_pred, num_classes)
    if class_names is None:
        class_names = [str(i) for i in range(k)]
    p, r, f1, s = precision_recall_f1(y_true, y_pred, k)
    return {
        "accuracy": accuracy(y_true, y_pred),
        "macro_precision": float(p.mean()) if k else 0.0,
        "macro_recall": float(r.mean()) if k else 0.0,
        "macro_f1": float(f1.mean()) if k else 0.0,
        "confusion_matrix": confusion_matrix(y_true, y_pred, k).tolist(),
        "per_class": [
            {
                "class": class_names[i],
                "precision": float(p[i]),
                "recall": float(r[i]),
                "f1": float(f1[i]),
                "support": int(s[i]),
            }
            for i in range(k)
        ],
    }


def format_report(report):
    """A fixed-width text table of a `classification_report` dict."""
    names = [row["class"] for row in report["per_class"]]
    width = max([len(n) for n in names] + [9])
    lines = [f"{'class':<{width}}  precision  recall     f1  support"]
    for row in report["per_class"]:
        lines.append(
            f"{row['class']:<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}"
            f"  {row['f1']:5.3f}  {row['support']:7d}"
        )
    total = sum(row["support"] for row in report["per_class"])
    lines.append(
        f"{'macro avg':<{width}}  {report['macro_precision']:9.3f}  "
        f"{report['macro_recall']:6.3f}  {report['macro_f1']:5.3f}  {total:7d}"
    )
    lines.append(f"accuracy {report['accuracy']:.4f}   macro-F1 {report['macro_f1']:.4f}")
    lines.append("confusion matrix (rows: true, columns: predicted):")
    cw = max([len(str(v)) for r in report["confusion_matrix"] for v in r] + [3])
    for name, row in zip(names, report["confusion_matrix"]):
        lines.append(f"  {name:<{width}} " + " ".join(f"{v:>{cw}d}" for v in row))
    return "\n".join(lines)
