"""Fault-tolerant training: `fit_resumable` survives a killed process.

`fit_resumable(model, x, y, backup_dir=..., epochs=...)` is `model.fit` plus
a backup of the whole training state (weights, optimizer state, epoch and
the history of completed epochs) at the end of every epoch. Run the same
command again after a crash, a SIGKILL or a pre-empted machine and it
continues from the last completed epoch: no completed epoch is lost or run
twice, and with deterministic data (no shuffling, or shuffling seeded per
epoch) the final weights equal those of an uninterrupted run.

Unlike `keras.callbacks.BackupAndRestore`, which overwrites its weights
file in place and then writes the epoch number in a second file, every
backup here is committed atomically: the weights go to a new file, then
one small JSON file naming that file and the epoch is moved into place
with `os.replace` (the commit point), then older weights files are removed.
A kill at any instant leaves either the previous or the new backup, never a
torn one.

Under `tf.distribute.MultiWorkerMirroredStrategy` every worker keeps its own
backup (non-chief workers in `backup_dir/worker-{i}`), and only the chief
writes `checkpoint_path`.
"""
import glob
import json
import os
import tempfile

import keras

from keras_rnnx._atomic import atomic_write, check_target, umask_mode
from keras_rnnx._validation import check_units

_METADATA = "training_state.json"


def _jsonable(logs):
    out = {}
    for k, v in (logs or {}).items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            continue
    return out


