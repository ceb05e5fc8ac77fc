"""The public surface, pinned: every import, name and module path README.md
documents, `keras_rnnx.__all__`, and every Keras serialization name the
package registers (a rename breaks saved `.keras` files: this test fails
first)."""
import importlib
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ALL = [
    "AttentionDecoder", "AttentionDecoderCell", "AttentionPooling", "BahdanauAttention",
    "BiDirectional", "GRUCellX", "GRUX", "LanguageModel", "LastStepPooling", "LSTMCellX",
    "LSTMX", "MaskedMaxPooling", "MaskedMeanPooling", "SkipGram", "TextToIds", "Word2Vec",
]

# what `import keras_rnnx` registers with Keras' serialization
REGISTERED = {
    "keras_rnnx>AttentionDecoder",
    "keras_rnnx>AttentionDecoderCell",
    "keras_rnnx>AttentionPooling",
    "keras_rnnx>BagOfNgrams",
    "keras_rnnx>BahdanauAttention",
    "keras_rnnx>BeamSearch",
    "keras_rnnx>BiDirectional",
    "keras_rnnx>CharactersToIds",
    "keras_rnnx>GRUCellX",
    "keras_rnnx>GRUX",
    "keras_rnnx>GreedySearch",
    "keras_rnnx>LSTMCellX",
    "keras_rnnx>LSTMX",
    "keras_rnnx>LanguageModel",
    "keras_rnnx>LastStepPooling",
    "keras_rnnx>LazyAdam",
    "keras_rnnx>RandomSampler",
    "keras_rnnx>MaskedMaxPooling",
    "keras_rnnx>MaskedMeanPooling",
    "keras_rnnx>SanitizeIds",
    "keras_rnnx>SkipGram",
    "keras_rnnx>TextToIds",
    "keras_rnnx>TokenDropout",
    "keras_rnnx>Translator",
    "keras_rnnx>masked_sparse_categorical_crossentropy",
    "keras_rnnx>masked_token_accuracy",
}


def _readme():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return f.read()


def _python_blocks():
    return re.findall(r"^```python\n(.*?)^```", _readme(), flags=re.S | re.M)


def _import_statements(block):
    """The block's `import keras_rnnx...` / `from keras_rnnx... import ...`
    statements (a parenthesised name list may span lines)."""
    statements = []
    for m in re.finditer(r"^(from keras_rnnx[\w.]* import (?:\([^)]*\)|[^\n]*)|"
                         r"import keras_rnnx[\w.]*)", block, flags=re.M):
        statements.append(m.group(1).split("#")[0].strip())
    return statements


README_IMPORTS = [s for b in _python_blocks() for s in _import_statements(b)]


def _resolve(dotted):
    """A dotted path: the module, or the attribute of its longest module prefix."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_readme_has_the_imports_this_test_reads():
    assert len(README_IMPORTS) >= 10
    assert "import keras_rnnx" in README_IMPORTS


@pytest.mark.parametrize("statement", README_IMPORTS)
def test_readme_import_works(statement):
    namespace = {}
    exec(statement, namespace)
    if statement.startswith("from "):
        names = statement.split(" import ", 1)[1].strip("() ")
        for name in (n.strip() for n in names.split(",")):
            assert namespace[name] is not None, name


def test_readme_code_uses_only_existing_attributes():
    """`export.to_tflite`, `datasets.load`, `training.fit_resumable`, ...:
    attributes the README's code takes from names it imported from keras_rnnx."""
    checked = 0
    for block in _python_blocks():
        namespace = {}
        for statement in _import_statements(block):
            exec(statement, namespace)
        for name, obj in namespace.items():
            if name.startswith("__") or not name[:1].isalpha():
                continue
            for attr in set(re.findall(rf"(?<![\w.]){name}\.(\w+)", block)):
                assert hasattr(obj, attr), f"README uses {name}.{attr}"
                checked += 1
    assert checked >= 8


@pytest.mark.parametrize("dotted", sorted(set(
    re.findall(r"keras_rnnx(?:\.[A-Za-z_]\w*)+", _readme()))))
def test_readme_dotted_path_exists(dotted):
    assert _resolve(dotted) is not None


@pytest.mark.parametrize("path", sorted(set(re.findall(r"keras_rnnx/[\w/.]*\w/?", _readme()))))
def test_readme_file_path_exists(path):
    assert os.path.exists(os.path.join(ROOT, path)), path


def test_all_is_pinned_and_importable():
    import keras_rnnx

    assert sorted(keras_rnnx.__all__) == sorted(ALL)
    for name in ALL:
        assert getattr(keras_rnnx, name).__name__ == name


def test_registered_serialization_names_are_pinned():
    import keras

    import keras_rnnx  # noqa: F401 - registers

    objects = keras.saving.get_custom_objects()
    assert {k for k in objects if k.startswith("keras_rnnx>")} == REGISTERED
    for key in REGISTERED:
        assert keras.saving.get_registered_name(objects[key]) == key
        assert keras.saving.get_registered_object(key) is objects[key]


def test_public_layers_are_registered_under_their_own_names():
    import keras

    import keras_rnnx

    for name in ALL:
        if name == "Word2Vec":  # a trainer, not a Keras object
            continue
        assert keras.saving.get_registered_name(getattr(keras_rnnx, name)) == f"keras_rnnx>{name}"
