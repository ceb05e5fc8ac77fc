"""TFLite latency and size: our loop and fused LSTM kernels vs Keras 3's LSTM.

The Keras 3 LSTM is converted at a fixed batch 1 (it does not convert with a
dynamic batch); ours keep batch and time dynamic. Ratios are ours / Keras at
batch 1 with the same thread count (lower is better), the two files invoked
alternately in the same process; batch-32 rows have no peer (Keras'
conversion cannot run them). The "sequences" rows export
`return_sequences=True` (T=50 and T=200, batch 1, one thread) against Keras'
LSTM converted at that batch and length. Latency rows are the median of
`--processes` fresh processes (default 3), with the range of the ratio.
"""
import os
import tempfile

from tools.timing import interleaved_medians, median_time, run_section

SECTION = "TFLite export: latency and size (LSTM, T=50, 256 units)"


def _keras_reference(units, steps, depth, weights, path, return_sequences=False):
    """Keras 3 LSTM at batch 1 -> .tflite; returns (path, note)."""
    import keras
    import tensorflow as tf

    x = keras.Input(batch_shape=(1, steps, depth))
    layer = keras.layers.LSTM(units, return_sequences=return_sequences)
    model = keras.Model(x, layer(x))
    layer.set_weights(weights)
    try:
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        data = conv.convert()
    except Exception as e:  # noqa: BLE001
        return None, f"keras conversion failed: {str(e).splitlines()[0][:120]}"
    with open(path, "wb") as f:
        f.write(data)
    return path, "keras: fixed batch 1"


def _recurrent_product_floor(units, depth, recurrent_kernel, path, kernel=None):
    """The floor of any loop form of this LSTM at batch 1: a WHILE loop over
    a dynamic [B, T, D] input whose body is only the step's recurrent
    product (h @ U, one FULLY_CONNECTED, its first `units` columns carried
    as the next h). Not an LSTM: it says how much of Keras' time the
    product alone takes (no gate math). With `kernel`, the input projection
    too, as our loop has it: x @ W for all steps before the loop (one
    product), the loop carrying it and adding step t's row to h @ U."""
    import tensorflow as tf

    from keras_rnnx import export

    u = tf.constant(recurrent_kernel)

    @tf.function(input_signature=[tf.TensorSpec([None, None, depth], tf.float32)])
    def floor(x):
        steps = tf.shape(x)[1]
        h0 = tf.ones(tf.stack([tf.shape(x)[0], units]))
        x_proj = None if kernel is None else tf.matmul(x, tf.constant(kernel))

        def body(t, h):
            z = tf.matmul(h, u)
            if x_proj is not None:
                z = z + tf.gather(x_proj, t, axis=1)
            return t + 1, z[:, :units]

        return tf.while_loop(lambda t, h: t < steps, body, [0, h0],
                             shape_invariants=[tf.TensorShape([]),
                                               tf.TensorShape([None, units])])[1]

    export.functions_to_tflite({"floor": floor}, path)
    return path


def run(args):
    return run_section("tflite", _measure, args)


