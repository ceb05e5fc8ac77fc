"""Bad arguments, table-driven: every command exits 2 with one line naming
the option, writes nothing, and answers before the package (TensorFlow, the
model, training) is loaded: `load_package` is never called."""
import io
import os
import re
import sys
import types

import pytest

from keras_rnnx import cli
from keras_rnnx.commands import _args

NOT_UTF8 = b"good line\nabc\xff\xfe tail\n"   # first bad byte at offset 13, line 2


def _setup(tmp):
    """Existing files and folders the cases refer to."""
    (tmp / "file.txt").write_text("x")
    (tmp / "folder").mkdir()
    (tmp / "corpus.txt").write_text("the cat sat on the mat\n" * 3)
    (tmp / "data.txt").write_text("__label__a good\n__label__b bad\n")
    (tmp / "bad.txt").write_bytes(NOT_UTF8)
    (tmp / "m.keras").write_bytes(b"PK")
    (tmp / "vectors.txt").write_text("1 2\nw 0.1 0.2\n")
    (tmp / "done").mkdir()
    (tmp / "done" / "model.keras").write_bytes(b"PK")
    (tmp / "demo_done").mkdir()
    (tmp / "demo_done" / "date_translator.tflite").write_bytes(b"TFL3")
    (tmp / "clf").mkdir()
    (tmp / "clf" / "model.keras").write_bytes(b"PK")
    (tmp / "clf" / "classifier.json").write_text("{}")


