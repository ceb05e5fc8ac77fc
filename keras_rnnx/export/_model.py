"""Model plumbing shared by the exporters: input and output names, checks."""
import re

from keras_rnnx._atomic import ExportError

_METADATA_NAME = "keras_rnnx"  # the .tflite metadata entry the exporters write


def _clean_name(name, fallback):
    name = re.sub(r"[^A-Za-z0-9_]", "_", str(name or "")).strip("_")
    if not name or not name[0].isalpha():
        name = f"{fallback}{('_' + name) if name else ''}"
    return name


def _unique(names):
    seen, out = {}, []
    for n in names:
        if n in seen:
            seen[n] += 1
            n = f"{n}_{seen[n]}"
        seen.setdefault(n, 0)
        out.append(n)
    return out


def _check_model(model):
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model: expected a keras.Model, got {type(model).__name__}")
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ExportError(
            "model: export needs a model with declared inputs (a functional "
            "model, or a Sequential model that starts with keras.Input)"
        )
    return inputs


def _input_layout(model, fixed=None):
    """[(name, TensorSpec)] in model-input order and the input structure.

    `fixed`: None (dynamic batch), or a `(batch_size, time_steps)` pair that
    makes every shape static (a microcontroller export): the batch becomes
    `batch_size`, and a `None` time axis (axis 1) `time_steps`."""
    import tensorflow as tf

    inputs = _check_model(model)
    struct = getattr(model, "_inputs_struct", None)
    names = _unique([_clean_name(t.name, f"input_{i}") for i, t in enumerate(inputs)])
    specs = []
    for name, t in zip(names, inputs):
        shape = [None] + list(t.shape[1:])
        if fixed is not None:
            shape = _static_shape(name, list(t.shape), *fixed)
        specs.append(tf.TensorSpec(shape, tf.as_dtype(t.dtype), name=name))
    keys = None
    if isinstance(struct, dict):
        by_id = {id(v): k for k, v in struct.items()}
        keys = [by_id.get(id(t), n) for t, n in zip(inputs, names)]
    return specs, keys


def _static_shape(name, shape, batch_size, time_steps):
    """The static shape of input `name` (Keras shape `shape`) for a
    fixed-shape export; ExportError when a dimension stays unknown or
    `time_steps` contradicts the model."""
    out = [batch_size] + shape[1:]
    if len(out) > 1:
        if out[1] is None:
            if time_steps is None:
                raise ExportError(
                    f"time_steps: input {name!r} has a dynamic time dimension "
                    f"(shape {tuple(shape)}); a microcontroller export needs a "
                    "fixed one: pass time_steps=, or build the model with "
                    "keras.Input((T, ...))")
            out[1] = time_steps
        elif time_steps is not None and out[1] != time_steps:
            raise ExportError(
                f"time_steps: input {name!r} has {out[1]} time steps in the "
                f"model, time_steps={time_steps} was given")
    if any(d is None for d in out):
        raise ExportError(
            f"model: input {name!r} has shape {tuple(shape)} with an unknown "
            "dimension after the time axis; a microcontroller export needs "
            "every dimension fixed")
    return out


def _call_model(model, args, keys):
    if keys is not None:
        return model(dict(zip(keys, args)), training=False)
    if len(args) == 1:
        return model(args[0], training=False)
    return model(list(args), training=False)


def _name_outputs(model, outputs):
    """Flattens outputs to an ordered dict of names, and the kind of structure."""
    if isinstance(outputs, dict):
        names = _unique([_clean_name(k, "output") for k in outputs])
        return dict(zip(names, outputs.values())), "dict", list(outputs.keys())
    single = not isinstance(outputs, (list, tuple))
    flat = [outputs] if single else list(outputs)
    declared = getattr(model, "output_names", None) or []
    if len(declared) != len(flat):
        declared = [getattr(t, "name", None) for t in (getattr(model, "outputs", None) or [])]
    if len(declared) != len(flat):
        declared = [None] * len(flat)
    names = _unique([_clean_name(n, f"output_{i}") for i, n in enumerate(declared)])
    return dict(zip(names, flat)), "single" if single else "list", None


def _all_layers(model):
    return list(model._flatten_layers(include_self=False, recursive=True))


def _check_streamable(model):
    for layer in _all_layers(model):
        if type(layer).__name__ in ("BiDirectional", "Bidirectional"):
            raise ExportError(
                f"streaming=True: layer {layer.name!r} is bidirectional; a "
                "backward direction needs the whole sequence, so only models "
                "with uni-directional LSTMX/GRUX layers can stream"
            )
