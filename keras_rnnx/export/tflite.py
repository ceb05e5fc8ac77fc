"""TFLite conversion: the one path every `.tflite` the project writes takes
(builtin ops only, checked; metadata; atomic write)."""
import contextlib
import json
import os

import numpy as np

from keras_rnnx._atomic import ExportError, check_target, temporary_folder, write_bytes
from keras_rnnx.export._model import (
    _METADATA_NAME, _all_layers, _check_model, _check_streamable, _input_layout)
from keras_rnnx.export.saved_model import _write_archive, _write_saved_model

QUANTIZE_MODES = (None, "dynamic", "float16", "int8")
LSTM_KERNELS = ("loop", "fused")
TARGETS = ("litert", "micro")
MICRO_QUANTIZE_MODES = (None, "int8")


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
    """Sorted distinct operator names of a .tflite file or flatbuffer bytes.

    Args:
        path_or_bytes: a `.tflite` path, or the flatbuffer as bytes.

    Returns:
        A sorted list of builtin operator names ("WHILE", "FULLY_CONNECTED",
        ...); custom ops appear as "CUSTOM:<name>" (Flex ops as
        "CUSTOM:Flex...").

    Example: `export.tflite_ops("m.tflite")` (see `for_tflite`).
    """
    from ai_edge_litert.tools import flatbuffer_utils

    if isinstance(path_or_bytes, (bytes, bytearray)):
        data = bytearray(path_or_bytes)
    else:
        with open(path_or_bytes, "rb") as f:
            data = bytearray(f.read())
    return sorted(set(_op_names(flatbuffer_utils.read_model_from_bytearray(data))))


