"""fit_resumable survives SIGKILL: resume from the last completed epoch.

A training subprocess (4 epochs, no shuffling, SGD) is killed with SIGKILL
in the middle of epoch 3, right after the backup of epoch 2 was committed;
a second process with the same command resumes at epoch 3, keeps the
history of epochs 1-2, and ends with the same weights as an uninterrupted
run (max abs difference < 1e-6).
"""
import json
import os
import time

import keras
import numpy as np
import pytest

from helpers import procs
from helpers import train_job
from keras_rnnx import training
from layer_checks import max_diff


def _load(path):
    z = np.load(path)
    return [z[f"arr_{i}"] for i in range(len(z.files))]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path):
    backup, marker = tmp_path / "backup", tmp_path / "marker"
    first = procs.start(["resumable", "--backup", str(backup), "--out", str(tmp_path / "o1"),
                         "--hang-epoch", "1", "--marker", str(marker)])
    # Uninterrupted reference in this process while the subprocess starts.
    ref_model, ref_hist = train_job.run_resumable(
        str(tmp_path / "ref_backup"), str(tmp_path / "ref"), epochs=4)
    deadline = time.monotonic() + 240
    while not marker.exists():
        if first.poll() is not None or time.monotonic() > deadline:
            out = procs.kill(first)
            pytest.fail(f"training never reached epoch 3:\n{out[-3000:]}")
        time.sleep(0.2)
    committed = training.read_state(backup)
    procs.kill(first)  # SIGKILL mid-epoch 3
    assert first.returncode == -9
    assert committed["epoch"] == 2
    assert training.read_state(backup) == committed  # nothing written after
    assert not (tmp_path / "o1" / "final.npz").exists()

    second = procs.start(["resumable", "--backup", str(backup), "--out", str(tmp_path / "o2")])
    procs.finish([second], timeout=240)
    hist = json.loads((tmp_path / "o2" / "history.json").read_text())
    assert hist["resumed_from"] == 2
    assert hist["epoch"] == [0, 1, 2, 3]
    # Completed epochs are kept, not rerun: their losses are the committed ones.
    assert hist["loss"][:2] == [row["loss"] for row in committed["history"]]
    np.testing.assert_allclose(hist["loss"], ref_hist.history["loss"], rtol=1e-5)
    final = _load(tmp_path / "o2" / "final.npz")
    worst = max_diff(final, ref_model.get_weights())  # NaN: infinite
    assert worst < 1e-6, worst
    assert ref_hist.resumed_from == 0 and ref_hist.epoch == [0, 1, 2, 3]


def _small(tmp_path):
    model = keras.Sequential([keras.Input((4, 3)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    rng = np.random.default_rng(0)
    return model, rng.normal(size=(16, 4, 3)).astype("float32"), np.zeros((16, 4, 2), "float32")


def test_restart_after_finish_runs_nothing_and_keeps_history(tmp_path):
    model, x, y = _small(tmp_path)
    h1 = training.fit_resumable(model, x, y, backup_dir=tmp_path / "b", epochs=2,
                                verbose=0, shuffle=False)
    w = model.get_weights()
    model2, _, _ = _small(tmp_path)
    h2 = training.fit_resumable(model2, x, y, backup_dir=tmp_path / "b", epochs=2,
                                verbose=0, shuffle=False)
    assert h2.resumed_from == 2 and h2.epoch == [0, 1]
    assert h2.history["loss"] == h1.history["loss"]
    for a, b in zip(model2.get_weights(), w):
        np.testing.assert_array_equal(a, b)
    # Optimizer state is restored too (Adam's iteration counter).
    assert int(model2.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())


def test_interrupted_backup_leaves_previous_state(tmp_path, monkeypatch):
    model, x, y = _small(tmp_path)
    training.fit_resumable(model, x, y, backup_dir=tmp_path / "b", epochs=1, verbose=0)
    before = training.read_state(tmp_path / "b")
    files = sorted(os.listdir(tmp_path / "b"))

    def broken(self, filepath, overwrite=True, **kw):
        with open(filepath, "wb") as f:
            f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(keras.Model, "save_weights", broken)
    with pytest.raises(OSError, match="disk full"):
        training.fit_resumable(model, x, y, backup_dir=tmp_path / "b", epochs=3, verbose=0)
    assert training.read_state(tmp_path / "b") == before
    assert sorted(os.listdir(tmp_path / "b")) == files


def test_checkpoint_path_is_written_atomically(tmp_path, monkeypatch):
    model, x, y = _small(tmp_path)
    path = tmp_path / "ckpt" / "model.keras"
    training.fit_resumable(model, x, y, backup_dir=tmp_path / "b", epochs=1, verbose=0,
                           checkpoint_path=str(path))
    good = path.read_bytes()
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))

    def broken(self, filepath, *a, **kw):
        with open(filepath, "wb") as f:
            f.write(b"PK\x03\x04 torn")
        raise OSError("killed mid-save")

    monkeypatch.setattr(keras.Model, "save", broken)
    with pytest.raises(OSError, match="mid-save"):
        training.fit_resumable(model, x, y, backup_dir=tmp_path / "b", epochs=2, verbose=0,
                               checkpoint_path=str(path))
    assert path.read_bytes() == good
    assert [p.name for p in path.parent.iterdir()] == ["model.keras"]


def test_corrupt_state_is_a_clear_error(tmp_path):
    model, x, y = _small(tmp_path)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "training_state.json").write_text('{"epoch": 1')
    with pytest.raises(ValueError, match="backup_dir: .* is not a keras_rnnx training state"):
        training.fit_resumable(model, x, y, backup_dir=tmp_path / "b", epochs=2, verbose=0)
    (tmp_path / "b" / "training_state.json").write_text(
        '{"epoch": 1, "weights": "gone.weights.h5", "history": []}')
    with pytest.raises(ValueError, match="backup_dir: .*missing"):
        training.fit_resumable(model, x, y, backup_dir=tmp_path / "b", epochs=2, verbose=0)


@pytest.mark.parametrize("kwargs, arg", [
    ({"epochs": 0}, "epochs"),
    ({"epochs": 2, "initial_epoch": 1}, "initial_epoch"),
])
def test_bad_arguments(tmp_path, kwargs, arg):
    model, x, y = _small(tmp_path)
    with pytest.raises(ValueError, match=arg):
        training.fit_resumable(model, x, y, backup_dir=tmp_path / "b", **kwargs)


def test_uncompiled_model_and_bad_checkpoint_path(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="compiled"):
        training.fit_resumable(model, np.ones((2, 3)), np.ones((2, 1)),
                               backup_dir=tmp_path, epochs=1)
    with pytest.raises(ValueError, match="filepath"):
        training.AtomicModelCheckpoint(tmp_path / "model.h5")
