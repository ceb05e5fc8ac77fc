"""Verification: a Keras model (or any reference) against its exports.

    report = export.verify(model, "export/tagger", "export/tagger.tflite")
    report.ok                      # every export passes its criterion
    print(report)                  # one line per export

One comparison for every caller: `rnnx export` / `rnnx verify` and the demo's
Keras-versus-exports check all use `verify`.
"""
import dataclasses
import math
import os
import re

import numpy as np

from keras_rnnx.export._model import _call_model, _input_layout, _name_outputs

# Default tolerance (max abs difference) by TFLite quantization mode; a
# SavedModel is compared as an unquantized export. Full-integer ("int8")
# exports are judged by INT8_CRITERION instead, unless `atol` is given.
TOLERANCE = {None: 1e-4, "dynamic": 5e-2, "float16": 5e-3, "int8": 1.5e-1}

# The int8 criterion: per floating-point output, over every input case, the
# Pearson correlation of the export's values with the float reference's,
# and, for outputs with more than one value per row, the fraction of rows
# (every position but the last axis) whose argmax agrees. An int8 file's
# largest difference grows with the output's range and its error piles up
# where a few values saturate, so a fixed absolute tolerance fails good
# files and passes bad ones of small range; correlation and argmax measure
# what the quantized model keeps. Thresholds: README "Microcontrollers".
INT8_CRITERION = {"correlation": 0.95, "argmax_agreement": 0.8}
BATCH_SIZES = (1, 3, 8)
LENGTHS = (1, 7, 25)

_STATE_NAME = re.compile(r"state\d+_[hc]")


# ------------------------------------------------------------------- inputs
def input_names(model):
    """The names the exporters give `model`'s inputs, in model-input order.

    Args:
        model: a built `keras.Model` with declared inputs.

    Returns:
        A list of strings: the input names of the exported signatures (and of
        a `TFLiteRunner` or SavedModel signature call).

    Raises:
        TypeError: `model` is not a `keras.Model`.
        ExportError: the model has no declared inputs.

    Example:

    >>> import keras
    >>> from keras_rnnx import export
    >>> ids = keras.Input((None,), dtype="int32", name="token ids")
    >>> export.input_names(keras.Model(ids, keras.layers.Embedding(9, 2)(ids)))
    ['token_ids']
    """
    specs, _ = _input_layout(model)
    return [s.name for s in specs]


def _embedding_vocab(model):
    import keras

    layers = list(model._flatten_layers(include_self=False, recursive=True))
    sizes = [l.input_dim for l in layers if isinstance(l, keras.layers.Embedding)]
    masked = any(getattr(l, "mask_zero", False)
                 for l in layers if isinstance(l, keras.layers.Embedding))
    return (min(sizes) if sizes else None), masked


def random_inputs(model, batch, length, seed=0):
    """Random inputs for `model`, in model-input order.

    Integer inputs are token ids in range of the model's smallest embedding
    (right-padded with 0 after a random length when an embedding masks
    zeros; row 0 stays full length); other inputs are standard normal.

    Args:
        model: a built `keras.Model` with declared inputs.
        batch: the batch size.
        length: the size of every dimension the model leaves `None` (the
            time dimension).
        seed: the random seed; the same seed gives the same arrays.

    Returns:
        A list of NumPy arrays, one per model input, in the inputs' dtypes.

    Example:

    >>> import keras
    >>> from keras_rnnx import export
    >>> ids = keras.Input((None,), dtype="int32")
    >>> model = keras.Model(ids, keras.layers.Embedding(9, 2, mask_zero=True)(ids))
    >>> [a.shape for a in export.random_inputs(model, 3, 5)]
    [(3, 5)]
    """
    rng = np.random.default_rng(seed)
    vocab, masked = _embedding_vocab(model)
    arrays = []
    for t in model.inputs:
        shape = [batch] + [length if d is None else d for d in t.shape[1:]]
        if "int" in str(t.dtype):
            high = vocab or 100
            a = rng.integers(1 if masked else 0, high, size=shape).astype(str(t.dtype))
            if masked and len(shape) >= 2:
                for b in range(1, batch):  # row 0 stays full length
                    a[b, rng.integers(1, shape[1] + 1):] = 0
        else:
            a = rng.normal(size=shape).astype(str(t.dtype))
        arrays.append(a)
    return arrays


