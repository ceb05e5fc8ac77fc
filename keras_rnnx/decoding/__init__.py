"""Decoding: beam search, greedy search and sampling as plain TensorFlow.

Every decoder drives a *step function*

    step_fn(tokens, state) -> (log_probs, new_state)

with `tokens` int32 `[N]`, `state` a nest of tensors with leading dimension
`N`, and `log_probs` float32 `[N, V]` (a log-softmax). Inside beam search `N`
is batch times beam; the decoders never look inside `state`, they only
gather its rows.

The decoders are written for export: static shapes, a single
`tf.while_loop` with `maximum_iterations`, no Python control flow on tensor
values, no custom ops (whole sequences are carried instead of back-pointers,
so there is no `GatherTree`). They run eagerly, in `tf.function`, with
`jit_compile=True`, with a dynamic batch size, inside a SavedModel signature
and in a builtin-ops TFLite model (sampling there with `seed=None`).

Beam search keeps finished hypotheses in the beam, where they go on competing
with their frozen score (a finished hypothesis only extends with `end_id` at
log-probability 0), and in addition keeps the best `num_return` hypotheses it
ever finished, so one evicted from the beam by live hypotheses that later
turn out worse is still returned. Its result is exactly the best
`num_return` hypotheses the search finished; when the beam is at least as wide
as the number of live hypotheses nothing is pruned and the result is the
exact best over all sequences (checked against brute force in the tests).
"""
import math
import numbers

import tensorflow as tf

__all__ = [
    "beam_search",
    "greedy_search",
    "sample",
    "length_penalty_factor",
    "BeamSearch",
    "GreedySearch",
    "RandomSampler",
]

_NEG_INF = float("-inf")


# --------------------------------------------------------------------------
# argument checking
# --------------------------------------------------------------------------
def _is_int(x):
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _check_positive_int(name, value, minimum=1):
    if not _is_int(value):
        raise TypeError(f"`{name}` must be a Python int, got {value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value}")
    return int(value)


def _check_token(name, value):
    """Token ids: a Python int >= 0, or an int tensor (checked at run time)."""
    if _is_int(value):
        if value < 0:
            raise ValueError(f"`{name}` must be a non-negative token id, got {value}")
        return int(value)
    if tf.is_tensor(value) or hasattr(value, "dtype"):
        value = tf.convert_to_tensor(value)
        if not value.dtype.is_integer:
            raise TypeError(f"`{name}` must be an integer token id, got dtype {value.dtype}")
        return tf.cast(value, tf.int32)
    raise TypeError(f"`{name}` must be an int token id, got {value!r}")


def _check_vocab(end_id, start_id, vocab_size):
    """`end_id` against the vocabulary once V is known (`start_id` is an input
    token: a model may accept a start token it never predicts)."""
    if vocab_size is None:
        return
    for name, value in (("end_id", end_id),):
        if _is_int(value) and value >= vocab_size:
            raise ValueError(
                f"`{name}`={value} is outside the vocabulary: step_fn returns "
                f"log-probabilities over {vocab_size} tokens (ids 0..{vocab_size - 1})"
            )


def _batch_size(initial_state, start_id):
    leaves = tf.nest.flatten(initial_state)
    if leaves:
        first = tf.convert_to_tensor(leaves[0])
        if first.shape.rank == 0:
            raise ValueError(
                "`initial_state` tensors must have a leading batch dimension, "
                f"got a scalar"
            )
        return tf.shape(first)[0]
    if tf.is_tensor(start_id) and start_id.shape.rank == 1:
        return tf.shape(start_id)[0]
    raise ValueError(
        "`initial_state` must contain at least one tensor with a leading batch "
        "dimension (or pass `start_id` as a [batch] tensor)"
    )


def _start_tokens(start_id, batch):
    start = tf.convert_to_tensor(start_id, tf.int32)
    return tf.broadcast_to(start, [batch]) if start.shape.rank == 0 else start


def _call_step(step_fn, tokens, state, where):
    out = step_fn(tokens, state)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(
            f"`step_fn` must return (log_probs, new_state), got {type(out).__name__} "
            f"while {where}"
        )
    log_probs, new_state = out
    log_probs = tf.convert_to_tensor(log_probs)
    if log_probs.shape.rank != 2:
        raise ValueError(
            f"`step_fn` must return log_probs of shape [N, V], got shape "
            f"{log_probs.shape} while {where}"
        )
    tf.nest.assert_same_structure(state, new_state)
    return tf.cast(log_probs, tf.float32), new_state


