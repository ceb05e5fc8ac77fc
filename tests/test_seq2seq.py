"""The date data and the attention translator."""
import datetime
import os

import numpy as np
import pytest

import keras
import tensorflow as tf

from keras_rnnx.text import Vocabulary

from keras_rnnx.datasets import dates
from keras_rnnx.models.translator import (
    END_ID,
    START_ID,
    Translator,
    source_vocabulary_from_texts,
)


# ---------------------------------------------------------------- the dates
def test_dates_deterministic_varied_and_held_out():
    a = dates.generate(400, seed=7)
    assert a == dates.generate(400, seed=7)
    assert a != dates.generate(400, seed=8)
    for source, target in a:
        day = datetime.date.fromisoformat(target)
        assert dates.FIRST_DATE <= day <= dates.LAST_DATE
        assert isinstance(source, str) and source
    assert len(dates.LOCALES) >= 10
    assert len({s for s, _ in a}) > 390  # many distinct surface forms
    test = dates.generate(300, seed=7, split="test")
    train_days = {t for _, t in dates.generate(3000, seed=7)}
    assert not train_days & {t for _, t in test}  # held-out days never trained on
    # the examples are among the forms produced
    d = datetime.date(2009, 6, 25)
    assert dates.format_date(d, "fr_FR", "long") == "25 juin 2009"
    assert "long" in dates.formats_for("fr_FR")
    assert dates.format_date(datetime.date(2021, 3, 7), "en_US", "short") == "3/7/21"


def test_every_string_means_one_date():
    """No surface form (after lowercasing) maps to two dates: checked over
    every day of three years in every locale and format."""
    seen = {}
    for year in (1950, 2000, 2049):
        day = datetime.date(year, 1, 1)
        while day.year == year:
            for locale in dates.LOCALES:
                for fmt in dates.formats_for(locale):
                    s = dates.format_date(day, locale, fmt).lower()
                    assert seen.setdefault(s, day) == day, (s, seen[s], day, locale, fmt)
            day += datetime.timedelta(days=1)
    assert len(seen) > 40000


def test_dates_bad_arguments():
    with pytest.raises(ValueError, match="`n`"):
        dates.generate(-1)
    with pytest.raises(ValueError, match="`split`"):
        dates.generate(3, split="validation")
    with pytest.raises(ValueError, match="`locales`"):
        dates.generate(3, locales=("xx_XX",))
    with pytest.raises(ValueError, match="`test_fraction`"):
        dates.generate(3, test_fraction=1.5)


# ----------------------------------------------------------- the translator
DIGITS = list("0123456789")


def digit_pairs(n, rng):
    src = ["".join(map(str, rng.integers(0, 10, rng.integers(1, 6)))) for _ in range(n)]
    return src, [s[::-1] for s in src]


