"""Training jobs run as subprocesses by the reliability tests.

    python tests/helpers/train_job.py local --out DIR
        splits the CPU into 2 logical devices, trains the classifier once
        on one device and once under MirroredStrategy, saves both weights.
    python tests/helpers/train_job.py lazy --out DIR
        splits the CPU into 2 logical devices, trains a model with two
        sparse-gradient tables (an Embedding and a BagOfNgrams with row_l2) with LazyAdam
        on one device and under MirroredStrategy; saves the initial and both
        final weights and optimizer variables, and the table rows no batch reads.
    python tests/helpers/train_job.py worker --out DIR      (TF_CONFIG set)
        trains under MultiWorkerMirroredStrategy; the chief saves weights.
    python tests/helpers/train_job.py resumable --backup DIR --out DIR
            [--hang-epoch E --marker FILE]
        fit_resumable; with --hang-epoch, after the backup of epoch E
        (0-based) is committed and one batch of epoch E+1 has run, writes
        FILE and sleeps so the test can SIGKILL it mid-epoch.
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

GLOBAL_BATCH = 16
N = 64
T = 7
VOCAB = 20
EPOCHS = 2


def make_data(seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, T + 1, size=N)
    lengths[3] = 0  # an all-padding row
    ids = rng.integers(1, VOCAB, size=(N, T))
    ids[np.arange(T)[None, :] >= lengths[:, None]] = 0
    y = ((ids % 3 == 0).sum(1) > lengths / 3).astype("float32")[:, None]
    return ids.astype("int32"), y


def build_model(lr=0.1):
    """Embedding(mask_zero) -> BiDirectional(LSTMX) -> GRUX -> Dense, fixed weights."""
    import keras
    import numpy as np

    from keras_rnnx import BiDirectional, GRUX, LSTMX

    inp = keras.Input((T,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, 5, mask_zero=True)(inp)
    x = BiDirectional(LSTMX(4, return_sequences=True), merge_mode="concat")(x)
    x = GRUX(4)(x)
    out = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(42)
    model.set_weights([rng.normal(0, 0.4, w.shape).astype("float32")
                       for w in model.get_weights()])
    model.compile(keras.optimizers.SGD(lr), "binary_crossentropy")
    return model


# rows of the LazyAdam model's tables: the data's ids are < VOCAB, so the Embedding's
# rows VOCAB.. are never read, and many of the BagOfNgrams' bucket rows neither
LAZY_ROWS = 3 * VOCAB


def build_lazy_model(optimizer="lazy"):
    """ids -> (Embedding -> mean -> Dense) + BagOfNgrams(row_l2), softmax
    over 2 classes; random (non-zero) starting weights; LazyAdam ("lazy") or
    Keras' Adam ("adam"), learning rate 0.05."""
    import keras
    import numpy as np

    from keras_rnnx.layers import BagOfNgrams
    from keras_rnnx.optimizers import LazyAdam

    inp = keras.Input((T,), dtype="int32")
    x = keras.layers.Embedding(LAZY_ROWS, 4, name="embedding")(inp)
    deep = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(x))
    wide = BagOfNgrams(LAZY_ROWS, 2, ngrams=2, buckets=64, row_l2=1e-3,
                       name="bag_of_ngrams")(inp)
    out = keras.layers.Activation("softmax")(keras.layers.Add()([deep, wide]))
    model = keras.Model(inp, out)
    rng = np.random.default_rng(42)
    model.set_weights([rng.normal(0, 0.4, w.shape).astype("float32")
                       for w in model.get_weights()])
    opt = LazyAdam(0.05) if optimizer == "lazy" else keras.optimizers.Adam(0.05)
    model.compile(opt, "sparse_categorical_crossentropy")
    return model