# (argv with {t} for the tmp folder, text the one line must hold)
CASES = [
    (["train-classifier", "{t}/data.txt", "--out", "{t}/file.txt"], "--out: "),
    (["train-classifier", "{t}/data.txt", "--out", "{t}/done"], "--out: "),
    (["train-classifier", "{t}/data.txt", "--units", "0"], "--units"),
    (["train-classifier", "{t}/data.txt", "--dropout", "1"], "--dropout"),
    (["train-classifier", "{t}/data.txt", "--ngrams", "-1"], "--ngrams"),
    (["train-classifier", "{t}/data.txt", "--ngram-buckets", "0"], "--ngram-buckets"),
    (["train-classifier", "{t}/data.txt", "--ngram-lr-multiplier", "0"], "--ngram-lr-multiplier"),
    (["train-classifier", "{t}/data.txt", "--ngram-l2", "-1"], "--ngram-l2"),
    (["train-classifier", "{t}/data.txt", "--ngram-pooling", "max"], "--ngram-pooling"),
    (["train-classifier", "{t}/data.txt", "--embedding-warmup", "-1"], "--embedding-warmup"),
    (["train-classifier", "{t}/data.txt", "--test-fraction", "0"], "--test-fraction"),
    (["train-classifier", "{t}/bad.txt"], "DATA: "),
    (["train-classifier", "{t}/missing.txt"], "DATA: "),
    (["word2vec", "{t}/corpus.txt", "--out", "{t}/folder"], "--out: "),
    (["word2vec", "{t}/corpus.txt", "--out", "{t}/file.txt"], "--out: "),
    (["word2vec", "{t}/corpus.txt", "--out", "{t}/v.txt", "--alpha", "0"], "--alpha"),
    (["word2vec", "{t}/corpus.txt", "--out", "{t}/v.txt", "--epochs", "-1"], "--epochs"),
    (["word2vec", "{t}/corpus.txt", "--out", "{t}/v.txt", "--workers", "0"], "--workers"),
    (["word2vec", "{t}/bad.txt", "--out", "{t}/v.txt"], "corpus"),
    (["word2vec", "{t}/folder", "--out", "{t}/v.txt"], "is a folder"),
    (["word2vec", "{t}/corpus.txt", "--out", "{t}/v.txt", "--plot", "{t}/file.txt"], "--plot"),
    (["demo", "--out", "{t}/file.txt"], "--out: "),
    (["demo", "--out", "{t}/demo_done"], "--out: "),
    (["demo", "--min-accuracy", "2"], "--min-accuracy"),
    (["demo", "--epochs", "0"], "--epochs"),
    (["demo", "--cell", "rnn"], "--cell"),
    (["verify", "{t}/m.keras", "{t}/x.tflite", "--batch-sizes", "0"], "--batch-sizes"),
    (["verify", "{t}/m.keras", "{t}/x.tflite", "--batch-sizes", "3", "-2"], "--batch-sizes"),
    (["verify", "{t}/m.keras", "{t}/x.tflite", "--lengths", "0"], "--lengths"),
    (["verify", "{t}/m.keras", "{t}/x.tflite", "--atol", "-1"], "--atol"),
    (["verify", "{t}/m.keras", "{t}/x.tflite", "--atol", "nan"], "--atol"),
    (["verify", "{t}/m.keras", "{t}/x.tflite", "--inputs", "{t}/folder"], "--inputs"),
    (["export", "{t}/m.keras", "--format", "tflite", "--out", "{t}/q.tflite",
      "--quantize", "int8", "--representative-samples", "0"], "--representative-samples"),
    (["export", "{t}/m.keras", "--format", "tflite", "--out", "{t}/file.txt"], "--out: "),
    (["export", "{t}/m.keras", "--format", "saved_model", "--out", "{t}/folder"], "--out: "),
    (["export", "{t}/m.keras", "--format", "saved_model", "--out", "{t}/sm",
      "--quantize", "dynamic"], "--quantize"),
    (["word2vec-eval", "{t}/vectors.txt", "--restrict-vocab", "0"], "--restrict-vocab"),
    (["word2vec-eval", "{t}/folder"], "is a folder"),
    (["word2vec-eval", "{t}/vectors.txt", "--analogies", "{t}/bad.txt"], "--analogies"),
    (["word2vec-eval", "{t}/vectors.txt", "--pairs", "{t}/missing.tsv"], "--pairs"),
    (["generate", "--text", "{t}/folder"], "--text"),
    (["generate", "--text", "{t}/bad.txt"], "--text"),
    (["generate", "--units", "0"], "--units"),
    (["generate", "--seq-len", "1"], "--seq-len"),
    (["generate", "--temperature", "0"], "--temperature"),
    (["generate", "--model", "{t}/folder"], "--model"),
    (["generate", "--save", "{t}/m.keras"], "--save"),
    (["generate", "--export-tflite", "{t}/file.txt"], "--export-tflite"),
    (["generate", "--strategy", "sample", "--seed", "1", "--export-tflite", "{t}/g.tflite"],
     "--export-tflite"),
    (["predict", "{t}/m.keras", "text"], "MODEL"),
    (["predict", "{t}/missing", "text"], "MODEL"),
    (["predict", "{t}/clf", "text", "--top", "0"], "--top"),
    (["predict", "{t}/clf", os.fsdecode(b"caf\xe9 au lait")], "TEXT 1"),
    (["nope"], "unknown command"),
]


def _listing(root):
    return sorted((d, tuple(sorted(f))) for d, _, f in os.walk(root))


@pytest.mark.parametrize("argv, expected", CASES, ids=[" ".join(c[0][:3]) for c in CASES])
def test_bad_arguments_exit_2_with_one_line_before_anything_loads(tmp_path, capsys, argv,
                                                                   expected):
    _setup(tmp_path)
    before = _listing(tmp_path)
    loaded = []
    argv = [a.replace("{t}", str(tmp_path)) for a in argv]
    rc = cli.main(argv, load_package=lambda: loaded.append(True))
    out, err = capsys.readouterr()
    assert rc == 2
    assert loaded == []   # no package, no TensorFlow, no model built, no training
    lines = err.splitlines()
    assert len(lines) == 1 and expected in lines[0], err
    assert lines[0].startswith("rnnx"), err
    assert "Traceback" not in err and out == ""
    assert _listing(tmp_path) == before  # nothing written


# -- options several commands take: one definition each (keras_rnnx.commands._args)

# option: (a value every command refuses, one it takes, the commands that take it)
SHARED = {
    "--seed": ("-1", "3", ["demo", "verify", "generate", "word2vec", "train-classifier"]),
    "--cell": ("rnn", "gru", ["demo", "generate", "train-classifier"]),
    "--units": ("0", "3", ["generate", "train-classifier"]),
    "--layers": ("0", "3", ["generate", "train-classifier"]),
    "--epochs": ("0", "3", ["demo", "generate", "word2vec", "train-classifier"]),
    "--batch-size": ("0", "3", ["generate", "word2vec", "train-classifier"]),
    "--learning-rate": ("0", "0.5", ["generate", "train-classifier"]),
}


