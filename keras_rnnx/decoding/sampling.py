"""Random sampling (the `RandomSampler` strategy)."""
import numbers

import tensorflow as tf

from keras_rnnx.decoding.base import (
    _NEG_INF,
    DecodingStrategy,
    _check_positive_int,
    _is_int,
)
from keras_rnnx.decoding.greedy import token_loop


class RandomSampler(DecodingStrategy):
    """Random sampling, optionally with a temperature and top-k truncation.

    Called like every `DecodingStrategy` (see there); returns int32
    `[B, num_return, max_length]` sequences and float32 `[B, num_return]`
    scores, the sum of the model's (untempered) log-probabilities of the
    tokens; a row's `num_return` samples are ordered best first.

    Sampling uses the Gumbel-max trick (argmax of log-probabilities plus
    Gumbel noise). With an int `seed` the draws are deterministic (stateless
    Philox random numbers; identical eagerly and in `tf.function`, while XLA
    uses its own bit generator, deterministic but different draws). A
    builtin-ops TFLite model needs `seed=None` (TFLite's RANDOM_UNIFORM op);
    stateless random ops are not TFLite builtins.

    Args:
        temperature: > 0; log-probabilities are divided by it.
        top_k: None, or an int >= 1: sample among the `top_k` most likely.
        seed: None or an int for reproducible samples.
        num_return: independent samples per row, >= 1.

    Example:

    >>> import tensorflow as tf
    >>> step_fn = lambda tokens, state: (tf.gather(tf.math.log([[0.5, 0.5]]), 0 * tokens), state)
    >>> seqs, scores = RandomSampler(seed=1, num_return=2)(step_fn, tf.zeros([3, 1]), 1, 0, 4)
    >>> tuple(seqs.shape), tuple(scores.shape)
    ((3, 2, 4), (3, 2))
    """

    name = "sample"

    def __init__(self, temperature=1.0, top_k=None, seed=None, num_return=1):
        if (isinstance(temperature, bool) or not isinstance(temperature, numbers.Real)
                or not temperature > 0):
            raise ValueError(f"`temperature` must be a float > 0, got {temperature!r}")
        if top_k is not None:
            top_k = _check_positive_int("top_k", top_k)
        if seed is not None and not _is_int(seed):
            raise TypeError(f"`seed` must be None or an int, got {seed!r}")
        self.temperature = float(temperature)
        self.top_k = top_k
        self.seed = None if seed is None else int(seed)
        self.num_return = _check_positive_int("num_return", num_return)

    def get_config(self):
        return {"temperature": self.temperature, "top_k": self.top_k, "seed": self.seed,
                "num_return": self.num_return}

    def decode(self, step_fn, initial_state, start_id, end_id, max_length):
        return token_loop(step_fn, initial_state, start_id, end_id, max_length,
                          self._choose, self.num_return)

    def _choose(self, log_probs, t):
        logits = log_probs / self.temperature
        if self.top_k is not None:
            k = min(self.top_k, log_probs.shape[-1] or self.top_k)
            kth = tf.math.top_k(logits, k=k).values[:, -1:]
            logits = tf.where(logits < kth, _NEG_INF, logits)
        shape = tf.shape(logits)
        if self.seed is None:
            u = tf.random.uniform(shape, minval=1e-20, maxval=1.0)
        else:
            u = tf.random.stateless_uniform(shape, seed=tf.stack([tf.constant(self.seed), t]),
                                            minval=1e-20, maxval=1.0, alg="philox")
        gumbel = -tf.math.log(-tf.math.log(u))
        return tf.argmax(logits + gumbel, axis=-1, output_type=tf.int32)


def sample(step_fn, initial_state, start_id, end_id, max_length,
           temperature=1.0, top_k=None, seed=None, num_return=1):
    """`RandomSampler(temperature, top_k, seed, num_return)(step_fn,
    initial_state, start_id, end_id, max_length)`.

    Args:
        step_fn, initial_state, start_id, end_id, max_length: see
            `DecodingStrategy`.
        temperature, top_k, seed, num_return: see `RandomSampler`.

    Returns:
        `(sequences, scores)`: int32 `[B, num_return, max_length]` and
        float32 `[B, num_return]`, best first.

    Example:

    >>> import tensorflow as tf
    >>> step_fn = lambda tokens, state: (tf.gather(tf.math.log([[0.5, 0.5]]), 0 * tokens), state)
    >>> tuple(sample(step_fn, tf.zeros([1, 1]), 1, 0, 3, seed=0)[0].shape)
    (1, 1, 3)
    """
    return RandomSampler(temperature, top_k, seed, num_return)(
        step_fn, initial_state, start_id, end_id, max_length)
