"""Decoding: beam search, greedy search and sampling as plain TensorFlow.

Every strategy is called the same way and returns the same shapes:

    strategy(step_fn, initial_state, start_id, end_id, max_length)
        -> (sequences int32 [B, R, max_length], scores float32 [B, R])

best first, with `R = strategy.num_return` (1 for greedy search and for
sampling one sequence). The model supplies the step function

    step_fn(tokens, state) -> (log_probs, new_state)

with `tokens` int32 `[N]`, `state` a nest of tensors with leading dimension
`N`, and `log_probs` float32 `[N, V]` (a log-softmax). Inside beam search `N`
is batch times beam; the strategies never look inside `state`, they only
gather its rows.

Strategies: `GreedySearch` ("greedy"), `BeamSearch` ("beam"),
`RandomSampler` ("sample"). `get` builds one from a name, a config dict or
returns a strategy as is (like `keras.optimizers.get`); `serialize` gives the
config dict; every strategy has `get_config` / `from_config`. The functions
`greedy_search`, `beam_search` and `sample` build a strategy and call it.

The strategies are written for export: static shapes, a single
`tf.while_loop` with `maximum_iterations`, no Python control flow on tensor
values, no custom ops (whole sequences are carried instead of back-pointers,
so there is no `GatherTree`). They run eagerly, in `tf.function`, with
`jit_compile=True`, with a dynamic batch size, inside a SavedModel signature
and in a builtin-ops TFLite model (sampling there with `seed=None`).

Layout: `base` (the strategy contract, `get`/`serialize`, shared checks),
`greedy` (greedy search and the one-token-per-step loop), `sampling`,
`beam` (the module is not named `beam_search`: the package exports that function).
"""
from keras_rnnx.decoding.base import DecodingStrategy, deserialize, get, serialize
from keras_rnnx.decoding.beam import BeamSearch, beam_search, length_penalty_factor
from keras_rnnx.decoding.greedy import GreedySearch, greedy_search
from keras_rnnx.decoding.sampling import RandomSampler, sample

__all__ = [
    "DecodingStrategy",
    "BeamSearch",
    "GreedySearch",
    "RandomSampler",
    "get",
    "serialize",
    "deserialize",
    "beam_search",
    "greedy_search",
    "sample",
    "length_penalty_factor",
]
