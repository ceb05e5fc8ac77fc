"""Exporters: SavedModel for TF Serving and builtin-op TFLite.

    from keras_rnnx import export
    export.to_saved_model(model, "export/tagger")            # TF Serving
    export.to_tflite(model, "export/tagger.tflite")            # WHILE-loop kernel
    export.to_tflite(model, "export/tagger_fused.tflite", lstm_kernel="fused")
    run = export.load_tflite("export/tagger.tflite")
    probs = run(token_ids)                                      # any batch, any length

    with export.for_tflite():                                   # Keras' own exporter,
        model.export("export/tagger.tflite", format="litert")   # builtin ops too

Both exporters keep the batch dimension dynamic and every dimension the model
declares as `None` (declare `keras.Input(shape=(None, ...))` for a dynamic
time dimension). Writes are atomic: the export goes to a temporary path beside
`path` and is moved into place only once complete, so a failed export leaves
whatever was at `path` untouched; an existing `path` is replaced only with
`overwrite=True`.

Streaming (`streaming=True`): the export takes, besides the model inputs, one
state input per recurrent state (`state{i}_h`, and `state{i}_c` for LSTMs, in
the order the layers run) and returns the new states under the same names, so
an app feeds one step (or a chunk of steps) at a time and carries the state
itself. Only uni-directional layers can stream.
"""
import contextlib
import json
import os
import re
import tempfile

import numpy as np

from keras_rnnx._atomic import ExportError, atomic_target, check_target, write_bytes

__all__ = [
    "ExportError",
    "to_saved_model",
    "to_tflite",
    "for_tflite",
    "load_tflite",
    "tflite_ops",
    "TFLiteRunner",
]

QUANTIZE_MODES = (None, "dynamic", "float16", "int8")
LSTM_KERNELS = ("loop", "fused")
_METADATA_NAME = "keras_rnnx"


# ------------------------------------------------------------ model plumbing
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


def _input_layout(model):
    """[(name, TensorSpec)] in model-input order and the input structure."""
    import tensorflow as tf

    inputs = _check_model(model)
    struct = getattr(model, "_inputs_struct", None)
    names = _unique([_clean_name(t.name, f"input_{i}") for i, t in enumerate(inputs)])
    specs = []
    for name, t in zip(names, inputs):
        shape = [None] + list(t.shape[1:])
        specs.append(tf.TensorSpec(shape, tf.as_dtype(t.dtype), name=name))
    keys = None
    if isinstance(struct, dict):
        by_id = {id(v): k for k, v in struct.items()}
        keys = [by_id.get(id(t), n) for t, n in zip(inputs, names)]
    return specs, keys


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


def _check_tflite_layers(model, streaming):
    import keras

    for layer in _all_layers(model):
        half = getattr(layer, "compute_dtype", "float32") in ("float16", "bfloat16")
        if layer.weights and half:
            raise ExportError(
                f"model: layer {layer.name!r} computes in {layer.compute_dtype} "
                "(mixed precision); TFLite builtin kernels need float32: rebuild the "
                "model under keras.config.set_dtype_policy('float32'), copy the "
                "weights with set_weights, and pass quantize='float16' for "
                "float16 weights"
            )
        module = type(layer).__module__
        native = module.startswith("keras.") or module.startswith("tf_keras")
        if native and isinstance(layer, keras.layers.RNN):
            raise ExportError(
                f"model: layer {layer.name!r} ({type(layer).__name__}) is a Keras "
                "recurrent layer, which TFLite cannot run with builtin ops and a "
                "dynamic batch (it needs Flex TensorList ops); rebuild the model "
                "with keras_rnnx.LSTMX / GRUX / BiDirectional (same weights: "
                "layer.set_weights(keras_layer.get_weights()))"
            )
    if streaming:
        _check_streamable(model)


