"""The `rnnx` command: one subcommand per module in `keras_rnnx.commands`.

Each command module defines `NAME`, `HELP`, `add_arguments(parser)` and
`run(args) -> int`. Modules are imported only when their command runs, so a
slow import (TensorFlow) is paid only by the command that needs it.
"""
import argparse
import importlib
import sys

# subcommand name -> module under keras_rnnx.commands
COMMANDS = {
    "demo": "demo",
    "export": "export",
    "verify": "verify",
    "generate": "generate",
    "word2vec": "word2vec",
    "word2vec-eval": "word2vec_eval",
    "train-classifier": "train_classifier",
    "predict": "predict",
}

HELP = {
    "demo": "train the date translator end to end, evaluate, export, verify",
    "export": "export a .keras model to SavedModel or TFLite",
    "verify": "compare Keras, SavedModel and TFLite outputs on the same inputs",
    "generate": "train or sample a character language model",
    "word2vec": "train word2vec (skip-gram, negative sampling) on a corpus",
    "word2vec-eval": "evaluate word vectors on analogies and word pairs",
    "train-classifier": "train a recurrent text classifier from a data folder or file",
    "predict": "classify text with a trained classifier",
}


def _load(name):
    return importlib.import_module(f"keras_rnnx.commands.{COMMANDS[name]}")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="rnnx", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        sub.add_parser(name, help=HELP[name], add_help=False)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        parser.print_help() if not argv or argv[0] in ("-h", "--help") else parser.error(
            f"unknown command {argv[0]!r}; expected one of: {', '.join(COMMANDS)}"
        )
        return 0
    name = argv[0]
    module = _load(name)
    cmd_parser = argparse.ArgumentParser(prog=f"rnnx {name}", description=HELP[name])
    module.add_arguments(cmd_parser)
    args = cmd_parser.parse_args(argv[1:])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