def length_penalty_factor(length, alpha):
    """GNMT length penalty ((5 + length) / 6) ** alpha (1 when alpha is 0)."""
    if alpha == 0:
        return tf.ones_like(tf.cast(length, tf.float32))
    return tf.pow((5.0 + tf.cast(length, tf.float32)) / 6.0, float(alpha))


def _gather_rows(nest, indices):
    return tf.nest.map_structure(lambda t: tf.gather(t, indices), nest)


def _set_column(sequences, t, tokens):
    """sequences[..., t] = tokens without scatter (XLA/TFLite friendly)."""
    length = sequences.shape[-1]
    column = tf.equal(tf.range(length), t)
    return tf.where(column, tokens[..., None], sequences)


# --------------------------------------------------------------------------
# beam search
# --------------------------------------------------------------------------
def beam_search(
    step_fn,
    initial_state,
    start_id,
    end_id,
    beam_width,
    max_length,
    length_penalty=0.0,
    num_return=1,
):
    """Beam search over `step_fn`; returns the best `num_return` sequences.

    Args:
        step_fn: `step_fn(tokens, state) -> (log_probs, new_state)`, tokens
            int32 `[N]`, state a nest with leading dimension `N`, log_probs
            float32 `[N, V]` (log-softmax).
        initial_state: nest of tensors with leading dimension `B` (the batch).
        start_id: token fed first (an int, or an int32 `[B]` tensor for a
            per-row start token such as the last prompt token).
        end_id: token that ends a hypothesis (an int in `[0, V)`).
        beam_width: number of hypotheses kept per row, >= 1.
        max_length: maximum number of generated tokens, >= 1.
        length_penalty: GNMT alpha; scores are divided by
            `((5 + length) / 6) ** alpha`, length counting the end token.
        num_return: number of hypotheses returned per row, in
            `[1, beam_width]`.

    Returns:
        `(sequences, scores)`: int32 `[B, num_return, max_length]` (generated
        tokens including the end token, padded with `end_id`) and float32
        `[B, num_return]`, best first.

    Example:

    >>> import numpy as np, tensorflow as tf
    >>> table = tf.math.log(tf.constant(  # next-token probabilities by last token
    ...     [[1.0, 0.0, 0.0], [0.5, 0.2, 0.3], [0.6, 0.1, 0.3]]) + 1e-9)
    >>> step_fn = lambda tokens, state: (tf.gather(table, tokens), state)
    >>> seqs, scores = beam_search(step_fn, tf.zeros([1, 1]), start_id=1, end_id=0,
    ...                            beam_width=3, max_length=3, num_return=2)
    >>> seqs.numpy().tolist()
    [[[0, 0, 0], [2, 0, 0]]]
    >>> [round(float(p), 2) for p in np.exp(scores.numpy()[0])]
    [0.5, 0.18]
    """
    beam_width = _check_positive_int("beam_width", beam_width)
    max_length = _check_positive_int("max_length", max_length)
    num_return = _check_positive_int("num_return", num_return)
    if num_return > beam_width:
        raise ValueError(
            f"`num_return` must be <= `beam_width`, got num_return={num_return} "
            f"and beam_width={beam_width}"
        )
    if not isinstance(length_penalty, numbers.Real) or not math.isfinite(length_penalty):
        raise ValueError(f"`length_penalty` must be a finite float, got {length_penalty!r}")
    if not callable(step_fn):
        raise TypeError(f"`step_fn` must be callable, got {step_fn!r}")
    start_id = _check_token("start_id", start_id)
    end_id = _check_token("end_id", end_id)
    alpha = float(length_penalty)
    K, L, R = beam_width, max_length, num_return

    B = _batch_size(initial_state, start_id)
    initial_state = tf.nest.map_structure(tf.convert_to_tensor, initial_state)

    # ---- first step on B rows (all beams of a row start identical) --------
    log_probs, state = _call_step(step_fn, _start_tokens(start_id, B), initial_state,
                                  "decoding the first token")
    V = log_probs.shape[-1]
    _check_vocab(end_id, start_id, V)
    V = V if V is not None else tf.shape(log_probs)[-1]
    scores0 = log_probs / length_penalty_factor(1, alpha)
    if isinstance(V, int) and K > V:  # more beams than first tokens: dead beams
        scores0 = tf.pad(scores0, [[0, 0], [0, K - V]], constant_values=_NEG_INF)
    top_scores, token = tf.math.top_k(scores0, k=K)  # [B, K]
    dead = token >= V
    token = tf.where(dead, end_id, token)
    cum = tf.gather(log_probs, tf.minimum(token, V - 1), batch_dims=1)
    cum = tf.where(dead, _NEG_INF, cum)
    is_end = tf.equal(token, end_id)
    finished = is_end | dead
    scores = tf.where(dead, _NEG_INF, top_scores)
    sequences = _set_column(tf.fill([B, K, L], end_id), 0, token)
    # the best `num_return` finished hypotheses so far
    newly = is_end & ~dead
    fin_scores, fin_sequences = _merge_finished(
        tf.fill([B, R], _NEG_INF), tf.fill([B, R, L], end_id),
        tf.where(newly, scores, _NEG_INF), sequences, R,
    )
    row = tf.range(B * K) // K  # [B*K] source row of every beam
    state = _gather_rows(state, row)
    end_row = tf.where(tf.equal(tf.range(V), end_id), 0.0, _NEG_INF)  # [V]

    def cond(t, finished, *_):
        return ~tf.reduce_all(finished)

    def body(t, finished, tokens, cum, scores, sequences, fin_scores, fin_sequences, state):
        log_probs, new_state = step_fn(tf.reshape(tokens, [-1]), state)
        log_probs = tf.reshape(tf.cast(log_probs, tf.float32), [B, K, V])
        penalty = length_penalty_factor(t + 1, alpha)
        # A finished beam only extends with end_id at log-prob 0, keeping its
        # frozen score: its row becomes [-inf.., 0 at end_id, ..-inf] and its
        # base is score * penalty, so that (base + 0) / penalty is its score.
        # One pass over [B, K, V] plus the add (and divide when alpha != 0).
        log_probs = tf.where(finished[:, :, None], end_row, log_probs)
        base = tf.where(finished, scores * penalty, cum) if alpha else tf.where(
            finished, scores, cum)
        total = base[:, :, None] + log_probs  # [B, K, V]
        ranked = total / penalty if alpha else total
        top_scores, index = tf.math.top_k(tf.reshape(ranked, [B, K * V]), k=K)
        parent = index // V
        new_tokens = index % V
        was_finished = tf.gather(finished, parent, batch_dims=1)
        ends = tf.equal(new_tokens, end_id)
        # a finished parent's end_id keeps its exact frozen score; any other
        # token of it (picked only when fewer than K candidates are finite)
        # stays at -inf, finished
        new_scores = tf.where(was_finished & ends, tf.gather(scores, parent, batch_dims=1),
                              top_scores)
        new_tokens = tf.where(was_finished, end_id, new_tokens)
        new_cum = tf.where(
            was_finished,
            tf.gather(cum, parent, batch_dims=1),
            tf.gather(tf.reshape(total, [B, K * V]), index, batch_dims=1),
        )
        new_sequences = _set_column(tf.gather(sequences, parent, batch_dims=1), t, new_tokens)
        newly = ends & ~was_finished
        fin_scores, fin_sequences = _merge_finished(
            fin_scores, fin_sequences, tf.where(newly, new_scores, _NEG_INF),
            new_sequences, R,
        )
        flat_parent = tf.reshape(parent + tf.range(B)[:, None] * K, [-1])
        new_state = tf.nest.map_structure(lambda s: tf.gather(s, flat_parent), new_state)
        return (t + 1, was_finished | ends, new_tokens, new_cum, new_scores,
                new_sequences, fin_scores, fin_sequences, new_state)

    loop_vars = (tf.constant(1), finished, token, cum, scores, sequences,
                 fin_scores, fin_sequences, state)
    if L > 1:
        loop_vars = tf.while_loop(cond, body, loop_vars, maximum_iterations=L - 1)
    _, finished, _, _, scores, sequences, fin_scores, fin_sequences, _ = loop_vars
    # beams still live after max_length are finished there, with their scores
    scores, sequences = _merge_finished(
        fin_scores, fin_sequences, tf.where(finished, _NEG_INF, scores), sequences, R
    )
    return sequences, scores


