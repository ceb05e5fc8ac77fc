"""`BiDirectional`: runs a recurrent layer both ways, mask-correct."""
import copy

import keras
from keras import ops

from keras_rnnx import _validation as V

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _reverse(x, lengths, mask=None):
    """Reverses the first `lengths[b]` steps of every row (all when None);
    an active lowering's "reverse" (given `mask`) does it when it has one."""
    import tensorflow as tf

    if lengths is None:
        return tf.reverse(x, [1])
    from keras_rnnx.kernels import in_xla_context, lowered_kernel

    lowered = lowered_kernel("reverse")
    if lowered is not None and mask is not None:
        return lowered(x, mask)

    if in_xla_context():
        # XLA's ReverseSequence fails to compile for T = 0 ("slice size out
        # of range"); the same permutation as a gather compiles for any T
        steps = tf.range(tf.shape(x)[1])[None, :]
        lengths = tf.cast(lengths, steps.dtype)[:, None]
        source = tf.where(steps < lengths, lengths - 1 - steps, steps)
        return tf.gather(x, source, axis=1, batch_dims=1)
    return tf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0)


@keras.saving.register_keras_serializable(package="keras_rnnx")
class BiDirectional(keras.layers.Layer):
    """Bidirectional wrapper for `LSTMX`/`GRUX` that is correct on padded batches.

    Runs `layer` forward in time and a copy of it (or `backward_layer`)
    backward in time and merges the two outputs. With a right-padded mask
    (e.g. from `Embedding(mask_zero=True)`), the backward direction starts at
    each sequence's last real step (`tf.reverse_sequence` by the lengths the
    mask gives), so the output for every sequence equals the output of the
    wrapper on that sequence alone, unpadded; outputs at padded positions
    are exactly zero. Weights are ordered like `keras.layers.Bidirectional`
    (forward layer's, then backward layer's).

    Masks must be right-padded (True steps first, then False steps), which
    is what padding to a common length produces.

    Args:
        layer: A recurrent layer (`LSTMX`, `GRUX`, or any
            `keras.layers.RNN`) with `go_backwards=False`; it runs forward.
        merge_mode: How the two directions are combined: "concat" (default),
            "sum", "mul", "ave", or None (a list of both outputs).
        weights: Optional list of initial weights: forward layer's, then
            backward layer's.
        backward_layer: Optional recurrent layer for the backward direction
            (must have `go_backwards=True` and the same `return_sequences`,
            `return_state` and `stateful` as `layer`); by default a copy of
            `layer`'s configuration.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequences: A 3D float tensor (batch, timesteps, features).
        initial_state: Optional list of initial states: the forward layer's,
            then the backward layer's.
        mask: Optional boolean tensor (batch, timesteps), right-padded.
        training: Python boolean; enables dropout.

    Returns:
        The merged output (or `[forward, backward]` for `merge_mode=None`);
        with `return_state`, followed by the forward then backward states.

    Example:

    >>> import numpy as np, keras
    >>> from keras_rnnx import BiDirectional, LSTMX
    >>> ids = keras.Input((None,), dtype="int32")
    >>> x = keras.layers.Embedding(100, 8, mask_zero=True)(ids)
    >>> x = BiDirectional(LSTMX(16))(x)
    >>> model = keras.Model(ids, keras.layers.Dense(1)(x))
    >>> tuple(model(np.array([[5, 7, 0, 0], [1, 2, 3, 4]])).shape)
    (2, 1)
    """

    def __init__(self, layer, merge_mode="concat", weights=None,
                 backward_layer=None, **kwargs):
        if not isinstance(layer, keras.layers.RNN):
            raise ValueError(
                "`layer` must be a recurrent layer instance (LSTMX, GRUX or a "
                f"keras.layers.RNN); received layer={layer!r}"
            )
        if backward_layer is not None and not isinstance(
                backward_layer, keras.layers.RNN):
            raise ValueError(
                "`backward_layer` must be a recurrent layer instance (LSTMX, "
                f"GRUX or a keras.layers.RNN); received {backward_layer!r}"
            )
        V.check_choice(merge_mode, "merge_mode", MERGE_MODES)
        super().__init__(**kwargs)
        self.forward_layer = layer
        if backward_layer is None:
            config = keras.saving.serialize_keras_object(layer)
            config["config"]["go_backwards"] = not layer.go_backwards
            config["config"]["name"] = "backward_" + layer.name
            backward_layer = keras.saving.deserialize_keras_object(config)
        self.backward_layer = backward_layer
        if layer.go_backwards == backward_layer.go_backwards:
            raise ValueError(
                "`backward_layer` must have a different `go_backwards` than "
                f"`layer`; both have go_backwards={layer.go_backwards}"
            )
        for attr in ("stateful", "return_sequences", "return_state"):
            if getattr(layer, attr) != getattr(backward_layer, attr):
                raise ValueError(
                    f"`layer` and `backward_layer` must have the same `{attr}`; "
                    f"received {getattr(layer, attr)} and "
                    f"{getattr(backward_layer, attr)}"
                )
        for sub in (self.forward_layer, self.backward_layer):
            if hasattr(sub, "zero_output_for_mask"):
                sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self._initial_weights = list(weights) if weights else None
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True

    # ---------------------------------------------------------------------
    def build(self, sequences_shape, initial_state_shape=None):
        V.check_sequence_shape(sequences_shape, self.name)
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                sub.build(sequences_shape)
        if self._initial_weights:
            n = len(self._initial_weights) // 2
            self.forward_layer.set_weights(self._initial_weights[:n])
            self.backward_layer.set_weights(self._initial_weights[n:])
            self._initial_weights = None
        self.built = True

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        out = self.forward_layer.compute_output_shape(sequences_shape)
        states = ()
        if self.return_state:
            out, states = out[0], tuple(out[1:])
        if self.merge_mode == "concat":
            out = tuple(out[:-1]) + (out[-1] * 2,)
            result = (out,)
        elif self.merge_mode is None:
            result = (tuple(out), tuple(out))
        else:
            result = (tuple(out),)
        if self.return_state:
            return result + states + states
        return result[0] if len(result) == 1 else list(result)

    def _run(self, sub, sequences, lengths, state, mask, training):
        """Runs `sub` time-aligned: a go_backwards layer sees each sequence
        reversed up to its length, runs forward in time, and its outputs are
        reversed back."""
        kwargs = {"training": training}
        if mask is not None:
            kwargs["mask"] = mask
        if state is not None:
            kwargs["initial_state"] = state
        if not sub.go_backwards:
            return sub(sequences, **kwargs)
        sub.go_backwards = False
        try:
            y = sub(_reverse(sequences, lengths, mask), **kwargs)
        finally:
            sub.go_backwards = True
        if not sub.return_sequences:
            return y
        if sub.return_state:
            return [_reverse(y[0], lengths, mask)] + list(y[1:])
        return _reverse(y, lengths, mask)

    def call(self, sequences, initial_state=None, mask=None, training=None):
        V.check_float_dtype(sequences, self.name)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        lengths = None
        if mask is not None:
            mask = ops.cast(mask, "bool")
            lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
        fw_state = bw_state = None
        if initial_state is not None:
            initial_state = list(initial_state)
            half = len(initial_state) // 2
            fw_state, bw_state = initial_state[:half], initial_state[half:]
        y = self._run(self.forward_layer, sequences, lengths, fw_state, mask,
                      training)
        y_rev = self._run(self.backward_layer, sequences, lengths, bw_state,
                          mask, training)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        y = ops.cast(y, self.compute_dtype)
        y_rev = ops.cast(y_rev, self.compute_dtype)
        if self.merge_mode == "concat":
            out = ops.concatenate([y, y_rev], axis=-1)
        elif self.merge_mode == "sum":
            out = y + y_rev
        elif self.merge_mode == "ave":
            out = (y + y_rev) / 2
        elif self.merge_mode == "mul":
            out = y * y_rev
        else:
            out = [y, y_rev]
        if self.return_state:
            head = tuple(out) if self.merge_mode is None else (out,)
            return list(head + states)
        return out

    def compute_mask(self, _, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out_mask = mask if self.return_sequences else None
        if self.merge_mode is None:
            out_mask = [out_mask, out_mask]
        else:
            out_mask = [out_mask]
        if self.return_state:
            n = len(self.forward_layer.state_size)
            return out_mask + [None] * (2 * n)
        return out_mask if self.merge_mode is None else out_mask[0]

    # ---------------------------------------------------------------------
    @property
    def states(self):
        if self.forward_layer.states and self.backward_layer.states:
            return tuple(self.forward_layer.states) + tuple(self.backward_layer.states)
        return None

    def reset_state(self):
        if not self.stateful:
            raise AttributeError("Layer must be stateful.")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self):
        self.reset_state()

    def get_config(self):
        config = {
            "merge_mode": self.merge_mode,
            "layer": keras.saving.serialize_keras_object(self.forward_layer),
            "backward_layer": keras.saving.serialize_keras_object(
                self.backward_layer),
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = copy.deepcopy(config)
        config["layer"] = keras.saving.deserialize_keras_object(
            config["layer"], custom_objects=custom_objects)
        if config.get("backward_layer") is not None:
            config["backward_layer"] = keras.saving.deserialize_keras_object(
                config["backward_layer"], custom_objects=custom_objects)
        return cls(**config)