def _minimal(name, tmp):
    """The fewest arguments `rnnx NAME` parses with (files that exist in `tmp`)."""
    return {"demo": [], "generate": [], "verify": [f"{tmp}/m.keras", f"{tmp}/x.tflite"],
            "word2vec": [f"{tmp}/corpus.txt", "--out", f"{tmp}/v.txt"],
            "train-classifier": [f"{tmp}/data.txt"], "export": [f"{tmp}/m.keras", "--format",
                                                                 "tflite", "--out", f"{tmp}/o"],
            "predict": [f"{tmp}/clf", "text"], "word2vec-eval": [f"{tmp}/vectors.txt"]}[name]


def test_shared_options_are_where_the_table_says(tmp_path):
    """Every command that takes one of the shared options is in SHARED, so
    the refusals below cover it."""
    _setup(tmp_path)
    for option, (_, good, names) in SHARED.items():
        taking = []
        for name in cli.commands():
            minimal = _minimal(name, tmp_path)
            args, unknown = cli.command_parser(name).parse_known_args(minimal + [option, good])
            # (not an abbreviation: verify's --batch-sizes takes `--batch-size 3`)
            if not unknown and hasattr(args, option[2:].replace("-", "_")):
                taking.append(name)
        assert sorted(taking) == sorted(names), option


@pytest.mark.parametrize("option", sorted(SHARED))
def test_every_command_refuses_a_bad_shared_option_alike(tmp_path, capsys, option):
    """The same one-line argparse error naming the option, exit 2, nothing
    loaded, in every command that takes it."""
    _setup(tmp_path)
    bad, _, names = SHARED[option]
    messages = set()
    for name in names:
        loaded = []
        argv = [name, *_minimal(name, tmp_path), option, bad]
        assert cli.main(argv, load_package=lambda: loaded.append(True)) == 2, argv
        out, err = capsys.readouterr()
        assert loaded == [] and out == "" and "Traceback" not in err, err
        prefix = f"rnnx {name}: error: argument {option}: "
        assert len(err.splitlines()) == 1 and err.startswith(prefix), err
        messages.add(err[len(prefix):])
    assert len(messages) == 1, messages   # one definition, one message


def test_seeds_are_numpy_seeds_in_every_command(tmp_path, capsys):
    """[0, 2**32 - 1], what `keras.utils.set_random_seed` takes: a negative
    seed or one past 2**32 - 1 was a NumPy traceback after loading the data."""
    _setup(tmp_path)
    for name in SHARED["--seed"][2]:
        minimal = _minimal(name, tmp_path)
        assert cli.command_parser(name).parse_args(minimal + ["--seed", "4294967295"]).seed == 2 ** 32 - 1
        for bad in ("-1", "4294967296", "1.5"):
            assert cli.main([name, *minimal, "--seed", bad], load_package=lambda: None) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"rnnx {name}: error: argument --seed: "), err
    assert cli.main(["train-classifier", f"{tmp_path}/data.txt", "--seed", "-1"]) == 2
    assert capsys.readouterr().err == ("rnnx train-classifier: error: argument --seed: expected an "
                                       "integer in [0, 4294967295], got '-1'\n")


