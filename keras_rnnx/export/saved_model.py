"""SavedModel writing: the serving function every export traces, and the one
SavedModel writer (`to_saved_model`, and the intermediate SavedModel that
`to_tflite` converts)."""
import contextlib

from keras_rnnx._atomic import ExportError, atomic_target
from keras_rnnx.export._model import (
    _call_model, _check_model, _check_streamable, _input_layout, _name_outputs)
from keras_rnnx.export.streaming import (
    _STREAM, _StreamContext, _register_stream_lowering, _state_names)


def _serving_function(model, lowering=None, streaming=False, fixed=None):
    """A traced tf.function with named, dynamic-shape inputs and named outputs
    (static shapes with `fixed` = (batch_size, time_steps), see
    `_model._input_layout`).

    Returns (function, info) where info describes the input and output names.
    """
    import tensorflow as tf

    from keras_rnnx import kernels

    import keras_rnnx.kernels.tflite  # noqa: F401 - registers the lowerings

    specs, keys = _input_layout(model, fixed)
    info = {"inputs": [s.name for s in specs], "streaming": bool(streaming)}
    n_inputs = len(specs)

    if not streaming:
        holder = {}

        def serve(*args):
            outputs = _call_model(model, args, keys)
            named, kind, original = _name_outputs(model, outputs)
            holder.update(kind=kind, names=list(named), original=original)
            return named

        fn = tf.function(serve, input_signature=specs, autograph=False)
        with kernels.lowering(lowering):
            fn.get_concrete_function()
        info.update(outputs=holder["names"], output_kind=holder["kind"],
                    output_keys=holder["original"], states=[])
        return fn, info, lambda: kernels.lowering(lowering)

    _register_stream_lowering()
    # Discovery: which recurrent kernels run, in which order, with which sizes.
    probe = _StreamContext(lowering)
    _STREAM.append(probe)
    try:
        with kernels.lowering("keras_rnnx_stream"):
            tf.function(lambda *a: _call_model(model, a, keys), input_signature=specs,
                        autograph=False).get_concrete_function()
    finally:
        _STREAM.pop()
    if not probe.layout:
        raise ExportError(
            "streaming=True: the model has no LSTMX/GRUX layer to carry state"
        )
    state_names = _state_names(probe.layout)
    state_specs = []
    for (kind, units, dtype), n in zip(
        [x for x in probe.layout for _ in range(2 if x[0] == "lstm" else 1)], state_names
    ):
        state_specs.append(tf.TensorSpec([None, units], dtype, name=n))
    holder = {}

    def serve_step(*args):
        model_args, flat_states = args[:n_inputs], list(args[n_inputs:])
        grouped, k = [], 0
        for kind, _, _ in probe.layout:
            n = 2 if kind == "lstm" else 1
            grouped.append(flat_states[k:k + n])
            k += n
        ctx = _StreamContext(lowering, grouped)
        _STREAM.append(ctx)
        try:
            outputs = _call_model(model, model_args, keys)
        finally:
            _STREAM.pop()
        if len(ctx.finals) != len(probe.layout):
            raise ExportError("streaming=True: the model called its recurrent "
                              "layers a different number of times when traced twice")
        named, kind, original = _name_outputs(model, outputs)
        holder.update(kind=kind, names=list(named), original=original)
        flat_final = [t for final in ctx.finals for t in final]
        for name, t in zip(state_names, flat_final):
            named[name] = tf.identity(t, name=name)
        return named

    fn = tf.function(serve_step, input_signature=specs + state_specs, autograph=False)
    with kernels.lowering("keras_rnnx_stream"):
        fn.get_concrete_function()
    info.update(
        inputs=info["inputs"] + state_names,
        outputs=holder["names"] + state_names,
        output_kind=holder["kind"],
        output_keys=holder["original"],
        states=[
            {"name": n, "units": int(s.shape[-1])} for n, s in zip(state_names, state_specs)
        ],
    )
    return fn, info, lambda: kernels.lowering("keras_rnnx_stream")


def _model_resources(model):
    """Lookup tables and other TrackableResources the model holds.

    Walked with the checkpoint view, which (unlike the SavedModel view) does
    not trace the model's functions.
    """
    import tensorflow as tf
    from tensorflow.saved_model.experimental import TrackableResource

    try:
        return [t for t in tf.train.TrackableView(model).descendants()
                if isinstance(t, TrackableResource)]
    except TypeError:
        return []


