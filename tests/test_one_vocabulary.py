"""One Vocabulary, one Tokenizer: the classifier, the language model and the
translator share `keras_rnnx.text.Vocabulary` (configurable specials read by
role) and `keras_rnnx.text.Tokenizer`; old saved files still load."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_rnnx import text
from keras_rnnx.text import LANGUAGE_MODEL_SPECIALS, Tokenizer, Vocabulary

DATA = os.path.join(os.path.dirname(__file__), "data")


def _ids(v):
    return v.pad_id, v.oov_id, v.start_id, v.end_id


def test_every_model_uses_the_one_vocabulary_with_its_special_ids():
    import importlib

    language_model = importlib.import_module("keras_rnnx.models.language_model")
    text_classifier = importlib.import_module("keras_rnnx.models.text_classifier")
    translator = importlib.import_module("keras_rnnx.models.translator")

    clf = text_classifier.TextClassifier.create(
        ["good film", "bad film", "good good"], [1, 0, 1], ["neg", "pos"], units=4, embedding_dim=4)
    assert isinstance(clf.vocabulary, Vocabulary)
    assert _ids(clf.vocabulary) == (0, 1, None, None)
    assert clf.vocabulary.tokens[:2] == ["[PAD]", "[UNK]"]

    assert language_model.Vocabulary is Vocabulary
    _, lm_vocab, _ = language_model.train_language_model(
        ["abc cab", "bca"], seq_len=4, embedding_dim=2, units=2, epochs=1, min_count=1, verbose=0)
    assert isinstance(lm_vocab, Vocabulary)
    assert _ids(lm_vocab) == (language_model.PAD, language_model.UNK, language_model.BOS,
                              language_model.EOS) == (0, 3, 1, 2)
    assert lm_vocab.specials == LANGUAGE_MODEL_SPECIALS and lm_vocab.level == "char"

    t = translator.Translator(list("0123456789"), list("abc"), 4, units=4, embedding_dim=4)
    assert isinstance(t.source_vocab, Vocabulary) and isinstance(t.target_vocab, Vocabulary)
    assert _ids(t.source_vocab) == (translator.PAD_ID, translator.UNK_ID, None, None) == (0, 1, None, None)
    assert _ids(t.target_vocab) == (translator.PAD_ID, None, translator.START_ID,
                                    translator.END_ID) == (0, None, 1, 2)
    assert t.tokenize(["12x"]).numpy().tolist() == [[t.source_vocab.index("1"),
                                                    t.source_vocab.index("2"), 1]]


@pytest.mark.parametrize("specials", [
    ("[PAD]", "[UNK]"),
    LANGUAGE_MODEL_SPECIALS,
    ("[PAD]", "[START]", "[END]", "[UNK]", "[MASK]"),
    ("<pad>", "<s>", "</s>"),
    (),
])
def test_configurable_specials_ids_and_round_trip(tmp_path, specials):
    v = Vocabulary.from_counts({"b": 1, "a": 3, "c": 1}, specials=specials)
    assert v.tokens == list(specials) + ["a", "b", "c"]
    assert v.specials == tuple(specials)
    roles = {"pad": ("[PAD]", "<pad>"), "unk": ("[UNK]", "<unk>"),
             "start": ("[START]", "<s>"), "end": ("[END]", "</s>")}
    for role, attr in (("pad", "pad_id"), ("unk", "oov_id"), ("start", "start_id"), ("end", "end_id")):
        want = next((specials.index(s) for s in roles[role] if s in specials), None)
        assert getattr(v, attr) == want
    assert v.unk_id == v.oov_id
    for name in ("v.txt", "v.json"):
        v.save(tmp_path / name)
        back = Vocabulary.load(tmp_path / name)
        assert (back.tokens, back.counts, back.specials) == (v.tokens, v.counts, v.specials)
        assert _ids(back) == _ids(v)


def test_specials_are_reserved_and_put_first():
    v = Vocabulary(["x", "y"], specials=("<pad>", "<unk>"))
    assert v.tokens == ["<pad>", "<unk>", "x", "y"] and v.index("zz") == 1
    with pytest.raises(ValueError, match="reserved"):
        Vocabulary(["x", "<unk>"], specials=("<pad>", "<unk>"))
    with pytest.raises(ValueError, match="level"):
        Vocabulary(["x"], level="byte")


def test_language_model_encode_decode_and_json_round_trip(tmp_path):
    v = Vocabulary.build(["ab\tba", "cab"], level="char")
    assert "\t" in v.tokens  # characters are kept as given
    assert v.decode(v.encode("cab\t", add_eos=True)) == "cab\t"
    with pytest.raises(ValueError, match="json"):
        v.save(tmp_path / "v.txt")
    v.save(tmp_path / "v.json")
    back = Vocabulary.load(tmp_path / "v.json")
    assert back.tokens == v.tokens and back.level == "char"
    assert back.tokenizer.get_config() == v.tokenizer.get_config()
    assert back.encode("ba\tc") == v.encode("ba\tc")
    # the language model's earlier .vocab.json format still loads
    (tmp_path / "old.json").write_text(json.dumps({"tokens": ["the", "cat"], "level": "word"}))
    old = Vocabulary.load(tmp_path / "old.json")
    assert old.tokens == list(LANGUAGE_MODEL_SPECIALS) + ["the", "cat"]
    assert old.encode("the dog cat") == [1, 4, 3, 5] and old.decode([4, 5, 2, 4]) == "the cat"
    # a vocabulary without a tokenizer cannot encode; without a start id, no add_bos
    with pytest.raises(ValueError, match="tokenizer"):
        Vocabulary(["a"]).encode("a")
    with pytest.raises(ValueError, match="add_bos"):
        Vocabulary(["a"], tokenizer=text.level_tokenizer("char")).encode("a")


def test_one_character_split():
    raw = text.level_tokenizer("char")
    s = "Ab\u00a0 c\t日本🙂"
    assert raw.split(s) == list(s) == raw.tokenize_python([s])[0]
    lower = Tokenizer("characters", lowercase="lower", normalization=None, whitespace="keep")
    assert lower.split("ÀB c") == ["à", "b", " ", "c"]
    assert lower.code_points(["ÀB c"]).to_list() == [[ord(c) for c in "àb c"]]
    collapsed = Tokenizer("characters")
    assert collapsed.split("  A \t b ") == ["a", " ", "b"]
    words = text.level_tokenizer("word")
    assert words.split(" the  cat\u00a0sat ") == ["the", "cat", "sat"]
    with pytest.raises(ValueError, match="whitespace"):
        Tokenizer("whitespace", whitespace="keep")
    with pytest.raises(TypeError, match="lowercase"):
        Tokenizer(lowercase="upper")


def test_characters_to_ids_keras_file_still_loads():
    # written at 345e8d8: a string classifier whose first layer is CharactersToIds
    import keras

    from keras_rnnx.text import CharactersToIds
    from keras_rnnx.text import TextToIds

    model = keras.saving.load_model(os.path.join(DATA, "characters_to_ids_v0_1.keras"))
    want = np.load(os.path.join(DATA, "characters_to_ids_v0_1_expected.npz"))
    texts = tf.constant(want["texts"].tolist())
    layer = model.get_layer("text_to_ids")
    assert type(layer) is CharactersToIds
    np.testing.assert_array_equal(layer(texts).numpy(), want["ids"])
    np.testing.assert_allclose(model.predict(texts, verbose=0), want["outputs"], rtol=1e-5, atol=1e-7)
    same = TextToIds(layer.vocabulary, kind="characters", max_length=layer.max_length)
    np.testing.assert_array_equal(same(texts).numpy(), want["ids"])
