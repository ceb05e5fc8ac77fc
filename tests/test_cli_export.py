"""`rnnx export` and `rnnx verify` end to end on a tiny saved model."""
import os

import pytest

import keras

from keras_rnnx import GRUX, LSTMX, BiDirectional
from keras_rnnx.cli import main


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    keras.utils.set_random_seed(9)
    ids = keras.Input((None,), dtype="int32", name="ids")
    x = keras.layers.Embedding(17, 4, mask_zero=True)(ids)
    x = BiDirectional(LSTMX(3, return_sequences=True))(x)
    x = GRUX(3)(x)
    model = keras.Model(ids, keras.layers.Dense(2, name="logits")(x))
    path = tmp_path_factory.mktemp("cli") / "tiny.keras"
    model.save(path)
    return path


def test_export_both_formats_then_verify(model_file, tmp_path, capsys):
    sm, fused, f16 = tmp_path / "sm", tmp_path / "fused.tflite", tmp_path / "f16.tflite"
    assert main(["export", str(model_file), "--format", "saved_model", "--out", str(sm)]) == 0
    assert main(["export", str(model_file), "--format", "tflite", "--lstm-kernel", "fused",
                 "--out", str(fused)]) == 0
    assert main(["export", str(model_file), "--format", "tflite", "--quantize", "float16",
                 "--out", str(f16)]) == 0
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in capsys.readouterr().out
    import numpy as np

    real = tmp_path / "real.npz"
    np.savez(real, ids=np.array([[5, 3, 9, 2, 0, 0], [4, 4, 1, 16, 7, 8]], "int32"))
    rc = main(["verify", str(model_file), str(sm), str(fused), str(f16),
               "--batch-sizes", "1", "3", "--lengths", "1", "6", "--inputs", str(real)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert out.count("OK ") == 3
    assert out.count("| file | file |") == 3
    # float16 weights differ from float32 by far more than this tolerance.
    rc = main(["verify", str(model_file), str(f16), "--batch-sizes", "2", "--lengths", "5",
               "--atol", "1e-9"])
    assert rc == 1
    assert "FAIL" in capsys.readouterr().out


def test_export_errors_exit_non_zero(model_file, tmp_path, capsys):
    out = tmp_path / "m.tflite"
    out.write_bytes(b"keep")
    assert main(["export", str(model_file), "--format", "tflite", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == b"keep"
    assert main(["export", str(tmp_path / "missing.keras"), "--format", "tflite",
                 "--out", str(tmp_path / "x.tflite")]) == 2
    assert not os.path.exists(tmp_path / "x.tflite")


def test_streaming_exports_verify_step_by_step(model_file, tmp_path, capsys):
    keras.utils.set_random_seed(10)
    ids = keras.Input((None,), dtype="int32", name="ids")
    x = keras.layers.Embedding(17, 4, mask_zero=True)(ids)
    x = LSTMX(3, return_sequences=True)(x)
    seq = keras.layers.Dense(2, name="per_step")(x)
    last = GRUX(2, name="last")(x)
    path = tmp_path / "uni.keras"
    keras.Model(ids, [seq, last]).save(path)
    sm, tfl = tmp_path / "stream_sm", tmp_path / "stream.tflite"
    assert main(["export", str(path), "--format", "saved_model", "--streaming",
                 "--out", str(sm)]) == 0
    assert main(["export", str(path), "--format", "tflite", "--streaming",
                 "--out", str(tfl)]) == 0
    assert "state0_c" in capsys.readouterr().out
    rc = main(["verify", str(path), str(sm), str(tfl), "--batch-sizes", "3",
               "--lengths", "1", "5"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert out.count("streaming): max abs diff") == 2
    # A bidirectional model cannot stream: clear error, non-zero exit.
    assert main(["export", str(model_file), "--format", "tflite", "--streaming",
                 "--out", str(tmp_path / "bi.tflite")]) == 2
    assert "bidirectional" in capsys.readouterr().err