def read_state(backup_dir):
    """The committed training state in `backup_dir`, or None if there is none.

    A dict with `epoch` (the number of completed epochs), `weights` (the
    weights file name) and `history` (a list of per-epoch log dicts).
    """
    path = os.path.join(os.fspath(backup_dir), _METADATA)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
        int(state["epoch"]), str(state["weights"]), list(state["history"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(
            f"backup_dir: {path!r} is not a keras_rnnx training state "
            f"(expected JSON with 'epoch', 'weights', 'history'): {e}"
        ) from e
    return state


class AtomicBackupAndRestore(keras.callbacks.Callback):
    """Backs up the training state every epoch, atomically; restores it on start.

    Args:
        backup_dir: folder for the backup (created if missing).
        delete_checkpoint: remove the backup when training finishes
            normally (default False: keep it, so a finished run restarted
            with the same `epochs` does nothing).
        on_commit: optional callable `(epoch_index)` run after each backup
            is committed (tests use it to mark progress).
    """

    def __init__(self, backup_dir, delete_checkpoint=False, on_commit=None):
        super().__init__()
        if not backup_dir or not isinstance(backup_dir, (str, os.PathLike)):
            raise ValueError(f"`backup_dir` must be a folder path; received {backup_dir!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.delete_checkpoint = bool(delete_checkpoint)
        self.on_commit = on_commit
        self.initial_epoch = 0
        self.completed = []

    # -- restore -----------------------------------------------------------
    def on_train_begin(self, logs=None):
        state = read_state(self.backup_dir)
        if state is None:
            return
        weights = os.path.join(self.backup_dir, state["weights"])
        if not os.path.exists(weights):
            raise ValueError(
                f"backup_dir: the training state names {weights!r}, which is missing"
            )
        model = self.model
        if not model.built:
            raise ValueError(
                "model: build the model (call it on a batch or give it an Input) "
                "before fit_resumable so its backup can be restored"
            )
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(weights)
        self.initial_epoch = int(state["epoch"])
        self.completed = list(state["history"])
        model._initial_epoch = self.initial_epoch

    # -- backup ------------------------------------------------------------
    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"state-{epoch + 1:06d}.weights.h5"
        save_model(self.model, os.path.join(self.backup_dir, name), overwrite=True)
        self.completed.append({"epoch": int(epoch), **_jsonable(logs)})
        state = {"epoch": int(epoch) + 1, "weights": name, "history": self.completed}
        atomic_write(os.path.join(self.backup_dir, _METADATA), json.dumps(state))
        for old in glob.glob(os.path.join(self.backup_dir, "state-*.weights.h5")):
            if os.path.basename(old) != name:
                os.remove(old)
        if self.on_commit is not None:
            self.on_commit(epoch)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            for p in glob.glob(os.path.join(self.backup_dir, "state-*.weights.h5")):
                os.remove(p)
            meta = os.path.join(self.backup_dir, _METADATA)
            if os.path.exists(meta):
                os.remove(meta)
            try:
                os.rmdir(self.backup_dir)  # only when nothing else is in it
            except OSError:
                pass


class BestEpoch(keras.callbacks.Callback):
    """Early stopping on a validation score, keeping the best epoch's weights.

    After every epoch `score(model)` gives a dict of validation metrics
    (for example `{"macro_f1": 0.81, "loss": 0.52}`); they are added to the
    epoch's logs as `val_<name>`. The best epoch by `monitor` is remembered
    with its weights; after `patience` epochs without an improvement of
    more than `min_delta` training stops, and at the end of training (stopped
    or not) the best epoch's weights are put back. With `reduce_lr` the
    optimizer's learning rate is multiplied by that factor after every epoch
    that does not improve (a plateau schedule).

    Place it before `AtomicBackupAndRestore` in the callbacks so the backup
    records the `val_*` logs; with the same `backup_dir` the best weights are
    kept there too (atomically), and a resumed run continues with the best
    epoch, score, patience count and learning rate of the interrupted one.

    Args:
        score: callable `model -> {name: float}` on the validation data.
        monitor: the name in `score`'s dict to watch.
        mode: "max" (higher is better) or "min".
        patience: epochs without improvement before stopping (>= 1).
        min_delta: the smallest change that counts as an improvement.
        reduce_lr: None, or a factor in (0, 1) for the learning rate after an
            epoch without improvement.
        backup_dir: None (best weights in memory) or the folder of an
            `AtomicBackupAndRestore` backup.
        tie_break: None, or a name in `score`'s dict that is lower-better
            (such as "loss"): an epoch that equals the best `monitor` score
            and has a lower `tie_break` score counts as an improvement (a
            macro-F1 on a small validation set often ties).

    Attributes (after training): `best_epoch` (0-based), `best_score`,
    `epochs_run`, `stopped_early`, `reason` (a sentence saying which epoch was
    kept and why training ended).

    Example:

    >>> import numpy as np, keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> x, y = np.ones((8, 2), "float32"), np.zeros((8, 1), "float32")
    >>> mse = lambda m: {"mse": float(np.mean((m.predict(x, verbose=0) - y) ** 2))}
    >>> best = BestEpoch(mse, "mse", mode="min", patience=2)
    >>> _ = model.fit(x, y, epochs=3, verbose=0, callbacks=[best])
    >>> best.best_epoch in (0, 1, 2)
    True
    """

    _BEST = "best.weights.h5"

    def __init__(self, score, monitor, mode="max", patience=3, min_delta=0.0, reduce_lr=None,
                 backup_dir=None, tie_break=None):
        super().__init__()
        if not callable(score):
            raise ValueError(f"`score` must be callable (model -> dict); got {score!r}")
        if mode not in ("max", "min"):
            raise ValueError(f'`mode` must be "max" or "min"; got {mode!r}')
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"`patience` must be an int >= 1; got {patience!r}")
        if reduce_lr is not None and not 0.0 < float(reduce_lr) < 1.0:
            raise ValueError(f"`reduce_lr` must be None or a factor in (0, 1); got {reduce_lr!r}")
        self.score, self.monitor, self.mode = score, str(monitor), mode
        self.patience, self.min_delta = patience, float(min_delta)
        self.reduce_lr = None if reduce_lr is None else float(reduce_lr)
        self.backup_dir = None if backup_dir is None else os.fspath(backup_dir)
        self.tie_break = tie_break
        self._reset()

    def _reset(self):
        self.best_epoch, self.best_score, self.wait = None, None, 0
        self._best_tie = None
        self.epochs_run, self.stopped_early, self.reason = 0, False, ""
        self._best_weights = None

    def _better(self, value, tie=None):
        if self.best_score is None:
            return True
        if tie is not None and self._best_tie is not None and value == self.best_score:
            return tie < self._best_tie
        if self.mode == "max":
            return value > self.best_score + self.min_delta
        return value < self.best_score - self.min_delta

    def _set_lr(self, value):
        self.model.optimizer.learning_rate = float(value)

    def _lr(self):
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_train_begin(self, logs=None):
        self._reset()
        state = read_state(self.backup_dir) if self.backup_dir else None
        best_file = os.path.join(self.backup_dir, self._BEST) if self.backup_dir else None
        if state is None or not os.path.exists(best_file):
            return
        key = f"val_{self.monitor}"
        for row in state["history"]:  # replay the interrupted run's epochs
            if key not in row:
                continue
            self.epochs_run = int(row["epoch"]) + 1
            tie = row.get(f"val_{self.tie_break}") if self.tie_break else None
            if self._better(row[key], tie):
                self.best_epoch, self.best_score, self.wait = int(row["epoch"]), row[key], 0
                self._best_tie = tie
            else:
                self.wait += 1
            if "lr" in row and getattr(self.model, "optimizer", None) is not None:
                self._set_lr(row["lr"])

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        scores = {k: float(v) for k, v in self.score(self.model).items()}
        if self.monitor not in scores:
            raise ValueError(f"`score` returned {sorted(scores)}, without `monitor` {self.monitor!r}")
        for k, v in scores.items():
            logs[f"val_{k}"] = v
        value = scores[self.monitor]
        tie = scores.get(self.tie_break) if self.tie_break else None
        self.epochs_run = epoch + 1
        if self._better(value, tie):
            self.best_epoch, self.best_score, self.wait = epoch, value, 0
            self._best_tie = tie
            if self.backup_dir:
                save_model(self.model, os.path.join(self.backup_dir, self._BEST), overwrite=True)
            else:
                self._best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.reduce_lr is not None:
                self._set_lr(self._lr() * self.reduce_lr)
            if self.wait >= self.patience:
                self.stopped_early = True
                self.model.stop_training = True
        if getattr(self.model, "optimizer", None) is not None:
            logs["lr"] = self._lr()

    def on_train_end(self, logs=None):
        if self.best_epoch is None:
            return
        best_file = os.path.join(self.backup_dir, self._BEST) if self.backup_dir else None
        if self._best_weights is not None:
            self.model.set_weights(self._best_weights)
        elif best_file and os.path.exists(best_file):
            self.model.load_weights(best_file)
            os.remove(best_file)
        name = f"validation {self.monitor}"
        kept = f"kept epoch {self.best_epoch + 1} of {self.epochs_run} (best {name} {self.best_score:.4f})"
        if self.stopped_early:
            why = f"stopped: no improvement for {self.patience} epoch(s)"
        else:
            why = f"ran the maximum of {self.epochs_run} epoch(s)"
        self.reason = f"{kept}; {why}"


class FrozenWarmup(keras.callbacks.Callback):
    """Keeps some layers frozen for the first epochs of a fit, then trains them.

    For pretrained parts of a model (an embedding started from word vectors):
    while the rest of the model learns from its random start during the first
    `epochs` epochs, the frozen layers' weights stay exactly as they are; from
    epoch `epochs` on (0-based) they are trained too. The phase follows the
    epoch number, so a fit resumed at epoch `e` (`AtomicBackupAndRestore`,
    `initial_epoch`) is in the phase of epoch `e`, and a second fit (a refit)
    with the same callback repeats the schedule. At the end of training the
    layers are trainable again. A layer that is not trainable when training
    begins (and that this callback did not freeze) is left alone.

    The optimizer is built with the layers' weights before they are frozen,
    so it holds their state (Adam's moments) from the start; a frozen
    layer's weights are simply left out of the gradient and the update.
    Changing `trainable` re-traces the training step once at each change
    (`Model.make_train_function(force=True)`, the documented Keras way).

    Args:
        layers: a layer, a layer name, or a list of them (of the fitted model).
        epochs: int >= 0, the number of epochs the layers stay frozen.

    Example:

    >>> import numpy as np, keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4, name="pre"),
    ...                           keras.layers.Dense(1)])
    >>> model.compile("adam", "mse")
    >>> before = model.get_layer("pre").get_weights()[0].copy()
    >>> _ = model.fit(np.ones((8, 2)), np.zeros((8, 1)), epochs=1, verbose=0,
    ...               callbacks=[FrozenWarmup("pre", epochs=1)])
    >>> bool((model.get_layer("pre").get_weights()[0] == before).all())
    True
    """

    def __init__(self, layers, epochs):
        super().__init__()
        epochs = check_units(epochs, "epochs", minimum=0)
        layers = layers if isinstance(layers, (list, tuple)) else [layers]
        for layer in layers:
            if not isinstance(layer, (str, keras.layers.Layer)):
                raise ValueError(f"`layers` must be layers or layer names; got {layer!r}")
        self.layers, self.epochs = list(layers), epochs
        self._managed, self._frozen = [], []

    def _set(self, trainable):
        changed = False
        for layer in self._managed:
            if layer.trainable != trainable:
                layer.trainable = trainable
                changed = True
            if not trainable and not any(f is layer for f in self._frozen):
                self._frozen.append(layer)
        if changed:
            self.model.make_train_function(force=True)

    def on_train_begin(self, logs=None):
        layers = [self.model.get_layer(x) if isinstance(x, str) else x for x in self.layers]
        # a layer frozen by this callback in a fit that never ended counts as trainable
        self._managed = [layer for layer in layers
                         if layer.trainable or any(f is layer for f in self._frozen)]
        for layer in self._managed:
            layer.trainable = True
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)  # the frozen layers' state too

    def on_epoch_begin(self, epoch, logs=None):
        self._set(epoch >= self.epochs)

    def on_train_end(self, logs=None):
        self._set(True)


def load_model(path, **kwargs):
    """`keras.saving.load_model(path)` with a clear error for a damaged file.

    Keras answers a truncated or corrupt `.keras` file with "File not found";
    this raises a `ValueError` naming `path` and what is wrong with it. Extra
    keyword arguments go to `keras.saving.load_model`.
    """
    import zipfile

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"path: no model file at {path!r}")
    if path.endswith(".keras"):
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
                bad = z.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise ValueError(
                f"path: {path!r} is not a readable .keras file (truncated or corrupt?): {e}"
            ) from e
        if bad is not None or not {"config.json", "metadata.json"} <= names:
            raise ValueError(
                f"path: {path!r} is a zip file but not a complete .keras model "
                f"(damaged member {bad!r}, members {sorted(names)[:5]})"
            )
    return keras.saving.load_model(path, **kwargs)


