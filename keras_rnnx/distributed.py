"""Training on several devices or machines with `tf.distribute`.

keras_rnnx layers are plain Keras layers whose variables are created in
`build`, so they work under any `tf.distribute` strategy: build and compile
the model inside `strategy.scope()` and call `model.fit` with the *global*
batch size. This module holds the small helpers around that:

* `split_cpu(n)`: n logical CPU devices on one machine (tests, or a quick
  data-parallel run without GPUs). Must run before TensorFlow initialises its
  devices.
* `tf_config(workers, index)` / `local_cluster(n)`: the `TF_CONFIG` a
  `MultiWorkerMirroredStrategy` worker needs (for localhost workers, with
  free loopback ports).
* `get_strategy(kind)`: "default", "mirrored", or "multi_worker" (reads
  `TF_CONFIG`), with clear errors.
* `scoped(strategy, build_fn)`: builds and compiles a model inside the scope.

A run on two machines (each runs the same script; only `index` differs):

    # machine A (chief)                  # machine B
    TF_CONFIG='{"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]},
                "task": {"type": "worker", "index": 0}}'   # index 1 on B
    python train.py   # uses get_strategy("multi_worker")

Importing this module does not import TensorFlow.
"""
import contextlib
import json
import os
import socket

STRATEGIES = ("default", "mirrored", "multi_worker")


def free_ports(n, host="127.0.0.1"):
    """`n` distinct TCP ports that are free on `host` right now.

    Args:
        n: how many ports (a positive integer).
        host: the address to bind; loopback by default.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"`n` must be a positive integer; received n={n!r}")
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tf_config(workers, index, task_type="worker"):
    """The `TF_CONFIG` dict for worker `index` of a cluster of `workers`.

    Args:
        workers: list of "host:port" strings, one per worker; worker 0 is the
            chief (it writes checkpoints and the final model).
        index: this process's position in `workers`.
        task_type: the task type, "worker" for `MultiWorkerMirroredStrategy`.

    Returns:
        A dict; `json.dumps` it into the `TF_CONFIG` environment variable
        (or pass it to `set_tf_config`).
    """
    if isinstance(workers, str) or not isinstance(workers, (list, tuple)) or not workers:
        raise ValueError(
            "`workers` must be a non-empty list of 'host:port' strings; "
            f"received workers={workers!r}"
        )
    for w in workers:
        host, sep, port = str(w).rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(
                "`workers` entries must look like 'host:port' with a port in "
                f"1..65535; received {w!r}"
            )
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(workers):
        raise ValueError(
            f"`index` must be an integer in [0, {len(workers) - 1}]; received index={index!r}"
        )
    if task_type not in ("worker", "chief"):
        raise ValueError(
            f"`task_type` must be 'worker' or 'chief'; received task_type={task_type!r}"
        )
    return {
        "cluster": {"worker": [str(w) for w in workers]},
        "task": {"type": task_type, "index": int(index)},
    }


def local_cluster(num_workers, host="127.0.0.1"):
    """`TF_CONFIG` dicts for `num_workers` workers on this machine.

    Returns a list: entry `i` is the config of worker `i`, all sharing one
    cluster of free ports on the loopback address.
    """
    ports = free_ports(num_workers, host)
    workers = [f"{host}:{p}" for p in ports]
    return [tf_config(workers, i) for i in range(num_workers)]


def set_tf_config(config):
    """Writes `config` (a dict or JSON string) into `os.environ["TF_CONFIG"]`."""
    if isinstance(config, dict):
        config = json.dumps(config)
    if not isinstance(config, str):
        raise ValueError(f"`config` must be a dict or a JSON string; received {config!r}")
    try:
        parsed = json.loads(config)
        parsed["cluster"], parsed["task"]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(
            "`config` must be a TF_CONFIG with 'cluster' and 'task' keys; "
            f"received {config!r}"
        ) from e
    os.environ["TF_CONFIG"] = config
    return parsed


def read_tf_config():
    """The parsed `TF_CONFIG` environment variable, or None when unset."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON: {raw!r}") from e


def task_index():
    """This worker's index in `TF_CONFIG` (0 without one)."""
    cfg = read_tf_config() or {}
    return int(cfg.get("task", {}).get("index", 0))


def num_workers():
    """The number of workers in `TF_CONFIG` (1 without one)."""
    cfg = read_tf_config() or {}
    cluster = cfg.get("cluster", {})
    return max(1, len(cluster.get("worker", [])) + len(cluster.get("chief", [])))