def _merge_finished(fin_scores, fin_sequences, cand_scores, cand_sequences, k):
    """Top-k of the finished set and candidates (-inf marks a non-candidate)."""
    all_scores = tf.concat([fin_scores, cand_scores], axis=1)
    all_sequences = tf.concat([fin_sequences, cand_sequences], axis=1)
    top, index = tf.math.top_k(all_scores, k=k)
    return top, tf.gather(all_sequences, index, batch_dims=1)


# --------------------------------------------------------------------------
# greedy search and sampling
# --------------------------------------------------------------------------
def _token_loop(step_fn, initial_state, start_id, end_id, max_length, choose):
    """Shared loop: `choose(log_probs, t) -> tokens`; scores sum log_probs."""
    max_length = _check_positive_int("max_length", max_length)
    if not callable(step_fn):
        raise TypeError(f"`step_fn` must be callable, got {step_fn!r}")
    start_id = _check_token("start_id", start_id)
    end_id = _check_token("end_id", end_id)
    B = _batch_size(initial_state, start_id)
    initial_state = tf.nest.map_structure(tf.convert_to_tensor, initial_state)
    L = max_length

    def step(t, tokens, finished, score, sequences, state):
        log_probs, new_state = _call_step(step_fn, tokens, state, "decoding")
        _check_vocab(end_id, start_id, log_probs.shape[-1])
        new_tokens = tf.cast(choose(log_probs, t), tf.int32)
        new_tokens = tf.where(finished, end_id, new_tokens)
        token_lp = tf.gather(log_probs, new_tokens, batch_dims=1)
        score = score + tf.where(finished, 0.0, token_lp)
        sequences = _set_column(sequences, t, new_tokens)
        return (t + 1, new_tokens, finished | tf.equal(new_tokens, end_id),
                score, sequences, new_state)

    # the first step runs outside the loop so that V is known statically
    first = step(tf.constant(0), _start_tokens(start_id, B), tf.zeros([B], tf.bool),
                 tf.zeros([B], tf.float32), tf.fill([B, L], end_id), initial_state)
    if L > 1:
        first = tf.while_loop(
            lambda t, tokens, finished, *_: ~tf.reduce_all(finished),
            step, first, maximum_iterations=L - 1,
        )
    return first[4], first[3]


