"""`rnnx verify`: Keras vs its SavedModel / TFLite exports on the same inputs
(`keras_rnnx.export.verify`, with its per-quantization tolerances, and
correlation and argmax agreement for int8 files)."""
from keras_rnnx.commands import _args

NAME = "verify"
HELP = "compare Keras, SavedModel and TFLite outputs on the same inputs"


def add_arguments(parser):
    parser.add_argument("model", help="the .keras model file")
    parser.add_argument("exported", nargs="+", help="SavedModel folders and/or .tflite files")
    parser.add_argument("--batch-sizes", type=_args.positive_int, nargs="+", default=[1, 3, 8],
                        help="batch sizes of the random inputs (default 1 3 8)")
    parser.add_argument("--lengths", type=_args.positive_int, nargs="+", default=[1, 7, 25],
                        help="sequence lengths of the random inputs (default 1 7 25)")
    parser.add_argument("--atol", type=_args.non_negative_float, default=None,
                        help="tolerance (default: 1e-4 for float exports, more for quantized; "
                             "int8 files pass on correlation and argmax agreement with the "
                             "model unless --atol is given)")
    _args.add_seed(parser, 0, "seed of the random inputs")
    parser.add_argument("--inputs", type=_args.input_file, default=None,
                        help="an .npz of real inputs keyed by input name, checked too")


def run(args):
    import functools
    import sys

    import numpy as np
    from tqdm import tqdm

    import keras_rnnx  # noqa: F401
    from keras_rnnx import export, progress
    from keras_rnnx.training import load_model

    try:
        model = load_model(args.model)
    except (OSError, ValueError) as e:
        print(f"rnnx verify: cannot load model {args.model!r}: {e}", file=sys.stderr)
        return 2
    names = export.input_names(model)
    real = None
    if args.inputs:
        try:
            with np.load(args.inputs) as data:
                real = {n: data[n] for n in names}
        except (OSError, KeyError, ValueError) as e:
            print(f"rnnx verify: --inputs {args.inputs!r}: expected an .npz with arrays "
                  f"{names}: {e}", file=sys.stderr)
            return 2
    progress = functools.partial(tqdm, file=sys.stderr, leave=False)
    failed = False
    rows = []
    for path in args.exported:
        try:
            report = export.verify(model, path, inputs=real, batch_sizes=args.batch_sizes,
                                   lengths=args.lengths, atol=args.atol, seed=args.seed,
                                   progress=progress)
        except (OSError, ValueError) as e:
            progress.error(f"rnnx verify: cannot load {path!r}: {e}")
            return 2
        check = report.exports[0]
        failed |= not check.ok
        rows += [(path, c.batch or "file", c.length or "file", c.max_diff)
                 for c in check.cases]
        print(check.summary())
    print("\nexport | batch | length | max abs diff")
    for path, b, t, diff in rows:
        print(f"{path} | {b} | {t} | {diff:.3g}")
    return 1 if failed else 0
