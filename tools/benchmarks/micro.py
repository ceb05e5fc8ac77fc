"""Microcontroller exports: TFLM latency per inference against LiteRT running
the same file, and the flash (file) and tensor-arena bytes a microcontroller
needs, for a small sensor-sequence classifier (LSTMX + Dense head, batch 1):
float (LSTMs unrolled, the float default), int8 with the fused integer LSTM
(the int8 default) and int8 unrolled (`lstm_kernel="loop"`).

Latency is the TFLM reference interpreter on this host (portable reference
kernels, no target-specific optimizations): a ratio against LiteRT (one
thread) on the same file, not a microcontroller's speed. Both runtimes do
the same work per inference: reset the state tensors, set the input,
invoke, read the output; measured interleaved in one process, the median
of `--processes` fresh processes (default 3, 1 with --quick).
"""
import os

from tools.timing import interleaved_medians, run_section

SECTION = "Microcontrollers: TFLM vs LiteRT on the same micro file (LSTMX, batch 1)"

FILES = (("float32", None, None), ("int8 fused LSTM", "int8", None),
         ("int8 unrolled", "int8", "loop"))


def _measure(quick):
    """Rows of one process: flash and arena per file, then TFLM vs LiteRT
    latency per file."""
    import tempfile

    import keras
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    from keras_rnnx import LSTMX, export

    units, steps, depth = (16, 10, 3) if quick else (32, 50, 8)
    repeats = 21 if quick else 201
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = keras.Input((steps, depth), name="frames")
    model = keras.Model(x, keras.layers.Dense(4, name="logits")(LSTMX(units)(x)))
    sample = rng.normal(size=(1, steps, depth)).astype("float32")
    rep = [rng.normal(size=(1, steps, depth)).astype("float32") for _ in range(50)]
    shape = f"LSTMX({units}) T={steps} D={depth} + Dense(4)"
    tmp = tempfile.mkdtemp(prefix="rnnx_bench_micro_")
    sizes, times = [], []
    for label, quantize, kernel in FILES:
        path = os.path.join(tmp, f"micro_{len(sizes)}.tflite")
        info = export.to_tflite(model, path, target="micro", quantize=quantize,
                                representative_data=rep if quantize else None,
                                lstm_kernel=kernel)
        raw = export.load_micro(path, raw=True)
        sizes.append({"benchmark": f"{label} flash (file)", "ours": info["size"],
                      "peer": None, "ratio": None, "unit": "bytes",
                      "notes": f"{shape}; ops {'+'.join(info['ops'])}"})
        sizes.append({"benchmark": f"{label} tensor arena", "ours": raw.arena,
                      "peer": None, "ratio": None, "unit": "bytes",
                      "notes": "smallest arena TFLM allocates (export.arena_size)"})
        feed = sample
        if quantize:
            q = raw.input_details[0]["quantization_parameters"]
            feed = np.clip(np.round(sample / q["scales"][0] + q["zero_points"][0]),
                           -128, 127).astype("int8")
        lite = Interpreter(model_path=path, num_threads=1)
        lite.allocate_tensors()
        index = lite.get_input_details()[0]["index"]
        out = lite.get_output_details()[0]["index"]

        def call_lite(lite=lite, index=index, out=out, feed=feed):
            lite.reset_all_variables()
            lite.set_tensor(index, feed)
            lite.invoke()
            return lite.get_tensor(out)

        def call_micro(raw=raw, feed=feed):
            return raw(feed)  # reset, set, invoke, get

        t_micro, t_lite = interleaved_medians(call_micro, call_lite, repeats, warmup=5)
        times.append({"benchmark": f"{label} latency per inference",
                      "ours": t_micro * 1e3, "peer": t_lite * 1e3,
                      "ratio": t_micro / t_lite, "unit": "ms",
                      "notes": f"{shape}; ours=TFLM reference interpreter, peer=LiteRT "
                               "1 thread, same file, interleaved, median of "
                               f"{repeats}; ratio=TFLM/LiteRT, >1 = TFLM slower"})
    return sizes + times


def run(args):
    return run_section("micro", _measure, args)
