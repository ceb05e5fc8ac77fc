"""Microcontroller exports: TFLM latency per inference against LiteRT running
the same file, and the flash (file) and tensor-arena bytes a microcontroller
needs, for a small sensor-sequence classifier (LSTMX, float and int8).

Latency is the TFLM reference interpreter on this host (portable reference
kernels, no target-specific optimizations): a ratio against LiteRT on the
same file, not a microcontroller's speed.
"""
import os
import tempfile

from tools.timing import median_time

SECTION = "Microcontrollers: TFLM vs LiteRT on the same micro file (LSTMX, batch 1)"


def run(args):
    import keras
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    from keras_rnnx import LSTMX, export

    quick = getattr(args, "quick", False)
    units, steps, depth = (16, 10, 3) if quick else (32, 50, 8)
    repeats = 5 if quick else 50
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = keras.Input((steps, depth), name="frames")
    model = keras.Model(x, keras.layers.Dense(4, name="logits")(LSTMX(units)(x)))
    sample = rng.normal(size=(1, steps, depth)).astype("float32")
    rep = [rng.normal(size=(1, steps, depth)).astype("float32") for _ in range(50)]
    tmp = tempfile.mkdtemp(prefix="rnnx_bench_micro_")
    rows = []
    for quantize in (None, "int8"):
        path = os.path.join(tmp, f"micro_{quantize or 'float'}.tflite")
        info = export.to_tflite(model, path, target="micro", quantize=quantize,
                                representative_data=rep if quantize else None)
        micro = export.load_micro(path)
        label = quantize or "float32"
        rows.append({"benchmark": f"{label} flash (file)", "ours": info["size"],
                     "peer": None, "ratio": None, "unit": "bytes",
                     "notes": f"LSTMX({units}) T={steps} D={depth} + Dense(4)"})
        rows.append({"benchmark": f"{label} tensor arena", "ours": micro.arena,
                     "peer": None, "ratio": None, "unit": "bytes",
                     "notes": "smallest arena TFLM allocates (export.arena_size)"})
        feed = sample
        if quantize:
            d = micro.input_details[0]["quantization_parameters"]
            feed = np.clip(np.round(sample / d["scales"][0] + d["zero_points"][0]),
                           -128, 127).astype("int8")
        lite = Interpreter(model_path=path, num_threads=1)
        lite.allocate_tensors()
        index = lite.get_input_details()[0]["index"]

        def call_lite(lite=lite, index=index, feed=feed):
            lite.set_tensor(index, feed)
            lite.invoke()

        raw = export.load_micro(path, raw=True)
        t_micro = median_time(lambda raw=raw, feed=feed: raw(feed), repeats)
        t_lite = median_time(call_lite, repeats)
        rows.append({"benchmark": f"{label} latency per inference", "ours": t_micro * 1e3,
                     "peer": t_lite * 1e3, "ratio": t_micro / t_lite, "unit": "ms",
                     "notes": "ours=TFLM reference interpreter (load_micro raw: set, invoke, "
                              "get), peer=LiteRT 1 thread (set, invoke), "
                              "same file; ratio>1 = TFLM slower"})
    return rows