def save_model(model, path, overwrite=False, *, argument="path", write=None):
    """`model.save(path)` that never leaves a torn file.

    Keras writes a `.keras` zip in place, so a crash or a full disk while
    saving destroys the previous file. This writes beside `path` and moves
    the complete file into place with `os.replace`.

    Args:
        model: a `keras.Model`.
        path: target path ending in `.keras` (or `.weights.h5` to save the
            weights only).
        overwrite: replace an existing file; by default an existing `path`
            is refused with `ExportError` (a `ValueError`) and left as it was.
        argument: the argument name the errors give for `path` (a caller's
            own name for it, e.g. "filepath").
        write: `write(tmp_path)` writes the whole model to the temporary
            path (default `model.save(tmp_path, overwrite=True)`; a model
            whose `save` is this function passes Keras' own).
    """
    path = os.path.abspath(os.fspath(path))
    weights_only = path.endswith(".weights.h5")
    suffix = ".weights.h5" if weights_only else ".keras"
    if not path.endswith(suffix):
        raise ValueError(
            f"`{argument}` must end in '.keras' or '.weights.h5'; received {path!r}")
    check_target(path, overwrite, argument=argument)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".partial-", suffix=suffix, dir=parent)
    os.close(fd)
    try:
        if weights_only:
            model.save_weights(tmp, overwrite=True)
        else:
            (write or (lambda p: model.save(p, overwrite=True)))(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        umask_mode(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


class AtomicModelCheckpoint(keras.callbacks.Callback):
    """Saves the model as `.keras` after every epoch, atomically.

    The file is written beside the target and moved into place with
    `os.replace`, so a crash mid-save leaves the previous checkpoint intact.

    Args:
        filepath: target path ending in `.keras`; may contain `{epoch}`
            (1-based, like `keras.callbacks.ModelCheckpoint`).
        save_weights_only: save `.weights.h5` instead (then `filepath` must
            end in `.weights.h5`).
        enabled: set False on non-chief workers.
    """

    def __init__(self, filepath, save_weights_only=False, enabled=True):
        super().__init__()
        filepath = os.fspath(filepath)
        suffix = ".weights.h5" if save_weights_only else ".keras"
        if not filepath.endswith(suffix):
            raise ValueError(f"`filepath` must end in {suffix!r}; received {filepath!r}")
        self.filepath = filepath
        self.save_weights_only = bool(save_weights_only)
        self.enabled = bool(enabled)

    def on_epoch_end(self, epoch, logs=None):
        if not self.enabled:
            return
        save_model(self.model, self.filepath.format(epoch=epoch + 1, **(logs or {})),
                   overwrite=True)


def fit_resumable(model, x=None, y=None, *, backup_dir, epochs, checkpoint_path=None,
                  callbacks=None, delete_backup=False, **fit_kwargs):
    """`model.fit` that resumes from `backup_dir` after an interruption.

    Args:
        model: a built and compiled `keras.Model`.
        x, y: training data, as for `model.fit`.
        backup_dir: folder holding the training state; created if missing.
            Re-running with the same folder continues after the last
            completed epoch.
        epochs: total number of epochs (not the number left).
        checkpoint_path: optional `.keras` path saved (atomically) after each
            epoch by the chief worker.
        callbacks: extra Keras callbacks (run after the backup each epoch).
        delete_backup: remove the backup after a normal finish.
        **fit_kwargs: passed to `model.fit` (`batch_size`, `shuffle`,
            `validation_data`, `verbose`, ...). `initial_epoch` is not
            allowed: it comes from the backup.

    Returns:
        The `keras.callbacks.History` of `model.fit`, with `history` and
        `epoch` covering every completed epoch, including those from runs
        before a restart, and `resumed_from` the epoch this run started at.

    Example:

    >>> import numpy as np, keras, tempfile
    >>> from keras_rnnx import GRUX
    >>> from keras_rnnx.training import fit_resumable
    >>> model = keras.Sequential([keras.Input((5, 3)), GRUX(4), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> x, y = np.ones((8, 5, 3), "float32"), np.zeros((8, 1), "float32")
    >>> h = fit_resumable(model, x, y, backup_dir=tempfile.mkdtemp(), epochs=2,
    ...                   verbose=0)
    >>> h.epoch, h.resumed_from
    ([0, 1], 0)
    """
    from keras_rnnx import distributed

    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs <= 0:
        raise ValueError(f"`epochs` must be a positive integer; received epochs={epochs!r}")
    if "initial_epoch" in fit_kwargs:
        raise ValueError("`initial_epoch` is set from the backup; do not pass it")
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model; received {type(model).__name__}")
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
        raise ValueError("`model` must be compiled before fit_resumable")
    backup_dir = os.fspath(backup_dir)
    if distributed.num_workers() > 1 and not distributed.is_chief():
        backup_dir = os.path.join(backup_dir, f"worker-{distributed.task_index()}")
    backup = AtomicBackupAndRestore(backup_dir, delete_checkpoint=delete_backup)
    cbs = [backup]
    if checkpoint_path is not None:
        cbs.append(AtomicModelCheckpoint(checkpoint_path, enabled=distributed.is_chief()))
    cbs.extend(callbacks or [])
    try:
        history = model.fit(x, y, epochs=epochs, callbacks=cbs, **fit_kwargs)
    finally:
        model._initial_epoch = None
    merged = {}
    for row in backup.completed:
        for k, v in row.items():
            if k != "epoch":
                merged.setdefault(k, []).append(v)
    history.history = merged
    history.epoch = [int(r["epoch"]) for r in backup.completed]
    history.resumed_from = backup.initial_epoch
    return history


class LengthBatches:
    """Training batches of similar length, each padded only to its own longest row.

    Sequences of very different lengths waste most of a recurrent layer's
    steps on padding when every batch is padded to the longest text of the
    set. Each epoch, the rows are shuffled, cut into windows of
    `window` batches, sorted by length inside each window and cut into
    batches; the batches are then shuffled. Every row is in exactly one batch
    per epoch, and a batch's time dimension is the length of its longest row
    (so a batch of short texts runs fewer steps). The epoch's order is drawn
    from `(seed, epoch)`, so it is reproducible.

    Args:
        ids: int array `[N, T]`, right-padded with 0 (a row's length is the
            position after its last non-zero id; at least 1).
        labels: array `[N]` of targets.
        batch_size: rows per batch (the last batch of an epoch may be smaller).
        sample_weight: optional array `[N]` of per-row loss weights.
        window: batches per sorting window (larger: less padding, less
            randomness in which rows share a batch).
        seed: the seed of the shuffles.

    Attributes: `lengths` (`[N]`), `steps` (batches per epoch).

    Example:

    >>> import numpy as np
    >>> ids = np.array([[5, 0, 0], [5, 6, 7], [5, 6, 0], [8, 0, 0]])
    >>> lb = LengthBatches(ids, np.arange(4), batch_size=2, seed=0)
    >>> sorted(len(b) for b in lb.batches(0)), lb.steps
    ([2, 2], 2)
    >>> [x.shape for x, y in lb.dataset().take(2)] in ([(2, 1), (2, 3)], [(2, 3), (2, 1)])
    True
    """

    def __init__(self, ids, labels, batch_size=32, sample_weight=None, window=32, seed=0):
        import numpy as np

        ids = np.asarray(ids)
        labels = np.asarray(labels)
        if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"`ids` must be an int array [N, T]; got {ids.dtype} {ids.shape}")
        if len(labels) != len(ids):
            raise ValueError(f"`labels` must have one entry per row of `ids` ({len(ids)}); got {len(labels)}")
        check_units(batch_size, "batch_size")
        check_units(window, "window")
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, np.float32)
            if sample_weight.shape != (len(ids),):
                raise ValueError(f"`sample_weight` must have shape [{len(ids)}]; got {sample_weight.shape}")
        if not len(ids):
            raise ValueError("`ids` holds no rows")
        self.ids, self.labels, self.sample_weight = ids, labels, sample_weight
        self.batch_size, self.window, self.seed = int(batch_size), int(window), int(seed)
        steps = np.arange(1, ids.shape[1] + 1)
        self.lengths = np.maximum(np.where(ids != 0, steps, 0).max(axis=1), 1)
        self.steps = -(-len(ids) // self.batch_size)

    def batches(self, epoch):
        """The row indices of each batch of epoch `epoch` (0-based), in order."""
        import numpy as np

        rng = np.random.default_rng([self.seed, int(epoch)])
        order = rng.permutation(len(self.ids))
        span = self.window * self.batch_size
        out = []
        for start in range(0, len(order), span):
            part = order[start:start + span]
            part = part[np.argsort(self.lengths[part], kind="stable")]
            out.extend(part[i:i + self.batch_size] for i in range(0, len(part), self.batch_size))
        return [out[i] for i in rng.permutation(len(out))]

    def batch(self, rows):
        """`(ids, labels[, sample_weight])` of `rows`, ids cut to their longest row."""
        x = self.ids[rows, : int(self.lengths[rows].max())]
        if self.sample_weight is None:
            return x, self.labels[rows]
        return x, self.labels[rows], self.sample_weight[rows]

    def dataset(self):
        """A `tf.data.Dataset` of the batches; each pass over it is the next
        epoch (epoch 0 first), as `model.fit` makes one pass per epoch."""
        import tensorflow as tf

        epochs = iter(range(2 ** 62))

        def generate():
            for rows in self.batches(next(epochs)):
                yield self.batch(rows)

        spec = [tf.TensorSpec([None, None], tf.as_dtype(self.ids.dtype)),
                tf.TensorSpec([None, *self.labels.shape[1:]], tf.as_dtype(self.labels.dtype))]
        if self.sample_weight is not None:
            spec.append(tf.TensorSpec([None], tf.float32))
        data = tf.data.Dataset.from_generator(generate, output_signature=tuple(spec))
        return data.apply(tf.data.experimental.assert_cardinality(self.steps)).prefetch(2)
