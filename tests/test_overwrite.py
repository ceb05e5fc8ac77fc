"""One overwrite rule for every public writer of the Python API (the CLI's
`--overwrite` rule): an existing path is refused by default with an
`ExportError` naming the argument and the path, left byte-identical, and
replaced only with `overwrite=True`."""
import os

import keras
import numpy as np
import pytest

from keras_rnnx import LSTMX, export, training
from keras_rnnx.export import ExportError
from keras_rnnx.models.language_model import LanguageModel, export_generator
from keras_rnnx.models.text_classifier import TextClassifier
from keras_rnnx.models.translator import Translator
from keras_rnnx.word2vec.keyed_vectors import KeyedVectors

OLD = b"an earlier run's output\n"


@pytest.fixture(scope="module")
def objects(tmp_path_factory):
    ids = keras.Input((None,), dtype="int32", name="ids")
    x = keras.layers.Embedding(7, 3)(ids)
    model = keras.Model(ids, keras.layers.Dense(2)(LSTMX(4)(x)))
    texts = ["ab ba", "xy yx", "aa b", "y x"] * 2
    labels = np.array([0, 1, 0, 1] * 2)
    clf = TextClassifier.create(texts, labels, ["a", "x"], tokenizer="characters", units=2,
                                embedding_dim=2, dropout=0.0)
    translator = Translator(list("0123"), list("0123"), 3, units=4)
    lm = LanguageModel(7, embedding_dim=3, units=4)
    kv = KeyedVectors(["w0", "w1", "w2"], np.arange(6, dtype=np.float32).reshape(3, 2))
    tflite = str(tmp_path_factory.mktemp("in") / "in.tflite")
    with open(tflite, "wb") as f:
        f.write(b"TFL3 model bytes")
    return {"model": model, "clf": clf, "translator": translator, "lm": lm, "kv": kv,
            "tflite": tflite}


def _functions(o, d, path, **kw):
    import tensorflow as tf

    ones = tf.function(lambda: {"y": tf.ones([2])}, input_signature=[])
    return export.functions_to_tflite({"ones": ones}, path, **kw)


# (id, the path that exists (relative), the argument named, the call;
#  a folder writer's existing path is one of the files it writes there)
WRITERS = [
    ("export.to_saved_model", "sm", "path",
     lambda o, d, p, **kw: export.to_saved_model(o["model"], p, **kw)),
    ("export.to_tflite", "m.tflite", "path",
     lambda o, d, p, **kw: export.to_tflite(o["model"], p, **kw)),
    ("export.functions_to_tflite", "f.tflite", "path", _functions),
    ("export.to_c_source", "model_data.cc", "out_path",
     lambda o, d, p, **kw: export.to_c_source(o["tflite"], p, "g_model", **kw)),
    ("training.save_model", "m.keras", "path",
     lambda o, d, p, **kw: training.save_model(o["model"], p, **kw)),
    ("training.save_model (weights)", "m.weights.h5", "path",
     lambda o, d, p, **kw: training.save_model(o["model"], p, **kw)),
    ("TextClassifier.save", "clf/model.keras", "folder",
     lambda o, d, p, **kw: o["clf"].save(os.path.dirname(p), **kw)),
    ("TextClassifier.export_saved_model", "clf_sm", "path",
     lambda o, d, p, **kw: o["clf"].export_saved_model(p, **kw)),
    ("TextClassifier.export_tflite", "clf_tfl/model.tflite", "path",
     lambda o, d, p, **kw: o["clf"].export_tflite(p, **kw)),
    ("Translator.save", "tr.keras", "filepath",
     lambda o, d, p, **kw: o["translator"].save(p, **kw)),
    ("Translator.export_saved_model", "tr_sm", "path",
     lambda o, d, p, **kw: o["translator"].export_saved_model(p, "greedy", **kw)),
    ("Translator.export_tflite", "tr.tflite", "path",
     lambda o, d, p, **kw: o["translator"].export_tflite(p, "greedy", **kw)),
    ("export_generator (saved_model)", "gen", "path",
     lambda o, d, p, **kw: export_generator(o["lm"], p, "greedy", 3, **kw)),
    ("export_generator (tflite)", "gen.tflite", "path",
     lambda o, d, p, **kw: export_generator(o["lm"], p, "greedy", 3, format="tflite", **kw)),
    ("Vocabulary.save", "vocab.txt", "path",
     lambda o, d, p, **kw: o["clf"].vocabulary.save(p, **kw)),
    ("Vocabulary.save (json)", "vocab.json", "path",
     lambda o, d, p, **kw: o["clf"].vocabulary.save(p, **kw)),
    ("KeyedVectors.save_word2vec_format", "v.txt", "path",
     lambda o, d, p, **kw: o["kv"].save_word2vec_format(p, **kw)),
    ("KeyedVectors.save_word2vec_format (binary)", "v.bin", "path",
     lambda o, d, p, **kw: o["kv"].save_word2vec_format(p, binary=True, **kw)),
    ("KeyedVectors.save_projector_tsv", "p_metadata.tsv", "metadata_path",
     lambda o, d, p, **kw: o["kv"].save_projector_tsv(os.path.join(d, "p_vectors.tsv"), p, **kw)),
    ("KeyedVectors.plot_pca", "pca.png", "path",
     lambda o, d, p, **kw: o["kv"].plot_pca(["w0", "w1", "w2"], p, **kw)),
]


@pytest.mark.parametrize("name, existing, argument, write", WRITERS,
                         ids=[w[0] for w in WRITERS])
def test_writer_refuses_an_existing_path_unless_overwrite(objects, tmp_path, name, existing,
                                                          argument, write):
    path = os.path.abspath(tmp_path / existing)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(OLD)
    before = sorted(os.listdir(tmp_path))

    with pytest.raises(ExportError) as e:
        write(objects, str(tmp_path), path)  # the default refuses
    assert isinstance(e.value, ValueError)
    message = str(e.value)
    assert message.startswith(f"{argument}: ") and repr(path) in message
    assert "overwrite=True" in message
    with open(path, "rb") as f:
        assert f.read() == OLD  # byte-identical
    assert sorted(os.listdir(tmp_path)) == before  # nothing else written
    assert os.listdir(os.path.dirname(path)) == [os.path.basename(path)]

    write(objects, str(tmp_path), path, overwrite=True)
    assert os.path.isdir(path) or open(path, "rb").read() != OLD  # replaced