@pytest.fixture(scope="module")
def reverser():
    """A small translator trained for a few seconds to reverse digit strings."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    src, tgt = digit_pairs(2400, rng)
    t = Translator(DIGITS, DIGITS, 5, embedding_dim=16, units=32)
    t.compile(learning_rate=1e-2)
    t.fit(src, tgt, epochs=4, batch_size=64, verbose=0)
    return t


def test_toy_translator_learns_reversal(reverser):
    rng = np.random.default_rng(1)
    src, tgt = digit_pairs(200, rng)
    greedy = reverser.exact_match(src, tgt, beam_width=1)
    beam = reverser.exact_match(src, tgt, beam_width=3)
    # chance is about 1e-3 (mean over lengths 1..5 of 10**-len)
    assert greedy > 0.6 and beam > 0.6, (greedy, beam)


def test_decoding_matches_training_model(reverser):
    """The step function used by search computes what the teacher-forced
    training model computes: greedy scores are the log-probabilities the
    training model gives the decoded tokens; attention likewise."""
    strings = ["12345", "7", "4081", "99"]
    ids = reverser.tokenize(strings).numpy()
    for beam_width in (1, 3):
        out = reverser.generate(ids, beam_width=beam_width)
        seq = out["sequences"].numpy()
        target_in = np.concatenate([np.full((len(strings), 1), START_ID), seq[:, :-1]], 1).astype("int32")
        logits = reverser([ids, target_in]).numpy()
        logp = tf.nn.log_softmax(logits).numpy()
        alive = np.cumsum(seq == END_ID, axis=1) - (seq == END_ID) == 0  # up to end
        token_lp = np.take_along_axis(logp, seq[..., None], -1)[..., 0]
        np.testing.assert_allclose(out["scores"].numpy(), (token_lp * alive).sum(1), atol=1e-4)
        att = reverser.attention_model([ids, target_in]).numpy()
        np.testing.assert_allclose(out["attention"].numpy(), att * alive[..., None], atol=1e-5)


def test_rows_are_independent_of_padding_and_batch(reverser):
    """A short source padded in a batch with a long one translates exactly as
    alone (masks in encoder, attention and beam state tiling)."""
    batch = reverser.generate(reverser.tokenize(["31415", "8", "26"]), beam_width=3)
    for i, s in enumerate(["31415", "8", "26"]):
        alone = reverser.generate(reverser.tokenize([s]), beam_width=3)
        np.testing.assert_array_equal(batch["sequences"].numpy()[i], alone["sequences"].numpy()[0])
        np.testing.assert_allclose(batch["scores"].numpy()[i], alone["scores"].numpy()[0], atol=1e-5)
        n = len(s)
        np.testing.assert_allclose(
            batch["attention"].numpy()[i, :, :n], alone["attention"].numpy()[0], atol=1e-5
        )
        assert np.all(batch["attention"].numpy()[i, :, n:] == 0)


def test_strategies_route_through_one_path(reverser):
    """`strategy="greedy"` (the default) gives what greedy search on the step
    function gives, and so does the `beam_width=1` convenience; names,
    objects and configs are one path, for `generate` (ids) and `translate`
    (strings) alike."""
    from keras_rnnx import decoding

    ids = reverser.tokenize(["12345", "7", "4081", "99", "31"])
    state = reverser.initial_state(ids)
    want_seq, want_score = decoding.greedy_search(
        reverser.step_fn, state, START_ID, END_ID, reverser.max_length)
    for out in (reverser.generate(ids), reverser.generate(ids, "greedy"),
                reverser.generate(ids, decoding.GreedySearch()),
                reverser.generate(ids, beam_width=1)):
        assert out["sequences"].shape == (5, reverser.max_length)
        np.testing.assert_array_equal(out["sequences"], want_seq[:, 0])
        np.testing.assert_allclose(out["scores"], want_score[:, 0], rtol=1e-6, atol=1e-6)
    greedy, width_one = reverser.generate(ids, "greedy"), reverser.generate(ids, beam_width=1)
    np.testing.assert_allclose(greedy["attention"], width_one["attention"], atol=1e-6)
    # the best of several hypotheses is what translate returns
    beam = reverser.generate(ids, decoding.BeamSearch(3, num_return=2))
    np.testing.assert_array_equal(beam["sequences"], reverser.generate(ids, beam_width=3)["sequences"])
    by_name = reverser.generate(ids, {"class_name": "beam", "config": {"beam_width": 3}})
    np.testing.assert_array_equal(beam["sequences"], by_name["sequences"])
    assert reverser.generate_function("beam") is reverser.generate_function(beam_width=4)
    src = ["12345", "7", "4081"]
    assert reverser.translate(src, "greedy") == reverser.translate(src, beam_width=1)
    assert reverser.exact_match(src, ["54321", "7", "1804"], "beam") == reverser.exact_match(
        src, ["54321", "7", "1804"], beam_width=4)
    with pytest.raises(ValueError, match="not both"):
        reverser.generate(ids, "beam", beam_width=2)
    with pytest.raises(ValueError, match="length_penalty"):
        reverser.generate(ids, length_penalty=0.5)
    with pytest.raises(ValueError, match="unknown decoding strategy"):
        reverser.generate(ids, "nucleus")
    with pytest.raises(TypeError, match="beam_width=3"):  # the old positional beam width
        reverser.generate(ids, 3)


@pytest.mark.slow
def test_translate_under_xla(reverser):
    ids = reverser.tokenize(["123", "45"])
    want = reverser.generate(ids, beam_width=1)
    got = reverser.generate_function(beam_width=1, jit_compile=True)(ids)
    np.testing.assert_array_equal(got["sequences"].numpy(), want["sequences"].numpy())
    np.testing.assert_allclose(got["scores"].numpy(), want["scores"].numpy(), atol=1e-5)


def test_tokenize_and_detokenize():
    t = Translator(list("abcé"), DIGITS, 3, units=4, embedding_dim=4)
    ids = t.tokenize(["AbÉ", "cx", ""]).numpy()
    # 0 pad, 1 unknown, 2.. characters (lowercased in-graph)
    np.testing.assert_array_equal(ids, [[2, 3, 5], [4, 1, 0], [0, 0, 0]])
    target_in, target_out = t.encode_targets(["12", ""])
    np.testing.assert_array_equal(target_out, [[4, 5, END_ID, 0], [END_ID, 0, 0, 0]])
    np.testing.assert_array_equal(target_in[:, 0], [START_ID, START_ID])
    np.testing.assert_array_equal(target_in[:, 1:], target_out[:, :-1])
    text = t.detokenize(np.array([[4, 5, END_ID, 6], [END_ID, 4, 4, 4]])).numpy()
    assert list(text) == [b"12", b""]
    assert source_vocabulary_from_texts(["Ab", "bé"]) == ["a", "b", "é"]


def test_gru_variant_builds_and_runs():
    t = Translator(DIGITS, DIGITS, 3, units=8, embedding_dim=4, cell="gru", normalize=True)
    out = t.generate(t.tokenize(["12", "3"]), beam_width=2)
    assert out["sequences"].shape == (2, 4) and out["attention"].shape == (2, 4, 2)


def test_bad_input():
    with pytest.raises(ValueError, match="`cell`"):
        Translator(DIGITS, DIGITS, 3, cell="rnn")
    with pytest.raises(ValueError, match="`units`"):
        Translator(DIGITS, DIGITS, 4, units=0)
    with pytest.raises(ValueError, match="`decoder_units`"):
        Translator(DIGITS, DIGITS, 4, decoder_units=-1)
    with pytest.raises(ValueError, match="`source_vocabulary`"):
        Translator("0123", DIGITS, 3)
    with pytest.raises(ValueError, match="`target_vocabulary` must have the specials"):
        Translator(DIGITS, Vocabulary(DIGITS), 3)
    with pytest.raises(ValueError, match="`max_target_length`"):
        Translator(DIGITS, DIGITS, 0)
    with pytest.raises(ValueError, match="`source_vocabulary`"):
        Translator(["ab"], DIGITS, 3)
    with pytest.raises(ValueError, match="`target_vocabulary`"):
        Translator(DIGITS, ["1", "1"], 3)
    t = Translator(DIGITS, DIGITS, 3, units=4, embedding_dim=4)
    with pytest.raises(ValueError, match="not in the target vocabulary"):
        t.encode_targets(["1x"])
    with pytest.raises(ValueError, match="longer than max_target_length"):
        t.encode_targets(["12345"])
    with pytest.raises(ValueError, match="same length"):
        t.fit(["1", "2"], ["1"])
    with pytest.raises(ValueError, match="same length"):
        t.evaluate(["1", "2"])
    with pytest.raises(ValueError, match="`texts`"):
        t.translate("12")


def test_save_and_load(reverser, tmp_path):
    """`.keras` round trip through `keras.saving.load_model`: the config
    carries both vocabularies (ids of strings are kept), the weights and the
    optimizer's state come back, and the loaded model translates
    identically. `save` refuses an existing file."""
    path = reverser.save(str(tmp_path / "reverser.keras"))
    config = reverser.get_config()
    assert config["source_vocabulary"] == reverser.source_vocab.get_config()
    assert config["target_vocabulary"]["specials"] == ["<pad>", "<s>", "</s>"]
    loaded = keras.saving.load_model(path)
    assert type(loaded) is Translator and loaded.get_config() == config
    ids = reverser.tokenize(["1234", "56", "x9"])
    np.testing.assert_array_equal(loaded.tokenize(["1234", "56", "x9"]), ids)
    for strategy in ("greedy", "beam"):
        a, b = reverser.generate(ids, strategy), loaded.generate(ids, strategy)
        np.testing.assert_array_equal(a["sequences"].numpy(), b["sequences"].numpy())
        np.testing.assert_allclose(a["scores"].numpy(), b["scores"].numpy(), atol=1e-6)
        np.testing.assert_allclose(a["attention"].numpy(), b["attention"].numpy(), atol=1e-6)
    assert loaded.translate(["1234"]) == reverser.translate(["1234"])
    assert int(loaded.optimizer.iterations) == int(reverser.optimizer.iterations) > 0
    for w, v in zip(reverser.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(w), np.asarray(v))
    with pytest.raises(ValueError, match="filepath"):
        reverser.save(path)


def test_translator_is_a_keras_model(tmp_path):
    """A functional `keras.Model`: `fit` and `evaluate` take strings without
    an explicit `compile()`, and give what Keras' own `fit`/`evaluate` give on
    the encoded arrays; `predict` is the call; a `Vocabulary` is accepted
    for the characters."""
    assert isinstance(Translator(DIGITS, DIGITS, 3, units=4), keras.Model)
    assert keras.saving.get_registered_name(Translator) == "keras_rnnx>Translator"
    src, tgt = digit_pairs(64, np.random.default_rng(3))
    src = [s[:3] for s in src]
    tgt = [s[::-1] for s in src]
    runs = []
    for as_strings in (True, False):
        keras.utils.set_random_seed(1)
        t = Translator(Vocabulary(DIGITS, specials=("<pad>", "<unk>")), DIGITS, 3,
                       units=4, embedding_dim=4)
        if as_strings:
            history = t.fit(src, tgt, batch_size=16, epochs=2, bucket=False, verbose=0,
                            shuffle=False, validation_data=(src[:8], tgt[:8]))
            result = t.evaluate(src, tgt, verbose=0)
        else:
            target_in, target_out = t.encode_targets(tgt)
            val_in, val_out = t.encode_targets(tgt[:8])
            x = [t.encode_sources(src), target_in]
            history = t.fit(x, target_out, batch_size=16, epochs=2, verbose=0, shuffle=False,
                            validation_data=([t.encode_sources(src[:8]), val_in], val_out))
            result = t.evaluate(x, target_out, verbose=0)
            np.testing.assert_allclose(t.predict(x, verbose=0), t(x), atol=1e-5)
        runs.append((history.history, result, t.get_weights()))
    (h1, r1, w1), (h2, r2, w2) = runs
    assert set(h1) == {"loss", "masked_token_accuracy", "val_loss", "val_masked_token_accuracy"}
    for key in h1:
        np.testing.assert_allclose(h1[key], h2[key], rtol=1e-5)
    np.testing.assert_allclose(r1, r2, rtol=1e-5)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_one_description_two_views_and_strategy_exports(reverser):
    """The translator is wired once: the encoder and attention views and the
    step use the model's own layers (the inference model holds exactly its
    weights), and the inference model the exporters
    take runs any strategy exactly as `translate` does."""
    from keras_rnnx import decoding

    model_layers = {id(layer) for layer in reverser.layers}
    for view in (reverser.encoder, reverser.attention_model):
        assert all(id(layer) in model_layers for layer in view.layers)
    for layer in (reverser.target_embedding, reverser.decoder, reverser.output_layer):
        assert id(layer) in model_layers
    assert {id(w) for w in reverser.weights} == {id(w) for w in reverser.inference_model().weights}
    ids = reverser.tokenize(["12345", "7", "4081"])
    for strategy, kwargs in (("greedy", {}), (None, {"beam_width": 3}),
                             (decoding.BeamSearch(2, 0.5), {})):
        want = reverser.generate(ids, strategy, **kwargs)
        got = reverser.inference_model(strategy, **kwargs)(ids)  # eager: rounding may differ
        np.testing.assert_array_equal(np.asarray(got["sequences"]), want["sequences"].numpy())
        for key in ("scores", "attention"):
            np.testing.assert_allclose(np.asarray(got[key]), want[key].numpy(), atol=1e-5)
    default = reverser.inference_model(with_strings=True)(ids)  # BeamSearch(4)
    np.testing.assert_array_equal(np.asarray(default["sequences"]),
                                  reverser.generate(ids, "beam")["sequences"])
    assert set(default) == {"sequences", "scores", "attention", "translations"}
    with pytest.raises(TypeError, match="beam_width=4"):
        reverser.inference_model(4)
    with pytest.raises(ValueError, match="not both"):
        reverser.export_tflite("/nonexistent/x.tflite", "beam", beam_width=2)


@pytest.mark.slow
def test_readme_translator_block_runs_as_written(tmp_path, monkeypatch):
    """The README's attention/translator block, run as written (it defines
    its own inputs; tests/test_readme.py runs every block, this one checks
    what it computes): `t.fit` works without an explicit `compile()`, the
    shapes follow the inputs, and the .keras file and both exports are
    written."""
    import re

    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md"),
                  encoding="utf-8").read()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S)
              if "Translator(" in b]
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    batch, _, enc_units = namespace["encoder_outputs"].shape
    target = namespace["target_embeddings"].shape[1]
    assert tuple(namespace["context"].shape) == (batch, enc_units)
    # the decoder emits [h; context]: 128 units + the encoder outputs' width
    assert tuple(namespace["outputs"].shape) == (batch, target, 128 + enc_units)
    assert (tmp_path / "export" / "reverser.keras").stat().st_size > 0
    assert (tmp_path / "export" / "reverser" / "saved_model.pb").exists()
    assert (tmp_path / "export" / "reverser.tflite").stat().st_size > 0


@pytest.mark.slow
def test_task_model_docstring_examples(tmp_path, monkeypatch):
    """The Examples of the task models' docstrings run as written."""
    import doctest
    import importlib

    monkeypatch.chdir(tmp_path)
    for name in ("task", "translator", "language_model"):
        module = importlib.import_module(f"keras_rnnx.models.{name}")
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0, (name, result)
