"""`rnnx` start-up: help, version and argument errors answer without importing
TensorFlow or Keras; a command that runs gets the whole package (every layer
registered) and no TensorFlow load-time log lines on stderr."""
import configparser
import json
import os
import re
import subprocess
import sys

import pytest

from keras_rnnx import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("tensorflow", "keras")
COMMANDS = ["demo", "export", "verify", "generate", "word2vec", "word2vec-eval",
            "train-classifier", "predict"]


def _env():
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=ROOT + (os.pathsep + path if path else ""),
                TF_CPP_MIN_LOG_LEVEL="2")


def _main_in_fresh_process(argv, after=""):
    """Runs `keras_rnnx_cli.main(argv)` (the console script's entry) in a
    fresh interpreter; returns (exit code, heavy modules imported, process)."""
    code = (
        "import json, sys\n"
        "import keras_rnnx_cli\n"
        "try:\n"
        f"    rc = keras_rnnx_cli.main({argv!r})\n"
        "except SystemExit as e:\n"
        "    rc = e.code\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        f"{after}"
        "print('RESULT' + json.dumps([rc, heavy]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_env(), cwd=ROOT, timeout=300)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    rc, heavy = json.loads(lines[-1][len("RESULT"):])
    return rc, heavy, proc


def test_the_command_list_is_the_command_modules():
    assert list(cli.commands()) == COMMANDS


def test_console_script_enters_through_the_light_launcher():
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, "setup.cfg"))
    scripts = cfg["options.entry_points"]["console_scripts"].split()
    assert scripts == ["rnnx", "=", "keras_rnnx_cli:main"]
    assert cfg["options"]["py_modules"].strip() == "keras_rnnx_cli"


@pytest.mark.parametrize("argv", [[], ["--help"], ["-h"]])
def test_help_without_tensorflow(argv):
    rc, heavy, proc = _main_in_fresh_process(argv)
    assert (rc, heavy) == (0, [])
    assert proc.stdout.startswith("usage: rnnx [-h] [--version] [--verbose] COMMAND ...")
    for name in COMMANDS:
        assert name in proc.stdout


def test_version_without_tensorflow():
    import keras_rnnx

    rc, heavy, proc = _main_in_fresh_process(["--version"])
    assert (rc, heavy) == (0, [])
    assert proc.stdout.splitlines()[0] == f"rnnx {keras_rnnx.__version__}"


@pytest.mark.parametrize("name", COMMANDS)
def test_command_help_without_tensorflow(name):
    rc, heavy, proc = _main_in_fresh_process([name, "--help"])
    assert (rc, heavy) == (0, [])
    assert proc.stdout.startswith(f"usage: rnnx {name} ")


@pytest.mark.parametrize("argv, message", [
    (["nope"], "unknown command 'nope'"),
    (["export"], "the following arguments are required: model, --format, --out"),
    (["export", "m.keras", "--format", "onnx", "--out", "x"], "argument --format: invalid choice"),
    (["demo", "--cell", "rnn"], "argument --cell: invalid choice"),
    (["verify", "m.keras", "x", "--atol", "tiny"], "argument --atol: invalid float value"),
    (["generate", "--units", "many"], "argument --units: invalid int value"),
])
def test_argument_errors_exit_2_without_tensorflow(argv, message):
    rc, heavy, proc = _main_in_fresh_process(argv)
    assert (rc, heavy) == (2, [])
    assert message in proc.stderr


def test_parsing_alone_leaves_no_half_imported_package():
    """After `--help` the launcher removes the package it had not initialised:
    a later `import keras_rnnx` in the same process is the whole package."""
    rc, heavy, proc = _main_in_fresh_process(["--help"], after=(
        "import keras, keras_rnnx\n"
        "assert keras_rnnx.LSTMX.__name__ == 'LSTMX'\n"
        "assert 'keras_rnnx>LSTMX' in keras.saving.get_custom_objects()\n"
    ))
    assert rc == 0


