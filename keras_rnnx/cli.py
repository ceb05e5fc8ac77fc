"""The `rnnx` command: one subcommand per module in `keras_rnnx.commands`.

Each command module defines `NAME`, `HELP`, `add_arguments(parser)` and
`run(args) -> int`, and imports nothing heavy at module level (its imports
of TensorFlow and of the package's layers are inside `run`): `rnnx --help`,
every `rnnx COMMAND --help` and argument errors answer without importing
TensorFlow (tests/test_cli_startup.py). The `rnnx` console script enters
through `keras_rnnx_cli`, which defers the package's own imports until the
arguments have parsed.
"""
import argparse
import contextlib
import importlib
import os
import re
import sys
import tempfile

from keras_rnnx._version import __version__
from keras_rnnx.commands._args import UsageError

# modules under keras_rnnx.commands, in the order `rnnx --help` lists them
MODULES = ["demo", "export", "verify", "generate", "word2vec", "word2vec_eval",
           "train_classifier", "predict"]


def commands():
    """{command name: its module}, in `MODULES` order."""
    loaded = [importlib.import_module(f"keras_rnnx.commands.{m}") for m in MODULES]
    return {m.NAME: m for m in loaded}


# What TensorFlow's shared libraries print while they load (oneDNN notice,
# CUDA stub), before TF_CPP_MIN_LOG_LEVEL can apply: absl INFO lines and
# absl's note that logging is not initialised yet.
_LOAD_NOISE = re.compile(
    r"I\d{4} [\d:.]+ +\d+ \S+:\d+\] |"
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"
)


VERBOSE_HELP = ("let TensorFlow's log lines (absl, oneDNN, CUDA/cuInit, converter) through "
                "to stderr; without it they are kept out of the terminal")


def tensorflow_logging(verbose):
    """Sets TensorFlow's logging before TensorFlow is imported, for one
    command run. Quiet (the default): C++ log lines below FATAL are dropped
    (TF_CPP_MIN_LOG_LEVEL=3, whatever the environment said: at 2 a machine
    without a GPU still prints a cuInit error) and the Python `tensorflow`
    and `absl` loggers show errors only. `verbose`: TensorFlow's own default
    (everything) unless TF_CPP_MIN_LOG_LEVEL is set in the environment.
    Has no effect on a TensorFlow already imported in this process."""
    import logging

    if verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def quiet_tensorflow_load():
    """Captures file descriptor 2 in the block, then writes back what was
    written there, without the lines `_LOAD_NOISE` matches when
    TF_CPP_MIN_LOG_LEVEL (read after the block, whose imports set its
    default) is 1 or more. What a hard crash in the block printed is lost."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to capture
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode(errors="replace")
            quiet = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") not in ("", "0")
            sys.stderr.write("".join(line for line in text.splitlines(keepends=True)
                                     if not (quiet and _LOAD_NOISE.match(line))))
            sys.stderr.flush()


class _Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line (`UsageError`), which
    `main` prints and answers with exit code 2."""

    def error(self, message):
        raise UsageError(message)


def command_parser(name, module=None):
    """The argument parser of `rnnx NAME` (`module`: the command's module, if
    loaded already). Its errors raise `UsageError` with argparse's message."""
    module = module or commands()[name]
    parser = _Parser(prog=f"rnnx {name}", description=module.HELP)
    module.add_arguments(parser)
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    return parser


def main(argv=None, load_package=None):
    """Runs `rnnx` on `argv` (default: sys.argv[1:]); returns the exit code.

    A bad argument (argparse's own errors, the `type=` checks and the
    command's `check(args)` in `keras_rnnx.commands._args`, all before the
    package or TensorFlow is loaded) prints one line, `rnnx COMMAND: error:
    ...` naming the option, on stderr and returns 2, in every command.

    Every command takes `--verbose` (also as `rnnx --verbose COMMAND`):
    without it TensorFlow's log lines stay out of stderr
    (`tensorflow_logging`, `quiet_tensorflow_load`).

    `load_package`: called after the arguments parse, before the command
    runs (`keras_rnnx_cli` passes the package's deferred import)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    by_name = commands()
    parser = _Parser(prog="rnnx", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in by_name.items():
        sub.add_parser(name, help=module.HELP, add_help=False)
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    if argv[0] == "--verbose" and len(argv) > 1:  # `rnnx --verbose COMMAND ...`
        argv = [argv[1], "--verbose"] + argv[2:]
    if argv[0] == "--version":
        print(f"rnnx {__version__}")
        return 0
    if argv[0] not in by_name:
        return _usage_error("rnnx", f"unknown command {argv[0]!r}; expected one of: "
                                    f"{', '.join(by_name)}")
    name = argv[0]
    module = by_name[name]
    cmd_parser = command_parser(name, module)
    try:
        args = cmd_parser.parse_args(argv[1:])
        if hasattr(module, "check"):
            module.check(args)
    except UsageError as e:
        return _usage_error(f"rnnx {name}", str(e))
    tensorflow_logging(args.verbose)
    if load_package is not None:
        with quiet_tensorflow_load():
            load_package()
    try:
        return int(module.run(args) or 0)
    except UsageError as e:  # a check that needs the package (a model file's contents)
        return _usage_error(f"rnnx {name}", str(e))


def _usage_error(prog, message):
    """Prints `prog: error: message` on a line of its own; returns 2."""
    sys.stdout.flush()
    sys.stderr.write(f"{prog}: error: {message}\n")
    sys.stderr.flush()
    return 2


if __name__ == "__main__":
    sys.exit(main())
