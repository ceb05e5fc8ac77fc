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


def main(argv=None, load_package=None):
    """Runs `rnnx` on `argv` (default: sys.argv[1:]); returns the exit code.
    Argument errors exit 2 (SystemExit), as argparse does.

    `load_package`: called after the arguments parse, before the command
    runs (`keras_rnnx_cli` passes the package's deferred import)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    by_name = commands()
    parser = argparse.ArgumentParser(prog="rnnx", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in by_name.items():
        sub.add_parser(name, help=module.HELP, add_help=False)
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    if argv[0] == "--version":
        print(f"rnnx {__version__}")
        return 0
    if argv[0] not in by_name:
        parser.error(f"unknown command {argv[0]!r}; expected one of: {', '.join(by_name)}")
    name = argv[0]
    module = by_name[name]
    cmd_parser = argparse.ArgumentParser(prog=f"rnnx {name}", description=module.HELP)
    module.add_arguments(cmd_parser)
    args = cmd_parser.parse_args(argv[1:])
    if load_package is not None:
        with quiet_tensorflow_load():
            load_package()
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
