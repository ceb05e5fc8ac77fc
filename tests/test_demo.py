"""`rnnx demo --quick`: the whole pipeline in a CI-sized configuration."""
import os

import numpy as np
import pytest

from keras_rnnx import cli


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = cli.main(["demo", "--quick", "--out", str(out), "--seed", "3"])
    return rc, out, buf.getvalue()


@pytest.mark.slow
def test_quick_demo_end_to_end(demo_run):
    rc, out, text = demo_run
    assert rc == 0, text
    for name in ("date_attention.png", "date_translator.tflite",
                 "date_translator.keras",
                 os.path.join("date_translator", "saved_model.pb")):
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    assert "greedy:" in text and "beam (width 4):" in text
    for name in ("SavedModel(text)", "SavedModel(ids)", "TFLite(ids)"):
        assert f"{name:<17} agrees: yes" in text
    assert "exports agree with Keras" in text
    with open(os.path.join(out, "date_attention.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # builtin ops only
    from keras_rnnx.export import tflite_ops

    ops = tflite_ops(os.path.join(out, "date_translator.tflite"))
    assert not [o for o in ops if o.startswith("CUSTOM") or "FLEX" in o.upper()]


@pytest.mark.slow
def test_verify_reports_disagreement(demo_run):
    """`verify` (whose problems make the demo exit 1) catches an export that
    differs from Keras; the exports themselves agree."""
    import tensorflow as tf

    from keras_rnnx.commands import demo

    rc, out, _ = demo_run
    saved = os.path.join(out, "date_translator")
    tfl = os.path.join(out, "date_translator.tflite")
    examples = ["3/7/21", "25 juin 2009", "Tuesday, March 3, 1998"]
    exports = demo.load_exports(saved, tfl)
    loaded = exports[0]
    ref = loaded.signatures["translate"](text=tf.constant(examples))
    ref = {k: np.asarray(v) for k, v in ref.items()}
    texts = [t.decode() for t in ref["translations"]]
    src_ids = _source_ids(out, examples)
    assert demo.verify(saved, tfl, examples, src_ids, ref, texts, exports) == []
    bad = dict(ref, scores=ref["scores"] + 1.0)
    problems = demo.verify(saved, tfl, examples, src_ids, bad, texts, exports)
    assert any("scores differ" in p for p in problems)
    bad = dict(ref, sequences=ref["sequences"][:, ::-1].copy())
    problems = demo.verify(saved, tfl, examples, src_ids, bad, texts, exports)
    assert any("sequences differ" in p for p in problems)


def _source_ids(out, examples):
    """Source ids as the demo's translator makes them (the saved one)."""
    import keras

    t = keras.saving.load_model(os.path.join(out, "date_translator.keras"))
    return t.tokenize(examples).numpy()


def test_bad_arguments(capsys):
    assert cli.main(["demo", "--epochs", "0"]) == 2
    assert "--epochs" in capsys.readouterr().err
    assert cli.main(["demo", "--cell", "rnn"]) == 2
    assert "--cell" in capsys.readouterr().err


@pytest.mark.slow
def test_saved_model_serves_without_keras_rnnx(demo_run):
    """The SavedModel runs in a process that imports only TensorFlow."""
    import json
    import subprocess
    import sys

    import tensorflow as tf

    rc, out, _ = demo_run
    saved = os.path.join(out, "date_translator")
    examples = ["3/7/21", "25 juin 2009"]
    code = (
        "import json, sys, tensorflow as tf\n"
        f"m = tf.saved_model.load({saved!r})\n"
        f"o = m.signatures['translate'](text=tf.constant({examples!r}))\n"
        "assert not any(k.startswith('keras_rnnx') for k in sys.modules)\n"
        "print(json.dumps([t.decode() for t in o['translations'].numpy()]))\n"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=str(out), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    loaded = tf.saved_model.load(saved)
    want = [t.decode() for t in loaded.signatures["translate"](text=tf.constant(examples))["translations"].numpy()]
    assert got == want
