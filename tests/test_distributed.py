"""Training under tf.distribute gives the same model as one device.

The model (Embedding(mask_zero) -> BiDirectional(LSTMX) -> GRUX -> Dense,
trained 2 epochs with SGD, global batch 16, masks with padding and an
all-padding row) is trained:
* on one device and under MirroredStrategy over two logical CPUs (one
  subprocess: logical devices must be configured before TF starts);
* under MultiWorkerMirroredStrategy by two worker processes on 127.0.0.1.
All final weights must equal single-device training within 1e-5.

`LazyAdam` with sparse (`tf.IndexedSlices`) gradients, from an `Embedding`
and a `BagOfNgrams` table (with its `row_l2` penalty on the rows the global
batch reads), trained on one device and under MirroredStrategy
over two logical CPUs (a third subprocess): the same weights and optimizer
state within 1e-6, and the rows no batch reads unchanged, their moments zero.
"""
import json
import os

import numpy as np
import pytest

from helpers import procs
from helpers import train_job
from keras_rnnx import distributed
from layer_checks import max_diff

TOL = 1e-5


def _load(path):
    z = np.load(path)
    return [z[f"arr_{i}"] for i in range(len(z.files))]


def _assert_same(a, b, tol=TOL):
    assert len(a) == len(b)
    worst = max_diff(a, b)  # a NaN counts as an infinite difference
    assert worst < tol, f"max abs weight difference {worst:.3g} >= {tol}"


def _initial_weights():
    return train_job.build_model().get_weights()


def _assert_trained(weights):
    moved = max_diff(weights, _initial_weights())
    assert np.all([np.isfinite(w).all() for w in weights]), "non-finite weights"
    assert moved > 1e-3, "training did not change the weights"


# -- helpers ---------------------------------------------------------------


def test_tf_config_shape_and_loopback():
    cfgs = distributed.local_cluster(2)
    assert [c["task"] for c in cfgs] == [
        {"type": "worker", "index": 0}, {"type": "worker", "index": 1}]
    workers = cfgs[0]["cluster"]["worker"]
    assert len(set(workers)) == 2 and all(w.startswith("127.0.0.1:") for w in workers)
    assert cfgs[1]["cluster"] == cfgs[0]["cluster"]


def _no_tf_config(monkeypatch):
    # setenv first so that monkeypatch restores the variable's absence even
    # after set_tf_config writes os.environ directly.
    monkeypatch.setenv("TF_CONFIG", "{}")
    monkeypatch.delenv("TF_CONFIG")


def test_tf_config_env_roles(monkeypatch):
    _no_tf_config(monkeypatch)
    assert distributed.is_chief() and distributed.num_workers() == 1
    cfg = distributed.tf_config(["127.0.0.1:2000", "127.0.0.1:2001"], 1)
    distributed.set_tf_config(cfg)
    assert json.loads(os.environ["TF_CONFIG"]) == cfg
    assert not distributed.is_chief()
    assert distributed.num_workers() == 2 and distributed.task_index() == 1


@pytest.mark.parametrize("kwargs, arg", [
    ({"workers": [], "index": 0}, "workers"),
    ({"workers": "127.0.0.1:1", "index": 0}, "workers"),
    ({"workers": ["127.0.0.1"], "index": 0}, "workers"),
    ({"workers": ["127.0.0.1:99999"], "index": 0}, "workers"),
    ({"workers": ["127.0.0.1:1"], "index": 1}, "index"),
    ({"workers": ["127.0.0.1:1"], "index": 0, "task_type": "ps"}, "task_type"),
])
def test_tf_config_rejects_bad_arguments(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        distributed.tf_config(**kwargs)


def test_bad_strategy_and_config_errors(monkeypatch):
    _no_tf_config(monkeypatch)
    with pytest.raises(ValueError, match="kind"):
        distributed.get_strategy("tpu")
    with pytest.raises(ValueError, match="TF_CONFIG"):
        distributed.get_strategy("multi_worker")
    with pytest.raises(ValueError, match="config"):
        distributed.set_tf_config('{"task": {}}')
    with pytest.raises(ValueError, match="n"):
        distributed.free_ports(0)


def test_split_cpu_after_start_is_a_clear_error():
    import tensorflow as tf

    tf.constant(1.0)  # devices are initialised by now
    with pytest.raises(RuntimeError, match="before TensorFlow initialises"):
        distributed.split_cpu(len(tf.config.list_logical_devices("CPU")) + 1)


# -- training ----------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Starts the mirrored run and both workers at once (their start-up overlaps)."""
    out = tmp_path_factory.mktemp("distributed")
    local = procs.start(["local", "--out", str(out / "local")])
    lazy = procs.start(["lazy", "--out", str(out / "lazy")])
    workers = [procs.start(["worker", "--out", str(out / "mw")], TF_CONFIG=json.dumps(c))
               for c in distributed.local_cluster(2)]
    errors = {}
    for name, group in (("local", [local]), ("lazy", [lazy]), ("multi_worker", workers)):
        try:
            procs.finish(group, timeout=400)
        except AssertionError as e:
            errors[name] = str(e)
    return out, errors


@pytest.mark.slow
def test_mirrored_two_logical_cpus_matches_single_device(runs):
    out, errors = runs
    assert "local" not in errors, errors.get("local")
    single = _load(out / "local" / "single.npz")
    mirrored = _load(out / "local" / "mirrored.npz")
    _assert_trained(single)
    _assert_same(mirrored, single)


@pytest.mark.slow
def test_multi_worker_two_processes_matches_single_device(runs):
    out, errors = runs
    assert "multi_worker" not in errors, errors.get("multi_worker")
    # The single-device reference, in this process (default strategy).
    reference = train_job.train(None).get_weights()
    _assert_trained(reference)
    chief = _load(out / "mw" / "chief.npz")
    other = _load(out / "mw" / "worker1.npz")
    _assert_same(chief, reference)
    _assert_same(other, chief, tol=1e-7)


@pytest.mark.slow
def test_lazy_adam_mirrored_two_logical_cpus_matches_single_device(runs):
    out, errors = runs
    assert "lazy" not in errors, errors.get("lazy")
    run = out / "lazy"
    initial, single, mirrored, adam = (_load(run / f"{name}.npz")
                                       for name in ("initial", "single", "mirrored", "adam"))
    # float32 rounding: 9e-8 measured; without the duplicate rows summed, 1.8; with each
    # replica's row_l2 on its own rows only (a row read by one of two replicas half
    # penalised), 1e-2
    _assert_same(mirrored, single, tol=1e-6)
    optimizer = _load(run / "single_optimizer.npz")
    _assert_same(_load(run / "mirrored_optimizer.npz"), optimizer, tol=1e-6)
    # the lazy rule ran: Keras' Adam keeps moving rows after the batches stop reading them
    assert max_diff(single, adam) > 1e-2
    never = np.load(run / "never.npz")
    for name, position in (("embedding", 0), ("bag_of_ngrams", 3)):  # in get_weights()
        rows = never[name]
        table = initial[position]
        read = np.setdiff1d(np.arange(len(table)), rows)
        assert len(rows) >= 10 and len(read) >= 10, name
        for weights in (single, mirrored):
            assert np.array_equal(weights[position][rows], table[rows]), name
            assert (weights[position][read] != table[read]).any(axis=1).all(), name
        for state in (optimizer, _load(run / "mirrored_optimizer.npz")):
            slots = [v for v in state if v.shape == table.shape]
            assert len(slots) == 2 and not any(slot[rows].any() for slot in slots), name
            assert all(slot[read].any(axis=1).all() for slot in slots), name
