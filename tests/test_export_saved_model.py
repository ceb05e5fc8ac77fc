"""SavedModel export: serving signature with dynamic shapes, a TensorFlow-only
load in a subprocess, extra signatures, streaming, atomic writes."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import keras
import tensorflow as tf

from keras_rnnx import BiDirectional, GRUX, LSTMX, export

VOCAB = 11
SHAPES = [(1, 1), (2, 5), (4, 8)]


def _ids(batch, steps, rng):
    ids = rng.integers(1, VOCAB, size=(batch, steps)).astype("int32")
    for b in range(1, batch):
        ids[b, rng.integers(1, steps + 1):] = 0
    return ids


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(21)
    ids = keras.Input((None,), dtype="int32", name="ids")
    feats = keras.Input((None, 2), name="feats")
    x = keras.layers.Embedding(VOCAB, 4, mask_zero=True)(ids)
    seq = BiDirectional(LSTMX(3, return_sequences=True), merge_mode="concat")(x)
    seq = GRUX(3, return_sequences=True, reset_after=False)(seq)
    tags = keras.layers.Dense(2, name="tags")(seq)
    summary = BiDirectional(GRUX(2, variant="simplified"), merge_mode="ave")(x)
    side = LSTMX(2, go_backwards=True, name="side")(feats)
    score = keras.layers.Dense(1, name="score")(
        keras.layers.Concatenate()([summary, side]))
    return keras.Model({"ids": ids, "feats": feats}, {"tags": tags, "score": score})


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("sm") / "model")
    lm = model.get_layer("tags")

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="hidden")])
    def project(hidden):
        return {"projected": lm(hidden)}

    info = export.to_saved_model(model, path, signatures={"project": project})
    return path, info


def test_tensorflow_only_subprocess_loads_and_matches(model, exported, tmp_path):
    path, info = exported
    rng = np.random.default_rng(0)
    cases = {}
    for i, (b, t) in enumerate(SHAPES):
        cases[f"ids{i}"] = _ids(b, t, rng)
        cases[f"feats{i}"] = rng.normal(size=(b, t, 2)).astype("float32")
    np.savez(tmp_path / "in.npz", **cases)
    # `import tensorflow` imports keras when it is installed, so the child
    # blocks keras and keras_rnnx outright: the load must work without them.
    script = textwrap.dedent(f"""
        import json, sys
        for blocked in ("keras", "keras_rnnx", "tf_keras"):
            sys.modules[blocked] = None
        import numpy as np
        import tensorflow as tf
        loaded = tf.saved_model.load({path!r})
        fn = loaded.signatures["serving_default"]
        data = np.load({str(tmp_path / "in.npz")!r})
        out = {{}}
        for i in range({len(SHAPES)}):
            res = fn(ids=tf.constant(data[f"ids{{i}}"]), feats=tf.constant(data[f"feats{{i}}"]))
            for k, v in res.items():
                out[f"{{k}}{{i}}"] = v.numpy()
        np.savez({str(tmp_path / "out.npz")!r}, **out)
        spec = fn.structured_input_signature[1]
        print(json.dumps({{
            "keras_loaded": sorted(m for m, v in sys.modules.items() if v is not None
                                   and m.split(".")[0] in ("keras", "keras_rnnx", "tf_keras")),
            "inputs": {{k: v.shape.as_list() for k, v in spec.items()}},
            "signatures": sorted(loaded.signatures),
        }}))
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=240, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["keras_loaded"] == []
    assert report["inputs"] == {"ids": [None, None], "feats": [None, None, 2]}
    assert report["signatures"] == ["project", "serving_default"]
    got = np.load(tmp_path / "out.npz")
    for i, (b, t) in enumerate(SHAPES):
        want = model({"ids": cases[f"ids{i}"], "feats": cases[f"feats{i}"]})
        for k in ("tags", "score"):
            np.testing.assert_allclose(got[f"{k}{i}"], want[k], atol=1e-5, err_msg=k)


def test_extra_signature_uses_model_weights(model, exported):
    path, _ = exported
    loaded = tf.saved_model.load(path)
    h = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
    got = loaded.signatures["project"](hidden=tf.constant(h))["projected"]
    np.testing.assert_allclose(got, model.get_layer("tags")(h), atol=1e-6)


def test_streaming_saved_model_steps_match_full_sequence(tmp_path):
    keras.utils.set_random_seed(4)
    x_in = keras.Input((None, 3), name="x")
    y = LSTMX(4, return_sequences=True)(x_in)
    y = GRUX(3, return_sequences=True)(y)
    model = keras.Model(x_in, keras.layers.Dense(2, name="out")(y))
    path = tmp_path / "stream"
    info = export.to_saved_model(model, path, streaming=True)
    assert [s["name"] for s in info["states"]] == ["state0_h", "state0_c", "state1_h"]
    fn = tf.saved_model.load(str(path)).signatures["serving_default"]
    x = np.random.default_rng(3).normal(size=(2, 5, 3)).astype("float32")
    want = model(x).numpy()
    states = {s["name"]: tf.zeros([2, s["units"]]) for s in info["states"]}
    for t in range(x.shape[1]):
        out = fn(x=tf.constant(x[:, t:t + 1]), **states)
        np.testing.assert_allclose(out["out"][:, 0], want[:, t], atol=1e-5)
        states = {k: out[k] for k in states}


def test_existing_path_and_failed_export_leave_folder_untouched(model, tmp_path):
    target = tmp_path / "sm"
    target.mkdir()
    (target / "keep.txt").write_text("old export")
    with pytest.raises(ValueError, match="already exists"):
        export.to_saved_model(model, target)

    # a fault while the export is being written, injected through a public
    # input: an extra signature whose tracing (inside the writer) fails
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def crashes(x):
        raise RuntimeError("crash while writing (simulated)")

    with pytest.raises(RuntimeError, match="simulated"):
        export.to_saved_model(model, target, signatures={"crashes": crashes}, overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["sm"]
    assert os.listdir(target) == ["keep.txt"]


def test_bad_arguments(model, tmp_path):
    with pytest.raises(TypeError, match="model"):
        export.to_saved_model("not a model", tmp_path / "a")
    with pytest.raises(ValueError, match="signatures"):
        export.to_saved_model(model, tmp_path / "b", signatures={"gen": lambda x: x})
    assert not os.path.exists(tmp_path / "b")


def test_signature_with_lookup_table_via_track(model, tmp_path):
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(["a", "b", "c"], [1, 2, 3]), default_value=0)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string, name="tokens")])
    def tag_tokens(tokens):
        ids = tf.cast(table.lookup(tokens), tf.int32)
        feats = tf.zeros(tf.concat([tf.shape(ids), [2]], 0))
        return {"tags": model({"ids": ids, "feats": feats})["tags"]}

    path = str(tmp_path / "with_table")
    export.to_saved_model(model, path, signatures={"tag_tokens": tag_tokens}, track=[table])
    loaded = tf.saved_model.load(path)
    got = loaded.signatures["tag_tokens"](tokens=tf.constant([["a", "c", "zz"]]))["tags"]
    want = model({"ids": np.array([[1, 3, 0]], "int32"),
                  "feats": np.zeros((1, 3, 2), "float32")})["tags"]
    np.testing.assert_allclose(got, want, atol=1e-5)
