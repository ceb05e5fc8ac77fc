"""Beam search as plain TensorFlow (the `BeamSearch` strategy).

Beam search keeps finished hypotheses in the beam, where they go on competing
with their frozen score (a finished hypothesis only extends with `end_id` at
log-probability 0), and in addition keeps the best `num_return` hypotheses it
ever finished, so one evicted from the beam by live hypotheses that later
turn out worse is still returned. Its result is exactly the best
`num_return` hypotheses the search finished; when the beam is at least as wide
as the number of live hypotheses nothing is pruned and the result is the
exact best over all sequences (checked against brute force in the tests).

Each step takes the best `beam_width` of the `beam_width x vocabulary`
extensions with `_extend`: from 2,048 candidates on, through the maxima of
chunks of about 64 consecutive tokens of each beam's row of log-probabilities
(one reduction over the step's output; no `[batch, beam, vocabulary]` tensor
of scores is formed). The result is exactly a full top-k's, ties included:
of equal scores, the lower beam and then the lower token is kept (tested
against a float64 reference with ties).
"""
import tensorflow as tf

from keras_rnnx.decoding.base import (
    _NEG_INF,
    DecodingStrategy,
    _batch_size,
    _call_step,
    _check_call,
    _check_finite_float,
    _check_positive_int,
    _check_vocab,
    _gather_rows,
    _set_column,
    _start_tokens,
)


def length_penalty_factor(length, alpha):
    """GNMT length penalty `((5 + length) / 6) ** alpha` (1 when alpha is 0).

    Args:
        length: int or tensor, the hypothesis length counting the end token.
        alpha: float, the length penalty.

    Returns:
        float32 tensor of `length`'s shape; a score is the summed
        log-probabilities divided by it.

    Example:

    >>> float(length_penalty_factor(7, 1.0))
    2.0
    """
    if alpha == 0:
        return tf.ones_like(tf.cast(length, tf.float32))
    return tf.pow((5.0 + tf.cast(length, tf.float32)) / 6.0, float(alpha))


class BeamSearch(DecodingStrategy):
    """Beam search: the best `num_return` hypotheses of a beam of `beam_width`.

    Called like every `DecodingStrategy` (see there); returns int32
    `[B, num_return, max_length]` sequences and float32 `[B, num_return]`
    scores, best first. A score is the sum of the token log-probabilities
    divided by `length_penalty_factor(length, length_penalty)`.

    Args:
        beam_width: hypotheses kept per row, >= 1. A width of 1 gives
            greedy search's sequences and, with `length_penalty=0`, its
            scores.
        length_penalty: GNMT alpha (0 disables it); the length counts the
            end token.
        num_return: hypotheses returned per row, in `[1, beam_width]`.

    Example:

    >>> import numpy as np, tensorflow as tf
    >>> table = tf.math.log(tf.constant(  # next-token probabilities by last token
    ...     [[1.0, 0.0, 0.0], [0.5, 0.2, 0.3], [0.6, 0.1, 0.3]]) + 1e-9)
    >>> step_fn = lambda tokens, state: (tf.gather(table, tokens), state)
    >>> beam = BeamSearch(beam_width=3, num_return=2)
    >>> seqs, scores = beam(step_fn, tf.zeros([1, 1]), start_id=1, end_id=0, max_length=3)
    >>> seqs.numpy().tolist()
    [[[0, 0, 0], [2, 0, 0]]]
    >>> [round(float(p), 2) for p in np.exp(scores.numpy()[0])]
    [0.5, 0.18]
    """

    name = "beam"

    def __init__(self, beam_width=4, length_penalty=0.0, num_return=1):
        beam_width = _check_positive_int("beam_width", beam_width)
        num_return = _check_positive_int("num_return", num_return)
        if num_return > beam_width:
            raise ValueError(
                f"`num_return` must be <= `beam_width`, got num_return={num_return} "
                f"and beam_width={beam_width}"
            )
        self.beam_width = beam_width
        self.length_penalty = _check_finite_float("length_penalty", length_penalty)
        self.num_return = num_return

    def get_config(self):
        return {"beam_width": self.beam_width, "length_penalty": self.length_penalty,
                "num_return": self.num_return}

    def decode(self, step_fn, initial_state, start_id, end_id, max_length):
        start_id, end_id, max_length = _check_call(step_fn, start_id, end_id, max_length)
        return _beam_search(step_fn, initial_state, start_id, end_id, self.beam_width,
                            max_length, self.length_penalty, self.num_return)


