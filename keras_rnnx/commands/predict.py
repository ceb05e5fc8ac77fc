"""`rnnx predict MODEL "some text" ...`: classify texts with a trained classifier.

MODEL is a folder written by `rnnx train-classifier` (or its `model.keras`).
Texts come from the arguments, or one a line from standard input with `-`.
Prints `class<TAB>probability<TAB>text` per text (or JSON lines with --json).
"""
from keras_rnnx.commands import _args

NAME = "predict"
HELP = "classify text with a trained classifier"


def add_arguments(parser):
    parser.add_argument("model", help="classifier folder (from rnnx train-classifier) or its model.keras")
    parser.add_argument("texts", nargs="+", help='texts to classify; "-" reads one text a line from stdin')
    parser.add_argument("--top", type=_args.positive_int, default=1,
                        help="print the K most probable classes (default 1)")
    parser.add_argument("--json", action="store_true", help="one JSON object a line")


def check(args):
    import os

    if os.path.isfile(args.model) and not os.path.isfile(
            os.path.join(os.path.dirname(os.path.abspath(args.model)), "classifier.json")):
        raise _args.UsageError(
            f"MODEL: {args.model!r} has no classifier.json beside it; expected a folder "
            "written by rnnx train-classifier, or the model.keras inside one")
    if not os.path.exists(args.model):
        raise _args.UsageError(f"MODEL: {args.model!r} does not exist")
    if os.path.isdir(args.model):
        for name in ("model.keras", "classifier.json"):
            if not os.path.isfile(os.path.join(args.model, name)):
                raise _args.UsageError(f"MODEL: {args.model!r} is not a saved TextClassifier: "
                                       f"{name} is missing")
    for i, item in enumerate(args.texts, 1):
        if item != "-":
            _args.check_utf8_text(item, f"TEXT {i}")


def _read_texts(items):
    """The texts of the arguments, "-" read from stdin, one a line; bytes that
    are not UTF-8 are refused (`UsageError` naming the line and byte)."""
    import sys

    texts = []
    for item in items:
        if item == "-":
            data = sys.stdin.buffer.read()
            for lineno, line in enumerate(data.splitlines(), 1):
                texts.append(_args.check_utf8_text(line, f"standard input line {lineno}"))
        else:
            texts.append(item)
    return texts


def _printable(text, limit=80):
    text = text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def run(args):
    import json

    texts = _read_texts(args.texts)
    from keras_rnnx.models import TextClassifier

    try:
        clf = TextClassifier.load(args.model)
    except (ValueError, OSError) as e:
        raise _args.UsageError(f"MODEL: {e}") from None
    probs = clf.predict_proba(texts)
    top = min(args.top, len(clf.class_names))
    for text, p in zip(texts, probs):
        order = p.argsort()[::-1][:top]
        if args.json:
            print(json.dumps({
                "text": _printable(text, 10_000),
                "class": clf.class_names[order[0]],
                "probability": round(float(p[order[0]]), 6),
                "top": [[clf.class_names[i], round(float(p[i]), 6)] for i in order],
            }, ensure_ascii=False))
        else:
            best = "\t".join(f"{clf.class_names[i]}\t{p[i]:.4f}" for i in order)
            print(f"{best}\t{_printable(text)}")
    return 0
