"""Microcontroller exports: what TensorFlow Lite for Microcontrollers (TFLM)
can run, running a file with the TFLM interpreter, the smallest tensor arena
it needs, and the file as C source for firmware.

`to_tflite(model, path, target="micro")` (in `tflite.py`, the one conversion
path) checks the model with `check_micro_layers` before tracing and the
converted ops against `MICRO_OPS` before writing.
"""
import contextlib
import os

import numpy as np

from keras_rnnx._atomic import ExportError, check_target, write_bytes
from keras_rnnx.export._model import _all_layers

__all__ = ["MICRO_OPS", "MICRO_ACTIVATIONS", "check_micro_layers", "MicroRunner",
           "load_micro", "arena_size", "to_c_source", "is_micro_file",
           "micro_embeddings"]

# Builtin ops the reference TFLM op resolver registers (tflite-micro on PyPI).
MICRO_OPS = frozenset("""
ABS ADD ARG_MAX ARG_MIN ASSIGN_VARIABLE AVERAGE_POOL_2D BATCH_MATMUL
BATCH_TO_SPACE_ND BROADCAST_ARGS BROADCAST_TO CALL_ONCE CAST CEIL CONCATENATION
CONV_2D COS CUMSUM DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE DIV
DYNAMIC_UPDATE_SLICE ELU EMBEDDING_LOOKUP EQUAL EXP EXPAND_DIMS FILL FLOOR
FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GATHER_ND GREATER GREATER_EQUAL
HARD_SWISH IF L2_NORMALIZATION L2_POOL_2D LEAKY_RELU LESS LESS_EQUAL LOG
LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC LOG_SOFTMAX MAXIMUM MAX_POOL_2D
MEAN MINIMUM MIRROR_PAD MUL NEG NOT_EQUAL PACK PAD PADV2 PRELU QUANTIZE
READ_VARIABLE REDUCE_MAX REDUCE_MIN RELU RELU6 RESHAPE RESIZE_BILINEAR
RESIZE_NEAREST_NEIGHBOR REVERSE_V2 ROUND RSQRT SELECT_V2 SHAPE SIN SLICE
SOFTMAX SPACE_TO_BATCH_ND SPACE_TO_DEPTH SPLIT SPLIT_V SQRT SQUARE
SQUARED_DIFFERENCE SQUEEZE STRIDED_SLICE SUB SUM SVDF TANH TRANSPOSE
TRANSPOSE_CONV UNIDIRECTIONAL_SEQUENCE_LSTM UNPACK VAR_HANDLE WHILE ZEROS_LIKE
""".split())

# Recurrent activations whose lowered ops TFLM runs (checked with the
# interpreter by the tests).
MICRO_ACTIVATIONS = ("tanh", "sigmoid", "relu", "hard_sigmoid", "linear")


def check_micro_layers(model):
    """Refuses layer settings a microcontroller export cannot run.

    Args:
        model: a `keras.Model`.

    Raises:
        ExportError: a stateful recurrent layer, or a recurrent layer whose
            activation is not one of `MICRO_ACTIVATIONS`; the message names
            the layer and the setting.
    """
    from keras_rnnx.kernels import activation_spec

    for layer in _all_layers(model):
        if getattr(layer, "stateful", False):
            raise ExportError(
                f"target: 'micro': layer {layer.name!r} has stateful=True; a "
                "microcontroller export runs each sequence from a zero state "
                "(carry state in the firmware with a stateless model)")
        cell = getattr(layer, "cell", None)
        if cell is None or not hasattr(cell, "recurrent_activation"):
            continue
        for setting in ("activation", "recurrent_activation"):
            spec = activation_spec(getattr(cell, setting))
            if spec not in MICRO_ACTIVATIONS:
                shown = spec if isinstance(spec, str) else getattr(spec, "__name__", spec)
                raise ExportError(
                    f"target: 'micro': layer {layer.name!r} has {setting}={shown!r}, "
                    f"which TFLM cannot run; supported: {MICRO_ACTIVATIONS}")


@contextlib.contextmanager
def micro_embeddings(model):
    """Traces the model's `keras.layers.Embedding` layers as one `GATHER`.

    Keras' lookup first maps negative ids with a `where` on the int32 ids
    (a `SELECT` op, which TFLM lacks); ids a model sees are in range, so a
    micro export gathers directly. Inside the block only; the layers are
    restored after.
    """
    import keras
    import tensorflow as tf

    patched = []
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.Embedding) and "call" not in vars(layer):
            def call(inputs, _layer=layer):
                if inputs.dtype not in (tf.int32, tf.int64):
                    inputs = tf.cast(inputs, tf.int32)
                out = tf.gather(_layer.embeddings, inputs)
                return tf.cast(out, _layer.compute_dtype)

            layer.call = call
            patched.append(layer)
    try:
        yield
    finally:
        for layer in patched:
            del layer.call


def is_micro_file(path):
    """True when the `.tflite` at `path` is a keras_rnnx micro export (its
    metadata says target "micro")."""
    from keras_rnnx.export.runner import _read_metadata

    try:
        with open(path, "rb") as f:
            return (_read_metadata(f.read()) or {}).get("target") == "micro"
    except (OSError, ValueError):
        return False