def greedy_search(step_fn, initial_state, start_id, end_id, max_length):
    """Greedy decoding: the most likely token at every step.

    Args:
        step_fn: `step_fn(tokens, state) -> (log_probs, new_state)`.
        initial_state: nest of tensors with leading dimension `B`.
        start_id: first token fed (int, or int32 `[B]`).
        end_id: token that ends a sequence.
        max_length: maximum number of generated tokens, >= 1.

    Returns:
        `(sequences, scores)`: int32 `[B, max_length]` padded with `end_id`
        and float32 `[B]`, the sum of the log-probabilities of the tokens.
    """
    return _token_loop(step_fn, initial_state, start_id, end_id, max_length,
                       lambda log_probs, t: tf.argmax(log_probs, axis=-1, output_type=tf.int32))


def sample(step_fn, initial_state, start_id, end_id, max_length,
           temperature=1.0, top_k=None, seed=None):
    """Random sampling, optionally with a temperature and top-k truncation.

    Sampling uses the Gumbel-max trick (argmax of log-probabilities plus
    Gumbel noise). With an int `seed` the draws are deterministic (stateless
    Philox random numbers; identical eagerly and in `tf.function`, while XLA
    uses its own bit generator, deterministic but different draws). A
    builtin-ops TFLite model needs `seed=None` (TFLite's RANDOM_UNIFORM op);
    stateless random ops are not TFLite builtins.

    Args:
        step_fn: `step_fn(tokens, state) -> (log_probs, new_state)`.
        initial_state: nest of tensors with leading dimension `B`.
        start_id: first token fed (int, or int32 `[B]`).
        end_id: token that ends a sequence.
        max_length: maximum number of generated tokens, >= 1.
        temperature: > 0; log-probabilities are divided by it.
        top_k: None, or an int >= 1: sample among the `top_k` most likely.
        seed: None or an int for reproducible samples.

    Returns:
        `(sequences, scores)`: int32 `[B, max_length]` and float32 `[B]`, the
        sum of the model's (untempered) log-probabilities of the tokens.
    """
    if not isinstance(temperature, numbers.Real) or not temperature > 0:
        raise ValueError(f"`temperature` must be a float > 0, got {temperature!r}")
    if top_k is not None:
        top_k = _check_positive_int("top_k", top_k)
    if seed is not None and not _is_int(seed):
        raise TypeError(f"`seed` must be None or an int, got {seed!r}")
    temperature = float(temperature)

    def choose(log_probs, t):
        logits = log_probs / temperature
        if top_k is not None:
            k = min(top_k, log_probs.shape[-1] or top_k)
            kth = tf.math.top_k(logits, k=k).values[:, -1:]
            logits = tf.where(logits < kth, _NEG_INF, logits)
        shape = tf.shape(logits)
        if seed is None:
            u = tf.random.uniform(shape, minval=1e-20, maxval=1.0)
        else:
            u = tf.random.stateless_uniform(shape, seed=tf.stack([tf.constant(seed), t]),
                                            minval=1e-20, maxval=1.0, alg="philox")
        gumbel = -tf.math.log(-tf.math.log(u))
        return tf.argmax(logits + gumbel, axis=-1, output_type=tf.int32)

    return _token_loop(step_fn, initial_state, start_id, end_id, max_length, choose)