# ------------------------------------------------------------------- report
@dataclasses.dataclass
class Case:
    """One set of inputs: the largest absolute difference per output.

    `batch` and `length` are None for the given `inputs`. `mismatched`
    names the outputs that must match exactly (integers, strings, booleans)
    and do not, or that the export lacks or shapes differently.
    """

    batch: object
    length: object
    diffs: dict
    mismatched: list

    @property
    def max_diff(self):
        """The largest difference over the outputs (0.0 when none)."""
        return max(self.diffs.values(), default=0.0)


@dataclasses.dataclass
class ExportCheck:
    """One export compared with the reference on every case.

    `criterion` is "atol" (every floating-point difference within `atol`)
    or "int8" (`correlation` and `argmax_agreement` per output at least
    `INT8_CRITERION`'s; `atol` is then informational). Exact-match outputs
    must match under both.
    """

    export: str
    kind: str  # "saved_model", "tflite" or "tflm"
    signature: str
    quantize: object  # None, "dynamic", "float16" or "int8"
    streaming: bool
    atol: float
    cases: list
    criterion: str = "atol"
    correlation: dict = dataclasses.field(default_factory=dict)
    argmax_agreement: dict = dataclasses.field(default_factory=dict)

    @property
    def diffs(self):
        """Per output: the largest absolute difference over the cases."""
        out = {}
        for case in self.cases:
            for key, d in case.diffs.items():
                out[key] = max(out.get(key, 0.0), d)
        return out

    @property
    def mismatched(self):
        """Outputs that differ where they must match exactly, or are missing."""
        return sorted({key for case in self.cases for key in case.mismatched})

    @property
    def max_diff(self):
        """The largest absolute difference over outputs and cases."""
        return max((c.max_diff for c in self.cases), default=0.0)

    @property
    def ok(self):
        """No exact-match output differs, and every floating-point output
        passes the criterion (`atol`, or the int8 criterion)."""
        return not self.mismatched and not self._failing()

    def _failing(self):
        """(output, what, value, threshold) for each criterion it misses."""
        if self.criterion == "atol":
            return [(key, "diff", d, self.atol) for key, d in self.diffs.items()
                    if key not in self.mismatched and not d <= self.atol]
        out = []
        for what, values in (("correlation", self.correlation),
                             ("argmax_agreement", self.argmax_agreement)):
            for key, v in values.items():
                if key not in self.mismatched and not v >= INT8_CRITERION[what]:
                    out.append((key, what, v, INT8_CRITERION[what]))
        return out

    def problems(self, reference="the reference"):
        """What disagrees, one sentence per output (empty when `ok`)."""
        out = [f"{key} differ from {reference}" for key in self.mismatched]
        for key, what, value, limit in self._failing():
            if what == "diff":
                out.append(f"{key} differ by {value:.2e} (> {limit:g})")
            else:
                out.append(f"{key}: {what.replace('_', ' ')} with {reference} "
                           f"{value:.3f} (< {limit:g})")
        return out

    def summary(self):
        """One line: OK or FAIL, the export, its kind, and the criterion's
        figures (worst difference and tolerance; for int8 the lowest
        correlation and argmax agreement over the outputs, and the largest
        difference)."""
        mode = (self.kind + (", " + self.quantize if self.quantize else "")
                + (", streaming" if self.streaming else ""))
        head = f"{'OK  ' if self.ok else 'FAIL'} {self.export} ({mode}): "
        if self.criterion == "atol":
            return head + f"max abs diff {self.max_diff:.3g} (tolerance {self.atol:g})"
        figures = []
        for what, values in (("correlation", self.correlation),
                             ("argmax agreement", self.argmax_agreement)):
            if values:
                limit = INT8_CRITERION[what.replace(" ", "_")]
                figures.append(f"{what} {min(values.values()):.3f} (>= {limit:g})")
        return head + ", ".join(figures + [f"max abs diff {self.max_diff:.3g}"])


