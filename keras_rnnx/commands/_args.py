"""The checks every `rnnx` command uses on its arguments, in one place.

Numbers and input paths are checked by argparse `type=` functions (an error
names the option: `argument --units: expected an integer >= 1, got '0'`);
output paths and the rest by a command's `check(args)`, which raises
`UsageError("--out: ...")`. Both run after parsing and before the command
imports TensorFlow or trains anything; `keras_rnnx.cli.main` prints the one
line and returns 2. Nothing here imports TensorFlow.

The rules, the same in every command:
- Text input is UTF-8. A file (or a text on the command line or standard
  input) with bytes that are not valid UTF-8 is refused, naming the byte
  offset of the first bad byte; nothing is replaced silently.
- An output that exists is refused unless `--overwrite` is given (a folder
  output: when it holds any of the files the command writes).
- A path that must be a file and is a folder (or the reverse) is reported
  as such, not as missing.
"""
import argparse
import codecs
import os


class UsageError(Exception):
    """A bad argument: `keras_rnnx.cli.main` prints it as one line, exits 2."""


def _number(text, kind):
    # a ValueError: argparse says "invalid int value: 'x'" (the parser's __name__)
    return kind(text)


def int_in(low, high=None):
    """A `type=` for integers in [low, high] (`high` None: no upper bound)."""
    wanted = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"

    def parse(text):
        value = _number(text, int)
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    parse.__name__ = "int"
    return parse


def int_at_least(minimum):
    """A `type=` for integers >= `minimum`."""
    return int_in(minimum)


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)
# what every seed user accepts (`keras.utils.set_random_seed`: NumPy's legacy seeds)
seed = int_in(0, 2 ** 32 - 1)


def float_in(low=None, high=None, low_open=False, high_open=False):
    """A `type=` for finite numbers in [low, high] (`*_open`: bound excluded)."""
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    if low is not None and high is not None:
        wanted = f"a number in {lo}{low:g}, {high:g}{hi}"
    elif low is not None:
        wanted = f"a number {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        wanted = f"a number {'<' if high_open else '<='} {high:g}"
    else:
        wanted = "a finite number"

    def parse(text):
        value = _number(text, float)
        bad = value != value or value in (float("inf"), float("-inf"))
        if low is not None:
            bad |= value <= low if low_open else value < low
        if high is not None:
            bad |= value >= high if high_open else value > high
        if bad:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    parse.__name__ = "float"
    return parse


positive_float = float_in(0.0, low_open=True)
non_negative_float = float_in(0.0)
probability = float_in(0.0, 1.0)           # [0, 1]: shares, accuracies
rate = float_in(0.0, 1.0, high_open=True)  # [0, 1): dropout rates
open_fraction = float_in(0.0, 1.0, low_open=True, high_open=True)  # (0, 1)


def input_file(text):
    """A `type=` for an existing file (a folder is reported as a folder)."""
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; expected a file")
    if not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"{text!r} does not exist")
    if not os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular file")
    return text


def utf8_problem(path):
    """None when the file `path` is valid UTF-8, else a description naming the
    byte offset (from the start of the file) and line of the first bad byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line = 0, 1
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as e:
                # the decoder keeps at most 3 bytes of an unfinished sequence
                # from earlier chunks: e.start counts from there
                pending = len(e.object) - len(chunk)
                at = offset - pending + e.start
                before = e.object[:e.start]
                line += before.count(b"\n")
                return (f"bytes that are not valid UTF-8 at byte {at} (line {line}): "
                        f"{e.object[e.start:e.start + 4]!r}")
            if not chunk:
                return None
            offset += len(chunk)
            line += chunk.count(b"\n")


def utf8_file(text):
    """A `type=` for an existing UTF-8 text file (the one non-UTF-8 rule)."""
    input_file(text)
    problem = utf8_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"{text!r}: {problem}")
    return text


def check_utf8_text(text, option):
    """A text from the command line or standard input: `str` (argv's
    undecodable bytes arrive as surrogates) or `bytes`. Raises `UsageError`
    naming the byte offset, as `utf8_file` does for files."""
    raw = text if isinstance(text, bytes) else os.fsencode(text)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{option}: bytes that are not valid UTF-8 at byte {e.start}: "
                         f"{raw[e.start:e.start + 4]!r}") from None


def check_utf8_tree(path, option):
    """`utf8_file`'s rule for every file under the folder `path`."""
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            if name.startswith("."):
                continue
            full = os.path.join(root, name)
            problem = utf8_problem(full)
            if problem:
                raise UsageError(f"{option}: {full!r}: {problem}")


