"""The one activation resolver of the kernels.

Layers pass activations to kernels as the Keras name when the activation is
a standard Keras one (`activation_spec`), else as the callable; kernels turn
that back into a function with `resolve_activation`. Names with a builtin
TensorFlow (and TFLite) op resolve to that op, numerically equal to Keras'
own function; other names resolve through `keras.activations.get`.
"""

__all__ = ["activation_spec", "resolve_activation", "activation_name", "per_gate"]


def _hard_sigmoid(x):
    import tensorflow as tf

    return tf.nn.relu6(x + 3.0) / 6.0


_hard_sigmoid.__name__ = "hard_sigmoid"  # so `activation_spec` names it


def _builtin(name):
    """The builtin-op form of activation `name`, or None."""
    import tensorflow as tf

    return {
        "tanh": tf.tanh,
        "sigmoid": tf.sigmoid,
        "relu": tf.nn.relu,
        "relu6": tf.nn.relu6,
        "linear": tf.identity,
        None: tf.identity,
        "hard_sigmoid": _hard_sigmoid,
    }.get(name)


def activation_spec(fn):
    """What a layer passes to a kernel for activation `fn`: the Keras name
    (e.g. "tanh") when `fn` is a standard Keras activation or the builtin op
    `resolve_activation` gives for that name (e.g. `tf.tanh`), else `fn`."""
    import keras

    if isinstance(fn, str):
        return fn
    name = getattr(fn, "__name__", None)
    if name:
        if fn is not None and _builtin(name) is fn:  # e.g. tf.tanh
            return name
        try:
            if keras.activations.get(name) is fn:
                return name
        except (ValueError, TypeError):
            pass
    return fn


def activation_name(spec):
    """The Keras name of an activation spec or callable, or None."""
    name = activation_spec(spec)
    return name if isinstance(name, str) else None


def resolve_activation(spec):
    """The function for an activation passed to a kernel.

    Args:
        spec: A Keras activation name, None ("linear") or a callable.

    Returns:
        A callable on tensors: the builtin TensorFlow op for "tanh",
        "sigmoid", "relu", "relu6", "linear"/None and "hard_sigmoid",
        `keras.activations.get(spec)` for other names, `spec` itself for a
        callable.

    Raises:
        ValueError: for an unknown name.
    """
    if callable(spec):
        return spec
    fn = _builtin(spec)
    if fn is not None:
        return fn
    import keras

    try:
        return keras.activations.get(spec)
    except (ValueError, TypeError) as e:
        raise ValueError(f"activation: unknown activation {spec!r}") from e


# Keras activations that act on each element alone: one op may cover several
# gates side by side. Any other activation (softmax, a user's callable) is
# applied to each gate's columns separately, as Keras' cells do.
_ELEMENTWISE = frozenset({
    "tanh", "sigmoid", "relu", "relu6", "linear", "hard_sigmoid", "elu", "selu",
    "softplus", "softsign", "swish", "silu", "gelu", "exponential", "hard_silu",
    "hard_swish", "leaky_relu", "mish", "log_sigmoid", "hard_tanh", "tanh_shrink",
    "soft_shrink", "hard_shrink", "celu", "squareplus", "sparse_plus",
})


def per_gate(fn, pre, gates):
    """`fn` applied to each of `gates` equal column blocks of `pre` [B, G*H].

    One op over all blocks when `fn` is a known elementwise activation (the
    same values, fewer ops); block by block otherwise (e.g. softmax), which
    is what Keras' cells compute.
    """
    import tensorflow as tf

    if gates == 1 or activation_name(fn) in _ELEMENTWISE:
        return fn(pre)
    return tf.concat([fn(block) for block in tf.split(pre, gates, axis=-1)], axis=-1)
