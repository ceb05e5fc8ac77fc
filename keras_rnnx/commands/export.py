"""`rnnx export`: a .keras model to a SavedModel (TF Serving) or a .tflite file."""
import os

from keras_rnnx.commands import _args

NAME = "export"
HELP = "export a .keras model to SavedModel or TFLite"


def add_arguments(parser):
    parser.add_argument("model", help="the .keras model file")
    parser.add_argument("--format", required=True, choices=["saved_model", "tflite"],
                        help="saved_model (TF Serving) or tflite (builtin ops)")
    parser.add_argument("--out", required=True, help="output folder (saved_model) or file (tflite)")
    parser.add_argument("--quantize", choices=["dynamic", "float16", "int8"], default=None,
                        help="TFLite quantization (default: none, float32)")
    parser.add_argument("--lstm-kernel", choices=["loop", "fused"], default=None,
                        help="TFLite LSTM kernel: builtin WHILE loop (unrolled for --target "
                             "micro) or UNIDIRECTIONAL_SEQUENCE_LSTM (default: loop; fused "
                             "for --target micro --quantize int8)")
    parser.add_argument("--streaming", action="store_true",
                        help="single-step model with explicit state inputs/outputs")
    parser.add_argument("--representative", default=None, type=_args.input_file,
                        help="--quantize int8: an .npz of real calibration inputs keyed by "
                             "input name, one sample per row (default: random inputs)")
    parser.add_argument("--representative-samples", type=_args.positive_int, default=32,
                        help="random calibration batches for --quantize int8 (default 32)")
    parser.add_argument("--target", choices=["litert", "micro"], default="litert",
                        help="tflite: litert (dynamic batch and time) or micro (TensorFlow "
                             "Lite for Microcontrollers: batch 1, fixed time, static shapes)")
    parser.add_argument("--time-steps", type=_args.positive_int, default=None,
                        help="--target micro: the fixed time dimension (for a model "
                             "with a dynamic one)")
    parser.add_argument("--c-source", default=None,
                        help="--target micro: also write the model as a C array to this "
                             ".cc file")
    parser.add_argument("--c-name", default="g_model",
                        help="the C array's name for --c-source (default g_model)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def check(args):
    if args.format == "saved_model" and (args.quantize or args.lstm_kernel is not None):
        raise _args.UsageError("--quantize and --lstm-kernel apply to --format tflite only")
    micro = args.target == "micro"
    if not micro and (args.time_steps is not None or args.c_source):
        raise _args.UsageError("--time-steps and --c-source apply to --target micro")
    if micro and args.format != "tflite":
        raise _args.UsageError("--target micro needs --format tflite")
    if args.representative and args.quantize != "int8":
        raise _args.UsageError("--representative applies to --quantize int8")
    if args.c_source:
        _args.check_output_file(args.c_source, "--c-source", args.overwrite)
    if args.format == "saved_model":
        if os.path.lexists(args.out) and not args.overwrite:
            raise _args.UsageError(f"--out: {args.out!r} already exists; pass --overwrite "
                                   "to replace it")
    else:
        _args.check_output_file(args.out, "--out", args.overwrite)


def run(args):
    import sys

    from tqdm import tqdm

    steps = tqdm(total=3, desc=f"export {args.format}", unit="step", file=sys.stderr)
    try:
        steps.set_postfix_str("loading model")
        import keras_rnnx  # noqa: F401 - registers the layers
        from keras_rnnx import export, progress
        from keras_rnnx.training import load_model

        try:
            model = load_model(args.model)
        except (OSError, ValueError) as e:
            progress.error(f"rnnx export: cannot load model {args.model!r}: {e}")
            return 2
        steps.update()
        steps.set_postfix_str("tracing and converting")
        try:
            micro = args.target == "micro"
            if args.format == "saved_model":
                info = export.to_saved_model(model, args.out, streaming=args.streaming,
                                             overwrite=args.overwrite)
            else:
                rep = None
                if args.representative:
                    rep = _representative(args.representative, export.input_names(model))
                elif args.quantize == "int8":
                    # A micro file has batch 1 and a fixed time dimension.
                    batch, length = (1, args.time_steps or 16) if micro else (4, 16)
                    rep = [export.random_inputs(model, batch, length, seed=i)
                           for i in range(args.representative_samples)]
                extra = {"target": "micro", "time_steps": args.time_steps} if micro else {}
                info = export.to_tflite(
                    model, args.out, quantize=args.quantize, representative_data=rep,
                    lstm_kernel=args.lstm_kernel, streaming=args.streaming,
                    overwrite=args.overwrite, **extra,
                )
                if micro:
                    info["arena"] = export.arena_size(args.out)
                    if args.c_source:
                        export.to_c_source(args.out, args.c_source, args.c_name,
                                           overwrite=args.overwrite)
        except ValueError as e:
            progress.error(f"rnnx export: {e}")
            return 2
        steps.update(2)
    finally:
        steps.close()
    print(f"wrote {args.out}")
    print(f"  inputs:  {', '.join(info['inputs'])}")
    print(f"  outputs: {', '.join(info['outputs'])}")
    if "size" in info:
        print(f"  size:    {info['size']} bytes; ops: {', '.join(info['ops'])}")
    if "arena" in info:
        print(f"  micro:   flash {info['size']} bytes (the file); tensor arena "
              f"{info['arena']} bytes (smallest that TFLM allocates)")
        if args.c_source:
            print(f"  c source: {args.c_source} (array {args.c_name}, {args.c_name}_len)")
    return 0


def _representative(path, names):
    """Calibration samples from an .npz keyed by input name (one sample per
    row: each becomes a batch of 1); ValueError naming the file otherwise."""
    import numpy as np

    try:
        with np.load(path) as data:
            arrays = [np.asarray(data[n]) for n in names]
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"--representative {path!r}: expected an .npz with arrays "
                         f"{names}, one sample per row: {e}") from e
    rows = {len(a) for a in arrays}
    if len(rows) != 1 or 0 in rows:
        raise ValueError(f"--representative {path!r}: arrays {names} need the same, "
                         f"non-zero number of rows, got {[len(a) for a in arrays]}")
    return [[a[i:i + 1] for a in arrays] for i in range(rows.pop())]
