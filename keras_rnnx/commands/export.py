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
    parser.add_argument("--lstm-kernel", choices=["loop", "fused"], default="loop",
                        help="TFLite LSTM kernel: builtin WHILE loop or UNIDIRECTIONAL_SEQUENCE_LSTM")
    parser.add_argument("--streaming", action="store_true",
                        help="single-step model with explicit state inputs/outputs")
    parser.add_argument("--representative-samples", type=_args.positive_int, default=32,
                        help="random calibration batches for --quantize int8 (default 32)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def check(args):
    if args.format == "saved_model" and (args.quantize or args.lstm_kernel != "loop"):
        raise _args.UsageError("--quantize and --lstm-kernel apply to --format tflite only")
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
        from keras_rnnx import export
        from keras_rnnx.training import load_model

        try:
            model = load_model(args.model)
        except (OSError, ValueError) as e:
            print(f"rnnx export: cannot load model {args.model!r}: {e}", file=sys.stderr)
            return 2
        steps.update()
        steps.set_postfix_str("tracing and converting")
        try:
            if args.format == "saved_model":
                info = export.to_saved_model(model, args.out, streaming=args.streaming,
                                             overwrite=args.overwrite)
            else:
                rep = None
                if args.quantize == "int8":
                    rep = [export.random_inputs(model, 4, 16, seed=i)
                           for i in range(args.representative_samples)]
                info = export.to_tflite(
                    model, args.out, quantize=args.quantize, representative_data=rep,
                    lstm_kernel=args.lstm_kernel, streaming=args.streaming,
                    overwrite=args.overwrite,
                )
        except ValueError as e:
            print(f"rnnx export: {e}", file=sys.stderr)
            return 2
        steps.update(2)
    finally:
        steps.close()
    print(f"wrote {args.out}")
    print(f"  inputs:  {', '.join(info['inputs'])}")
    print(f"  outputs: {', '.join(info['outputs'])}")
    if "size" in info:
        print(f"  size:    {info['size']} bytes; ops: {', '.join(info['ops'])}")
    return 0