def _io_order(data):
    """(input names, output names) of the serving signature in the order of
    the subgraph's input and output tensors, which TFLM indexes."""
    from ai_edge_litert.tools import flatbuffer_utils

    m = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    sg = m.subgraphs[0]

    def names(maps, order):
        by_index = {t.tensorIndex: (t.name.decode() if isinstance(t.name, bytes) else t.name)
                    for t in maps or []}
        return [by_index.get(i, f"tensor_{i}") for i in order]

    sig = (m.signatureDefs or [None])[0]
    if sig is None:
        return ([f"input_{i}" for i in range(len(sg.inputs))],
                [f"output_{i}" for i in range(len(sg.outputs))])
    return names(sig.inputs, list(sg.inputs)), names(sig.outputs, list(sg.outputs))


def _interpreter(data, arena):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(bytes(data), arena_size=int(arena))


class MicroRunner:
    """Runs a micro `.tflite` with the TFLM reference interpreter.

    Call it with the inputs in the model's input order (`.inputs`), or a
    dict by name; it returns one array, or a dict by output name (in the
    model's output order, `.outputs`) for several outputs.
    Inputs must have the file's static shapes (batch 1). An int8 file
    (`quantize="int8"`) takes float arrays for its int8 inputs and
    quantizes them with the input's scale and zero point, and returns its
    int8 outputs dequantized; `raw=True` passes int8 arrays both ways.
    Every call starts from the zero state: the interpreter's variable
    tensors (a fused LSTM's state) are reset first.
    """

    def __init__(self, path, arena=None, raw=False):
        with open(path, "rb") as f:
            self._data = f.read()
        from keras_rnnx.export.runner import _read_metadata

        self._input_order, self._output_order = _io_order(self._data)
        meta = _read_metadata(self._data) or {}
        # Names in the model's order (the exporter's metadata), else the file's.
        self.inputs = [n for n in meta.get("inputs", []) if n in self._input_order] \
            or list(self._input_order)
        self.outputs = [n for n in meta.get("outputs", []) if n in self._output_order] \
            or list(self._output_order)
        self.arena = int(arena) if arena else arena_size(path)
        if arena and not _allocates(self._data, self.arena):
            raise ExportError(
                f"arena: TFLM cannot allocate {path!r} in {self.arena} bytes; the "
                f"smallest arena that allocates is export.arena_size(path) = "
                f"{arena_size(path)}")
        try:
            self._interp = _interpreter(self._data, self.arena)
        except Exception as e:  # noqa: BLE001 - TFLM raises RuntimeError
            raise ExportError(f"path: TFLM cannot load {path!r}: {e}") from e
        self.input_details = [self._interp.get_input_details(self._input_order.index(n))
                              for n in self.inputs]
        self.output_details = [self._interp.get_output_details(self._output_order.index(n))
                               for n in self.outputs]
        self.quantize = meta.get("quantize")
        self.raw = raw

    def __call__(self, *args, **kwargs):
        if len(args) == 1 and isinstance(args[0], dict):
            kwargs = dict(args[0])
            args = ()
        if kwargs:
            args = [kwargs[n] for n in self.inputs]
        if len(args) != len(self.inputs):
            raise ValueError(f"inputs: expected {len(self.inputs)} ({self.inputs}), "
                             f"got {len(args)}")
        # A fused LSTM keeps its state in variable tensors across invokes:
        # every call starts from the zero state, as firmware does with
        # MicroInterpreter::Reset() before each inference.
        self._interp.reset()
        for i, (x, d) in enumerate(zip(args, self.input_details)):
            x = np.asarray(x)
            if d["dtype"] == np.int8 and not self.raw and np.issubdtype(x.dtype, np.floating):
                scale, zero = _scale_zero(d)
                x = np.clip(np.round(x / scale + zero), -128, 127)
            x = np.asarray(x, dtype=d["dtype"])
            if tuple(x.shape) != tuple(d["shape"]):
                raise ValueError(f"inputs: {self.inputs[i]!r} must have shape "
                                 f"{tuple(d['shape'])}, got {tuple(x.shape)}")
            self._interp.set_input(x, self._input_order.index(self.inputs[i]))
        self._interp.invoke()
        outs = {}
        for n, d in zip(self.outputs, self.output_details):
            y = np.array(self._interp.get_output(self._output_order.index(n)))
            if d["dtype"] == np.int8 and not self.raw:
                scale, zero = _scale_zero(d)
                y = ((y.astype(np.float32) - zero) * scale).astype(np.float32)
            outs[n] = y
        return next(iter(outs.values())) if len(outs) == 1 else outs


def _scale_zero(details):
    q = details["quantization_parameters"]
    return float(q["scales"][0]), int(q["zero_points"][0])


