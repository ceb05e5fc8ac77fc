"""`rnnx predict MODEL "some text" ...`: classify texts with a trained classifier.

MODEL is a folder written by `rnnx train-classifier` (or its `model.keras`).
Texts come from the arguments, or one a line from standard input with `-`.
Prints `class<TAB>probability<TAB>text` per text (or JSON lines with --json).
"""
NAME = "predict"
HELP = "classify text with a trained classifier"


def add_arguments(parser):
    parser.add_argument("model", help="classifier folder (from rnnx train-classifier) or its model.keras")
    parser.add_argument("texts", nargs="+", help='texts to classify; "-" reads one text a line from stdin')
    parser.add_argument("--top", type=int, default=1, help="print the K most probable classes")
    parser.add_argument("--json", action="store_true", help="one JSON object a line")


def _read_texts(items):
    import sys

    texts = []
    for item in items:
        if item == "-":
            data = sys.stdin.buffer.read()
            texts.extend(line.decode("utf-8", errors="replace") for line in data.splitlines())
        else:
            texts.append(item)
    return texts


def _printable(text, limit=80):
    text = text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def run(args):
    import json
    import sys

    if args.top < 1:
        print(f"rnnx predict: --top must be >= 1; got {args.top}", file=sys.stderr)
        return 2
    from keras_rnnx.models import TextClassifier

    try:
        clf = TextClassifier.load(args.model)
    except (ValueError, OSError) as e:
        print(f"rnnx predict: {e}", file=sys.stderr)
        return 2
    texts = _read_texts(args.texts)
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