def lazy_runs(out):
    """`lazy` mode: see the module docstring."""
    import functools

    import numpy as np
    import tensorflow as tf

    from keras_rnnx import distributed

    distributed.split_cpu(2)   # before TensorFlow starts
    mirrored = distributed.get_strategy("mirrored")
    assert mirrored.num_replicas_in_sync == 2, mirrored.num_replicas_in_sync
    x, y = make_data()
    y = y[:, 0].astype("int32")
    model = build_lazy_model()
    tables = [model.get_layer("embedding").embeddings, model.get_layer("bag_of_ngrams").embeddings]
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x[:GLOBAL_BATCH], y[:GLOBAL_BATCH], model(x[:GLOBAL_BATCH]))
    assert all(isinstance(g, tf.IndexedSlices) for g in tape.gradient(loss, tables))
    layer = model.get_layer("bag_of_ngrams")
    rows, weights = (np.asarray(a) for a in layer.ngram_ids(x))
    np.savez(os.path.join(out, "never.npz"),
             embedding=np.setdiff1d(np.arange(LAZY_ROWS), x),
             bag_of_ngrams=np.setdiff1d(np.arange(layer.rows), rows[weights > 0]))
    save_weights(model, os.path.join(out, "initial.npz"))
    for name, strategy, optimizer in (("single", None, "lazy"), ("mirrored", mirrored, "lazy"),
                                      ("adam", None, "adam")):
        model = distributed.scoped(strategy, functools.partial(build_lazy_model, optimizer))
        model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
        save_weights(model, os.path.join(out, f"{name}.npz"))
        np.savez(os.path.join(out, f"{name}_optimizer.npz"),
                 *[np.asarray(v) for v in model.optimizer.variables])


def save_weights(model, path):
    import numpy as np

    tmp = path + ".tmp.npz"
    np.savez(tmp, *model.get_weights())
    os.replace(tmp, path)


def train(strategy=None, epochs=EPOCHS):
    import keras
    keras.config.disable_traceback_filtering()
    from keras_rnnx import distributed

    x, y = make_data()
    model = distributed.scoped(strategy, build_model)
    model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=epochs, shuffle=False, verbose=0)
    return model


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["local", "lazy", "worker", "resumable"])
    p.add_argument("--out", required=True)
    p.add_argument("--backup")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--hang-epoch", type=int)
    p.add_argument("--marker")
    a = p.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    from keras_rnnx import distributed

    if a.mode == "local":
        distributed.split_cpu(2)
        import keras

        keras.utils.set_random_seed(0)
        single = train(None)
        save_weights(single, os.path.join(a.out, "single.npz"))
        mirrored = distributed.get_strategy("mirrored")
        assert mirrored.num_replicas_in_sync == 2, mirrored.num_replicas_in_sync
        model = train(mirrored)
        save_weights(model, os.path.join(a.out, "mirrored.npz"))
    elif a.mode == "lazy":
        lazy_runs(a.out)
    elif a.mode == "worker":
        strategy = distributed.get_strategy("multi_worker")
        assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
        model = train(strategy)
        name = "chief.npz" if distributed.is_chief() else f"worker{distributed.task_index()}.npz"
        save_weights(model, os.path.join(a.out, name))
    else:
        run_resumable(a.backup, a.out, a.epochs, a.hang_epoch, a.marker)
    return 0


def run_resumable(backup, out, epochs, hang_epoch=None, marker=None):
    import keras

    from keras_rnnx.training import fit_resumable

    class Hang(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if hang_epoch is not None and self._epoch == hang_epoch + 1 and batch == 0:
                with open(marker + ".tmp", "w") as f:
                    f.write(str(self._epoch))
                os.replace(marker + ".tmp", marker)
                time.sleep(600)

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch

    os.makedirs(out, exist_ok=True)
    x, y = make_data()
    model = build_model()
    hist = fit_resumable(model, x, y, backup_dir=backup, epochs=epochs,
                         batch_size=GLOBAL_BATCH, shuffle=False, verbose=0,
                         callbacks=[Hang()])
    save_weights(model, os.path.join(out, "final.npz"))
    with open(os.path.join(out, "history.json"), "w") as f:
        json.dump({"epoch": hist.epoch, "loss": hist.history.get("loss", []),
                   "resumed_from": hist.resumed_from}, f)
    return model, hist


if __name__ == "__main__":
    sys.exit(main())