@dataclasses.dataclass
class VerifyReport:
    """The result of `verify`: one `ExportCheck` per export, in order."""

    exports: list

    @property
    def ok(self):
        """Every export passes its criterion."""
        return all(check.ok for check in self.exports)

    def to_dict(self):
        """Plain data (JSON-serializable but for infinite differences)."""
        return {
            "ok": self.ok,
            "exports": [
                {"export": c.export, "kind": c.kind, "signature": c.signature,
                 "quantize": c.quantize, "streaming": c.streaming, "atol": c.atol,
                 "criterion": c.criterion, "correlation": c.correlation,
                 "argmax_agreement": c.argmax_agreement,
                 "ok": c.ok, "max_diff": c.max_diff, "diffs": c.diffs,
                 "mismatched": c.mismatched,
                 "cases": [{"batch": k.batch, "length": k.length, "max_diff": k.max_diff,
                            "diffs": k.diffs, "mismatched": k.mismatched}
                           for k in c.cases]}
                for c in self.exports
            ],
        }

    def __str__(self):
        return "\n".join(check.summary() for check in self.exports)


# ------------------------------------------------------------------ exports
class _Opened:
    """An export behind one interface: call(named arrays) -> named arrays."""

    def __init__(self, export, signature):
        import tensorflow as tf

        from keras_rnnx.export.runner import TFLiteRunner, load_tflite

        self.label = os.fspath(export) if isinstance(export, (str, os.PathLike)) else None
        self.time_steps = None
        if self.label is not None and os.path.isfile(self.label):
            from keras_rnnx.export.micro import is_micro_file

            if is_micro_file(self.label):
                self._open_micro()
                return
        if isinstance(export, TFLiteRunner) or (
                self.label is not None and not os.path.isdir(self.label)):
            if isinstance(export, TFLiteRunner):
                runner = export
                if signature is not None and signature != runner.signature_name:
                    runner = runner.signature(signature)
            else:
                runner = load_tflite(self.label, signature=signature)
            self.label = self.label or runner.path
            self.kind, self.signature = "tflite", runner.signature_name
            self.quantize = runner.info.get("quantize")
            info = runner.signature_info
            self.states = info.get("states") if info.get("streaming") else None
            self._call = lambda named: runner.named(**named)
            return
        if self.label is not None:
            export = tf.saved_model.load(self.label)
        if not hasattr(export, "signatures"):
            raise TypeError(
                "exports: expected SavedModel folders, .tflite files, TFLiteRunners "
                f"or loaded SavedModels, got {type(export).__name__}"
            )
        self.label = self.label or "SavedModel"
        self.signature = signature or "serving_default"
        if self.signature not in export.signatures:
            raise ValueError(
                f"signature: {self.label!r} has no signature {self.signature!r}; "
                f"it has {sorted(export.signatures)}"
            )
        fn = export.signatures[self.signature]
        spec = fn.structured_input_signature[1]
        self.kind, self.quantize = "saved_model", None
        self.states = [{"name": k, "units": v.shape[-1]} for k, v in sorted(spec.items())
                       if _STATE_NAME.fullmatch(k)] or None

        def call(named):
            feed = {}
            for k, v in named.items():
                dtype = spec[k].dtype if k in spec else None
                numeric = dtype is not None and (dtype.is_floating or dtype.is_integer)
                feed[k] = tf.constant(v, dtype if numeric else None)
            return {k: v.numpy() for k, v in fn(**feed).items()}

        self._call = call

    def _open_micro(self):
        """A micro export, run with the TFLM interpreter one batch row at a
        time (its batch is 1, its time dimension fixed: `time_steps`)."""
        from keras_rnnx.export.micro import load_micro

        runner = load_micro(self.label)
        self.kind, self.signature, self.states = "tflm", "serving_default", None
        self.quantize = runner.quantize
        shapes = [list(d["shape"]) for d in runner.input_details]
        self.time_steps = next((int(s[1]) for s in shapes if len(s) >= 2), None)

        def call(named):
            batch = len(next(iter(named.values())))
            rows = []
            for b in range(batch):
                out = runner({k: np.asarray(v)[b:b + 1] for k, v in named.items()})
                rows.append(out if isinstance(out, dict) else {runner.outputs[0]: out})
            return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}

        self._call = call

    def __call__(self, named):
        return self._call(named)


