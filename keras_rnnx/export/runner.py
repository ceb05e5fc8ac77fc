"""Running `.tflite` files on NumPy inputs."""
import json
import os

import numpy as np

from keras_rnnx.export._model import _METADATA_NAME


class TFLiteRunner:
    """Runs one signature of a `.tflite` file on NumPy inputs of any shape.

    Call it with the inputs positionally (the signature's input order), as a
    list, or as a dict by input name; it returns NumPy outputs structured like
    the exported function's (for `to_tflite` files, like the Keras model's:
    one array, a list, or a dict). For streaming exports, state inputs
    default to zeros and are passed/returned by name (`state0_h`, ...).

    Args:
        path: a `.tflite` file (written by `to_tflite` or
            `functions_to_tflite`; other files run too, with inputs and
            outputs by the names their signatures give).
        num_threads: interpreter threads (None: the runtime's default).
        signature: the signature to run; None picks "serving_default" when
            the file has it, else the file's only signature.

    Attributes:
        info: the file's keras_rnnx metadata (a dict; empty for other files).
        signature_name: the signature this runner runs.
        signatures: every signature name in the file.
        input_names, output_names: the signature's inputs and outputs.

    Raises:
        ValueError: the file is unreadable, or has no such signature (or
            several and none was named).
    """

    def __init__(self, path, num_threads=None, signature=None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = os.fspath(path)
        self._num_threads = num_threads
        with open(self.path, "rb") as f:
            data = f.read()
        try:
            self.info = _read_metadata(data)
            self.interpreter = Interpreter(model_content=data, num_threads=num_threads)
            self.signatures = sorted(self.interpreter.get_signature_list())
        except Exception as e:  # flatbuffer/struct errors from a damaged file
            raise ValueError(
                f"path: {self.path!r} is not a readable .tflite model "
                f"(truncated or corrupt?): {type(e).__name__}: {e}"
            ) from e
        if signature is None:
            if "serving_default" in self.signatures or len(self.signatures) != 1:
                signature = "serving_default"
            else:
                signature = self.signatures[0]
        if signature not in self.signatures:
            raise ValueError(
                f"signature: {self.path!r} has no signature {signature!r}; it has "
                f"{self.signatures} (pick one with signature=...)"
            )
        self.signature_name = signature
        by_name = self.info.get("signatures") or {}
        if signature in by_name:
            sig = by_name[signature]
        elif signature == "serving_default":
            sig = self.info  # files written before per-signature metadata
        else:
            sig = {}
        self.signature_info = sig
        runner = self.interpreter.get_signature_runner(signature)
        # The first subgraph runs through the interpreter itself (it can
        # resize the fused LSTM's state variables); others through their
        # signature runner.
        self._runner = None if runner._subgraph_index == 0 else runner
        inputs, outputs = runner.get_input_details(), runner.get_output_details()
        self._in = {k: v["index"] for k, v in inputs.items()}
        self._out = {k: v["index"] for k, v in outputs.items()}
        self._dtypes = {k: v["dtype"] for k, v in inputs.items()}
        self.input_names = list(sig.get("inputs") or sorted(self._in))
        self.output_names = list(sig.get("outputs") or sorted(self._out))
        self._variables = [(v["index"], v["shape"]) for v in sig.get("variables", [])]
        if self._runner is not None:
            self._variables = []
        self._shapes = None

    def signature(self, name):
        """A runner for the signature `name` of the same file.

        Args:
            name: a signature in `self.signatures`.

        Returns:
            A new `TFLiteRunner` (its own interpreter).

        Raises:
            ValueError: the file has no signature `name`.
        """
        return TFLiteRunner(self.path, num_threads=self._num_threads, signature=name)

    def _gather(self, args, kwargs):
        states = {s["name"] for s in self.signature_info.get("states", [])}
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
        for s in self.signature_info.get("states", []):
            if s["name"] not in feed:
                feed[s["name"]] = np.zeros([batch, s["units"]], np.float32)
        arrays = {}
        for name, value in feed.items():
            dtype = self._dtypes[name]
            arrays[name] = np.asarray(value).astype(dtype, copy=False)
        return arrays, batch

    def __call__(self, *args, **kwargs):
        out = self.named(*args, **kwargs)
        kind = self.signature_info.get("output_kind", "dict")
        if self.signature_info.get("streaming"):
            return out
        if kind == "single":
            return out[self.output_names[0]]
        if kind == "list":
            return [out[n] for n in self.output_names]
        keys = self.signature_info.get("output_keys") or self.output_names
        return dict(zip(keys, (out[n] for n in self.output_names)))

    def named(self, *args, **kwargs):
        """Like calling the runner, but always a dict by exported output name.

        Args:
            *args, **kwargs: the inputs, as for calling the runner.

        Returns:
            A dict `output name -> NumPy array` (streaming exports: the new
            states too).

        Raises:
            ValueError: unknown, missing or too many inputs.
        """
        arrays, batch = self._gather(args, kwargs)
        if self._runner is not None:
            out = self._runner(**arrays)
            return {n: np.asarray(out[n]).copy() for n in self.output_names}
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


def load_tflite(path, num_threads=None, signature=None):
    """Returns a `TFLiteRunner`: NumPy inputs of any batch/length -> NumPy outputs.

    Args:
        path: a `.tflite` file (written by `to_tflite`, `functions_to_tflite`
            or `keras_rnnx.models.language_model.export_generator`).
        num_threads: interpreter threads (None: the runtime's default).
        signature: the signature to run (for example "generate"); None runs
            "serving_default", or the file's only signature.

    Returns:
        A `TFLiteRunner`; `runner.signature(name)` gives one for another
        signature of the same file.

    Raises:
        ValueError: no file at `path`, an unreadable file, or no such
            signature.

    Example (see `to_tflite`): `export.load_tflite("m.tflite")(ids)` returns
    what `model(ids)` returns, as NumPy, for any batch size and length;
    `export.load_tflite("lm.tflite", signature="generate")(prompt_ids)`
    returns a generator's `{"sequences", "scores"}`.
    """
    if not os.path.isfile(os.fspath(path)):
        raise ValueError(f"path: no .tflite file at {os.fspath(path)!r}")
    return TFLiteRunner(path, num_threads=num_threads, signature=signature)