# --------------------------------------------------------------------------
# strategy objects (OpenNMT-tf style)
# --------------------------------------------------------------------------
class _Strategy:
    def __call__(self, step_fn, initial_state, start_id, end_id, max_length):
        return self.decode(step_fn, initial_state, start_id, end_id, max_length)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class BeamSearch(_Strategy):
    """Beam search strategy: `decode(...)` returns `[B, num_return, L]`, `[B, num_return]`.

    Args:
        beam_width: hypotheses kept per row.
        length_penalty: GNMT alpha (0 disables it).
        num_return: hypotheses returned per row, <= beam_width.
    """

    def __init__(self, beam_width=4, length_penalty=0.0, num_return=1):
        _check_positive_int("beam_width", beam_width)
        _check_positive_int("num_return", num_return)
        if num_return > beam_width:
            raise ValueError(
                f"`num_return` must be <= `beam_width`, got {num_return} > {beam_width}"
            )
        self.beam_width = int(beam_width)
        self.length_penalty = float(length_penalty)
        self.num_return = int(num_return)

    def decode(self, step_fn, initial_state, start_id, end_id, max_length):
        return beam_search(step_fn, initial_state, start_id, end_id, self.beam_width,
                           max_length, self.length_penalty, self.num_return)

    def get_config(self):
        return {"beam_width": self.beam_width, "length_penalty": self.length_penalty,
                "num_return": self.num_return}


class GreedySearch(_Strategy):
    """Greedy strategy: `decode(...)` returns `[B, L]`, `[B]`."""

    def decode(self, step_fn, initial_state, start_id, end_id, max_length):
        return greedy_search(step_fn, initial_state, start_id, end_id, max_length)

    def get_config(self):
        return {}


class RandomSampler(_Strategy):
    """Sampling strategy: `decode(...)` returns `[B, L]`, `[B]`.

    Args:
        temperature: > 0.
        top_k: None or int >= 1.
        seed: None or int.
    """

    def __init__(self, temperature=1.0, top_k=None, seed=None):
        if not isinstance(temperature, numbers.Real) or not temperature > 0:
            raise ValueError(f"`temperature` must be a float > 0, got {temperature!r}")
        if top_k is not None:
            _check_positive_int("top_k", top_k)
        self.temperature = float(temperature)
        self.top_k = top_k
        self.seed = seed

    def decode(self, step_fn, initial_state, start_id, end_id, max_length):
        return sample(step_fn, initial_state, start_id, end_id, max_length,
                      self.temperature, self.top_k, self.seed)

    def get_config(self):
        return {"temperature": self.temperature, "top_k": self.top_k, "seed": self.seed}