def _write_archive(target, endpoints, track=(), contexts=None):
    """The one SavedModel writer: `endpoints` (name -> tf.function with an
    input_signature or called once, or ConcreteFunction) as signatures, the
    objects in `track` tracked (lookup tables, ...), traced inside
    `contexts()` (a recurrence lowering)."""
    import tensorflow as tf
    from keras.export import ExportArchive

    archive = ExportArchive()
    for resource in track:
        archive.track(resource)
    for name, fn in endpoints.items():
        if not isinstance(name, str) or not name:
            raise ExportError(f"signatures: names must be non-empty strings, got {name!r}")
        if isinstance(fn, tf.types.experimental.ConcreteFunction):
            setattr(archive._tf_trackable, name, fn)
            archive._endpoint_names.append(name)
            archive._endpoint_signatures[name] = fn.structured_input_signature
        elif isinstance(fn, tf.types.experimental.GenericFunction):
            if fn.input_signature is not None:
                archive.add_endpoint(name, fn, input_signature=fn.input_signature)
            else:
                archive.add_endpoint(name, fn)
        else:
            raise ExportError(
                f"signatures[{name!r}]: expected a tf.function (with an "
                "input_signature, or called once) or a ConcreteFunction, got "
                f"{type(fn).__name__}"
            )
    # Serving needs no gradients; the layers' custom gradients capture loop
    # internals that SavedModel cannot serialize.
    options = tf.saved_model.SaveOptions(experimental_custom_gradients=False)
    with contexts() if contexts else contextlib.nullcontext():
        archive.write_out(target, options=options, verbose=False)


def _write_saved_model(model, target, signatures=None, lowering=None, streaming=False,
                       track=None, fixed=None):
    """Writes `model`'s serving function ("serving_default") and the extra
    `signatures` to the folder `target`; returns the export's info.
    `fixed`: (batch_size, time_steps) for static input shapes."""
    fn, info, contexts = _serving_function(model, lowering=lowering, streaming=streaming,
                                           fixed=fixed)
    signatures = dict(signatures or {})
    if "serving_default" in signatures:
        raise ExportError("signatures: 'serving_default' is reserved for the model")
    # The model itself is not tracked (walking it for SavedModel would trace
    # Keras' own default signature): the endpoints' variables are tracked
    # anyway, and lookup tables are tracked here.
    _write_archive(target, {"serving_default": fn, **signatures},
                   track=_model_resources(model) + list(track or []), contexts=contexts)
    return info


# ---------------------------------------------------------------- SavedModel
def to_saved_model(model, path, signatures=None, *, streaming=False, overwrite=False,
                   track=None):
    """Writes `model` as a SavedModel for TF Serving.

    The `serving_default` signature takes the model's inputs by name with a
    dynamic batch dimension (and every dimension the model leaves `None`) and
    returns a dict of named outputs. The SavedModel loads with
    `tf.saved_model.load(path)` in a process that imports only TensorFlow.

    Args:
        model: a built `keras.Model` with declared inputs.
        path: output folder; written atomically.
        signatures: optional dict `name -> tf.function` (with an
            `input_signature`, or called at least once) or `ConcreteFunction`,
            saved as extra signatures beside `serving_default` (for example a
            generation signature from `keras_rnnx.decoding`). They may use the
            model's variables; the model is tracked.
        streaming: export a single-step model with explicit state inputs and
            outputs (`state{i}_h`, `state{i}_c`) instead; uni-directional
            LSTMX/GRUX only.
        overwrite: replace an existing `path` (only once the new export is
            complete).
        track: optional list of extra objects whose resources the extra
            signatures use (a tokenizer layer, a `tf.lookup` table), as for
            `keras.export.ExportArchive.track`. Lookup tables inside the model
            are tracked automatically.

    Returns:
        A dict describing the export (input, output and state names).

    Raises:
        TypeError: `model` is not a `keras.Model`.
        ExportError (a ValueError): a model without declared inputs, an
            invalid signature name or function, `path` exists (without
            `overwrite`) or cannot be written, or a bidirectional model with
            `streaming=True`; nothing is written at `path` then.

    Example:

    >>> import keras, tensorflow as tf
    >>> from keras_rnnx import LSTMX, export
    >>> x = keras.Input((None, 3), name="frames")
    >>> model = keras.Model(x, keras.layers.Dense(2, name="logits")(LSTMX(4)(x)))
    >>> @tf.function(input_signature=[tf.TensorSpec([None, 4], name="h")])
    ... def head(h):
    ...     return {"logits": model.layers[-1](h)}
    >>> info = export.to_saved_model(model, "/tmp/rnnx_doc_sm", signatures={"head": head},
    ...                              overwrite=True)
    >>> sorted(tf.saved_model.load("/tmp/rnnx_doc_sm").signatures)
    ['head', 'serving_default']
    """
    _check_model(model)
    if streaming:
        _check_streamable(model)
    with atomic_target(path, overwrite=overwrite, directory=True) as target:
        info = _write_saved_model(model, target, signatures, streaming=streaming,
                                  track=track)
    return info
