"""Decoding: beam search against brute force and a float64 reference; greedy,
sampling; tf.function, XLA, dynamic batch, SavedModel and builtin-op TFLite."""
import itertools

import numpy as np
import pytest
import tensorflow as tf

from keras_rnnx import decoding
from keras_rnnx.decoding import (
    BeamSearch, GreedySearch, RandomSampler, beam_search, greedy_search, sample,
)


# ---------------------------------------------------------------- helpers

def builtin_tflite_runner(function, module):
    """The signature runner of `function` (a tf.function of `module`)
    converted with builtin TFLite ops only, in LiteRT's interpreter."""
    from ai_edge_litert.interpreter import Interpreter

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [function.get_concrete_function()], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return Interpreter(model_content=converter.convert()).get_signature_runner()


def random_table(vocab, seed, peaked=1.5):
    """[V, V] next-token log-probabilities conditioned on the last token."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(vocab, vocab)) * peaked
    logits -= logits.max(axis=1, keepdims=True)
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def table_step(table):
    t = tf.constant(table, tf.float32)

    def step_fn(tokens, state):
        return tf.gather(t, tokens), state + 1.0

    return step_fn


def lp(length, alpha):
    return ((5.0 + length) / 6.0) ** alpha


def brute_force(table, start, end, max_length, alpha):
    """Every finished hypothesis with its score (float64), best first."""
    vocab = table.shape[0]
    others = [v for v in range(vocab) if v != end]
    seqs = [p + (end,) for n in range(max_length) for p in itertools.product(others, repeat=n)]
    seqs += list(itertools.product(others, repeat=max_length))  # finished by max_length
    hyps = []
    for seq in seqs:
        prev, total = start, 0.0
        for tok in seq:
            total += table[prev, tok]
            prev = tok
        hyps.append((total / lp(len(seq), alpha), seq))
    hyps.sort(key=lambda h: -h[0])
    return hyps


def reference_beam(table, start, end, beam, max_length, alpha, num_return):
    """Float64 Python beam search with the documented semantics: equal
    scores rank by lower beam, then lower token."""
    vocab = table.shape[0]
    beams = [((), 0.0, 0.0, False, start)]  # seq, cum, score, finished, last
    finished = []
    for t in range(max_length):
        cands = []
        for slot, (seq, cum, score, fin, last) in enumerate(beams):
            if fin:
                cands.append((score, seq + (end,), cum, True, True, end))
                continue
            for v in range(vocab):
                c = cum + table[last, v]
                cands.append((c / lp(t + 1, alpha), seq + (v,), c, v == end, False, v))
            if t == 0:
                break  # all beams are identical at the start
        cands.sort(key=lambda c: -c[0])  # stable: ties keep lower (beam, token) first
        beams = []
        for score, seq, cum, fin, was_fin, last in cands[:beam]:
            if fin and not was_fin:
                finished.append((score, seq))
            beams.append((seq, cum, score, fin, last))
        if all(b[3] for b in beams):
            break
    finished += [(b[2], b[0]) for b in beams if not b[3]]
    finished.sort(key=lambda h: -h[0])
    return finished[:num_return]


def pad(seq, end, max_length):
    return list(seq) + [end] * (max_length - len(seq))


def run_beam(table, start, end, beam, max_length, alpha, num_return, batch=1):
    state = tf.zeros([batch, 1])
    seqs, scores = beam_search(table_step(table), state, start, end, beam, max_length,
                               alpha, num_return)
    return seqs.numpy(), scores.numpy()


# ---------------------------------------------------------------- exactness
@pytest.mark.parametrize("vocab,alpha,end", [(5, 0.0, 0), (5, 1.0, 2), (6, 0.0, 4), (6, 0.6, 1)])
def test_wide_beam_equals_brute_force(vocab, alpha, end):
    max_length, num_return = 4, 6
    table = random_table(vocab, seed=vocab * 10 + end)
    start = (end + 1) % vocab
    truth = brute_force(table, start, end, max_length, alpha)
    # live hypotheses never exceed the number of finished ones: nothing is pruned
    seqs, scores = run_beam(table, start, end, len(truth), max_length, alpha, num_return)
    np.testing.assert_allclose(scores[0], [h[0] for h in truth[:num_return]], rtol=1e-5)
    # sequences: distinct, each with its own brute-force score (the table can
    # give permutations of one path equal scores, so ties are compared by score)
    by_seq = {pad(h[1], end, max_length).__repr__(): h[0] for h in truth}
    got = [repr(row) for row in seqs[0].tolist()]
    assert len(set(got)) == num_return
    np.testing.assert_allclose([by_seq[g] for g in got], scores[0], rtol=1e-5)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("beam,alpha", [(2, 0.0), (3, 1.0), (4, 0.0), (3, 2.0)])
def test_narrow_beam_equals_float64_reference(seed, beam, alpha):
    vocab, max_length, num_return = 6, 5, 2
    table = random_table(vocab, seed=seed, peaked=1.0)
    end = seed % vocab
    start = (end + 2) % vocab
    ref = reference_beam(table, start, end, beam, max_length, alpha, num_return)
    seqs, scores = run_beam(table, start, end, beam, max_length, alpha, num_return)
    np.testing.assert_allclose(scores[0], [h[0] for h in ref], rtol=1e-5)
    assert seqs[0].tolist() == [pad(h[1], end, max_length) for h in ref]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("beam", [7, 20])
@pytest.mark.parametrize("alpha", [0.0, 1.5])
def test_beam_wider_than_vocabulary(seed, beam, alpha):
    # K > V: fewer finite candidates than beams at the first steps, and the
    # most likely first token is end_id, so a finished beam sits in slot 0
    vocab, max_length = 4, 4
    table = random_table(vocab, seed=100 + seed, peaked=1.0)
    start = 1
    end = int(np.argmax(table[start]))
    # every returned hypothesis (num_return = beam) must match the reference
    ref = reference_beam(table, start, end, beam, max_length, alpha, beam)
    seqs, scores = run_beam(table, start, end, beam, max_length, alpha, beam)
    n = len(ref)
    assert n >= 5
    np.testing.assert_allclose(scores[0, :n], [h[0] for h in ref], rtol=1e-5)
    assert np.all(np.isneginf(scores[0, n:]))
    by_seq = {repr(pad(h[1], end, max_length)): h[0] for h in
              brute_force(table, start, end, max_length, alpha)}
    got = [repr(row) for row in seqs[0, :n].tolist()]
    assert len(set(got)) == n
    np.testing.assert_allclose([by_seq[g] for g in got], scores[0, :n], rtol=1e-5)


def test_finished_hypothesis_evicted_from_beam_is_still_returned():
    # From start 3, "end" (0.25) enters the beam next to token 1 (0.65); token
    # 1 then has two children at 0.325 each that evict the finished hypothesis
    # from a beam of width 2, and all their continuations fall below 0.25.
    tiny = 1e-9
    probs = np.array([
        [1.0, tiny, tiny, tiny],   # after end (unused: finished beams are frozen)
        [tiny, tiny, 0.5, 0.5],    # after 1
        [0.3, 0.3, 0.3, 0.1],      # after 2
        [0.25, 0.65, 0.1, tiny],   # after 3 (the start token)
    ])
    table = np.log(probs / probs.sum(axis=1, keepdims=True))
    seqs, scores = run_beam(table, 3, 0, beam=2, max_length=3, alpha=0.0, num_return=1)
    assert seqs[0, 0].tolist() == [0, 0, 0]
    np.testing.assert_allclose(scores[0, 0], table[3, 0], rtol=1e-6)
    ref = reference_beam(table, 3, 0, 2, 3, 0.0, 2)
    seqs, scores = run_beam(table, 3, 0, beam=2, max_length=3, alpha=0.0, num_return=2)
    assert seqs[0].tolist() == [pad(h[1], 0, 3) for h in ref]
    assert scores[0, 1] < table[3, 0] - 0.1  # what a plain beam would return first


def large_table(vocab, end, seed, halves=False):
    """[V, V] log-probabilities with a likely end token; `halves`: every entry
    a multiple of 1/2 (float32 sums exact, so equal scores tie exactly)."""
    table = random_table(vocab, seed=seed, peaked=2.0)
    table[:, end] += 5.0
    table -= np.log(np.exp(table).sum(axis=1, keepdims=True))
    return np.round(table * 2) / 2 if halves else table


@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("xla", [False, True])
@pytest.mark.parametrize("vocab", [600, 601])
def test_large_vocabulary_equals_float64_reference(alpha, xla, vocab):
    # beam x vocabulary >= 2048 candidates: the top k goes through the
    # maxima of chunks of consecutive tokens of each beam's row (600 = 10
    # chunks of 60 tokens; 601, a prime, is padded to 10 chunks of 64)
    beam, max_length, num_return, end, start = 4, 5, 3, 7, 11
    table = large_table(vocab, end, seed=5)
    ref = reference_beam(table, start, end, beam, max_length, alpha, num_return)
    assert any(h[1][-1] == end for h in ref)  # some hypotheses finish early
    fn = lambda s: beam_search(table_step(table), s, start, end, beam,  # noqa: E731
                               max_length, alpha, num_return)
    if xla:
        fn = tf.function(fn, jit_compile=True)
    seqs, scores = fn(tf.zeros([2, 1]))
    for row in range(2):
        np.testing.assert_allclose(scores[row], [h[0] for h in ref], rtol=1e-5)
        assert seqs[row].numpy().tolist() == [pad(h[1], end, max_length) for h in ref]


@pytest.mark.parametrize("seed,vocab", [(0, 600), (1, 600), (2, 600), (4, 601)])
def test_large_vocabulary_ties_rank_as_a_full_top_k(seed, vocab):
    # many exactly equal scores: through the chunk maxima, candidates of
    # equal score still rank by lower beam, then lower token
    beam, max_length, num_return, end, start = 4, 5, 4, 3, 0
    table = large_table(vocab, end, seed=seed, halves=True)
    assert len(np.unique(table[start])) < vocab // 10
    ref = reference_beam(table, start, end, beam, max_length, 0.0, num_return)
    seqs, scores = run_beam(table, start, end, beam, max_length, 0.0, num_return)
    np.testing.assert_array_equal(scores[0], [h[0] for h in ref])
    assert seqs[0].tolist() == [pad(h[1], end, max_length) for h in ref]


@pytest.mark.parametrize("xla", [False, True])
def test_large_vocabulary_with_few_possible_tokens(xla):
    # every row allows 3 tokens (the rest at log-probability -inf), so the
    # 4 beams of the chunked path meet fewer than 4 finite candidates at
    # the first steps: the finite hypotheses are still exactly the
    # reference's and nothing -inf or padded leaks into them
    vocab, beam, max_length, num_return, end, start = 601, 4, 4, 3, 5, 0
    rng = np.random.default_rng(7)
    table = np.full((vocab, vocab), -np.inf)
    for row in range(vocab):
        allowed = rng.choice(vocab, 3, replace=False)
        allowed[0] = end if row % 2 else allowed[0]
        logits = rng.normal(size=3)
        table[row, allowed] = logits - np.log(np.exp(logits).sum())
    ref = reference_beam(table, start, end, beam, max_length, 0.0, num_return)
    assert np.isfinite([h[0] for h in ref]).all()
    fn = lambda s: beam_search(table_step(table), s, start, end, beam,  # noqa: E731
                               max_length, 0.0, num_return)
    if xla:
        fn = tf.function(fn, jit_compile=True)
    seqs, scores = fn(tf.zeros([1, 1]))
    np.testing.assert_allclose(scores[0], [h[0] for h in ref], rtol=1e-5)
    assert seqs[0].numpy().tolist() == [pad(h[1], end, max_length) for h in ref]


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_beam_width_one_is_greedy(alpha):
    vocab, max_length = 7, 6
    for seed in range(4):
        table = random_table(vocab, seed=seed)
        state = tf.zeros([3, 2])
        start = tf.constant([1, 2, 3])
        b_seq, b_score = beam_search(table_step(table), state, start, 0, 1, max_length, alpha)
        g_seq, g_score = greedy_search(table_step(table), state, start, 0, max_length)
        np.testing.assert_array_equal(b_seq, g_seq)
        if alpha == 0.0:
            np.testing.assert_allclose(b_score, g_score, rtol=1e-6)


def test_greedy_against_numpy():
    table = random_table(6, seed=3)
    seqs, scores = greedy_search(table_step(table), tf.zeros([1, 1]), 2, 5, 6)
    prev, total, want = 2, 0.0, []
    for _ in range(6):
        tok = int(np.argmax(table[prev]))
        want.append(tok)
        total += table[prev, tok]
        prev = tok
        if tok == 5:
            break
    assert seqs[0, 0].numpy().tolist() == pad(want, 5, 6)
    np.testing.assert_allclose(scores[0, 0], total, rtol=1e-6)


# ---------------------------------------------------------------- batching
def rnn_step(vocab=11, units=8, seed=0):
    rng = np.random.default_rng(seed)
    emb = tf.constant(rng.normal(size=(vocab, units)), tf.float32)
    w = tf.constant(rng.normal(size=(units, units)) * 0.7, tf.float32)
    out = tf.constant(rng.normal(size=(units, vocab)) * 2, tf.float32)

    def step_fn(tokens, state):
        h = tf.tanh(tf.gather(emb, tokens) + tf.matmul(state["h"], w))
        return tf.nn.log_softmax(tf.matmul(h, out)), {"h": h}

    return step_fn


def test_batch_independence_and_dynamic_batch():
    step_fn = rnn_step()
    h0 = tf.constant(np.random.default_rng(1).normal(size=(5, 8)), tf.float32)
    start = tf.constant([1, 2, 3, 4, 5])

    @tf.function(input_signature=[tf.TensorSpec([None, 8]), tf.TensorSpec([None], tf.int32)])
    def decode(h, s):
        return beam_search(step_fn, {"h": h}, s, 0, 4, 7, 0.8, 3)

    seqs, scores = decode(h0, start)
    assert seqs.shape == (5, 3, 7) and scores.shape == (5, 3)
    assert np.all(np.diff(scores.numpy(), axis=1) <= 1e-6)  # best first
    for i in range(5):
        s1, sc1 = decode(h0[i:i + 1], start[i:i + 1])
        np.testing.assert_array_equal(s1[0], seqs[i])
        np.testing.assert_allclose(sc1[0], scores[i], rtol=1e-5, atol=1e-5)
    # traced at a static batch of 1 (no input signature) it agrees too
    static = tf.function(lambda h, s: beam_search(step_fn, {"h": h}, s, 0, 4, 7, 0.8, 3))
    s1, sc1 = static(h0[:1], start[:1])
    np.testing.assert_array_equal(s1[0], seqs[0])
    np.testing.assert_allclose(sc1[0], scores[0], rtol=1e-5, atol=1e-5)
    # padding after the end token is end_id, every finished row holds end_id
    for row in seqs.numpy().reshape(-1, 7):
        ends = np.flatnonzero(row == 0)
        if ends.size:
            assert np.all(row[ends[0]:] == 0)


def test_xla_matches_eager():
    step_fn = rnn_step(seed=2)
    h0 = tf.constant(np.random.default_rng(2).normal(size=(3, 8)), tf.float32)
    eager = beam_search(step_fn, {"h": h0}, 1, 0, 3, 6, 1.0, 2)
    xla = tf.function(lambda h: beam_search(step_fn, {"h": h}, 1, 0, 3, 6, 1.0, 2),
                      jit_compile=True,
                      input_signature=[tf.TensorSpec([None, 8])])(h0)
    np.testing.assert_array_equal(eager[0], xla[0])
    np.testing.assert_allclose(eager[1], xla[1], rtol=1e-5, atol=1e-5)
    g_eager = greedy_search(step_fn, {"h": h0}, 1, 0, 6)
    g_xla = tf.function(lambda h: greedy_search(step_fn, {"h": h}, 1, 0, 6),
                        jit_compile=True)(h0)
    np.testing.assert_array_equal(g_eager[0], g_xla[0])
    # sampling: tf.function reproduces eager draws; XLA uses its own random
    # bit generator, so it is checked for determinism and validity instead
    s_eager = sample(step_fn, {"h": h0}, 1, 0, 6, seed=7)
    s_graph = tf.function(lambda h: sample(step_fn, {"h": h}, 1, 0, 6, seed=7))(h0)
    np.testing.assert_array_equal(s_eager[0], s_graph[0])
    xla_sample = tf.function(lambda h: sample(step_fn, {"h": h}, 1, 0, 6, top_k=3, seed=7),
                             jit_compile=True)
    s1, s2 = xla_sample(h0), xla_sample(h0)
    np.testing.assert_array_equal(s1[0], s2[0])
    assert s1[0].shape == (3, 1, 6) and np.all((s1[0].numpy() >= 0) & (s1[0].numpy() < 11))


# ---------------------------------------------------------------- sampling
def test_sampling_matches_distribution():
    table = random_table(5, seed=4, peaked=0.8)
    n = 4000
    seqs, scores = sample(table_step(table), tf.zeros([n, 1]), 2, 4, 1, seed=3)
    counts = np.bincount(seqs[:, 0, 0].numpy(), minlength=5) / n
    np.testing.assert_allclose(counts, np.exp(table[2]), atol=0.03)
    np.testing.assert_allclose(scores[:, 0].numpy(), table[2][seqs[:, 0, 0].numpy()], rtol=1e-6)
    # temperature sharpens: p**(1/T) renormalised
    seqs, _ = sample(table_step(table), tf.zeros([n, 1]), 2, 4, 1, temperature=0.5, seed=4)
    sharp = np.exp(2 * table[2]) / np.exp(2 * table[2]).sum()
    counts = np.bincount(seqs[:, 0, 0].numpy(), minlength=5) / n
    np.testing.assert_allclose(counts, sharp, atol=0.03)


def test_sampling_top_k_and_seed():
    table = random_table(6, seed=5)
    state = tf.zeros([300, 1])
    a, _ = sample(table_step(table), state, 1, 0, 5, top_k=1, seed=1)
    g, _ = greedy_search(table_step(table), state, 1, 0, 5)
    np.testing.assert_array_equal(a, g)
    seqs, _ = sample(table_step(table), state, 1, 0, 1, top_k=2, seed=2)
    allowed = set(np.argsort(-table[1])[:2].tolist())
    assert set(seqs[:, 0, 0].numpy().tolist()) == allowed
    s1, _ = sample(table_step(table), state, 1, 0, 5, seed=9)
    s2, _ = sample(table_step(table), state, 1, 0, 5, seed=9)
    np.testing.assert_array_equal(s1, s2)


def test_strategy_objects():
    table = random_table(6, seed=6)
    state = tf.zeros([2, 1])
    seqs, scores = BeamSearch(3, 0.5, 2)(table_step(table), state, 1, 0, 4)
    ref = beam_search(table_step(table), state, 1, 0, 3, 4, 0.5, 2)
    np.testing.assert_array_equal(seqs, ref[0])
    g = GreedySearch()(table_step(table), state, 1, 0, 4)
    np.testing.assert_array_equal(g[0], greedy_search(table_step(table), state, 1, 0, 4)[0])
    r = RandomSampler(top_k=1)(table_step(table), state, 1, 0, 4)
    np.testing.assert_array_equal(r[0], g[0])
    assert "beam_width=3" in repr(BeamSearch(3, 0.5, 2))


# ---------------------------------------------------------------- strategy contract
STRATEGIES = [
    GreedySearch(),
    BeamSearch(),
    BeamSearch(5, 0.6, 3),
    RandomSampler(),
    RandomSampler(0.7, top_k=3, seed=4, num_return=4),
]


@pytest.mark.parametrize("strategy", STRATEGIES, ids=repr)
def test_every_strategy_returns_batch_by_num_return(strategy):
    step_fn = rnn_step(seed=4)
    h0 = tf.constant(np.random.default_rng(4).normal(size=(3, 8)), tf.float32)
    seqs, scores = strategy(step_fn, {"h": h0}, 1, 0, 6)
    r = strategy.num_return
    assert seqs.dtype == tf.int32 and scores.dtype == tf.float32
    assert seqs.shape == (3, r, 6) and scores.shape == (3, r)
    assert np.all(np.diff(scores.numpy(), axis=1) <= 1e-6)  # best first
    # under tf.function with an unknown batch the static shape keeps R and L
    fn = tf.function(lambda h: strategy(step_fn, {"h": h}, 1, 0, 6),
                     input_signature=[tf.TensorSpec([None, 8])])
    out = fn.get_concrete_function().structured_outputs
    assert out[0].shape.as_list() == [None, r, 6] and out[1].shape.as_list() == [None, r]


@pytest.mark.parametrize("strategy", STRATEGIES, ids=repr)
def test_get_serialize_from_config_round_trips(strategy):
    import json

    config = decoding.serialize(strategy)
    assert config == {"class_name": type(strategy).__name__, "config": strategy.get_config()}
    back = decoding.get(json.loads(json.dumps(config)))  # JSON-serializable
    assert type(back) is type(strategy) and back.get_config() == strategy.get_config()
    assert back == strategy
    assert type(strategy).from_config(strategy.get_config()) == strategy
    assert decoding.get(strategy) is strategy
    # Keras' own serialization finds the registered classes
    import keras

    assert keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(strategy)) == strategy
    assert decoding.get(keras.saving.serialize_keras_object(strategy)) == strategy


def test_get_by_name_and_by_short_class_name():
    assert decoding.get("greedy") == GreedySearch()
    assert decoding.get("beam") == BeamSearch()
    assert decoding.get("sample") == RandomSampler()
    assert decoding.get("BeamSearch") == BeamSearch()
    assert decoding.get({"class_name": "beam", "config": {"beam_width": 2}}) == BeamSearch(2)
    assert decoding.get({"class_name": "greedy"}) == GreedySearch()
    with pytest.raises(ValueError, match="unknown decoding strategy 'top_p'"):
        decoding.get("top_p")
    with pytest.raises(TypeError, match="decoding strategy"):
        decoding.get(4)
    with pytest.raises(ValueError, match="class_name"):
        decoding.get({"beam_width": 4})
    with pytest.raises(TypeError, match="DecodingStrategy"):
        decoding.serialize("beam")
    with pytest.raises(ValueError, match="num_return"):
        decoding.get({"class_name": "beam", "config": {"beam_width": 2, "num_return": 3}})


def test_a_new_strategy_registers_by_defining_it():
    class TwiceGreedy(decoding.DecodingStrategy):
        name = "twice_greedy"
        num_return = 2

        def decode(self, step_fn, initial_state, start_id, end_id, max_length):
            seqs, scores = GreedySearch()(step_fn, initial_state, start_id, end_id, max_length)
            return tf.concat([seqs, seqs], 1), tf.concat([scores, scores], 1)

    assert isinstance(decoding.get("twice_greedy"), TwiceGreedy)
    assert decoding.get(decoding.serialize(TwiceGreedy())) == TwiceGreedy()
    seqs, scores = decoding.get("twice_greedy")(table_step(random_table(5, 1)),
                                                tf.zeros([3, 1]), 1, 0, 4)
    assert seqs.shape == (3, 2, 4) and scores.shape == (3, 2)


def test_functions_equal_their_strategies():
    table = random_table(6, seed=8)
    state = tf.zeros([4, 1])
    step = table_step(table)
    pairs = [
        (beam_search(step, state, 1, 0, 3, 5, 0.5, 2), BeamSearch(3, 0.5, 2)),
        (greedy_search(step, state, 1, 0, 5), GreedySearch()),
        (sample(step, state, 1, 0, 5, 0.8, 4, 3, 2), RandomSampler(0.8, 4, 3, 2)),
    ]
    for (seqs, scores), strategy in pairs:
        s, sc = strategy(step, state, 1, 0, 5)
        np.testing.assert_array_equal(seqs, s)
        np.testing.assert_array_equal(scores, sc)


def test_sampling_num_return():
    table = random_table(6, seed=9, peaked=0.5)
    step = table_step(table)
    start = tf.constant([1, 2])
    seqs, scores = sample(step, tf.zeros([2, 1]), start, 0, 4, seed=3, num_return=50)
    assert seqs.shape == (2, 50, 4) and scores.shape == (2, 50)
    assert np.all(np.diff(scores.numpy(), axis=1) <= 0)  # best first
    for b, s in enumerate([1, 2]):
        assert len({tuple(r) for r in seqs[b].numpy().tolist()}) > 5  # draws differ
        for row, score in zip(seqs[b].numpy(), scores[b].numpy()):  # each from its start
            prev, total = s, 0.0
            for tok in row:
                total += table[prev, tok]
                prev = tok
                if tok == 0:
                    break
            np.testing.assert_allclose(score, total, rtol=1e-5)
    # one row drawn 50 times samples its first-token distribution
    seqs, _ = sample(step, tf.zeros([1, 1]), 2, 0, 1, seed=5, num_return=4000)
    counts = np.bincount(seqs[0, :, 0].numpy(), minlength=6) / 4000
    np.testing.assert_allclose(counts, np.exp(table[2]), atol=0.03)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs,match", [
    ({"beam_width": 0}, "beam_width"),
    ({"num_return": 5, "beam_width": 4}, "num_return"),
    ({"max_length": 0}, "max_length"),
    ({"end_id": 6}, "end_id"),
    ({"end_id": -1}, "end_id"),
    ({"start_id": -2}, "start_id"),
])
def test_beam_bad_input(kwargs, match):
    args = dict(beam_width=2, max_length=3, end_id=0, start_id=1, num_return=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        beam_search(table_step(random_table(6, 0)), tf.zeros([1, 1]), **args)


def test_greedy_and_sample_bad_input():
    step_fn = table_step(random_table(6, 0))
    with pytest.raises(ValueError, match="max_length"):
        greedy_search(step_fn, tf.zeros([1, 1]), 1, 0, 0)
    with pytest.raises(ValueError, match="end_id"):
        greedy_search(step_fn, tf.zeros([1, 1]), 1, 6, 3)
    with pytest.raises(ValueError, match="temperature"):
        sample(step_fn, tf.zeros([1, 1]), 1, 0, 3, temperature=0.0)
    with pytest.raises(ValueError, match="top_k"):
        sample(step_fn, tf.zeros([1, 1]), 1, 0, 3, top_k=0)
    with pytest.raises(TypeError, match="beam_width"):
        beam_search(step_fn, tf.zeros([1, 1]), 1, 0, 2.5, 3)
    with pytest.raises(ValueError, match="initial_state"):
        greedy_search(step_fn, {}, 1, 0, 3)
    with pytest.raises(ValueError, match="log_probs"):
        greedy_search(lambda t, s: (tf.zeros([1]), s), tf.zeros([1, 1]), 1, 0, 3)


# ---------------------------------------------------------------- export
def test_saved_model_and_builtin_tflite(tmp_path):
    step_fn = rnn_step(seed=3)  # weights are constants: nothing to freeze
    spec = [tf.TensorSpec([None, 8], tf.float32, name="h")]

    class Decoders(tf.Module):
        @tf.function(input_signature=spec)
        def beam(self, h):
            s, sc = beam_search(step_fn, {"h": h}, 1, 0, 3, 6, 0.6, 2)
            return {"sequences": s, "scores": sc}

        @tf.function(input_signature=spec)
        def greedy(self, h):
            s, sc = greedy_search(step_fn, {"h": h}, 1, 0, 6)
            return {"sequences": s, "scores": sc}

        @tf.function(input_signature=spec)
        def sample(self, h):
            s, sc = sample(step_fn, {"h": h}, 1, 0, 6, top_k=4, seed=5)
            return {"sequences": s, "scores": sc}

    module = Decoders()
    h = np.random.default_rng(3).normal(size=(4, 8)).astype("float32")
    sigs = {"beam": module.beam, "greedy": module.greedy, "sample": module.sample}
    path = str(tmp_path / "decoders")
    tf.saved_model.save(module, path, signatures={k: f.get_concrete_function() for k, f in sigs.items()})
    loaded = tf.saved_model.load(path)
    for name, fn in sigs.items():
        want, got = fn(h), loaded.signatures[name](h=tf.constant(h))
        np.testing.assert_array_equal(got["sequences"], want["sequences"])
        np.testing.assert_allclose(got["scores"], want["scores"], rtol=1e-5, atol=1e-5)

    for name in ("beam", "greedy"):  # seeded sampling has no builtin TFLite op
        runner = builtin_tflite_runner(sigs[name], module)
        for batch in (h, h[:1]):
            got, want = runner(h=batch), sigs[name](batch)
            np.testing.assert_array_equal(got["sequences"], want["sequences"])
            np.testing.assert_allclose(got["scores"], want["scores"], rtol=1e-5, atol=1e-5)


def test_large_vocabulary_beam_in_builtin_tflite():
    # 4 beams x 600 tokens (2,400 candidates): the chunked selection path, converted with builtin ops
    step_fn = rnn_step(vocab=600, seed=4)

    class Decoder(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="h")])
        def beam(self, h):
            s, sc = beam_search(step_fn, {"h": h}, 1, 0, 4, 5, 0.6, 2)
            return {"sequences": s, "scores": sc}

    module = Decoder()
    runner = builtin_tflite_runner(module.beam, module)
    h = np.random.default_rng(4).normal(size=(3, 8)).astype("float32")
    for batch in (h, h[:1]):
        got, want = runner(h=batch), module.beam(batch)
        np.testing.assert_array_equal(got["sequences"], want["sequences"])
        np.testing.assert_allclose(got["scores"], want["scores"], rtol=1e-5, atol=1e-5)


def test_unseeded_sampling_in_builtin_tflite():
    table = random_table(6, 0, peaked=0.3)
    step_fn = table_step(table)

    class Sampler(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="s")])
        def run(self, s):
            seqs, scores = sample(step_fn, s, 1, 0, 5, top_k=4)
            return {"sequences": seqs, "scores": scores}

    module = Sampler()
    runner = builtin_tflite_runner(module.run, module)
    out = runner(s=np.zeros([64, 1], np.float32))
    assert len({tuple(r) for r in out["sequences"][:, 0].tolist()}) > 5  # draws vary
    for row, score in zip(out["sequences"][:, 0], out["scores"][:, 0]):
        prev, total = 1, 0.0
        for tok in row:
            total += table[prev, tok]
            assert tok in np.argsort(-table[prev])[:4]  # top_k respected
            prev = tok
            if tok == 0:
                break
        np.testing.assert_allclose(score, total, rtol=1e-5)


def test_several_samples_per_row_in_builtin_tflite():
    step_fn = table_step(random_table(6, 1, peaked=0.3))

    class Sampler(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="s")])
        def run(self, s):
            seqs, scores = RandomSampler(top_k=4, num_return=3)(step_fn, s, 1, 0, 5)
            return {"sequences": seqs, "scores": scores}

    module = Sampler()
    runner = builtin_tflite_runner(module.run, module)
    out = runner(s=np.zeros([4, 1], np.float32))
    assert out["sequences"].shape == (4, 3, 5) and out["scores"].shape == (4, 3)
    assert np.all(np.diff(out["scores"], axis=1) <= 0)  # best first

def test_docstring_examples():
    import doctest
    import importlib

    for name in ("base", "beam", "greedy", "sampling"):
        module = importlib.import_module(f"keras_rnnx.decoding.{name}")
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0, (name, result)
