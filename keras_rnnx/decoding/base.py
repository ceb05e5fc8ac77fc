"""The decoding strategy contract, the lookup by name, and the checks and
tensor helpers every strategy shares.

A strategy is called as

    strategy(step_fn, initial_state, start_id, end_id, max_length)
        -> (sequences int32 [B, R, max_length], scores float32 [B, R])

with `R = strategy.num_return` (1 for greedy search), best first. The
step function is

    step_fn(tokens int32 [N], state) -> (log_probs float32 [N, V], new_state)

with `state` a nest of tensors of leading dimension `N` that the strategies
only gather rows of.
"""
import math
import numbers

import keras
import tensorflow as tf

_NEG_INF = float("-inf")

# short name ("greedy", "beam", "sample") and class name -> strategy class
_REGISTRY = {}


class DecodingStrategy:
    """Base class of the decoding strategies; one calling convention, one result shape.

    A subclass sets `name` (its short name for `get`), implements `decode`
    and `get_config`, and sets `self.num_return`; defining the subclass
    registers it for `get`, `serialize` and Keras serialization.

    Call arguments:
        step_fn: `step_fn(tokens, state) -> (log_probs, new_state)`: tokens
            int32 `[N]`, state a nest with leading dimension `N`, log_probs
            float32 `[N, V]` (a log-softmax).
        initial_state: nest of tensors with leading dimension `B` (the batch).
        start_id: first token fed (an int, or an int32 `[B]` tensor for a
            per-row start token such as the last prompt token).
        end_id: token that ends a sequence (an int in `[0, V)`).
        max_length: maximum number of generated tokens, >= 1.

    Returns:
        `(sequences, scores)`: int32 `[B, R, max_length]` (generated tokens
        including the end token, padded with `end_id`) and float32 `[B, R]`,
        best first, with `R = self.num_return`.

    Example:

    >>> import tensorflow as tf
    >>> from keras_rnnx import decoding
    >>> table = tf.math.log(tf.constant(  # next-token probabilities by last token
    ...     [[1.0, 0.0, 0.0], [0.5, 0.2, 0.3], [0.6, 0.1, 0.3]]) + 1e-9)
    >>> step_fn = lambda tokens, state: (tf.gather(table, tokens), state)
    >>> for name in ("greedy", "beam", "sample"):
    ...     seqs, scores = decoding.get(name)(step_fn, tf.zeros([2, 1]), 1, 0, 3)
    ...     print(name, tuple(seqs.shape), tuple(scores.shape))
    greedy (2, 1, 3) (2, 1)
    beam (2, 1, 3) (2, 1)
    sample (2, 1, 3) (2, 1)
    """

    name = None
    num_return = 1

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        package = "keras_rnnx" if cls.__module__.startswith("keras_rnnx.") else cls.__module__
        keras.saving.register_keras_serializable(package=package)(cls)
        for key in (cls.name, cls.__name__):
            if key is not None:
                _REGISTRY[key] = cls

    def __call__(self, step_fn, initial_state, start_id, end_id, max_length):
        return self.decode(step_fn, initial_state, start_id, end_id, max_length)

    def decode(self, step_fn, initial_state, start_id, end_id, max_length):
        """Decodes; see the class docstring for the arguments and the result."""
        raise NotImplementedError(f"{type(self).__name__} must implement decode()")

    def get_config(self):
        """The constructor arguments, JSON-serializable."""
        return {}

    @classmethod
    def from_config(cls, config):
        """The strategy of `get_config()`'s dict."""
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def serialize(strategy):
    """A strategy as a JSON-serializable dict that `get` turns back into it.

    Args:
        strategy: a `DecodingStrategy`.

    Returns:
        `{"class_name": ..., "config": ...}`.

    Example:

    >>> from keras_rnnx import decoding
    >>> decoding.serialize(decoding.BeamSearch(8, num_return=2))
    {'class_name': 'BeamSearch', 'config': {'beam_width': 8, 'length_penalty': 0.0, 'num_return': 2}}
    """
    if not isinstance(strategy, DecodingStrategy):
        raise TypeError(f"`strategy` must be a DecodingStrategy, got {strategy!r}")
    return {"class_name": type(strategy).__name__, "config": strategy.get_config()}