# ------------------------------------------------------------------ streaming
class _StreamContext:
    """State plumbing for the streaming lowering (see `_stream_kernel`)."""

    def __init__(self, base, states=None):
        self.base = base  # lowering name whose kernels do the work
        self.states = states  # None: discovery run
        self.layout = []  # [(kind, units, dtype)] in call order
        self.finals = []
        self.index = 0


_STREAM = []


def _stream_kernel(kind):
    def kernel(inputs, initial_state, kernel, recurrent_kernel, bias, **kwargs):
        from keras_rnnx import kernels
        from keras_rnnx.kernels import tflite as tflite_kernels

        ctx = _STREAM[-1]
        if kwargs.get("go_backwards"):
            raise ExportError(
                "streaming=True: a layer runs backwards (go_backwards=True or "
                "BiDirectional); only uni-directional layers can stream"
            )
        i = ctx.index
        ctx.index += 1
        if ctx.states is None:
            ctx.layout.append((kind, int(recurrent_kernel.shape[0]), inputs.dtype))
        else:
            initial_state = ctx.states[i]
        base = kernels.registered_kernel(ctx.base, kind) if ctx.base else None
        if base is None or base is tflite_kernels.lstm_fused:
            base = tflite_kernels.lstm_loop if kind == "lstm" else tflite_kernels.gru_loop
        # A chunk continues the sequence: masked steps repeat the carried h.
        last, outputs, final = base(
            inputs, initial_state, kernel, recurrent_kernel, bias,
            carry_initial_output=True, **kwargs
        )
        ctx.finals.append(list(final))
        return last, outputs, final

    return kernel


def _register_stream_lowering():
    from keras_rnnx import kernels

    kernels.register_lowering(
        "keras_rnnx_stream", lstm=_stream_kernel("lstm"), gru=_stream_kernel("gru")
    )


def _state_names(layout):
    names = []
    for i, (kind, _, _) in enumerate(layout):
        names.append(f"state{i}_h")
        if kind == "lstm":
            names.append(f"state{i}_c")
    return names


# ------------------------------------------------------------ serving function
def _serving_function(model, lowering=None, streaming=False):
    """A traced tf.function with named, dynamic-shape inputs and named outputs.

    Returns (function, info) where info describes the input and output names.
    """
    import tensorflow as tf

    from keras_rnnx.kernels import recurrence

    import keras_rnnx.kernels.tflite  # noqa: F401 - registers the lowerings

    specs, keys = _input_layout(model)
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
        with recurrence.lowering(lowering):
            fn.get_concrete_function()
        info.update(outputs=holder["names"], output_kind=holder["kind"],
                    output_keys=holder["original"], states=[])
        return fn, info, lambda: recurrence.lowering(lowering)

    _register_stream_lowering()
    # Discovery: which recurrent kernels run, in which order, with which sizes.
    probe = _StreamContext(lowering)
    _STREAM.append(probe)
    try:
        with recurrence.lowering("keras_rnnx_stream"):
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
    with recurrence.lowering("keras_rnnx_stream"):
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
    return fn, info, lambda: recurrence.lowering("keras_rnnx_stream")


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


def _write_saved_model(model, target, signatures=None, lowering=None, streaming=False,
                       track=None):
    import tensorflow as tf
    from keras.export import ExportArchive

    fn, info, contexts = _serving_function(model, lowering=lowering, streaming=streaming)
    # The model itself is not tracked (walking it for SavedModel would trace
    # Keras' own default signature): the endpoints' variables are tracked
    # anyway, and lookup tables are tracked here.
    archive = ExportArchive()
    for resource in _model_resources(model) + list(track or []):
        archive.track(resource)
    archive.add_endpoint("serving_default", fn)
    for name, extra in (signatures or {}).items():
        if name == "serving_default":
            raise ExportError("signatures: 'serving_default' is reserved for the model")
        if not isinstance(name, str) or not name:
            raise ExportError(f"signatures: names must be non-empty strings, got {name!r}")
        if isinstance(extra, tf.types.experimental.ConcreteFunction):
            setattr(archive._tf_trackable, name, extra)
            archive._endpoint_names.append(name)
            archive._endpoint_signatures[name] = extra.structured_input_signature
        elif isinstance(extra, tf.types.experimental.GenericFunction):
            if extra.input_signature is not None:
                archive.add_endpoint(name, extra, input_signature=extra.input_signature)
            else:
                archive.add_endpoint(name, extra)
        else:
            raise ExportError(
                f"signatures[{name!r}]: expected a tf.function (with an "
                "input_signature, or called once) or a ConcreteFunction, got "
                f"{type(extra).__name__}"
            )
    # Serving needs no gradients; the layers' custom gradients capture loop
    # internals that SavedModel cannot serialize.
    options = tf.saved_model.SaveOptions(experimental_custom_gradients=False)
    with contexts():
        archive.write_out(target, options=options, verbose=False)
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