def test_shared_option_defaults_are_each_commands_own(tmp_path):
    """Each command keeps its defaults (those it had before the options were
    shared), and its --help states every one that is not None."""
    from keras_rnnx import classifier_defaults as d

    _setup(tmp_path)
    expected = {
        "demo": dict(seed=0, cell="lstm", epochs=None, backup_dir=None),
        "verify": dict(seed=0),
        "generate": dict(seed=None, cell="lstm", units=256, layers=1, epochs=5, batch_size=64,
                         learning_rate=3e-3, backup_dir=None),
        "word2vec": dict(seed=1, epochs=5, batch_size=4096, backup_dir=None),
        "train-classifier": dict(seed=0, cell=d.CELL, units=d.UNITS, layers=d.LAYERS,
                                 epochs=d.EPOCHS, batch_size=d.BATCH_SIZE,
                                 learning_rate=d.LEARNING_RATE, backup_dir=None),
    }
    for name, defaults in expected.items():
        parser = cli.command_parser(name)
        args = vars(parser.parse_args(_minimal(name, tmp_path)))
        assert {k: args[k] for k in defaults} == defaults, name
        help_text = " ".join(parser.format_help().split())
        for key, value in defaults.items():
            if value is not None:
                option = "--" + key.replace("_", "-")
                shown = f"{value:g}" if isinstance(value, float) else str(value)
                assert re.search(rf" {option} (?:(?! --).)*\(default {re.escape(shown)}\)",
                                 help_text), (name, option)
    # a default of None is said in words
    assert "(default 8, quick 1)" in " ".join(cli.command_parser("demo").format_help().split())


def test_non_utf8_is_refused_with_the_byte_offset(tmp_path, capsys):
    """One rule in every command: the offset of the first bad byte in the file."""
    _setup(tmp_path)
    bad = str(tmp_path / "bad.txt")
    for argv in (["word2vec", bad, "--out", str(tmp_path / "v.txt")],
                 ["train-classifier", bad, "--out", str(tmp_path / "o")],
                 ["generate", "--text", bad],
                 ["word2vec-eval", str(tmp_path / "vectors.txt"), "--pairs", bad]):
        assert cli.main(argv, load_package=lambda: None) == 2
        err = capsys.readouterr().err
        assert "not valid UTF-8 at byte 13 (line 2)" in err, err
    folder = tmp_path / "classes"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "1.txt").write_bytes(b"\xc3")  # cut in the middle of a character
    assert cli.main(["train-classifier", str(folder), "--out", str(tmp_path / "o")]) == 2
    assert "not valid UTF-8 at byte 0 (line 1)" in capsys.readouterr().err


def test_utf8_offsets_across_read_chunks(tmp_path):
    path = tmp_path / "big.txt"
    data = ("é" * ((1 << 20) // 2) + "\n").encode()  # a 2-byte character spans chunk 1/2
    path.write_bytes(b"a" + data + b"ok\n\x80")
    assert _args.utf8_problem(str(path)) == (
        f"bytes that are not valid UTF-8 at byte {1 + len(data) + 3} (line 3): b'\\x80'")
    path.write_bytes(b"a" + data)
    assert _args.utf8_problem(str(path)) is None


def test_validators_import_no_tensorflow():
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import importlib.util, sys\n"
            "spec = importlib.util.spec_from_file_location('a', 'keras_rnnx/commands/_args.py')\n"
            "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
            "assert 'tensorflow' not in sys.modules and 'numpy' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


# -- checks that need the package (a model file's contents), in-process

def test_truncated_model_files_are_one_line(tmp_path, capsys):
    import keras

    from keras_rnnx import training

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    whole = tmp_path / "whole.keras"
    training.save_model(model, str(whole))
    truncated = tmp_path / "lm.keras"
    truncated.write_bytes(whole.read_bytes()[:200])
    assert cli.main(["generate", "--model", str(truncated)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "--model" in err and "Traceback" not in err, err
    clf = tmp_path / "clf"
    clf.mkdir()
    (clf / "model.keras").write_bytes(whole.read_bytes()[:200])
    (clf / "classifier.json").write_text("{}")
    assert cli.main(["predict", str(clf / "model.keras"), "text"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "classifier.json is missing" not in err, err
    assert err.startswith("rnnx predict: error: MODEL: ") and "truncated or corrupt" in err, err


def test_predict_refuses_non_utf8_standard_input(tmp_path, capsys, monkeypatch):
    clf = tmp_path / "clf"
    clf.mkdir()
    (clf / "model.keras").write_bytes(b"PK")
    (clf / "classifier.json").write_text("{}")
    stdin = types.SimpleNamespace(buffer=io.BytesIO(b"fine\nna\xefve\n"))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert cli.main(["predict", str(clf), "-"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "rnnx predict: error: standard input line 2: bytes that are not valid UTF-8 "
        "at byte 2: b'\\xefve'"], err
