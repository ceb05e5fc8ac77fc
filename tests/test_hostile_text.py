"""Hostile text through tokenization, vocabulary lookup and a SavedModel
raw-string signature: a defined result or a clear error, never a crash.

Inputs: empty strings, whitespace only, a 300,000-character token, 100,000
tokens in one string, mixed scripts (Latin, CJK, Cyrillic, Arabic, emoji with
modifiers, combining marks), control characters (NUL, C0, DEL, zero-width
and bidi overrides), invalid UTF-8 bytes, lone surrogates.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_rnnx import LSTMX, export, text

MAX_EXAMPLES = 60
HOSTILE = [
    "", "   \t\n\r  ", "x" * 300_000, " ".join(["w"] * 100_000),
    "Hello世界Привет مرحبا 🙂👍🏽 e\u0301 ﬁ Ⅻ", "a\x00b\x01c d\u200be\u202ef\x7f\x1b[31m",
    "\ufeffBOM \ufffd replacement", "Straße İstanbul ΣΑΣ",
]
BAD_BYTES = [b"\xff\xfe", b"ab \xc3\x28 ok", b"\xed\xa0\x80 surrogate", b"\x80" * 50, b"\xc0\xaf"]
# Unicode White_Space: what the whitespace tokenizer splits on.
WHITE_SPACE = set("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {
    chr(c) for c in range(0x2000, 0x200B)}
VOCAB = ["[PAD]", "[UNK]", "hello", "world", "世界", "привет"]


def _check_tokens(rows):
    for row in rows:
        for tok in row:
            s = tok.decode("utf-8")  # always valid UTF-8
            assert s, "empty token"
            assert not (set(s) & WHITE_SPACE), f"whitespace inside token {s!r}"


@pytest.mark.parametrize("kind", ["whitespace", "unicode_script"])
def test_hostile_strings_tokenize_to_valid_tokens(kind):
    tok = text.Tokenizer(kind=kind)
    rows = tok.tokenize(HOSTILE).to_list()
    assert rows[0] == [] and rows[1] == []
    assert len(rows[2]) == 1 and len(rows[2][0]) == 300_000
    assert len(rows[3]) == 100_000
    _check_tokens(rows)
    # In-graph (tf.function) gives the same tokens as eager.
    graph = tf.function(lambda s: tok.tokenize(s))(tf.constant(HOSTILE[4:]))
    assert graph.to_list() == rows[4:]


def test_invalid_utf8_becomes_replacement_character():
    rows = text.Tokenizer().tokenize(BAD_BYTES).to_list()
    _check_tokens(rows)
    assert rows[0] == ["\ufffd\ufffd".encode()]
    assert rows[1] == [b"ab", "\ufffd(".encode(), b"ok"]
    assert all("\ufffd".encode() in b"".join(r) for r in rows)


def test_empty_batch_and_bad_types():
    tok = text.Tokenizer()
    assert tok.tokenize(tf.constant([], tf.string)).to_list() == []
    with pytest.raises(TypeError, match="strings"):
        tok.tokenize([1, 2])
    with pytest.raises(TypeError, match="strings"):
        tok.tokenize(None)
    with pytest.raises(TypeError, match="strings"):
        tok.tokenize(["lone \ud800 surrogate"])  # not encodable as UTF-8


def test_multibyte_whitespace_gives_valid_tokens():
    # tensorflow_text.WhitespaceTokenizer alone splits U+0085/U+2028 bytewise
    # ('0\x85' -> [b'0\xc2']); text.Tokenizer must not.
    rows = text.Tokenizer().tokenize(["0\x85", "a\u2028b"]).to_list()
    _check_tokens(rows)


@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(strings=st.lists(st.one_of(st.text(st.characters(exclude_categories=["Cs"]),
                                          max_size=40), st.binary(max_size=40)),
                        min_size=1, max_size=4),
       kind=st.sampled_from(["whitespace", "unicode_script"]))
def test_any_text_or_bytes_tokenizes_and_looks_up(strings, kind):
    tok = text.Tokenizer(kind=kind)
    tokens = tok.tokenize([s.encode("utf-8") if isinstance(s, str) else s for s in strings])
    rows = tokens.to_list()
    assert len(rows) == len(strings)
    _check_tokens(rows)
    vocab = text.Vocabulary(VOCAB)
    ids = vocab.lookup(tokens).to_list()
    assert [len(r) for r in ids] == [len(r) for r in rows]
    for r_ids, r_toks in zip(ids, rows):
        for i, t in zip(r_ids, r_toks):
            assert i == vocab.index(t.decode("utf-8"))
            assert i != 0, "a text token mapped to the pad id"


def test_vocabulary_python_lookup_and_files(tmp_path):
    vocab = text.Vocabulary(["[PAD]", "[UNK]", "a\u2028b", "c\x85d", "e\x0bf", "日本", "🙂"])
    path = tmp_path / "v.txt"
    vocab.save(path)
    back = text.Vocabulary.load(path)
    assert back.tokens == vocab.tokens
    assert vocab.lookup(["", "\x00", "日本", "🙂", "unknown"]) == [1, 1, 5, 6, 1]
    with pytest.raises(ValueError):
        vocab.lookup([b"\xff"])  # bytes must be UTF-8: UnicodeDecodeError
    for bad in (["[PAD]", "[UNK]", "a\tb"], ["[PAD]", "[UNK]", "a\nb"], ["[PAD]", "[UNK]", ""]):
        with pytest.raises(ValueError, match="tokens"):
            text.Vocabulary(bad)
    with pytest.raises(ValueError, match="not valid UTF-8"):
        text.Vocabulary.build(["fine", b"\xff\xfe"])
    (tmp_path / "bad.txt").write_bytes(b"[PAD]\n[UNK]\n\xff\n")
    with pytest.raises(ValueError, match="not valid UTF-8"):
        text.Vocabulary.load(tmp_path / "bad.txt")


def test_text_to_ids_hostile_batch():
    layer = text.TextToIds(VOCAB, max_length=5)
    batch = [s.encode() for s in HOSTILE[:2]] + ["\x00HELLO 世界 ПРИВЕТ\u200b world"] + [
        HOSTILE[5]] + BAD_BYTES
    ids = layer(tf.constant(batch)).numpy()
    assert ids.shape == (2 + 2 + len(BAD_BYTES), 5) and ids.dtype == np.int32
    assert ids[0].tolist() == [0] * 5 and ids[1].tolist() == [0] * 5
    # NUL stays part of the first token (OOV); case folding is Unicode-aware;
    # the zero-width space is dropped by NFKC case folding.
    assert ids[2].tolist() == [1, 4, 5, 3, 0]
    assert ((ids >= 0) & (ids < len(VOCAB))).all()
    with pytest.raises(TypeError, match="string"):
        layer(tf.constant([1, 2]))
    with pytest.raises(ValueError, match="shape"):
        layer(tf.constant([[["a"]]]))


def test_text_to_ids_rejects_wide_rank2_input_clearly():
    with pytest.raises(ValueError, match="shape"):
        text.TextToIds(VOCAB)(tf.constant([["a", "b"], ["c", "d"]]))


def test_literal_special_tokens_in_text_are_not_padding():
    layer = text.TextToIds(VOCAB, lowercase=False)
    ids = layer(tf.constant(["[PAD] hello [UNK]"])).numpy()[0].tolist()
    assert ids == [1, 2, 1]


def _string_model(max_length=None):
    strings = keras.Input(shape=(), dtype="string", name="text")
    ids = text.TextToIds(VOCAB, max_length=max_length)(strings)
    x = keras.layers.Embedding(len(VOCAB), 4, mask_zero=True)(ids)
    x = LSTMX(3)(x)
    return keras.Model(strings, keras.layers.Dense(2)(x))


def test_model_on_a_batch_of_empty_texts():
    out = np.asarray(_string_model()(tf.constant(["", "   "])))
    assert out.shape == (2, 2) and np.isfinite(out).all()


@pytest.mark.slow
def test_saved_model_raw_string_signature_with_hostile_input(tmp_path):
    model = _string_model(max_length=6)
    export.to_saved_model(model, str(tmp_path / "sm"))
    import tensorflow_text  # noqa: F401  (registers the ops the SavedModel uses)

    fn = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    batch = [s.encode() for s in HOSTILE[:2] + HOSTILE[4:6]] + BAD_BYTES + [HOSTILE[3].encode()]
    (served,) = fn(text=tf.constant(batch)).values()
    ref = np.asarray(model(tf.constant(batch)))
    assert np.isfinite(served.numpy()).all()
    np.testing.assert_allclose(served.numpy(), ref, atol=1e-5)