def _measure(quick):
    import numpy as np

    import keras
    from ai_edge_litert.interpreter import Interpreter

    from keras_rnnx import LSTMX, export

    units, steps, depth = (64, 20, 32) if quick else (256, 50, 128)
    repeats = 3 if quick else 20
    pair_repeats = 5 if quick else 200  # batch 1 against Keras: sub-millisecond calls
    keras.utils.set_random_seed(0)
    x = keras.Input((None, depth))
    layer = LSTMX(units)
    model = keras.Model(x, layer(x))
    rows = []
    tmp = tempfile.mkdtemp(prefix="rnnx_bench_tflite_")
    peer_path, note = _keras_reference(
        units, steps, depth, layer.get_weights(), os.path.join(tmp, "keras.tflite"))
    rng = np.random.default_rng(0)
    data = {b: rng.normal(size=(b, steps, depth)).astype("float32") for b in (1, 32)}

    peer = {}  # threads -> a call of Keras' file at batch 1
    if peer_path:
        for threads in (1, 2):
            it = Interpreter(model_path=peer_path, num_threads=threads)
            it.allocate_tensors()
            inp = it.get_input_details()[0]["index"]

            def call(it=it, inp=inp):
                it.set_tensor(inp, data[1])
                it.invoke()

            peer[threads] = call
        rows.append({"benchmark": "keras LSTM file size", "ours": None,
                     "peer": os.path.getsize(peer_path), "ratio": None, "unit": "bytes",
                     "notes": note})
    floors = (  # label, kernel (the input projection's, or None), what the loop runs
        ("recurrent product alone", None, "only h @ U per step"),
        ("input projection + recurrent product", layer.get_weights()[0],
         "x @ W for all steps before the loop, then h @ U + step t's row per step"),
    )
    for i, (label, kernel, what) in enumerate(floors if peer else ()):
        floor = _recurrent_product_floor(units, depth, layer.get_weights()[1],
                                         os.path.join(tmp, f"floor{i}.tflite"), kernel=kernel)
        for threads in (1, 2):
            it = Interpreter(model_path=floor, num_threads=threads)
            it.resize_tensor_input(it.get_input_details()[0]["index"], [1, steps, depth])
            it.allocate_tensors()

            def call(it=it, index=it.get_input_details()[0]["index"]):
                it.set_tensor(index, data[1])
                it.invoke()

            t, p = interleaved_medians(call, peer[threads], pair_repeats)
            rows.append({
                "benchmark": f"floor: {label}, batch 1 threads {threads}",
                "ours": t * 1e3, "peer": p * 1e3, "ratio": t / p, "unit": "ms",
                "notes": (f"not an export form: a WHILE loop running {what}, no gate math; "
                          f"{note}; ratio=floor/keras")})
    rows += _sequence_rows(units, depth, layer.get_weights(), tmp, pair_repeats,
                           ((1, 20),) if quick else ((1, 50), (1, 200), (32, 50)))
    want = model(data[32]).numpy()
    rep = [rng.normal(size=(4, steps, depth)).astype("float32") for _ in range(16)]
    for kernel in ("loop", "fused"):
        for quantize in (None, "dynamic") + (("float16", "int8") if kernel == "loop" else ()):
            path = os.path.join(tmp, f"{kernel}_{quantize}.tflite")
            info = export.to_tflite(model, path, lstm_kernel=kernel, quantize=quantize,
                                    representative_data=rep if quantize == "int8" else None)
            label = f"{kernel} {quantize or 'float32'}"
            psize = os.path.getsize(peer_path) if peer_path else None
            diff = float(np.abs(export.load_tflite(path)(data[32]) - want).max())
            rows.append({"benchmark": f"{label} file size", "ours": info["size"],
                         "peer": psize, "ratio": info["size"] / psize if psize else None,
                         "unit": "bytes", "notes": "ratio=ours/keras, <1 = smaller",
                         "max_abs_diff_vs_keras": f"{diff:.2g}"})
            if quantize not in (None, "dynamic"):
                continue  # latency rows: float32 and dynamic-range int8 only
            for threads in (1, 2):
                run_tfl = export.load_tflite(path, num_threads=threads)
                # Time invoke alone, as for the Keras peer: resize once, then
                # set the input and invoke.
                for batch in (1, 32):
                    run_tfl(data[batch])  # resizes and allocates for this batch
                    it = run_tfl.interpreter
                    index = run_tfl._in[run_tfl.input_names[0]]

                    def call(it=it, index=index, x=data[batch], reset=bool(run_tfl._variables)):
                        if reset:  # the fused op's state must start from zero
                            it.reset_all_variables()
                        it.set_tensor(index, x)
                        it.invoke()

                    if batch == 1 and threads in peer:
                        # alternately, so that both files see the same noise
                        t, p = interleaved_medians(call, peer[threads], pair_repeats)
                    else:
                        t, p = median_time(call, repeats), None
                    rows.append({
                        "benchmark": f"{label} batch {batch} threads {threads}",
                        "ours": t * 1e3, "peer": p * 1e3 if p else None,
                        "ratio": t / p if p else None, "unit": "ms",
                        "notes": (f"{note}; ratio=ours/keras, <1 = we are faster" if p
                                  else "no Keras peer (dynamic batch)"),
                    })
    return rows