def beam_search(step_fn, initial_state, start_id, end_id, beam_width, max_length,
                length_penalty=0.0, num_return=1):
    """`BeamSearch(beam_width, length_penalty, num_return)(step_fn, initial_state,
    start_id, end_id, max_length)`.

    Args:
        step_fn, initial_state, start_id, end_id, max_length: see
            `DecodingStrategy`.
        beam_width, length_penalty, num_return: see `BeamSearch`.

    Returns:
        `(sequences, scores)`: int32 `[B, num_return, max_length]` and
        float32 `[B, num_return]`, best first.

    Example:

    >>> import tensorflow as tf
    >>> step_fn = lambda tokens, state: (tf.gather(tf.math.log([[0.2, 0.8]]), 0 * tokens), state)
    >>> seqs, _ = beam_search(step_fn, tf.zeros([1, 1]), 1, 0, beam_width=2, max_length=2)
    >>> seqs.numpy().tolist()
    [[[1, 1]]]
    """
    return BeamSearch(beam_width, length_penalty, num_return)(
        step_fn, initial_state, start_id, end_id, max_length)


def _beam_search(step_fn, initial_state, start_id, end_id, K, L, alpha, R):
    """The search on checked arguments (K beams, L steps, R returned)."""
    B = _batch_size(initial_state, start_id)
    initial_state = tf.nest.map_structure(tf.convert_to_tensor, initial_state)

    # ---- first step on B rows (all beams of a row start identical) --------
    log_probs, state = _call_step(step_fn, _start_tokens(start_id, B), initial_state,
                                  "decoding the first token")
    V = log_probs.shape[-1]
    _check_vocab(end_id, V)
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
    offsets = tf.range(B)[:, None] * K  # [B, 1] first row of each batch row's beams
    offsets.set_shape([finished.shape[0], 1])  # keep a static batch size static

    def cond(t, finished, *_):
        return ~tf.reduce_all(finished)

    def body(t, finished, tokens, cum, scores, sequences, fin_scores, fin_sequences, state):
        log_probs, new_state = step_fn(tf.reshape(tokens, [-1]), state)
        raw_log_probs = tf.cast(log_probs, tf.float32)
        log_probs = tf.reshape(raw_log_probs, [B, K, V])
        penalty = length_penalty_factor(t + 1, alpha)
        # A finished beam only extends with end_id at log-prob 0, keeping its
        # frozen score: its base is score * penalty, so that (base + 0) /
        # penalty is its score.
        base = tf.where(finished, scores * penalty, cum) if alpha else tf.where(
            finished, scores, cum)
        top_scores, parent, new_tokens, picked = _extend(
            log_probs, finished, base, penalty if alpha else None, end_id, offsets)
        flat_parent = tf.reshape(parent + offsets, [-1])
        was_finished = tf.gather(finished, parent, batch_dims=1)
        ends = tf.equal(new_tokens, end_id)
        # a finished parent's end_id keeps its exact frozen score; any other
        # token of it (picked only when fewer than K candidates are finite)
        # stays at -inf, finished
        new_scores = tf.where(was_finished & ends, tf.gather(scores, parent, batch_dims=1),
                              top_scores)
        new_tokens = tf.where(was_finished, end_id, new_tokens)
        # a live parent's total is cum + log-prob: the same float sum
        parent_cum = tf.gather(cum, parent, batch_dims=1)
        new_cum = tf.where(was_finished, parent_cum, parent_cum + picked)
        new_sequences = _set_column(tf.gather(sequences, parent, batch_dims=1), t, new_tokens)
        newly = ends & ~was_finished
        fin_scores, fin_sequences = _merge_finished(
            fin_scores, fin_sequences, tf.where(newly, new_scores, _NEG_INF),
            new_sequences, R,
        )
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


