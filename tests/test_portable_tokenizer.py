"""`PortableTokenizer` (core TensorFlow ops) against the `Tokenizer`
(tensorflow-text) token by token on hostile text, and the text classifier's
SavedModel on plain TensorFlow: loaded where keras, keras_rnnx and
tensorflow_text cannot be imported, same probabilities as Keras."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_rnnx.text import PortableTokenizer, Tokenizer

HOSTILE = {
    "empty": "",
    "space": " ",
    "whitespace only": "\t\n \r\x0b\x0c",
    "unicode spaces": "\u00a0a\u2028b\u3000c\u0085d\u2009e\u1680f",
    "ascii": "Hello, World! It's 3.14 -- ok?",
    "mixed scripts": "abc漢字かなカナ한국어ελληνικάкирилица123",
    "compatibility": "Ｆｕｌｌ ﬁne ① ㍻ ﬃ ½ ℌ",
    "case folding": "Straße ΣΑΣ ς İstanbul ǅ ß ẞ",
    "combining": "e\u0301 q\u0301x a\u0323\u0301 a\u0301\u0323 o\u0308\u0304 \u0301lead",
    "many marks": "a\u0301\u0301\u0301\u0302\u0323\u0323 z\u0335\u0336\u0337",
    "hangul jamo": "\u1100\u1161\u11a8 \u1100\u1161 \u1161\u11a8 각 \u1100\u1100\u1161",
    "composition exclusions": "\u0958 \u0915\u093c \u2126 \u212b \u0344",
    "indic": "हिन्दी தமிழ் \u0b47\u0b3e \u0bc6\u0bbe",
    "emoji": "😀😀x 👍🏽 👨\u200d👩\u200d👧 🇫🇷 ❤\ufe0f",
    "zero width": "a\u200bb c\u200dd e\ufefff soft\u00adhyphen g\u2060h \u200e\u200f",
    "rtl": "שלום עולם مرحبا بالعالم \u202eabc\u202c 123",
    "cjk punctuation": "「漢字」、，。！",
    "nul and controls": "a\x00b\x01c \x1cd\x1f e\x7f",
    "replacement": "bad \ufffd bytes \ufffe\uffff",
    "astral": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈 \U0010fffd 𠜎",
    "punctuation runs": "ab12cd,,ef!! 1 2 !,. x-y_z",
    "very long": "Word ç\u0327 " * 2000,
}

# (kind, lowercase, normalization, extra settings)
SETTINGS = [
    ("whitespace", True, "NFKC", {}),
    ("unicode_script", True, "NFKC", {}),
    ("characters", True, "NFKC", {}),
    ("whitespace", True, None, {}),
    ("characters", False, "NFC", {}),
    ("unicode_script", "lower", "NFKD", {}),
    ("whitespace", "lower", None, {"drop_punctuation": True}),
    ("characters", False, None, {"whitespace": "keep"}),
    ("whitespace", True, "NFKC", {"drop_punctuation": True}),
]


def _random_hostile(n, seed):
    """Strings drawn from the alphabets above, marks and jamo in any order."""
    rng = np.random.default_rng(seed)
    pool = sorted(set("".join(v for k, v in HOSTILE.items() if k != "very long")))
    pool += ["\u0301", "\u0323", "\u0308", "\u093c", "\u1161", "\u11a8", " ", "\u200d"] * 3
    return ["".join(rng.choice(pool, size=rng.integers(0, 12))) for _ in range(n)]


@pytest.mark.parametrize("kind, lowercase, normalization, extra", SETTINGS,
                         ids=[f"{k}-{l}-{n}-{'-'.join(e)}" for k, l, n, e in SETTINGS])
def test_same_tokens_as_the_tokenizer_on_hostile_text(kind, lowercase, normalization, extra):
    tokenizer = Tokenizer(kind, lowercase=lowercase, normalization=normalization, **extra)
    portable = PortableTokenizer(tokenizer)
    texts = list(HOSTILE.values()) + _random_hostile(150, seed=len(kind) + len(extra))
    want = tokenizer.tokenize(texts).to_list()
    got = portable.tokenize(texts).to_list()
    names = list(HOSTILE) + [f"random {i}" for i in range(150)]
    bad = {names[i]: (texts[i][:40], want[i][:6], got[i][:6])
           for i in range(len(texts)) if want[i] != got[i]}
    assert bad == {}


def test_invalid_utf8_and_batches_as_the_tokenizer():
    tokenizer = Tokenizer("whitespace")
    raw = [b"bad \xff\xfe bytes", b"\xc3", b"ok \xe2\x82", b""]
    assert PortableTokenizer(tokenizer).tokenize(raw).to_list() == tokenizer.tokenize(raw).to_list()


def test_refuses_stemming_and_other_objects():
    with pytest.raises(ValueError, match="stem"):
        PortableTokenizer(Tokenizer("whitespace", stem="english"))
    with pytest.raises(TypeError, match="tokenizer must be a keras_rnnx.text.Tokenizer"):
        PortableTokenizer("whitespace")


@pytest.fixture(scope="module", params=[0, 2], ids=["deep", "wide_and_deep"])
def classifier(request):
    """A small classifier, without and with the wide part (`rnnx
    train-classifier`'s default: hashed n-grams computed in the graph), the
    latter's recurrent part reading the first 8 of the 12 ids (the default
    model reads fewer ids in its recurrent part than in its wide part)."""
    from keras_rnnx.models import TextClassifier

    texts = ["a great film", "the worst movie", "Ｇｒｅａｔ acting", "cafe\u0301 was bad",
             "straße ok", "漢字 good"] * 4
    labels = [1, 0, 1, 0, 1, 1] * 4
    clf = TextClassifier.create(texts, labels, ["neg", "pos"], units=4, embedding_dim=4,
                                max_length=12, recurrent_length=8 if request.param else None,
                                ngrams=request.param)
    clf.fit(texts, labels, epochs=1, verbose=0)
    return clf


def test_classifier_saved_model_runs_on_plain_tensorflow(classifier, tmp_path):
    """The SavedModel loads and serves in a process where keras, keras_rnnx
    and tensorflow_text cannot be imported (an unregistered tensorflow-text
    op would fail the load), with Keras' probabilities (tensorflow-text
    tokenizer) on hostile text."""
    path = str(tmp_path / "saved_model")
    classifier.export_saved_model(path)
    texts = list(HOSTILE.values()) + ["café was bad", "CAFÉ WAS BAD", "GREAT\u200b film"]
    np.save(tmp_path / "texts.npy", np.array([t.encode("utf-8") for t in texts], object),
            allow_pickle=True)
    script = textwrap.dedent(f"""
        import json, sys
        for blocked in ("keras", "keras_rnnx", "tf_keras", "tensorflow_text"):
            sys.modules[blocked] = None
        import numpy as np
        import tensorflow as tf
        loaded = tf.saved_model.load({path!r})
        texts = tf.constant(list(np.load({str(tmp_path / "texts.npy")!r}, allow_pickle=True)))
        result = loaded.signatures["classify"](text=texts)
        default = loaded.signatures["serving_default"](text=texts)
        np.savez({str(tmp_path / "out.npz")!r}, probabilities=result["probabilities"].numpy(),
                 default=list(default.values())[0].numpy(), classes=result["class"].numpy())
        print(json.dumps({{"loaded": sorted(m for m, v in sys.modules.items() if v is not None
                          and m.split(".")[0] in ("keras", "keras_rnnx", "tensorflow_text"))}}))
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=300, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["loaded"] == []
    got = np.load(tmp_path / "out.npz", allow_pickle=True)
    want = classifier.predict_proba(texts)
    np.testing.assert_allclose(got["probabilities"], want, atol=1e-5)
    np.testing.assert_allclose(got["default"], want, atol=1e-5)
    assert [c.decode() for c in got["classes"]] == [classifier.class_names[i]
                                                    for i in want.argmax(-1)]


def test_portable_model_gives_the_keras_ids(classifier):
    """The exported tokenizer and lookup give the ids of the `TextToIds`
    layer the model trained with (pad 0, unknown 1, the text "[PAD]"
    unknown), truncated and padded to max_length."""
    import tensorflow as tf

    texts = list(HOSTILE.values()) + ["[PAD] [UNK] great", "great " * 40]
    layer = classifier.portable_model().get_layer("portable_text_to_ids")
    got = layer(tf.constant(texts)).numpy()
    np.testing.assert_array_equal(got, classifier.texts_to_ids(texts))


def test_docstring_example_runs():
    import doctest

    import tensorflow as tf

    from keras_rnnx.text import portable

    result = doctest.testmod(portable, extraglobs={"tf": tf, "Tokenizer": Tokenizer,
                                                   "PortableTokenizer": PortableTokenizer})
    assert result.attempted >= 2 and result.failed == 0