def test_a_command_runs_with_the_whole_package_and_quiet_stderr(tmp_path):
    """`rnnx export` on a missing file: the package was initialised (layers
    registered) before the command ran; stderr has the command's error and
    none of TensorFlow's load-time lines (oneDNN, CUDA stub, absl)."""
    missing = str(tmp_path / "missing.keras")
    rc, heavy, proc = _main_in_fresh_process(
        ["export", missing, "--format", "tflite", "--out", str(tmp_path / "m.tflite")],
        after=(
            "import keras, keras_rnnx\n"
            "assert 'keras_rnnx>TextToIds' in keras.saving.get_custom_objects()\n"
            "assert keras_rnnx.__all__ and keras_rnnx.GRUX.__name__ == 'GRUX'\n"
        ))
    assert rc == 2 and "tensorflow" in heavy
    assert f"rnnx export: cannot load model {missing!r}" in proc.stderr
    noise = [l for l in proc.stderr.splitlines()
             if re.search(r"absl::InitializeLog|oneDNN|cudart_stub|cuda drivers|^I\d{4} ", l)]
    assert noise == []


def test_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "keras_rnnx_cli", "export", "--help"],
                          capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: rnnx export ")


# a TensorFlow / absl C++ log line ("E0000 00:00:1796425326.079066   19484
# cuda_platform.cc:52] failed call to cuInit ...", "I0000 ... port.cc:153]
# oneDNN custom operations are on ...") or absl's pre-initialisation note,
# anywhere in a line (a progress bar's carriage returns do not end lines)
_TF_LOG = re.compile(r"[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [\w.]+:\d+\] |"
                     r"absl::InitializeLog\(\)")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import keras

    from keras_rnnx import LSTMX

    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(LSTMX(4)(inputs)))
    path = str(tmp_path_factory.mktemp("verbose") / "m.keras")
    model.save(path)
    return path


def _export(model, out, *flags, level=None):
    """`rnnx [flags] export MODEL --format tflite --out OUT` in a fresh
    process (a TFLite conversion: device set-up, cuInit on a machine without
    a GPU, the converter's own logging), TF_CPP_MIN_LOG_LEVEL as given (None:
    unset); returns the finished process."""
    env = _env()
    env.pop("TF_CPP_MIN_LOG_LEVEL")
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    proc = subprocess.run([sys.executable, "-m", "keras_rnnx_cli", *flags, "export", model,
                           "--format", "tflite", "--out", out],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert os.path.getsize(out) > 0 and f"wrote {out}" in proc.stdout
    return proc


@pytest.mark.parametrize("level", [None, "0", "2"])
def test_tensorflow_log_lines_stay_out_of_stderr_without_verbose(tiny_model, tmp_path, level):
    """Whatever TF_CPP_MIN_LOG_LEVEL says (unset, everything, or the 2 that
    still lets cuInit's error through), a command that loads TensorFlow and
    converts prints none of TensorFlow's log lines; the progress bar stays."""
    proc = _export(tiny_model, str(tmp_path / "m.tflite"), level=level)
    assert "export tflite" in proc.stderr
    assert _TF_LOG.findall(proc.stderr) == []


@pytest.mark.parametrize("flags", [["--verbose"], []], ids=["rnnx --verbose CMD", "CMD --verbose"])
def test_verbose_lets_tensorflow_log_lines_through(tiny_model, tmp_path, flags):
    out = str(tmp_path / "m.tflite")
    if flags:
        proc = _export(tiny_model, out, *flags)
    else:  # the option after the command's own arguments
        env = _env()
        env.pop("TF_CPP_MIN_LOG_LEVEL")
        proc = subprocess.run([sys.executable, "-m", "keras_rnnx_cli", "export", tiny_model,
                               "--format", "tflite", "--out", out, "--verbose"],
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
    assert _TF_LOG.findall(proc.stderr) != []


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_documents_verbose(name):
    rc, heavy, proc = _main_in_fresh_process([name, "--help"])
    assert rc == 0 and "--verbose" in proc.stdout and "TensorFlow's log lines" in proc.stdout
