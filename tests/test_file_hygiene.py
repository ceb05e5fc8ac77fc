"""Files the package writes get the mode the umask gives (not mkstemp's
0600); scratch folders of an export are removed at exit, and those of a run
killed with SIGKILL by the next run."""
import importlib.util
import os
import signal
import stat
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ATOMIC = os.path.join(ROOT, "keras_rnnx", "_atomic.py")


def _atomic():
    """keras_rnnx._atomic loaded alone (no TensorFlow)."""
    spec = importlib.util.spec_from_file_location("_atomic_alone", ATOMIC)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def umask():
    old = os.umask(0o022)

    def set_(mask):
        os.umask(mask)

    yield set_
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_follow_the_umask(tmp_path, umask, mask, expected):
    atomic = _atomic()
    umask(mask)
    atomic.atomic_write(tmp_path / "vocab.txt", "a\nb\n")
    atomic.atomic_write(tmp_path / "plot.png", b"\x89PNG")
    atomic.write_bytes(tmp_path / "m.tflite", b"TFL3")
    for name in ("vocab.txt", "plot.png", "m.tflite"):
        assert _mode(tmp_path / name) == expected, name


def test_save_model_follows_the_umask(tmp_path, umask):
    import keras

    from keras_rnnx import training

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    for mask, expected in ((0o022, 0o644), (0o077, 0o600)):
        umask(mask)
        path = tmp_path / f"m{mask:o}.keras"
        training.save_model(model, str(path))
        assert _mode(path) == expected


_CHILD = r"""
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("_atomic_alone", sys.argv[1])
atomic = importlib.util.module_from_spec(spec)
spec.loader.exec_module(atomic)
block = atomic.temporary_folder(sys.argv[2])
path = block.__enter__()
open(path + "/saved_model.pb", "wb").write(b"x" * 1000)
print(path, flush=True)
if sys.argv[3] == "wait":
    time.sleep(600)
"""


def _child(tmp_path, prefix, how):
    env = dict(os.environ, TMPDIR=str(tmp_path))
    return subprocess.Popen([sys.executable, "-c", _CHILD, ATOMIC, prefix, how],
                            stdout=subprocess.PIPE, text=True, env=env)


def test_a_sigkilled_runs_folder_is_removed_by_the_next_run(tmp_path, monkeypatch):
    prefix = "keras_rnnx_tflite_"
    proc = _child(tmp_path, prefix, "wait")
    path = proc.stdout.readline().strip()
    assert os.path.isdir(path) and os.path.basename(path).startswith(f"{prefix}{proc.pid}_")
    other = tmp_path / "keras_rnnx_tflite_notapid"  # not ours to judge: left alone
    other.mkdir()
    atomic = _atomic()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert atomic.remove_stale_folders(prefix) == []  # its process is alive: kept
    assert os.path.isdir(path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert os.path.isdir(path)  # SIGKILL: nothing ran
    with atomic.temporary_folder(prefix) as mine:
        assert not os.path.exists(path)  # the next run removed it
        assert os.path.isdir(mine)
    assert not os.path.exists(mine)
    assert other.is_dir()


def test_a_folder_never_released_is_removed_at_exit(tmp_path):
    proc = _child(tmp_path, "keras_rnnx_tflite_", "exit")
    path = proc.stdout.readline().strip()
    assert proc.wait(timeout=30) == 0
    assert path and not os.path.exists(path)
    assert os.listdir(tmp_path) == []


def test_tflite_conversion_uses_the_cleaned_folder(monkeypatch, tmp_path):
    """The one TFLite conversion path makes its SavedModel in a
    `temporary_folder` (so a SIGKILL's leftovers go on the next export):
    seen from outside, an export removes a dead process' leftover folder of
    that prefix and leaves the temp folder as it found it."""
    import keras

    from keras_rnnx import export

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = scratch / f"keras_rnnx_tflite_{int(gone.stdout)}_leftover"
    (stale / "variables").mkdir(parents=True)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    export.to_tflite(model, str(tmp_path / "m.tflite"))
    assert (tmp_path / "m.tflite").stat().st_size > 0
    assert not stale.exists()
    assert [n for n in os.listdir(scratch) if n.startswith("keras_rnnx_tflite_")] == []