def _sequence_rows(units, depth, weights, tmp, pair_repeats, cases):
    """Whole-sequence output (`return_sequences=True`), loop float32, one
    thread, for each (batch, length) of `cases`: our file (outputs written
    in blocks, `kernels.tflite._run_blocks`) against the same layer as one
    WHILE carrying the whole output buffer (lowering "tflite_loop"), and at
    batch 1 against Keras 3's LSTM converted at fixed batch 1 and that
    length; each pair of files invoked alternately."""
    import numpy as np

    import keras
    from ai_edge_litert.interpreter import Interpreter

    from keras_rnnx import LSTMX, export

    import tensorflow as tf

    from keras_rnnx import kernels

    x = keras.Input((None, depth))
    layer = LSTMX(units, return_sequences=True)
    model = keras.Model(x, layer(x))
    layer.set_weights(weights)
    path = os.path.join(tmp, "loop_sequences.tflite")
    export.to_tflite(model, path, lstm_kernel="loop")
    run_tfl = export.load_tflite(path, num_threads=1)

    # The same layer as one WHILE carrying the whole [T, B, H] buffer (the
    # "tflite_loop" lowering, what to_tflite wrote before the blocks).
    @tf.function(input_signature=[tf.TensorSpec([None, None, depth], tf.float32)])
    def single_loop(inputs):
        with kernels.lowering("tflite_loop"):
            return model(inputs)

    single_path = os.path.join(tmp, "single_loop_sequences.tflite")
    export.functions_to_tflite({"serving_default": single_loop}, single_path)
    single = Interpreter(model_path=single_path, num_threads=1)
    single_in = single.get_input_details()[0]["index"]
    def invoker(interpreter, index, x):
        interpreter.resize_tensor_input(index, x.shape)
        interpreter.allocate_tensors()

        def call():
            interpreter.set_tensor(index, x)
            interpreter.invoke()

        call()
        return call

    def output(interpreter):
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

    rows = []
    rng = np.random.default_rng(1)
    for batch, steps in cases:
        data = rng.normal(size=(batch, steps, depth)).astype("float32")
        got = run_tfl(data)  # resizes and allocates for this shape
        call = invoker(run_tfl.interpreter, run_tfl._in[run_tfl.input_names[0]], data)
        single_call = invoker(single, single_in, data)
        repeats = max(pair_repeats * 50 // (steps * batch), 5)
        t, s = interleaved_medians(call, single_call, repeats)
        rows.append({
            "benchmark": f"loop float32 sequences T{steps} batch {batch}: blocks vs one loop",
            "ours": t * 1e3, "peer": s * 1e3, "ratio": t / s, "unit": "ms",
            "notes": ("peer: the same layer as one WHILE carrying the [T, B, H] output "
                      "(lowering tflite_loop), 1 thread; ratio=blocks/one loop; "
                      f"max_abs_diff={float(np.abs(got - output(single)).max()):.2g}")})
        if batch != 1:
            continue  # Keras' file runs at batch 1 only
        peer_path, note = _keras_reference(
            units, steps, depth, weights, os.path.join(tmp, f"keras_seq{steps}.tflite"),
            return_sequences=True)
        label = f"loop float32 sequences T{steps} batch 1 threads 1"
        if peer_path is None:
            rows.append({"benchmark": label, "ours": None, "peer": None, "ratio": None,
                         "unit": "ms", "notes": note})
            continue
        peer = Interpreter(model_path=peer_path, num_threads=1)
        peer_call = invoker(peer, peer.get_input_details()[0]["index"], data)
        diff = float(np.abs(got - output(peer)).max())
        t, p = interleaved_medians(call, peer_call, repeats)
        rows.append({
            "benchmark": label, "ours": t * 1e3, "peer": p * 1e3, "ratio": t / p,
            "unit": "ms",
            "notes": (f"return_sequences=True; {note}, length {steps}; ratio=ours/keras, "
                      f"<1 = we are faster; max_abs_diff_vs_keras={diff:.2g}")})
    return rows
