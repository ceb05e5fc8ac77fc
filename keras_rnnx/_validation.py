"""Argument checks shared by the layers: clear `ValueError`s up front."""


def check_units(units, name="units", minimum=1):
    """`units` as an int >= `minimum` (1: a positive integer); NumPy ints pass."""
    import numpy as np

    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"`{name}` must be {what}; received {name}={units!r}")
    return int(units)


def check_number(value, name, minimum=0.0, inclusive=True):
    """`value` as a float >= `minimum` (> `minimum` when not `inclusive`);
    ints and NumPy numbers pass, bools and NaN do not."""
    import numpy as np

    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = value >= minimum if inclusive else value > minimum
    if not ok:
        bound = f"{'>=' if inclusive else '>'} {minimum:g}"
        raise ValueError(f"`{name}` must be a number {bound}; received {name}={value!r}")
    return value


def check_rate(rate, name):
    try:
        ok = 0.0 <= float(rate) <= 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"`{name}` must be a float between 0 and 1; received {name}={rate!r}"
        )
    return min(1.0, max(0.0, float(rate)))


def check_activation(value, name):
    import keras

    try:
        fn = keras.activations.get(value)
    except (ValueError, TypeError, AttributeError) as e:
        raise ValueError(
            f"Unknown `{name}`: {value!r}. Expected a Keras activation name "
            f"(e.g. 'tanh', 'sigmoid', 'relu') or a callable."
        ) from e
    if fn is None or not callable(fn):
        raise ValueError(
            f"Unknown `{name}`: {value!r}. Expected a Keras activation name "
            f"or a callable."
        )
    return fn


def check_choice(value, name, choices):
    if value not in choices:
        raise ValueError(
            f"Unknown `{name}`: {value!r}. Expected one of "
            f"{', '.join(repr(c) for c in choices)}."
        )
    return value


def check_sequence_shape(shape, layer_name, arg="inputs"):
    """A [batch, time, features] shape with a known feature size."""
    shape = tuple(shape) if shape is not None else None
    if shape is None or len(shape) != 3:
        rank = None if shape is None else len(shape)
        raise ValueError(
            f"Layer {layer_name!r}: `{arg}` must be a 3D tensor of shape "
            f"(batch, timesteps, features); received rank {rank}, "
            f"shape={shape}"
        )
    if shape[-1] is None:
        raise ValueError(
            f"Layer {layer_name!r}: the last dimension (features) of `{arg}` "
            f"must be known; received shape={shape}"
        )


def check_float_dtype(x, layer_name, arg="inputs"):
    import keras

    dtype = keras.backend.standardize_dtype(x.dtype)
    if "float" not in dtype:
        raise ValueError(
            f"Layer {layer_name!r}: `{arg}` must be a floating point tensor "
            f"(float16/bfloat16/float32/float64); received dtype={dtype}. "
            f"Cast integer ids with an Embedding layer first."
        )
