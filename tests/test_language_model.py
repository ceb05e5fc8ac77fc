"""Language model: step function against the whole-sequence layers, training
on the Lee corpus beats a unigram baseline, generation with every strategy,
XLA, and the exported generation signature (SavedModel, builtin-op TFLite)."""
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_rnnx import decoding
from keras_rnnx.models.language_model import (
    BOS, EOS, LanguageModel, Vocabulary, export_generator, generation_function, load_corpus,
    make_training_arrays, perplexity, train_language_model, unigram_perplexity,
)


# ---------------------------------------------------------------- vocabulary
def test_vocabulary_char_and_word(tmp_path):
    v = Vocabulary.build(["abba", "cab"], level="char")
    assert v.encode("cab") == [BOS, 6, 4, 5]
    assert v.encode("cab", add_bos=False, add_eos=True) == [6, 4, 5, EOS]
    assert v.decode([BOS, 6, 4, 5, EOS, 4]) == "cab"
    assert v.encode("z", add_bos=False) == [3]  # unknown
    w = Vocabulary.build(["the cat sat", "the dog"], level="word", min_count=1)
    assert w.decode(w.encode("the dog sat")) == "the dog sat"
    assert w.tokens[4] == "the"  # most frequent first
    w.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json").tokens == w.tokens
    with pytest.raises(ValueError, match="level"):
        Vocabulary(["a"], level="byte")
    with pytest.raises(ValueError, match="reserved"):
        Vocabulary(["<s>"], level="char")


def test_training_arrays_shift_and_pad():
    v = Vocabulary.build(["abc"], level="char")
    x, y = make_training_arrays(v, ["abc"], seq_len=3)
    # <s> a b c </s> -> windows of 3 inputs with next-token targets
    assert x.tolist() == [[BOS, 4, 5], [6, 0, 0]]
    assert y.tolist() == [[4, 5, 6], [EOS, 0, 0]]


# ---------------------------------------------------------------- step math
@pytest.mark.parametrize("cell_type", ["lstm", "gru"])
def test_step_matches_whole_sequence_layers(cell_type):
    lm = LanguageModel(13, embedding_dim=6, units=10, num_layers=2, cell_type=cell_type)
    ids = np.array([[1, 5, 6, 7, 8, 9], [1, 9, 4, 12, 0, 0]], np.int32)
    ref = tf.nn.log_softmax(lm(ids)).numpy()
    step_fn = lm.step_fn()
    state = lm.initial_state(2)
    for t in range(4):
        log_probs, state = step_fn(ids[:, t], state)
        np.testing.assert_allclose(log_probs, ref[:, t], atol=1e-5)
    # priming a right-padded prompt: the state after all but the last token
    state, last = lm.prime(ids)
    assert last.numpy().tolist() == [9, 12]
    log_probs, _ = step_fn(last, state)
    np.testing.assert_allclose(log_probs[0], ref[0, 5], atol=1e-5)
    np.testing.assert_allclose(log_probs[1], ref[1, 3], atol=1e-5)