# --------------------------------------------------------------- comparing
def _difference(got, want):
    """(max abs difference, must-match-and-does-not) of two arrays."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return math.inf, True
    numeric = [np.issubdtype(a.dtype, np.number) or a.dtype == bool for a in (got, want)]
    if not all(numeric):
        return (0.0, False) if np.array_equal(got, want) else (math.inf, True)
    exact = not all(np.issubdtype(a.dtype, np.floating) for a in (got, want))
    if got.size == 0:
        return 0.0, False
    a, b = got.astype(np.float64), want.astype(np.float64)
    d = np.abs(a - b)
    d[np.isnan(a) & np.isnan(b)] = 0.0
    diff = float(np.max(d))
    if math.isnan(diff) or np.isnan(d).any():
        diff = math.inf
    return diff, bool(exact and diff != 0.0)


def _compare(got, want, diffs, mismatched, step=None, pooled=None):
    """Records each output's largest difference in `diffs`, the exact-match
    outputs that differ in `mismatched`, and, into `pooled` (when given),
    the (export, reference) arrays of floating-point outputs of the same
    shape, for the int8 criterion."""
    for key, w in want.items():
        if key not in got:
            diffs[key] = math.inf
            mismatched.add(key)
            continue
        g = got[key] if step is None else got[key][:, 0]
        d, bad = _difference(g, w)
        diffs[key] = max(diffs.get(key, 0.0), d)
        if bad:
            mismatched.add(key)
        g, w = np.asarray(g), np.asarray(w)
        if (pooled is not None and g.shape == w.shape
                and all(np.issubdtype(a.dtype, np.floating) for a in (g, w))):
            pooled.setdefault(key, []).append((g, w))


def int8_agreement(got, want):
    """The int8 criterion's figures for one output: (Pearson correlation of
    all values, argmax agreement over the last axis or None when it has one
    value).

    Args:
        got, want: the export's and the reference's values, arrays of the
            same shape (or lists of such arrays, pooled over input cases).

    Returns:
        (correlation, argmax_agreement). Constant values (no variance) have
        correlation 1.0 when both agree within 1e-4, else 0.0.

    Example: `export.int8_agreement(run(x), model(x))`.
    """
    if isinstance(got, (list, tuple)):
        width = np.shape(got[0])[-1] if np.ndim(got[0]) else 1
        got = np.concatenate([np.reshape(g, (-1, width)) for g in got])
        want = np.concatenate([np.reshape(w, (-1, width)) for w in want])
    a = np.asarray(got, np.float64)
    b = np.asarray(want, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"got, want: expected arrays of one shape, got {a.shape} "
                         f"and {b.shape}")
    x, y = a.ravel(), b.ravel()
    if x.size == 0:
        return 1.0, None
    if x.std() == 0 or y.std() == 0:
        corr = 1.0 if np.abs(x - y).max() <= 1e-4 else 0.0
    else:
        corr = float(np.corrcoef(x, y)[0, 1])
    argmax = None
    if a.ndim >= 1 and a.shape[-1] > 1:
        rows_a, rows_b = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
        argmax = float((rows_a.argmax(-1) == rows_b.argmax(-1)).mean())
    return corr, argmax


def _compare_streaming(call, states, names, arrays, want, pooled=None):
    """Feeds the sequence one step at a time; compares every step's outputs
    with the full-sequence outputs (sequence outputs at that step, the
    others after the last step)."""
    batch, steps = arrays[0].shape[0], arrays[0].shape[1]
    carried = {s["name"]: np.zeros([batch, s["units"]], np.float32) for s in states}
    diffs, mismatched = {}, set()
    for t in range(steps):
        named = {n: a[:, t:t + 1] for n, a in zip(names, arrays)}
        got = call({**named, **carried})
        carried = {k: got[k] for k in carried}
        per_step = {k: w[:, t] for k, w in want.items() if w.ndim >= 3 and w.shape[1] == steps}
        _compare(got, per_step, diffs, mismatched, step=t, pooled=pooled)
        if t == steps - 1:
            _compare(got, {k: w for k, w in want.items() if k not in per_step},
                     diffs, mismatched, pooled=pooled)
    return diffs, mismatched


def _numpy(value):
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value)


def verify(reference, *exports, inputs=None, batch_sizes=None, lengths=None, atol=None,
           signature=None, seed=0, progress=None):
    """Compares a Keras model (or any reference) with its exports.

    Each export is run on the same inputs as the reference and every output
    the reference gives is compared: floating-point outputs by their largest
    absolute difference against a tolerance, integer, boolean and string
    outputs exactly. A full-integer export (quantize "int8", LiteRT or TFLM)
    is judged instead, unless `atol` is given, by `INT8_CRITERION`: per
    floating-point output, over all cases, the correlation of its values
    with the reference's and the agreement of the argmax over the last axis
    (`int8_agreement`). Streaming exports (state inputs `state{i}_h`, ...) are
    fed one step at a time and compared with the reference's full-sequence
    outputs at every step.

    Args:
        reference: a `keras.Model` (called in inference mode; its outputs
            named as the exporters name them), or a callable taking a dict
            of input arrays by name and returning a dict of outputs by name
            (for example precomputed outputs of a translator).
        *exports: SavedModel folders and/or `.tflite` files, `TFLiteRunner`s
            or SavedModels loaded with `tf.saved_model.load`. A micro
            `.tflite` (`to_tflite(target="micro")`) runs with the TFLM
            interpreter (kind "tflm"), row by row, at its fixed time
            dimension (which replaces `lengths` for it).
        inputs: one set of inputs, checked besides the random ones: an
            array, a list of arrays in input order, or a dict by input name
            (needed, as a dict, when `reference` is not a Keras model).
        batch_sizes, lengths: random inputs (`random_inputs`) for every
            batch size and length, with a Keras `reference`. Default:
            batch sizes (1, 3, 8) and lengths (1, 7, 25) when `inputs` is
            None, none otherwise.
        atol: the largest absolute difference that passes, for every export;
            None takes `TOLERANCE[quantize]` of each export (1e-4 for float
            exports) and the int8 criterion for int8 exports.
        signature: the signature of the exports to run; None runs
            "serving_default" (a `.tflite` file with one signature: that one).
        seed: seed of the random inputs (batch size b and length t use
            `seed + 1000 * b + t`).
        progress: optional callable wrapping an iterable, called as
            `progress(cases, desc=...)` (for example `tqdm.tqdm`).

    Returns:
        A `VerifyReport`: `report.ok`, and per export an `ExportCheck` with
        the largest difference per output (`diffs`), the outputs that must
        match and do not (`mismatched`), the tolerance, the `criterion`
        ("atol" or "int8", with `correlation` and `argmax_agreement` per
        output) and pass/fail (`ok`), per input case (`cases`).

    Raises:
        TypeError: `reference` is neither a Keras model nor callable, or an
            export is of an unknown kind.
        ValueError: an export cannot be loaded or lacks `signature`, no
            inputs (a callable reference without `inputs`), or inputs the
            reference or an export cannot take.

    Example:

    >>> import keras
    >>> from keras_rnnx import GRUX, export
    >>> ids = keras.Input((None,), dtype="int32", name="ids")
    >>> h = GRUX(8)(keras.layers.Embedding(50, 4, mask_zero=True)(ids))
    >>> model = keras.Model(ids, keras.layers.Dense(2)(h))
    >>> _ = export.to_tflite(model, "/tmp/rnnx_verify.tflite", overwrite=True)
    >>> report = export.verify(model, "/tmp/rnnx_verify.tflite", batch_sizes=[2], lengths=[5])
    >>> report.ok, report.exports[0].kind
    (True, 'tflite')
    """
    import keras

    if not exports:
        raise ValueError("exports: give at least one SavedModel folder or .tflite file")
    is_model = isinstance(reference, keras.Model)
    if not is_model and not callable(reference):
        raise TypeError(f"reference: expected a keras.Model or a callable, got "
                        f"{type(reference).__name__}")
    if is_model:
        specs, keys = _input_layout(reference)
        names = [s.name for s in specs]
    else:
        if not isinstance(inputs, dict):
            raise ValueError("inputs: a callable reference needs inputs as a dict by "
                             "input name")
        names, keys = list(inputs), None
    if inputs is None and batch_sizes is None and lengths is None:
        batch_sizes, lengths = BATCH_SIZES, LENGTHS
    cases = [(b, t) for b in (batch_sizes or ()) for t in (lengths or ())]
    if cases and not is_model:
        raise ValueError("batch_sizes/lengths: random inputs need a keras.Model reference")
    given = None
    if inputs is not None:
        given = _input_list(inputs, names)
        cases.append((None, None))
    if not cases:
        raise ValueError("inputs: nothing to compare (no inputs and no batch sizes or "
                         "lengths)")

    opened = [_Opened(e, signature) for e in exports]
    wanted = {}

    def reference_outputs(case):
        if case not in wanted:
            b, t = case
            arrays = given if b is None else random_inputs(reference, b, t,
                                                           seed=seed + 1000 * b + t)
            if is_model:
                out, _, _ = _name_outputs(reference,
                                          _call_model(reference, arrays, keys))
            else:
                out = reference(dict(zip(names, arrays)))
                if not isinstance(out, dict):
                    raise ValueError("reference: a callable reference must return a "
                                     f"dict of outputs by name, got {type(out).__name__}")
            wanted[case] = arrays, {k: _numpy(v) for k, v in out.items()}
        return wanted[case]

    checks = []
    for export in opened:
        results = []
        steps = cases
        if export.time_steps is not None:
            # A micro export runs one fixed length: random cases use it.
            steps = sorted({(b, export.time_steps) for b, t in cases if b is not None})
            steps += [c for c in cases if c[0] is None]
        if progress is not None:
            steps = progress(steps, desc=f"verify {export.label}")
        int8 = atol is None and export.quantize == "int8"
        pooled = {} if int8 else None
        for case in steps:
            arrays, want = reference_outputs(case)
            if export.states:
                diffs, mismatched = _compare_streaming(export, export.states, names,
                                                       arrays, want, pooled)
            else:
                got = export(dict(zip(names, arrays)))
                diffs, mismatched = {}, set()
                _compare(got, want, diffs, mismatched, pooled=pooled)
            results.append(Case(case[0], case[1], diffs, sorted(mismatched)))
        tolerance = atol if atol is not None else TOLERANCE.get(export.quantize, 1e-4)
        check = ExportCheck(export.label, export.kind, export.signature,
                            export.quantize, bool(export.states), float(tolerance),
                            results, criterion="int8" if int8 else "atol")
        for key, pairs in (pooled or {}).items():
            corr, argmax = int8_agreement([g for g, _ in pairs], [w for _, w in pairs])
            check.correlation[key] = corr
            if argmax is not None:
                check.argmax_agreement[key] = argmax
        checks.append(check)
    return VerifyReport(checks)


def _input_list(inputs, names):
    if isinstance(inputs, dict):
        missing = [n for n in names if n not in inputs]
        if missing:
            raise ValueError(f"inputs: missing {missing} (inputs by name: {names})")
        return [np.asarray(inputs[n]) for n in names]
    if isinstance(inputs, (list, tuple)):
        if len(inputs) != len(names):
            raise ValueError(f"inputs: expected {len(names)} arrays ({names}), got "
                             f"{len(inputs)}")
        return [np.asarray(a) for a in inputs]
    if len(names) != 1:
        raise ValueError(f"inputs: the model takes {names}; pass a list or a dict")
    return [np.asarray(inputs)]