def check_output_file(path, option, overwrite):
    """An output file: not a folder; refused when it exists unless
    `overwrite` (`--overwrite`); its folder must be creatable."""
    if path is None:
        return
    if os.path.isdir(path):
        raise UsageError(f"{option}: {path!r} is a folder; expected a file path")
    if os.path.lexists(path) and not overwrite:
        raise UsageError(f"{option}: {path!r} already exists; pass --overwrite to replace it")
    _check_parent(path, option)


def check_output_folder(path, option, overwrite, writes=()):
    """An output folder: not a file; refused when it holds any of `writes`
    (the names the command writes there) unless `overwrite`."""
    if os.path.lexists(path) and not os.path.isdir(path):
        raise UsageError(f"{option}: {path!r} is a file; expected a folder")
    if os.path.isdir(path) and not overwrite:
        found = [w for w in writes if os.path.lexists(os.path.join(path, w))]
        if found:
            raise UsageError(f"{option}: {path!r} already holds {', '.join(found)}; "
                             "pass --overwrite to replace")
    _check_parent(os.path.join(path, "x"), option)


def _check_parent(path, option):
    probe = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise UsageError(f"{option}: cannot create {path!r}: {probe!r} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"{option}: cannot write under {probe!r} (not a writable folder)")


# -- options several commands take: one definition each ------------------------
# Each command passes its own default and, where its meaning differs, its own
# wording; the type, the choices and the "(default X)" in the help are here.

# the recurrent cell kinds (keras_rnnx.kernels.dispatch.KINDS; not imported
# from there, as that loads TensorFlow)
CELLS = ("lstm", "gru")


def store_mapped(mapping):
    """An `action=` that stores `mapping[choice]` for an option whose
    `choices` are `mapping`'s keys (`default=` is a value, not a key)."""
    class StoreMapped(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            setattr(namespace, self.dest, mapping[values])

    return StoreMapped


def _option(parser, flag, default, what, **kwargs):
    """`parser.add_argument(flag, ...)` with the help `what (default X)`; a
    default of None is not shown (`what` says what None means)."""
    if default is not None:
        what += f" (default {default:g})" if isinstance(default, float) else f" (default {default})"
    return parser.add_argument(flag, default=default, help=what, **kwargs)


def add_seed(parser, default, what="random seed"):
    """`--seed`: an integer in [0, 2**32 - 1]."""
    return _option(parser, "--seed", default, what, type=seed)


def add_cell(parser, default, what="recurrent cell"):
    """`--cell`: one of `CELLS`."""
    return _option(parser, "--cell", default, what, choices=CELLS)


def add_units(parser, default, what="units per recurrent layer"):
    """`--units`: an integer >= 1."""
    return _option(parser, "--units", default, what, type=positive_int)


def add_layers(parser, default, what="stacked recurrent layers"):
    """`--layers`: an integer >= 1."""
    return _option(parser, "--layers", default, what, type=positive_int)


def add_epochs(parser, default, what="training epochs"):
    """`--epochs`: an integer >= 1."""
    return _option(parser, "--epochs", default, what, type=positive_int)


def add_batch_size(parser, default, what="training batch size"):
    """`--batch-size`: an integer >= 1."""
    return _option(parser, "--batch-size", default, what, type=positive_int)


def add_learning_rate(parser, default, what="Adam learning rate"):
    """`--learning-rate`: a number > 0."""
    return _option(parser, "--learning-rate", default, what, type=positive_float)


def add_backup_dir(parser, where):
    """`--backup-dir` of a training command (`keras_rnnx.training`'s backups);
    `where`: the folder used without it, in words."""
    return parser.add_argument(
        "--backup-dir", default=None,
        help=f"training backup folder (default {where}): a run killed part-way resumes "
             "after its last completed epoch; removed when training finishes")