def deserialize(config):
    """The strategy of a `serialize` dict.

    Args:
        config: `{"class_name": ..., "config": ...}`; `class_name` a class
            name ("BeamSearch"), a short name ("beam") or Keras' registered
            name ("keras_rnnx>BeamSearch"); `config` optional (defaults).

    Returns:
        A `DecodingStrategy`.

    Example:

    >>> from keras_rnnx import decoding
    >>> decoding.deserialize({"class_name": "beam", "config": {"beam_width": 2}})
    BeamSearch(beam_width=2, length_penalty=0.0, num_return=1)
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"a decoding strategy config must be a dict with 'class_name' (and "
            f"'config'), got {config!r}"
        )
    cls = _lookup(config["class_name"])
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier):
    """A decoding strategy from a name, a config dict or a strategy.

    Args:
        identifier: a `DecodingStrategy` (returned as is); a name: "greedy",
            "beam" or "sample" (or a class name: "GreedySearch",
            "BeamSearch", "RandomSampler"), built with default arguments;
            or a dict from `serialize` (a short name allowed as
            `class_name`).

    Returns:
        A `DecodingStrategy`.

    Example:

    >>> from keras_rnnx import decoding
    >>> decoding.get("beam")
    BeamSearch(beam_width=4, length_penalty=0.0, num_return=1)
    >>> decoding.get({"class_name": "sample", "config": {"top_k": 5, "seed": 1}})
    RandomSampler(temperature=1.0, top_k=5, seed=1, num_return=1)
    """
    if isinstance(identifier, DecodingStrategy):
        return identifier
    if isinstance(identifier, str):
        return _lookup(identifier)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise TypeError(
        "a decoding strategy must be a DecodingStrategy, a name "
        f"({_names()}) or a config dict, got {identifier!r}"
    )


def _lookup(name):
    if isinstance(name, str) and name.startswith("keras_rnnx>"):
        name = name[len("keras_rnnx>"):]  # Keras' registered name
    cls = _REGISTRY.get(name)
    if cls is None:
        raise ValueError(f"unknown decoding strategy {name!r}; known: {_names()}")
    return cls


def _names():
    return ", ".join(sorted(repr(n) for n in _REGISTRY))


# --------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------
def _is_int(x):
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _check_positive_int(name, value, minimum=1):
    if not _is_int(value):
        raise TypeError(f"`{name}` must be a Python int, got {value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value}")
    return int(value)


def _check_finite_float(name, value):
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value)):
        raise ValueError(f"`{name}` must be a finite float, got {value!r}")
    return float(value)


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


def _check_call(step_fn, start_id, end_id, max_length):
    """The checks of every strategy's call arguments; returns them normalized."""
    max_length = _check_positive_int("max_length", max_length)
    if not callable(step_fn):
        raise TypeError(f"`step_fn` must be callable, got {step_fn!r}")
    return _check_token("start_id", start_id), _check_token("end_id", end_id), max_length


def _check_vocab(end_id, vocab_size):
    """`end_id` against the vocabulary once V is known (`start_id` is an input
    token: a model may accept a start token it never predicts)."""
    if vocab_size is not None and _is_int(end_id) and end_id >= vocab_size:
        raise ValueError(
            f"`end_id`={end_id} is outside the vocabulary: step_fn returns "
            f"log-probabilities over {vocab_size} tokens (ids 0..{vocab_size - 1})"
        )


# --------------------------------------------------------------------------
# tensor helpers
# --------------------------------------------------------------------------
def _batch_size(initial_state, start_id):
    leaves = tf.nest.flatten(initial_state)
    if leaves:
        first = tf.convert_to_tensor(leaves[0])
        if first.shape.rank == 0:
            raise ValueError(
                "`initial_state` tensors must have a leading batch dimension, "
                "got a scalar"
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


def _gather_rows(nest, indices):
    return tf.nest.map_structure(lambda t: tf.gather(t, indices), nest)


def _set_column(sequences, t, tokens):
    """sequences[..., t] = tokens without scatter (XLA/TFLite friendly)."""
    length = sequences.shape[-1]
    column = tf.equal(tf.range(length), t)
    return tf.where(column, tokens[..., None], sequences)