def load_micro(path, arena=None, raw=False):
    """A `MicroRunner` for the micro `.tflite` at `path`.

    Args:
        path: a file written by `to_tflite(..., target="micro")`.
        arena: tensor arena bytes; default the smallest that allocates
            (`arena_size`).
        raw: for an int8 file, pass and return int8 arrays (default: float
            arrays, quantized and dequantized with the file's parameters).

    Returns:
        A `MicroRunner`.

    Raises:
        ExportError: TFLM cannot load or allocate the file, or cannot in
            the `arena` given (the message names the smallest that does).

    Example: `export.load_micro("m.tflite")(x)` (see `to_tflite`).
    """
    return MicroRunner(path, arena, raw)


class _Silenced:
    """Sends file descriptor 2 (TFLM's C++ log) to a temporary file for the
    block; `.text` holds what was written."""

    def __enter__(self):
        import sys
        import tempfile

        sys.stderr.flush()
        self._file = tempfile.TemporaryFile()
        self._saved = os.dup(2)
        os.dup2(self._file.fileno(), 2)
        return self

    def __exit__(self, *exc):
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.seek(0)
        self.text = self._file.read().decode(errors="replace")
        self._file.close()
        return False


def _allocates(data, arena):
    """Whether TFLM allocates `data` in `arena` bytes (its log silenced).

    Some TFLM kernels (the integer LSTM's) crash the process instead of
    reporting a failed allocation when the arena is too small, so where the
    platform can fork, the probe runs in a forked child and a crash counts
    as "does not allocate"."""
    if not hasattr(os, "fork"):
        return _allocates_here(data, arena)
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        import faulthandler

        faulthandler.disable()  # a crash here is an answer, not a report
        code = 1
        try:
            code = 0 if _allocates_here(data, arena) else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _allocates_here(data, arena):
    with _Silenced():
        try:
            _interpreter(data, arena)
            return True
        except Exception:  # noqa: BLE001 - TFLM raises RuntimeError on failure
            return False


def arena_size(path, granularity=16):
    """The smallest tensor arena (bytes, a multiple of `granularity`) with
    which TFLM loads and allocates the file at `path`.

    TFLM's recording allocator gives the bytes the model's allocations take
    in a large arena; the smallest arena that allocates is then found by
    bisection above that (never probing arenas smaller than the model's own
    allocations; each probe in a forked process where the platform forks,
    as TFLM's integer LSTM kernel crashes on an arena too small).

    Args:
        path: a micro `.tflite` file.
        granularity: the bisection's step in bytes.

    Returns:
        The arena size in bytes.

    Raises:
        ExportError: TFLM cannot allocate the file (an op TFLM lacks, a
            dynamic shape).

    Example: `export.arena_size("m.tflite")`.
    """
    import re

    with open(path, "rb") as f:
        data = f.read()
    high = max(1 << 20, 16 * len(data))
    with _Silenced() as log:
        try:
            interp = _interpreter(data, high)
            interp.print_allocations()
            error = None
        except Exception as e:  # noqa: BLE001 - TFLM raises RuntimeError
            error = e
    if error is not None:
        detail = " ".join(log.text.split()[-30:])
        raise ExportError(f"path: TFLM cannot allocate {path!r}: {error} {detail}")
    found = re.search(r"Arena allocation total (\d+) bytes", log.text)
    low = int(found.group(1)) - 1 if found else high // 2
    low = low // granularity * granularity
    if _allocates(data, low):
        return low
    while high - low > granularity:
        mid = (low + high) // 2 // granularity * granularity
        if mid <= low:
            break
        if _allocates(data, mid):
            high = mid
        else:
            low = mid
    return high


def to_c_source(tflite_path, out_path, name="g_model", *, overwrite=False):
    """Writes a `.tflite` file as C/C++ source, as TFLM's examples embed
    models: `alignas(16) const unsigned char name[] = {...};` and
    `const unsigned int name_len = N;`.

    Args:
        tflite_path: the `.tflite` file.
        out_path: the `.cc` file to write (atomically).
        name: the array's C identifier (letters, digits, underscores, not
            starting with a digit).
        overwrite: replace an existing `out_path`.

    Returns:
        The number of model bytes written.

    Raises:
        ExportError: a bad `name`, a missing `tflite_path`, or `out_path`
            exists (without `overwrite`); nothing is written then.

    Example: `export.to_c_source("m.tflite", "model_data.cc", "g_model")`.
    """
    import re

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ExportError(f"name: expected a C identifier, got {name!r}")
    if not os.path.isfile(tflite_path):
        raise ExportError(f"tflite_path: no file at {tflite_path!r}")
    check_target(out_path, overwrite, argument="out_path")
    with open(tflite_path, "rb") as f:
        data = f.read()
    lines = [", ".join(f"0x{b:02x}" for b in data[i:i + 12])
             for i in range(0, len(data), 12)]
    text = (
        f"// Generated by keras_rnnx from {os.path.basename(tflite_path)}.\n"
        f"alignas(16) const unsigned char {name}[] = {{\n  "
        + ",\n  ".join(lines)
        + f"\n}};\nconst unsigned int {name}_len = {len(data)};\n"
    )
    write_bytes(out_path, text.encode(), overwrite=overwrite, argument="out_path")
    return len(data)