def _check_streamable(model):
    for layer in _all_layers(model):
        if type(layer).__name__ in ("BiDirectional", "Bidirectional"):
            raise ExportError(
                f"streaming=True: layer {layer.name!r} is bidirectional; a "
                "backward direction needs the whole sequence, so only models "
                "with uni-directional LSTMX/GRUX layers can stream"
            )


# -------------------------------------------------------------------- TFLite
def _op_names(model_obj):
    from ai_edge_litert import schema_py_generated as schema

    codes = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    names = []
    for sg in model_obj.subgraphs:
        for op in sg.operators or []:
            oc = model_obj.operatorCodes[op.opcodeIndex]
            code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
            name = codes.get(code, str(code))
            if name == "CUSTOM":
                custom = oc.customCode.decode() if isinstance(oc.customCode, bytes) else oc.customCode
                name = f"CUSTOM:{custom}"
            names.append(name)
    return names


def tflite_ops(path_or_bytes):
    """Sorted distinct operator names of a .tflite file or flatbuffer bytes."""
    from ai_edge_litert.tools import flatbuffer_utils

    if isinstance(path_or_bytes, (bytes, bytearray)):
        data = bytearray(path_or_bytes)
    else:
        with open(path_or_bytes, "rb") as f:
            data = bytearray(f.read())
    return sorted(set(_op_names(flatbuffer_utils.read_model_from_bytearray(data))))