def _opcode_index(m, schema, code):
    """Index of builtin operator `code` in the model's operator codes (added
    when the model has none)."""
    for i, oc in enumerate(m.operatorCodes):
        if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code:
            return i
    oc = schema.OperatorCodeT()
    oc.builtinCode = code
    oc.deprecatedBuiltinCode = min(code, schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    oc.version = 1
    m.operatorCodes.append(oc)
    return len(m.operatorCodes) - 1


def _fused_states_follow_the_batch(m, schema):
    """Makes every UNIDIRECTIONAL_SEQUENCE_LSTM's state tensors follow the
    batch size and start from zero at every invoke, in any interpreter.

    The converter fuses the Keras-2 composite LSTM only when its initial
    states have a static shape (lstm_utils' CheckFusableKerasLstm), so the
    op's two state inputs are variable tensors of shape [1, units] with no
    producer: the kernel refuses any other batch
    (`NumElements(output_state) != n_batch * n_output`) unless the app
    resizes those tensors too, and keeps the last call's final state as the
    next call's initial state (a second `invoke` starts from it).

    Here each state becomes the output of ops placed first in the graph,
    computed from the first graph input's shape (Keras models share the
    batch dimension across inputs; the LSTM's own check names a mismatch):
    ZEROS_LIKE(input) -> CAST to int32 -> SUM over every axis but the batch
    -> RESHAPE [B, 1] -> TILE [B, units] -> CAST to float32, which writes
    zeros into the variable before any other op runs. The input's values
    never reach the state (ZEROS_LIKE reads only its shape). Two rules of
    the runtime shape this chain:
    - the interpreter allocates a variable (persistent) tensor once per
      `allocate_tensors`, with the size it has when the first run of ops it
      prepares (up to the first op whose output shape depends on data) is
      allocated; so these ops come first, with shapes known at preparation;
    - nothing in the chain is taken by XNNPACK, LiteRT's default CPU
      delegate (int32 ops): a delegated partition runs where the delegate
      puts it, which moved the write behind a data-dependent op and gave
      wrong rows at batch 7 (measured with an ADD writing the state).
    So `resize_tensor_input` + `allocate_tensors` (or a signature runner)
    is all an app does.
    Returns the number of states rewired; fused ops outside the main graph,
    or a main graph whose first input is not float32/int32/int64, are left
    as the converter wrote them."""
    codes = {name: getattr(schema.BuiltinOperator, name)
             for name in ("UNIDIRECTIONAL_SEQUENCE_LSTM", "ZEROS_LIKE", "SUM", "CAST",
                          "RESHAPE", "TILE")}
    T = schema.TensorType
    sg = m.subgraphs[0]
    produced = {int(o) for op in sg.operators or [] for o in op.outputs}
    states = []
    for op in sg.operators or []:
        oc = m.operatorCodes[op.opcodeIndex]
        if max(oc.builtinCode, oc.deprecatedBuiltinCode) == codes["UNIDIRECTIONAL_SEQUENCE_LSTM"]:
            states += [int(i) for i in op.inputs[18:20]
                       if i >= 0 and int(i) not in produced and int(i) not in states]
    if not states or sg.inputs is None or not len(sg.inputs):
        return 0
    source = int(sg.inputs[0])
    src = sg.tensors[source]
    rank = len(src.shape)
    if src.type not in (T.FLOAT32, T.INT32, T.INT64) or rank < 1:
        return 0

    def buffer(data=None):
        b = schema.BufferT()
        if data is not None:
            b.data = list(np.asarray(data).tobytes())
        m.buffers.append(b)
        return len(m.buffers) - 1

    def tensor(name, shape, signature, dtype, data=None):
        t = schema.TensorT()
        t.name = ("keras_rnnx/fused_lstm_states/" + name).encode()
        t.shape = np.asarray(shape, np.int32)
        t.shapeSignature = np.asarray(signature, np.int32)
        t.type = dtype
        t.buffer = buffer(data)
        sg.tensors.append(t)
        return len(sg.tensors) - 1

    def operator(code, inputs, outputs, options_type, options):
        op = schema.OperatorT()
        op.opcodeIndex = _opcode_index(m, schema, codes[code])
        op.inputs = np.asarray(inputs, np.int32)
        op.outputs = np.asarray(outputs, np.int32)
        op.builtinOptionsType = options_type
        op.builtinOptions = options
        return op

    O = schema.BuiltinOptions
    signature = list(src.shapeSignature if src.shapeSignature is not None else src.shape)
    batch, batch_sig = int(src.shape[0]), int(signature[0])

    def cast(source, dtype, out):
        options = schema.CastOptionsT()
        options.inDataType, options.outDataType = sg.tensors[source].type, dtype
        return operator("CAST", [source], [out], O.CastOptions, options)

    zeros = tensor("zeros_like", src.shape, signature, src.type)
    first = [operator("ZEROS_LIKE", [source], [zeros], O.ZerosLikeOptions,
                      schema.ZerosLikeOptionsT())]
    if src.type != T.INT32:
        ints = tensor("int32", src.shape, signature, T.INT32)
        first.append(cast(zeros, T.INT32, ints))
        zeros = ints
    if rank > 1:
        axes = tensor("axes", [rank - 1], [rank - 1], T.INT32, np.arange(1, rank, dtype=np.int32))
        summed = tensor("sum", [batch], [batch_sig], T.INT32)
        reducer = schema.ReducerOptionsT()
        reducer.keepDims = False
        first.append(operator("SUM", [zeros, axes], [summed], O.ReducerOptions, reducer))
        zeros = summed
    new_shape = tensor("shape", [2], [2], T.INT32, np.array([-1, 1], np.int32))
    column = tensor("batch_zeros", [batch, 1], [batch_sig, 1], T.INT32)
    reshape = schema.ReshapeOptionsT()
    reshape.newShape = [-1, 1]
    first.append(operator("RESHAPE", [zeros, new_shape], [column], O.ReshapeOptions, reshape))
    for index in states:
        state = sg.tensors[index]
        units = int(state.shape[-1])
        multiples = tensor(f"multiples_{index}", [2], [2], T.INT32,
                           np.array([1, units], np.int32))
        wide = tensor(f"wide_{index}", [batch, units], [batch_sig, units], T.INT32)
        state.shape = np.asarray([batch, units], np.int32)
        state.shapeSignature = np.asarray([batch_sig, units], np.int32)
        first.append(operator("TILE", [column, multiples], [wide], O.TileOptions,
                              schema.TileOptionsT()))
        first.append(cast(wide, T.FLOAT32, index))
    sg.operators = first + list(sg.operators)
    return len(states)


def _finish_flatbuffer(data, info, signatures=None):
    """Patches the fused LSTM's cell_clip to 0 and makes its states follow
    the batch (`_fused_states_follow_the_batch`), verifies ops, adds metadata.

    `signatures`: name -> what the exporter knows about that signature
    (input order, output structure, states); the metadata's "signatures"
    entry holds it for every signature, with the file's own input and
    output names where the exporter knows none."""
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
    if fused and info.get("target") != "micro":
        # A micro file has batch 1 and TFLM has no TILE: its runner (and
        # firmware, README) resets the op's variable states before each call.
        _fused_states_follow_the_batch(m, schema)
    names = _op_names(m)
    bad = sorted({n for n in names if n.startswith("CUSTOM") or "FLEX" in n.upper()})
    if bad:
        raise ExportError(f"the converted model uses non-builtin ops {bad}")
    if info.get("target") == "micro":
        from keras_rnnx.export.micro import MICRO_OPS

        missing = sorted(set(names) - MICRO_OPS)
        if missing:
            raise ExportError(
                f"target: 'micro': the converted model uses ops TensorFlow Lite "
                f"for Microcontrollers has no kernel for: {missing} (from a "
                "layer or activation TFLM cannot run; see README 'Microcontrollers')")
    # variable tensors an app would have to resize itself (none in files
    # this version writes: the fused LSTM's states are computed in-graph)
    written = {int(o) for op in m.subgraphs[0].operators or [] for o in op.outputs}
    variables = [
        {"index": i, "shape": list(t.shape), "name": t.name.decode() if isinstance(t.name, bytes) else t.name}
        for i, t in enumerate(m.subgraphs[0].tensors) if t.isVariable and i not in written
    ]
    info = dict(info, fused_lstm_ops=fused, ops=sorted(set(names)), variables=variables)
    described = {}
    for sig in m.signatureDefs or []:
        key = sig.signatureKey.decode() if isinstance(sig.signatureKey, bytes) else sig.signatureKey
        given = dict((signatures or {}).get(key) or {})
        given.setdefault("inputs", sorted(_tensor_name(t) for t in sig.inputs or []))
        given.setdefault("outputs", sorted(_tensor_name(t) for t in sig.outputs or []))
        if sig.subgraphIndex == 0:
            given["variables"] = variables
        described[key] = given
    info["signatures"] = described
    if info.get("quantize") == "int8" and info.get("target") == "micro":
        info["io_quantization"] = _io_quantization(m)
    meta_buffer = schema.BufferT()
    meta_buffer.data = list(json.dumps(info).encode())
    m.buffers.append(meta_buffer)
    meta = schema.MetadataT()
    meta.name = _METADATA_NAME
    meta.buffer = len(m.buffers) - 1
    m.metadata = (m.metadata or []) + [meta]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(m)), info