def _extend(log_probs, finished, base, penalty, end_id, offsets):
    """The best K one-token extensions of a step's beams.

    Args: log_probs float32 `[B, K, V]`; finished bool `[B, K]` (such a beam
    extends only with `end_id` at log-probability 0); base float32 `[B, K]`,
    the summed log-probability each extension adds to; penalty a scalar
    (scores are `(base + log_prob) / penalty`) or None (no division);
    offsets int32 `[B, 1]`, K times the batch row (where a batch row's
    beams start among the `B * K` rows of log_probs).

    Returns `(scores, parent, token, log_prob)`, each `[B, K]`, best first:
    the extension's score, its beam, its token and the token's log-prob.

    Below `_CHUNKED_MIN` candidates, with fewer than 4 chunks per beam row
    or with V unknown, this is a `tf.math.top_k` over the `K * V` scores.
    Otherwise each beam row of V tokens is read as `n` chunks of `m`
    consecutive tokens (`_chunks`; -inf pads the last), chunk `(k, i)`
    holding tokens `i * m` to `i * m + m - 1` of beam k. Adding a beam's
    base (and dividing by the penalty) is monotone, so a chunk's best score
    is that of its base plus the chunk's maximum: one reduction over the
    step's log-probabilities, and no `[B, K, V]` tensor of scores is formed.
    The K chunks with the best such scores (of equal ones, the lower
    `(k, i)`) hold the best K extensions: one outside them is outranked by
    the best entry of each of K chunks, each either higher or equal and
    lower in `(beam, token)`. The top K of their `K * m` entries, laid out
    in ascending `(beam, token)` order, is the result.

    In both forms ties go to the lower beam, then the lower token: the
    result is exactly the top K under "higher score first, then lower beam,
    lower token".
    """
    K, V = log_probs.shape[1], log_probs.shape[-1]

    def score(base, lp):
        total = base + lp
        return total / penalty if penalty is not None else total

    n, m = _chunks(V) if V is not None else (0, None)
    if n < 4 or K * V < _CHUNKED_MIN:
        end_row = tf.where(tf.equal(tf.range(tf.shape(log_probs)[-1]), end_id), 0.0,
                           _NEG_INF)
        rows = tf.where(finished[:, :, None], end_row, log_probs)
        V = tf.shape(log_probs)[-1]
        top, index = tf.math.top_k(tf.reshape(score(base[:, :, None], rows), [-1, K * V]), k=K)
        parent, token = index // V, index % V
        lp = tf.gather(tf.reshape(log_probs, [-1]), (parent + offsets) * V + token)
        return top, parent, token, lp
    if n * m != V:
        log_probs = tf.pad(log_probs, [[0, 0], [0, 0], [0, n * m - V]],
                           constant_values=_NEG_INF)
    chunks = tf.reshape(log_probs, [-1, n, m])  # [B * K * n, m]: chunk (k, i) of row k
    maxima = tf.reshape(tf.reduce_max(chunks, axis=-1), [-1, K, n])  # [B, K, n]
    # a finished beam's only extension is end_id at 0: in chunk end_id // m
    end_chunk = tf.where(tf.equal(tf.range(n), end_id // m), 0.0, _NEG_INF)
    maxima = tf.where(finished[:, :, None], end_chunk, maxima)
    best = tf.math.top_k(tf.reshape(score(base[:, :, None], maxima), [-1, K * n]), k=K).indices
    chunk = tf.sort(best, axis=-1)  # [B, K] as k * n + i, ascending
    beam, index = chunk // n, chunk % n
    token = index[:, :, None] * m + tf.range(m)[None, None, :]  # [B, K, m]
    lp = tf.gather(tf.reshape(chunks, [-1, m]), (beam + offsets) * n + index)  # [B, K, m]
    fin = tf.gather(finished, beam, batch_dims=1)[:, :, None]
    lp = tf.where(fin, tf.where(tf.equal(token, end_id), 0.0, _NEG_INF), lp)
    total = score(tf.gather(base, beam, batch_dims=1)[:, :, None], lp)
    top, position = tf.math.top_k(tf.reshape(total, [-1, K * m]), k=K)
    pick = position // m
    token = tf.minimum(tf.gather(tf.reshape(token, [-1, K * m]), position, batch_dims=1), V - 1)
    lp = tf.gather(tf.reshape(lp, [-1, K * m]), position, batch_dims=1)
    return top, tf.gather(beam, pick, batch_dims=1), token, lp


# candidates (beams x vocabulary) from which `_extend` goes through chunk
# maxima, and the entries per chunk it aims at
_CHUNKED_MIN, _CHUNK = 2048, 64


def _chunks(V):
    """`(n, m)`: a beam row of V tokens read as n chunks of m consecutive
    tokens (`n * m >= V`). m is the divisor of V nearest 64 between 32 and
    128, so that nothing is padded; without one, m is 64 and the last chunk
    is padded."""
    divisors = [d for d in range(_CHUNK // 2, 2 * _CHUNK + 1) if V % d == 0]
    m = min(divisors, key=lambda d: (abs(d - _CHUNK), d)) if divisors else _CHUNK
    return -(-V // m), m


def _merge_finished(fin_scores, fin_sequences, cand_scores, cand_sequences, k):
    """Top-k of the finished set and candidates (-inf marks a non-candidate)."""
    all_scores = tf.concat([fin_scores, cand_scores], axis=1)
    all_sequences = tf.concat([fin_sequences, cand_sequences], axis=1)
    top, index = tf.math.top_k(all_scores, k=k)
    return top, tf.gather(all_sequences, index, batch_dims=1)
