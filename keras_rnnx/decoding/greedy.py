"""Greedy search (the `GreedySearch` strategy) and the one-token-per-step
loop it shares with sampling."""
import tensorflow as tf

from keras_rnnx.decoding.base import (
    DecodingStrategy,
    _batch_size,
    _call_step,
    _check_call,
    _check_vocab,
    _gather_rows,
    _set_column,
    _start_tokens,
)


class GreedySearch(DecodingStrategy):
    """Greedy search: the most likely token at every step.

    Called like every `DecodingStrategy` (see there); returns int32
    `[B, 1, max_length]` sequences and float32 `[B, 1]` scores, the sum of
    the log-probabilities of the tokens.

    Example:

    >>> import tensorflow as tf
    >>> log_probs = tf.math.log([[0.1, 0.2, 0.7]])  # whatever the last token
    >>> step_fn = lambda tokens, state: (tf.gather(log_probs, 0 * tokens), state)
    >>> seqs, scores = GreedySearch()(step_fn, tf.zeros([1, 1]), 1, 2, 4)
    >>> seqs.numpy().tolist()
    [[[2, 2, 2, 2]]]
    """

    name = "greedy"

    def decode(self, step_fn, initial_state, start_id, end_id, max_length):
        return token_loop(step_fn, initial_state, start_id, end_id, max_length,
                          lambda log_probs, t: tf.argmax(log_probs, -1, output_type=tf.int32))


def greedy_search(step_fn, initial_state, start_id, end_id, max_length):
    """`GreedySearch()(step_fn, initial_state, start_id, end_id, max_length)`.

    Args:
        step_fn, initial_state, start_id, end_id, max_length: see
            `DecodingStrategy`.

    Returns:
        `(sequences, scores)`: int32 `[B, 1, max_length]` padded with
        `end_id` and float32 `[B, 1]`, the sum of the log-probabilities of
        the tokens.

    Example:

    >>> import tensorflow as tf
    >>> step_fn = lambda tokens, state: (tf.gather(tf.math.log([[0.1, 0.9]]), 0 * tokens), state)
    >>> tuple(greedy_search(step_fn, tf.zeros([1, 1]), 1, 0, 3)[0].shape)
    (1, 1, 3)
    """
    return GreedySearch()(step_fn, initial_state, start_id, end_id, max_length)


def token_loop(step_fn, initial_state, start_id, end_id, max_length, choose,
               num_return=1):
    """The decoding loop of greedy search and sampling: one token per row and step.

    Args:
        step_fn, initial_state, start_id, end_id, max_length: see
            `DecodingStrategy` (checked here).
        choose: `choose(log_probs [N, V], t) -> tokens [N]`, `t` the step.
        num_return: sequences per row (>= 1): every row is decoded
            `num_return` times, as consecutive rows of `N = B * num_return`.

    Returns:
        `(sequences, scores)`: int32 `[B, num_return, max_length]` padded
        with `end_id` and float32 `[B, num_return]`, the sum of the chosen
        tokens' log-probabilities, best first.
    """
    start_id, end_id, L = _check_call(step_fn, start_id, end_id, max_length)
    B = _batch_size(initial_state, start_id)
    state = tf.nest.map_structure(tf.convert_to_tensor, initial_state)
    start = _start_tokens(start_id, B)
    R = num_return
    if R > 1:
        row = tf.range(B * R) // R
        state, start = _gather_rows(state, row), tf.gather(start, row)
    N = B * R

    def step(t, tokens, finished, score, sequences, state):
        log_probs, new_state = _call_step(step_fn, tokens, state, "decoding")
        _check_vocab(end_id, log_probs.shape[-1])
        new_tokens = tf.cast(choose(log_probs, t), tf.int32)
        new_tokens = tf.where(finished, end_id, new_tokens)
        token_lp = tf.gather(log_probs, new_tokens, batch_dims=1)
        score = score + tf.where(finished, 0.0, token_lp)
        sequences = _set_column(sequences, t, new_tokens)
        return (t + 1, new_tokens, finished | tf.equal(new_tokens, end_id),
                score, sequences, new_state)

    # the first step runs outside the loop so that V is known statically
    out = step(tf.constant(0), start, tf.zeros([N], tf.bool), tf.zeros([N], tf.float32),
               tf.fill([N, L], end_id), state)
    if L > 1:
        out = tf.while_loop(
            lambda t, tokens, finished, *_: ~tf.reduce_all(finished),
            step, out, maximum_iterations=L - 1,
        )
    sequences, scores = out[4], out[3]
    if R == 1:
        return sequences[:, None], scores[:, None]
    scores, order = tf.math.top_k(tf.reshape(scores, [B, R]), k=R)
    return tf.gather(tf.reshape(sequences, [B, R, L]), order, batch_dims=1), scores