def is_chief():
    """True for the worker that should write checkpoints and final files."""
    cfg = read_tf_config()
    if not cfg:
        return True
    task = cfg.get("task", {})
    if "chief" in cfg.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type", "worker") == "worker" and int(task.get("index", 0)) == 0


def split_cpu(n):
    """Splits the CPU into `n` logical devices ("/cpu:0" ... "/cpu:{n-1}").

    Must be called before TensorFlow initialises its devices (before any
    tensor is created); otherwise raises `RuntimeError`. Returns the logical
    device names.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"`n` must be a positive integer; received n={n!r}")
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
        )
    except RuntimeError as e:
        current = tf.config.list_logical_devices("CPU")
        if len(current) == n:
            return [d.name for d in current]
        raise RuntimeError(
            f"split_cpu({n}) must run before TensorFlow initialises its devices "
            f"(it already has {len(current)} logical CPU devices); call it at "
            "the start of the program"
        ) from e
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def get_strategy(kind="default", devices=None):
    """A `tf.distribute.Strategy`.

    Args:
        kind: "default" (no distribution), "mirrored" (synchronous data
            parallelism over the devices of this machine: GPUs, else logical
            CPUs from `split_cpu`), or "multi_worker" (synchronous data
            parallelism over the workers in `TF_CONFIG`).
        devices: optional device names for "mirrored" (default: all GPUs,
            else all logical CPUs).
    """
    if kind not in STRATEGIES:
        raise ValueError(f"`kind` must be one of {STRATEGIES}; received kind={kind!r}")
    import tensorflow as tf

    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        if devices is None:
            gpus = tf.config.list_logical_devices("GPU")
            devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        devices = list(devices)
        if not devices:
            raise ValueError("`devices` must name at least one device")
        cross = None
        if not any("GPU" in d.upper() for d in devices):
            cross = tf.distribute.ReductionToOneDevice(reduce_to_device=devices[0])
        return tf.distribute.MirroredStrategy(devices=devices, cross_device_ops=cross)
    cfg = read_tf_config()
    if not cfg or "cluster" not in cfg or "task" not in cfg:
        raise ValueError(
            "kind='multi_worker' needs the TF_CONFIG environment variable with "
            "'cluster' and 'task' (see keras_rnnx.distributed.tf_config)"
        )
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING
    )
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def scoped(strategy, build_fn):
    """Calls `build_fn()` (which builds and compiles a model) in `strategy.scope()`."""
    if not callable(build_fn):
        raise ValueError(f"`build_fn` must be callable; received {build_fn!r}")
    ctx = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with ctx:
        model = build_fn()
    if strategy is not None and _is_multi_worker(strategy):
        _multi_worker_workarounds(model, strategy)
    return model


def _is_multi_worker(strategy):
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def _multi_worker_workarounds(model, strategy):
    """Works around two Keras 3.15 bugs under `MultiWorkerMirroredStrategy`.

    1. `Trainer._maybe_symbolic_build` averages the first distributed batch
       with `strategy.reduce("MEAN", ...)` only to learn its shapes; under
       `MultiWorkerMirroredStrategy` that reduce fails ("Attempt to convert a
       value (PerReplica...) ... to a Tensor"). The batch is only used for
       shapes, so an instance-level override builds from this worker's local
       part of the batch instead.
    2. `reduce_per_replica(..., reduction="auto")` averages every logged
       scalar with `strategy.reduce("MEAN", v, axis=0)`, which fails on
       scalars ("Invalid reduction dimension 0 for input with 0
       dimensions"). The instance's `train_step`/`test_step` are wrapped to
       return each scalar log as a one-element vector, which that reduce
       turns back into the scalar mean over all workers.
    """
    import tensorflow as tf
    from keras import tree

    if not hasattr(model, "_symbolic_build"):
        return

    def build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                batch = next(it)
                data_batch = tree.map_structure(
                    lambda v: strategy.experimental_local_results(v)[0]
                    if isinstance(v, tf.distribute.DistributedValues) else v,
                    batch,
                )
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = build

    def as_vectors(logs):
        return tree.map_structure(
            lambda v: tf.reshape(v, [1]) if tf.is_tensor(v) and v.shape.rank == 0 else v,
            logs,
        )

    train_step, test_step = model.train_step, model.test_step
    model.train_step = lambda data: as_vectors(train_step(data))
    model.test_step = lambda data: as_vectors(test_step(data))