def _io_quantization(m):
    """Per signature input and output name: the int8 tensor's scale and zero
    point ({"scale": float, "zero_point": int}); other dtypes are left out."""
    from ai_edge_litert import schema_py_generated as schema

    tensors = m.subgraphs[0].tensors
    out = {}
    for sig in m.signatureDefs or []:
        for t in list(sig.inputs or []) + list(sig.outputs or []):
            tensor = tensors[t.tensorIndex]
            q = tensor.quantization
            if tensor.type == schema.TensorType.INT8 and q is not None and q.scale is not None:
                out[_tensor_name(t)] = {"scale": float(q.scale[0]),
                                        "zero_point": int(q.zeroPoint[0])}
    return out


def _tensor_name(tensor_map):
    name = tensor_map.name
    return name.decode() if isinstance(name, bytes) else name


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


def to_tflite(model, path, quantize=None, representative_data=None, lstm_kernel=None,
              streaming=False, *, target="litert", time_steps=None, overwrite=False):
    """Converts `model` to a builtin-op `.tflite` file with dynamic batch and
    time (LiteRT), or with static shapes for microcontrollers.

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
            For target="micro": "loop" unrolls LSTMs (exact for any mask),
            "fused" makes them UNIDIRECTIONAL_SEQUENCE_LSTM (float, or with
            quantize="int8" TFLM's integer kernel: int8 weights and
            activations, int16 cell state; masks read as right padding).
            None (default): "loop", except "fused" for target="micro" with
            quantize="int8".
        streaming: export a single-step model with explicit state inputs and
            outputs (uni-directional layers only; loop kernel).
        target: "litert" (dynamic batch and time) or "micro" (TensorFlow
            Lite for Microcontrollers: batch 1, a fixed time dimension, every
            shape static, only ops TFLM registers; GRUs, and LSTMs with
            lstm_kernel="loop", unrolled by the "tflite_micro" lowering;
            `quantize` None or "int8"; not streaming). The file's metadata
            says `target`.
        time_steps: for target="micro", the time dimension of inputs the
            model declares with `None` time (must match a fixed one).
            With target="micro" and quantize="int8" the file is integer-only
            (int8 weights and activations) and its float inputs and outputs
            are int8, their scale and zero point in the metadata's
            "io_quantization" (integer inputs such as token ids stay
            integers); `load_micro` quantizes and dequantizes with them.
        overwrite: replace an existing `path`.

    Returns:
        A dict with `size` (bytes), `ops` (operator names), input, output and
        state names, and `signatures` (the file's metadata per signature).

    Raises:
        TypeError: `model` is not a `keras.Model`.
        ExportError (a ValueError): bad arguments, `path` exists (without
            `overwrite`) or cannot be written, a layer TFLite cannot run with
            builtin ops (Keras' own RNN layers, mixed precision), for
            target="micro" a layer setting or op TFLM cannot run (named in
            the message), or a failed conversion; nothing is written at
            `path` then.

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
    if target not in TARGETS:
        raise ExportError(f"target: expected one of {TARGETS}, got {target!r}")
    if quantize not in QUANTIZE_MODES:
        raise ExportError(f"quantize: expected one of {QUANTIZE_MODES}, got {quantize!r}")
    if lstm_kernel is not None and lstm_kernel not in LSTM_KERNELS:
        raise ExportError(f"lstm_kernel: expected None or one of {LSTM_KERNELS}, "
                          f"got {lstm_kernel!r}")
    if quantize == "int8" and representative_data is None:
        raise ExportError(
            "representative_data: quantize='int8' needs representative_data, an "
            "iterable of typical model inputs used to calibrate activation ranges"
        )
    if target == "micro":
        return _to_micro(model, path, quantize, representative_data, lstm_kernel,
                         streaming, time_steps, overwrite)
    if time_steps is not None:
        raise ExportError("time_steps: applies to target='micro' only (LiteRT "
                          "exports keep the model's time dimension)")
    lstm_kernel = lstm_kernel or "loop"
    if lstm_kernel == "fused" and quantize in ("float16", "int8"):
        raise ExportError(
            f"quantize: {quantize!r} is not supported with lstm_kernel='fused' for "
            "LiteRT (float16 leaves the fused op's states at batch 1; full-integer "
            "int8 there is not verified); use "
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
    # Whole-sequence outputs written in blocks (O(block) copies per step),
    # except where the converter calibrates int8 ranges (TensorFlow's
    # calibrating interpreter crashes on a WHILE inside a WHILE) and for
    # streaming, whose chunks are a step or a few: there a block's extra
    # WHILE costs more than the copies it saves.
    lowering = ("tflite_fused" if lstm_kernel == "fused"
                else "tflite_loop" if quantize == "int8" or streaming
                else "tflite_loop_blocks")

    def write(saved):
        info = _write_saved_model(model, saved, lowering=lowering, streaming=streaming)
        serving = {k: info[k] for k in ("inputs", "outputs", "output_kind", "output_keys",
                                        "states", "streaming")}
        return dict(info, lstm_kernel=lstm_kernel, quantize=quantize), {"serving_default": serving}

    return _convert(write, path, quantize=quantize, representative_data=representative_data,
                    overwrite=overwrite)


def _to_micro(model, path, quantize, representative_data, lstm_kernel, streaming,
              time_steps, overwrite):
    """`to_tflite(target="micro")`: checks, then the one conversion path."""
    from keras_rnnx.export.micro import check_micro_layers, micro_embeddings

    if quantize not in MICRO_QUANTIZE_MODES:
        raise ExportError(
            f"quantize: {quantize!r} is not supported with target='micro' yet "
            f"(supported: {MICRO_QUANTIZE_MODES})")
    if lstm_kernel is None:
        lstm_kernel = "fused" if quantize == "int8" else "loop"
    if streaming:
        raise ExportError("streaming: not supported with target='micro'")
    if time_steps is not None and (isinstance(time_steps, bool)
                                   or not isinstance(time_steps, int) or time_steps < 1):
        raise ExportError(f"time_steps: expected a positive int, got {time_steps!r}")
    _check_model(model)
    check_target(path, overwrite)
    _check_tflite_layers(model, False)
    check_micro_layers(model)
    fixed = (1, time_steps)
    _input_layout(model, fixed)  # shape errors before any tracing
    lowering = "tflite_micro_fused" if lstm_kernel == "fused" else "tflite_micro"

    def write(saved):
        with micro_embeddings(model):
            info = _write_saved_model(model, saved, lowering=lowering, fixed=fixed)
        serving = {k: info[k] for k in ("inputs", "outputs", "output_kind", "output_keys",
                                        "states", "streaming")}
        return dict(info, lstm_kernel=lstm_kernel, quantize=quantize, target="micro",
                    batch_size=1), {"serving_default": serving}

    return _convert(write, path, quantize=quantize, representative_data=representative_data,
                    overwrite=overwrite, integer_io=quantize == "int8")


def _convert(write, path, quantize=None, representative_data=None, overwrite=False,
             integer_io=False):
    """The one TFLite conversion path: `write(folder)` writes a SavedModel
    (with `_write_archive`) and returns `(info, signatures)`: the file's
    metadata and, per signature name, what the exporter knows of it. Every
    signature in the SavedModel is converted with builtin ops only; the ops
    are checked, the metadata added, and `path` written atomically. Returns
    the metadata with `size`. `integer_io` (quantize "int8"): integer-only
    ops, and float inputs and outputs become int8 (their scale and zero
    point in the metadata's "io_quantization")."""
    import tensorflow as tf

    with temporary_folder("keras_rnnx_tflite_") as tmp:
        saved = os.path.join(tmp, "saved_model")
        info, signatures = write(saved)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            saved, signature_keys=list(signatures)
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
            if integer_io:
                converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
                converter.inference_input_type = tf.int8
                converter.inference_output_type = tf.int8
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
    data, info = _finish_flatbuffer(data, info, signatures)
    write_bytes(path, data, overwrite=overwrite)
    info["size"] = len(data)
    return info


def functions_to_tflite(functions, path, *, track=None, overwrite=False):
    """Converts tf.functions to a builtin-op `.tflite` file, one signature each.

    The file goes through the same conversion as `to_tflite` (builtin ops
    only, checked; keras_rnnx metadata; atomic write), so `load_tflite(path,
    signature=name)` runs each function. For functions that need no Keras
    model call, such as a language model's generation loop.

    Args:
        functions: dict `name -> tf.function` (with an `input_signature`, or
            called once) or `ConcreteFunction`; the names become the file's
            signature names.
        path: output file; written atomically.
        track: optional list of objects whose variables or resources the
            functions use (a Keras model, a lookup table), as for
            `keras.export.ExportArchive.track`.
        overwrite: replace an existing `path`.

    Returns:
        A dict with `size` (bytes), `ops` (operator names) and `signatures`
        (per name: `inputs`, `outputs`, `output_kind`).

    Raises:
        ExportError: `path` exists (without `overwrite`) or cannot be
            written, a name or function is invalid, or the functions need
            non-builtin (Flex) ops.

    Example:

    >>> import numpy as np, tensorflow as tf
    >>> from keras_rnnx import export
    >>> @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="x")])
    ... def total(x):
    ...     return {"sum": tf.reduce_sum(x, axis=-1)}
    >>> info = export.functions_to_tflite({"total": total}, "/tmp/rnnx_fn.tflite",
    ...                                   overwrite=True)
    >>> export.load_tflite("/tmp/rnnx_fn.tflite", signature="total")(np.ones((2, 3)))["sum"]
    array([3., 3.], dtype=float32)
    """
    if not isinstance(functions, dict) or not functions:
        raise ExportError(f"functions: expected a non-empty dict name -> tf.function, "
                          f"got {functions!r}")
    check_target(path, overwrite)

    def write(saved):
        _write_archive(saved, functions, track=list(track or []))
        described = {}
        for name, fn in functions.items():
            outputs = _concrete(fn).structured_outputs
            if isinstance(outputs, dict):
                described[name] = {"output_kind": "dict"}
            elif isinstance(outputs, (list, tuple)):
                described[name] = {"output_kind": "list"}
            else:
                described[name] = {"output_kind": "single"}
        return {"quantize": None, "streaming": False}, described

    return _convert(write, path, overwrite=overwrite)


def _concrete(fn):
    import tensorflow as tf

    if isinstance(fn, tf.types.experimental.ConcreteFunction):
        return fn
    return fn.get_concrete_function()


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
    Inside it, both give builtin ops with dynamic batch and time, the loop
    kernel `to_tflite(model, path)` uses (which also writes whole-sequence
    outputs in blocks, O(block) rather than O(T) copies per step, except
    for full-integer quantization: TensorFlow's calibrating interpreter
    crashes on nested loops, and a converter you run yourself may calibrate). `to_tflite` does more (checks the
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
    from keras_rnnx import kernels

    with kernels.lowering("tflite_loop"):
        yield