def _finish_flatbuffer(data, info):
    """Patches the fused LSTM's cell_clip to 0, verifies ops, adds metadata."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    m = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    codes = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    fused = 0
    for sg in m.subgraphs:
        for op in sg.operators or []:
            oc = m.operatorCodes[op.opcodeIndex]
            name = codes.get(max(oc.builtinCode, oc.deprecatedBuiltinCode))
            if name in ("UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM",
                        "LSTM") and op.builtinOptions is not None:
                op.builtinOptions.cellClip = 0.0  # Keras never clips
                op.builtinOptions.projClip = 0.0
                fused += 1
    names = _op_names(m)
    bad = sorted({n for n in names if n.startswith("CUSTOM") or "FLEX" in n.upper()})
    if bad:
        raise ExportError(f"the converted model uses non-builtin ops {bad}")
    variables = [
        {"index": i, "shape": list(t.shape), "name": t.name.decode() if isinstance(t.name, bytes) else t.name}
        for i, t in enumerate(m.subgraphs[0].tensors) if t.isVariable
    ]
    info = dict(info, fused_lstm_ops=fused, ops=sorted(set(names)), variables=variables)
    meta_buffer = schema.BufferT()
    meta_buffer.data = list(json.dumps(info).encode())
    m.buffers.append(meta_buffer)
    meta = schema.MetadataT()
    meta.name = _METADATA_NAME
    meta.buffer = len(m.buffers) - 1
    m.metadata = (m.metadata or []) + [meta]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(m)), info


def _representative(representative_data, input_names):
    def gen():
        for item in representative_data:
            if isinstance(item, dict):
                yield {k: np.asarray(v) for k, v in item.items()}
            elif isinstance(item, (list, tuple)):
                yield {n: np.asarray(v) for n, v in zip(input_names, item)}
            else:
                yield {input_names[0]: np.asarray(item)}

    return gen


def to_tflite(model, path, quantize=None, representative_data=None, lstm_kernel="loop",
              streaming=False, *, overwrite=False):
    """Converts `model` to a builtin-op `.tflite` file with dynamic batch and time.

    Args:
        model: a built `keras.Model` with declared inputs; recurrent layers
            must be keras_rnnx layers (LSTMX, GRUX, BiDirectional).
        path: output file; written atomically.
        quantize: None (float32), "dynamic" (int8 weights, float compute),
            "float16" (float16 weights) or "int8" (full integer quantization
            of weights and activations; needs `representative_data`). Inputs
            and outputs stay float32 in every mode.
        representative_data: for "int8": an iterable of model inputs (arrays,
            lists of arrays in input order, or dicts by input name).
        lstm_kernel: "loop" (builtin WHILE loop; LSTM and GRU) or "fused"
            (LSTMs become UNIDIRECTIONAL_SEQUENCE_LSTM; masks are read as right
            padding; GRUs keep the loop kernel; quantize None or "dynamic").
        streaming: export a single-step model with explicit state inputs and
            outputs (uni-directional layers only; loop kernel).
        overwrite: replace an existing `path`.

    Returns:
        A dict with `size` (bytes), `ops` (operator names), input, output and
        state names.

    Example:

    >>> import keras, numpy as np
    >>> from keras_rnnx import GRUX, export
    >>> ids = keras.Input((None,), dtype="int32", name="ids")
    >>> h = GRUX(8)(keras.layers.Embedding(50, 4, mask_zero=True)(ids))
    >>> model = keras.Model(ids, keras.layers.Dense(2)(h))
    >>> info = export.to_tflite(model, "/tmp/rnnx_doc.tflite", overwrite=True)
    >>> "WHILE" in info["ops"]
    True
    >>> run = export.load_tflite("/tmp/rnnx_doc.tflite")
    >>> run(np.array([[3, 4, 5, 0]], "int32")).shape
    (1, 2)
    """
    import tensorflow as tf

    if quantize not in QUANTIZE_MODES:
        raise ExportError(f"quantize: expected one of {QUANTIZE_MODES}, got {quantize!r}")
    if lstm_kernel not in LSTM_KERNELS:
        raise ExportError(f"lstm_kernel: expected one of {LSTM_KERNELS}, got {lstm_kernel!r}")
    if quantize == "int8" and representative_data is None:
        raise ExportError(
            "representative_data: quantize='int8' needs representative_data, an "
            "iterable of typical model inputs used to calibrate activation ranges"
        )
    if lstm_kernel == "fused" and quantize in ("float16", "int8"):
        raise ExportError(
            f"quantize: {quantize!r} is not supported with lstm_kernel='fused' (the "
            "fused op's state tensors then cannot follow the batch size); use "
            "quantize='dynamic' with the fused kernel, or lstm_kernel='loop'"
        )
    if streaming and lstm_kernel == "fused":
        raise ExportError(
            "streaming=True: the fused LSTM op keeps its state internally and "
            "cannot take state inputs; use lstm_kernel='loop'"
        )
    _check_model(model)
    check_target(path, overwrite)
    _check_tflite_layers(model, streaming)
    lowering = "tflite_fused" if lstm_kernel == "fused" else "tflite_loop"

    with tempfile.TemporaryDirectory(prefix="keras_rnnx_tflite_") as tmp:
        saved = os.path.join(tmp, "saved_model")
        info = _write_saved_model(model, saved, lowering=lowering, streaming=streaming)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            saved, signature_keys=["serving_default"]
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantize is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantize == "int8":
            converter.representative_dataset = _representative(
                representative_data, info["inputs"]
            )
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                tf.lite.OpsSet.TFLITE_BUILTINS,
            ]
        try:
            data = converter.convert()
        except Exception as e:  # noqa: BLE001 - the converter raises many types
            first = str(e).strip().splitlines()
            raise ExportError(
                "the TFLite converter failed with builtin ops only "
                f"({first[0] if first else type(e).__name__}); a layer probably "
                "needs Flex ops: use keras_rnnx layers (LSTMX, GRUX, "
                "BiDirectional) for recurrence"
            ) from e
    info = dict(info, lstm_kernel=lstm_kernel, quantize=quantize)
    data, info = _finish_flatbuffer(data, info)
    write_bytes(path, data, overwrite=overwrite)
    info["size"] = len(data)
    return info


@contextlib.contextmanager
def for_tflite():
    """Traces keras_rnnx layers with the builtin-op TFLite loop kernel, for
    converting with Keras' or TensorFlow's own tools.

    Outside it, a model's LSTMX/GRUX/BiDirectional layers trace the kernels
    built for TensorFlow (TensorArrays, a cond for empty sequences, row
    groups), which TFLite can only run with Flex ops, as with Keras' own
    LSTM: `model.export(path, format="litert")` then writes a model that
    the plain interpreter refuses (FlexSplitV, FlexTensorListReserve, ...),
    and `tf.lite.TFLiteConverter.from_keras_model` with builtin ops fails.
    Inside it, both give builtin ops with dynamic batch and time, the same
    kernel `to_tflite(model, path)` uses. `to_tflite` does more (checks the
    layers, names inputs and outputs, quantizes, writes atomically, the
    fused LSTM kernel); this is for workflows built on Keras' exporter.

    Only for tracing an export: models called inside it run the export
    kernel (no hand-written gradient, no row groups, no cuDNN), so do not
    train inside it. Layers Keras ships (`keras.layers.LSTM`) still need
    Flex ops.

    Example:

    >>> import keras, numpy as np
    >>> from keras_rnnx import GRUX, export
    >>> ids = keras.Input((None,), dtype="int32")
    >>> h = GRUX(8)(keras.layers.Embedding(50, 4, mask_zero=True)(ids))
    >>> model = keras.Model(ids, keras.layers.Dense(2)(h))
    >>> with export.for_tflite():
    ...     model.export("/tmp/rnnx_for_tflite.tflite", format="litert", verbose=False)
    >>> [op for op in export.tflite_ops("/tmp/rnnx_for_tflite.tflite") if op.startswith("CUSTOM")]
    []
    """
    import keras_rnnx.kernels.tflite  # noqa: F401 - registers the lowerings
    from keras_rnnx.kernels import recurrence

    with recurrence.lowering("tflite_loop"):
        yield


# -------------------------------------------------------------------- runner
class TFLiteRunner:
    """Runs a `.tflite` written by `to_tflite` on NumPy inputs of any shape.

    Call it with the inputs positionally (model-input order), as a list, or
    as a dict by input name; it returns NumPy outputs structured like the
    Keras model's (one array, a list, or a dict). For streaming exports, state
    inputs default to zeros and are passed/returned by name (`state0_h`, ...).
    """

    def __init__(self, path, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = os.fspath(path)
        with open(self.path, "rb") as f:
            data = f.read()
        try:
            self.info = _read_metadata(data)
            self.interpreter = Interpreter(model_content=data, num_threads=num_threads)
        except Exception as e:  # flatbuffer/struct errors from a damaged file
            raise ValueError(
                f"path: {self.path!r} is not a readable .tflite model "
                f"(truncated or corrupt?): {type(e).__name__}: {e}"
            ) from e
        runner = self.interpreter.get_signature_runner("serving_default")
        self._in = {k: v["index"] for k, v in runner.get_input_details().items()}
        self._out = {k: v["index"] for k, v in runner.get_output_details().items()}
        self._details = {d["index"]: d for d in self.interpreter.get_tensor_details()}
        self.input_names = list(self.info.get("inputs") or sorted(self._in))
        self.output_names = list(self.info.get("outputs") or sorted(self._out))
        self._variables = [(v["index"], v["shape"]) for v in self.info.get("variables", [])]
        self._shapes = None

    def _gather(self, args, kwargs):
        states = {s["name"] for s in self.info.get("states", [])}
        model_inputs = [n for n in self.input_names if n not in states]
        if len(args) == 1 and isinstance(args[0], dict):
            kwargs = {**args[0], **kwargs}
            args = ()
        elif len(args) == 1 and isinstance(args[0], (list, tuple)) and len(model_inputs) > 1:
            args = tuple(args[0])
        if len(args) > len(model_inputs):
            raise ValueError(
                f"inputs: expected at most {len(model_inputs)} positional inputs "
                f"({model_inputs}), got {len(args)}"
            )
        feed = dict(zip(model_inputs, args))
        for k, v in kwargs.items():
            if k not in self._in:
                raise ValueError(f"inputs: unknown input {k!r}; expected {self.input_names}")
            feed[k] = v
        missing = [n for n in model_inputs if n not in feed]
        if missing:
            raise ValueError(f"inputs: missing {missing}")
        first = np.asarray(feed[model_inputs[0]])
        batch = first.shape[0] if first.ndim else 1
        for s in self.info.get("states", []):
            if s["name"] not in feed:
                feed[s["name"]] = np.zeros([batch, s["units"]], np.float32)
        arrays = {}
        for name, value in feed.items():
            dtype = self._details[self._in[name]]["dtype"]
            arrays[name] = np.asarray(value).astype(dtype, copy=False)
        return arrays, batch

    def __call__(self, *args, **kwargs):
        out = self.named(*args, **kwargs)
        kind = self.info.get("output_kind", "dict")
        if self.info.get("streaming"):
            return out
        if kind == "single":
            return out[self.output_names[0]]
        if kind == "list":
            return [out[n] for n in self.output_names]
        keys = self.info.get("output_keys") or self.output_names
        return dict(zip(keys, (out[n] for n in self.output_names)))

    def named(self, *args, **kwargs):
        """Like calling the runner, but always a dict by exported output name."""
        arrays, batch = self._gather(args, kwargs)
        it = self.interpreter
        shapes = {n: a.shape for n, a in arrays.items()}
        if shapes != self._shapes:
            for name, a in arrays.items():
                it.resize_tensor_input(self._in[name], list(a.shape), strict=False)
            for index, shape in self._variables:
                it.resize_tensor_input(index, [batch] + list(shape[1:]), strict=False)
            it.allocate_tensors()
            self._shapes = shapes
        if self._variables:
            it.reset_all_variables()
        for name, a in arrays.items():
            it.set_tensor(self._in[name], a)
        it.invoke()
        return {n: it.get_tensor(self._out[n]).copy() for n in self.output_names}


def _read_metadata(data):
    from ai_edge_litert.tools import flatbuffer_utils

    m = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    for meta in m.metadata or []:
        name = meta.name.decode() if isinstance(meta.name, bytes) else meta.name
        if name == _METADATA_NAME:
            return json.loads(bytes(m.buffers[meta.buffer].data).decode())
    return {}


def load_tflite(path, num_threads=None):
    """Returns a `TFLiteRunner`: NumPy inputs of any batch/length -> NumPy outputs.

    Args:
        path: a `.tflite` file written by `to_tflite`.
        num_threads: interpreter threads (None: the runtime's default).

    Example (see `to_tflite`): `export.load_tflite("m.tflite")(ids)` returns
    what `model(ids)` returns, as NumPy, for any batch size and length.
    """
    if not os.path.isfile(os.fspath(path)):
        raise ValueError(f"path: no .tflite file at {os.fspath(path)!r}")
    return TFLiteRunner(path, num_threads=num_threads)
