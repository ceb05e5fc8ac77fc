"""`rnnx verify`: Keras vs its SavedModel / TFLite exports on the same inputs."""
NAME = "verify"
HELP = "compare Keras, SavedModel and TFLite outputs on the same inputs"

# Default tolerance (max abs difference) by TFLite quantization mode.
TOLERANCE = {None: 1e-4, "dynamic": 5e-2, "float16": 5e-3, "int8": 1.5e-1}


def add_arguments(parser):
    parser.add_argument("model", help="the .keras model file")
    parser.add_argument("exported", nargs="+", help="SavedModel folders and/or .tflite files")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 3, 8])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1, 7, 25])
    parser.add_argument("--atol", type=float, default=None,
                        help="tolerance (default: 1e-4 for float exports, more for quantized)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--inputs", default=None,
                        help="an .npz of real inputs keyed by input name, checked too")


def _embedding_vocab(model):
    import keras

    sizes = [l.input_dim for l in model._flatten_layers(include_self=False, recursive=True)
             if isinstance(l, keras.layers.Embedding)]
    masked = any(getattr(l, "mask_zero", False)
                 for l in model._flatten_layers(include_self=False, recursive=True)
                 if isinstance(l, keras.layers.Embedding))
    return (min(sizes) if sizes else None), masked


def random_inputs(model, batch, length, seed=0):
    """Random inputs for `model` in model-input order: token ids in range of the
    embedding (right-padded with 0 when the embedding masks zeros), else normal."""
    import numpy as np

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


def _runner(path):
    """(call(named) -> dict, kind, quantize, states or None) for an export."""
    import os
    import re

    from keras_rnnx import export

    if os.path.isdir(path):
        import tensorflow as tf

        fn = tf.saved_model.load(path).signatures["serving_default"]
        spec = fn.structured_input_signature[1]
        states = [{"name": k, "units": v.shape[-1]} for k, v in sorted(spec.items())
                  if re.fullmatch(r"state\d+_[hc]", k)]

        def call(named):
            res = fn(**{k: tf.constant(v) for k, v in named.items()})
            return {k: v.numpy() for k, v in res.items()}

        return call, "saved_model", None, states or None
    r = export.load_tflite(path)
    states = r.info.get("states") if r.info.get("streaming") else None
    return (lambda named: r.named(**named)), "tflite", r.info.get("quantize"), states


def _compare_streaming(call, states, names, arrays, want):
    """Feeds the sequence one step at a time; compares every step's outputs
    with the full-sequence Keras outputs (sequence outputs at that step, the
    others after the last step)."""
    import numpy as np

    batch, steps = arrays[0].shape[0], arrays[0].shape[1]
    carried = {s["name"]: np.zeros([batch, s["units"]], np.float32) for s in states}
    diff = 0.0
    for t in range(steps):
        named = {n: a[:, t:t + 1] for n, a in zip(names, arrays)}
        got = call({**named, **carried})
        carried = {k: got[k] for k in carried}
        for k, w in want.items():
            w = np.asarray(w)
            if w.ndim >= 3 and w.shape[1] == steps:
                diff = max(diff, float(np.abs(got[k][:, 0] - w[:, t]).max()))
            elif t == steps - 1:
                diff = max(diff, float(np.abs(got[k] - w).max()))
    return diff


def run(args):
    import sys

    import numpy as np
    from tqdm import tqdm

    import keras_rnnx  # noqa: F401
    from keras_rnnx import export
    from keras_rnnx.training import load_model

    try:
        model = load_model(args.model)
    except (OSError, ValueError) as e:
        print(f"rnnx verify: cannot load model {args.model!r}: {e}", file=sys.stderr)
        return 2
    specs, keys = export._input_layout(model)
    names = [s.name for s in specs]
    real = None
    if args.inputs:
        try:
            with np.load(args.inputs) as data:
                real = [data[n] for n in names]
        except (OSError, KeyError, ValueError) as e:
            print(f"rnnx verify: --inputs {args.inputs!r}: expected an .npz with arrays "
                  f"{names}: {e}", file=sys.stderr)
            return 2
    failed = False
    rows = []
    for path in args.exported:
        try:
            run_export, kind, quantize, states = _runner(path)
        except (OSError, ValueError) as e:
            print(f"rnnx verify: cannot load {path!r}: {e}", file=sys.stderr)
            return 2
        atol = args.atol if args.atol is not None else TOLERANCE.get(quantize, 1e-4)
        cases = [(b, t) for b in args.batch_sizes for t in args.lengths]
        if real is not None:
            cases.append(("file", "file"))
        worst = 0.0
        for b, t in tqdm(cases, desc=f"verify {path}", file=sys.stderr, leave=False):
            if b == "file":
                arrays = real
            else:
                arrays = random_inputs(model, b, t, seed=args.seed + 1000 * b + t)
            want, _, _ = export._name_outputs(model, export._call_model(model, arrays, keys))
            if states:
                diff = _compare_streaming(run_export, states, names, arrays, want)
            else:
                got = run_export(dict(zip(names, arrays)))
                diff = max(float(np.abs(np.asarray(got[k]) - np.asarray(want[k])).max())
                           for k in want)
            worst = max(worst, diff)
            rows.append((path, kind, b, t, diff))
        ok = worst <= atol
        failed |= not ok
        mode = kind + (", " + quantize if quantize else "") + (", streaming" if states else "")
        print(f"{'OK  ' if ok else 'FAIL'} {path} ({mode}): "
              f"max abs diff {worst:.3g} (tolerance {atol:g})")
    print("\nexport | batch | length | max abs diff")
    for path, kind, b, t, diff in rows:
        print(f"{path} | {b} | {t} | {diff:.3g}")
    return 1 if failed else 0