@pytest.mark.parametrize("cell_type", ["lstm", "gru"])
def test_generate_under_mixed_precision(cell_type):
    """The step calls the layers' own cells, so it follows their dtype policy
    (the weight-tensor step it replaced mixed float32 weights with float16
    states and failed)."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        lm = LanguageModel(11, embedding_dim=6, units=12, cell_type=cell_type)
        seqs, scores = lm.generate(np.array([[1, 5, 6]], np.int32), "beam", 4)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert seqs.shape == (1, 1, 4) and scores.dtype == tf.float32


def test_prompts_of_different_lengths_are_independent():
    lm = LanguageModel(11, embedding_dim=6, units=12)
    prompts = np.array([[1, 5, 6, 7], [1, 8, 0, 0], [1, 0, 0, 0]], np.int32)
    beam = decoding.BeamSearch(3, 0.5, 2)
    seqs, scores = lm.generate(prompts, beam, 7)
    for i, n in enumerate([4, 2, 1]):
        s1, sc1 = lm.generate(prompts[i:i + 1, :n], beam, 7)
        np.testing.assert_array_equal(s1[0], seqs[i])
        np.testing.assert_allclose(sc1[0], scores[i], rtol=1e-5, atol=1e-5)
    xla = tf.function(lambda p: lm.generate(p, beam, 7), jit_compile=True)
    xs, xsc = xla(prompts)
    np.testing.assert_array_equal(xs, seqs)
    np.testing.assert_allclose(xsc, scores, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("strategy,r", [
    (None, 1), ("greedy", 1), ("beam", 1), ("sample", 1),
    ({"class_name": "beam", "config": {"beam_width": 3, "num_return": 2}}, 2),
    (decoding.RandomSampler(seed=2, num_return=3), 3),
])
def test_generate_returns_batch_by_num_return(strategy, r):
    lm = LanguageModel(11, embedding_dim=6, units=12)
    prompts = np.array([[1, 5, 6], [1, 8, 0]], np.int32)
    seqs, scores = lm.generate(prompts, strategy, 5)
    assert seqs.shape == (2, r, 5) and scores.shape == (2, r)
    if strategy not in (None, "sample") and not isinstance(strategy, dict):  # deterministic
        out = generation_function(lm, strategy, 5)(tf.constant(prompts))
        np.testing.assert_array_equal(out["sequences"], seqs)


def test_bad_input():
    with pytest.raises(ValueError, match="cell_type"):
        LanguageModel(10, cell_type="rnn")
    with pytest.raises(ValueError, match="units"):
        LanguageModel(10, units=0)
    with pytest.raises(ValueError, match="`vocabulary` must have at least 5 ids"):
        LanguageModel(2)
    with pytest.raises(ValueError, match="`vocabulary` must have the language model's specials"):
        LanguageModel(Vocabulary(["a", "b", "c"]))
    with pytest.raises(ValueError, match="`vocabulary` must be a Vocabulary"):
        LanguageModel(["a", "b"])
    with pytest.raises(ValueError, match="dropout"):
        LanguageModel(10, dropout=1.0)
    lm = LanguageModel(10, embedding_dim=4, units=4)
    with pytest.raises(ValueError, match="prompt_ids"):
        lm.prime(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="format"):
        export_generator(lm, "/tmp/x", format="onnx")
    with pytest.raises(ValueError, match="path"):
        load_corpus("/nonexistent/corpus.txt")


def test_language_model_is_a_functional_keras_model(tmp_path):
    """One functional graph (embedding -> recurrent layers -> logits) that
    Keras' `fit` trains without an explicit `compile()`; the same weights as
    Keras' `LSTM` run over the embedded ids (copied weights); the config
    holds the vocabulary and `.keras` round-trips it with the optimizer."""
    vocab = Vocabulary.build(["abcab", "bca cab"], level="char")
    keras.utils.set_random_seed(2)
    lm = LanguageModel(vocab, embedding_dim=5, units=6)
    assert isinstance(lm, keras.Model) and lm.vocabulary_size == len(vocab) == 8
    assert keras.saving.get_registered_name(LanguageModel) == "keras_rnnx>LanguageModel"
    assert [layer.name for layer in lm.layers] == ["token_ids", "embedding", "lstm_0",
                                                   "dropout_0", "logits"]
    ids = np.array([vocab.encode("abc", add_eos=True), vocab.encode("ba") + [0, 0]], np.int32)
    # reference: Keras' own layers with the same weights, mask from padding
    emb = lm.embedding(ids)
    ref_lstm = keras.layers.LSTM(6, return_sequences=True)
    ref_lstm.build((None, None, 5))
    ref_lstm.set_weights(lm.rnns[0].get_weights())
    ref = lm.head(ref_lstm(emb, mask=ids != 0))
    got = lm(ids)
    real = ids != 0
    np.testing.assert_allclose(np.asarray(got)[real], np.asarray(ref)[real], atol=1e-5)
    history = lm.fit(ids[:, :-1], ids[:, 1:], epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and int(lm.optimizer.iterations) == 2
    path = lm.save(str(tmp_path / "lm.keras"))
    loaded = keras.saving.load_model(path)
    assert loaded.get_config()["vocabulary"] == vocab.get_config()
    assert int(loaded.optimizer.iterations) == 2
    np.testing.assert_allclose(loaded.predict(ids, verbose=0), lm(ids), atol=1e-6)
    with pytest.raises(ValueError, match="filepath"):
        lm.save(path)


# ---------------------------------------------------------------- trained model
@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    docs = load_corpus()
    train, held = docs[:70], docs[280:]
    model, vocab, history = train_language_model(
        train, units=96, embedding_dim=32, epochs=3, batch_size=32,
        learning_rate=1e-2, verbose=0, seq_len=64)
    return model, vocab, history, train, held


@pytest.mark.slow
def test_training_beats_unigram_baseline(trained):
    model, vocab, history, train, held = trained
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    _, y_train = make_training_arrays(vocab, train, 64)
    x_held, y_held = make_training_arrays(vocab, held, 64)
    ppl = perplexity(model, x_held, y_held)
    baseline = unigram_perplexity(y_train, y_held, len(vocab))
    assert baseline > 15  # English characters
    assert ppl < 0.6 * baseline, (ppl, baseline)


@pytest.mark.slow
def test_generation_strategies_and_keras_round_trip(trained, tmp_path):
    model, vocab, *_ = trained
    prompt = np.array([vocab.encode("The fire")], np.int32)
    g_seq, g_score = model.generate(prompt, decoding.GreedySearch(), 30)
    b_seq, b_score = model.generate(prompt, decoding.BeamSearch(4, 0.0, 2), 30)
    s_seq, _ = model.generate(np.repeat(prompt, 4, 0), decoding.RandomSampler(1.0, seed=1), 30)
    assert g_seq.shape == (1, 1, 30) and g_score.shape == (1, 1)
    text = vocab.decode(g_seq[0, 0])
    assert len(text) > 5 and set(text) <= set(vocab.tokens)
    # the greedy path is one of the hypotheses a beam of 4 considers: its best
    # finished hypothesis scores at least as well on this model
    assert b_score[0, 0] >= g_score[0, 0] - 1e-4
    assert b_score[0, 0] >= b_score[0, 1]
    samples = {vocab.decode(s) for s in s_seq[:, 0].numpy()}
    assert len(samples) > 1  # sampling varies across rows
    # .keras round trip keeps the generation
    path = tmp_path / "lm.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is LanguageModel and loaded.get_config() == model.get_config()
    assert loaded.vocabulary.get_config() == vocab.get_config()
    np.testing.assert_array_equal(loaded.generate(prompt, decoding.GreedySearch(), 30)[0], g_seq)
    np.testing.assert_array_equal(loaded.generate(prompt, decoding.BeamSearch(4, 0.0, 2), 30)[0],
                                  b_seq)


@pytest.mark.slow
def test_export_saved_model_and_tflite(trained, tmp_path):
    model, vocab, *_ = trained
    beam = decoding.BeamSearch(3, 0.6, 2)
    prompts = np.zeros([2, 9], np.int32)
    for i, text in enumerate(["The fire", "Police"]):
        ids = vocab.encode(text)
        prompts[i, :len(ids)] = ids
    want_seq, want_score = model.generate(prompts, beam, 12)

    sm = export_generator(model, str(tmp_path / "gen"), beam, 12)
    np.save(tmp_path / "prompts.npy", prompts)
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        m = tf.saved_model.load({sm!r})
        assert set(m.signatures) == {{"serving_default", "generate"}}, list(m.signatures)
        out = m.signatures["generate"](prompt_ids=tf.constant(np.load({str(tmp_path / 'prompts.npy')!r})))
        np.save({str(tmp_path / 'seq.npy')!r}, out["sequences"].numpy())
        np.save({str(tmp_path / 'score.npy')!r}, out["scores"].numpy())
        import sys; assert "keras_rnnx" not in sys.modules
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)
    np.testing.assert_array_equal(np.load(tmp_path / "seq.npy"), want_seq)
    np.testing.assert_allclose(np.load(tmp_path / "score.npy"), want_score, rtol=1e-4, atol=1e-4)

    tfl = export_generator(model, str(tmp_path / "gen.tflite"), beam, 12, format="tflite")
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=tfl).get_signature_runner("generate")
    for batch in (prompts, prompts[:1, :4]):  # dynamic batch and prompt length
        out = runner(prompt_ids=batch)
        ref_seq, ref_score = model.generate(batch, beam, 12)
        np.testing.assert_array_equal(out["sequences"], ref_seq)
        np.testing.assert_allclose(out["scores"], ref_score, rtol=1e-4, atol=1e-4)
    ops = _tflite_ops(tfl)
    assert not any("Flex" in op or op == "CUSTOM" for op in ops), ops
    assert "WHILE" in ops and "TOPK_V2" in ops
    with pytest.raises(Exception, match="exists"):
        export_generator(model, tfl, beam, 12, format="tflite")


def _tflite_ops(path):
    from tensorflow.lite.python import schema_py_generated as schema

    with open(path, "rb") as f:
        m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(f.read(), 0))
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    out = set()
    for code in m.operatorCodes:
        op = max(code.builtinCode, code.deprecatedBuiltinCode)
        name = names.get(op, str(op))
        out.add(code.customCode.decode() if name == "CUSTOM" and code.customCode else name)
    return out


@pytest.mark.slow
def test_generate_command_trains_saves_and_samples(tmp_path, capsys):
    from keras_rnnx import cli

    text = tmp_path / "corpus.txt"
    text.write_text("the cat sat on the mat.\nthe dog sat on the log.\n" * 20)
    model = str(tmp_path / "lm.keras")
    assert cli.main(["generate", "--text", str(text), "--epochs", "1", "--units", "16",
                     "--embedding-dim", "8", "--seq-len", "16", "--save", model,
                     "--strategy", "greedy", "--max-length", "10", "--prompt", "the"]) == 0
    assert os.path.isfile(model) and not os.path.exists(model + ".vocab.json")
    assert not os.path.exists(str(tmp_path / "lm_backup"))  # training backup removed on success
    assert cli.main(["generate", "--model", model, "--strategy", "beam", "--beam-width", "3",
                     "--num-return", "2", "--max-length", "8", "--prompt", "the c"]) == 0
    out = capsys.readouterr().out
    assert "held-out perplexity" in out and out.count(">>> the c") == 1
    assert out.split(">>> the c")[1].count("\n[") == 2  # --num-return 2: two lines
    assert cli.main(["generate", "--model", model, "--strategy", "sample", "--seed", "1",
                     "--num-return", "3", "--max-length", "6", "--prompt", "the",
                     "--prompt", "a"]) == 0
    out = capsys.readouterr().out
    assert out.split(">>> a")[0].count("\n[") == 3 and out.split(">>> a")[1].count("\n[") == 3
    assert cli.main(["generate", "--model", model, "--num-return", "0"]) == 2
    assert "num-return" in capsys.readouterr().err
    assert cli.main(["generate", "--text", str(tmp_path / "missing.txt")]) == 2
    assert "--text" in capsys.readouterr().err
