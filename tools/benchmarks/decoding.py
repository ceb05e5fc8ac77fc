"""Beam search throughput: keras_rnnx.decoding.BeamSearch against keras-hub's
BeamSampler driving the same LSTM step function (batch 32, vocabulary 8000,
256 units, 30 generated tokens), both in a tf.function, with and without XLA;
plus the latency of the exported builtin-op TFLite beam model against the
same generation function in TensorFlow; and, about a floor for ours, the
step function alone (no search) against keras-hub's whole search. Ours and
the peer run alternately in one process; each row is the median of `--processes` fresh processes
(default 3), with the range of the ratio."""
import os
import tempfile

from tools.timing import interleaved_medians, median_time, run_section

SECTION = "Decoding: beam search (sequences/s) and TFLite beam latency"

BATCH, VOCAB, UNITS, MAX_LENGTH = 32, 8000, 256, 30
START_ID, END_ID = 1, 2


def _lstm_step(vocab, units, seed=0):
    """(step_fn for our decoders, next_fn for keras-hub) over one set of weights."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    def w(*shape, scale=0.1):
        return tf.constant(rng.normal(size=shape, scale=scale).astype("float32"))

    emb, kernel, rec = w(vocab, units), w(units, 4 * units), w(units, 4 * units)
    bias, out_w, out_b = w(4 * units), w(units, vocab, scale=0.3), w(vocab)

    from keras_rnnx.kernels import lstm_step

    def cell(tokens, h, c):
        step = lstm_step(tf.gather(emb, tokens) @ kernel + bias, h, c, rec)
        return step.h @ out_w + out_b, step.h, step.c

    def step_fn(tokens, state):
        logits, h, c = cell(tokens, state[0], state[1])
        return tf.nn.log_softmax(logits), (h, c)

    def next_fn(prompt, cache, index):  # keras-hub: cache [N, 2, units]
        tokens = tf.gather(prompt, index - 1, axis=1)
        logits, h, c = cell(tokens, cache[:, 0], cache[:, 1])
        return logits, None, tf.stack([h, c], axis=1)

    return step_fn, next_fn


def _ours(step_fn, beam, jit):
    import tensorflow as tf

    from keras_rnnx.decoding import BeamSearch

    search = BeamSearch(beam)

    @tf.function(jit_compile=jit, input_signature=[tf.TensorSpec([None, UNITS])])
    def run(h0):
        return search(step_fn, (h0, h0), START_ID, END_ID, MAX_LENGTH)

    return run


def _step_alone(step_fn, beam, jit):
    """The step function the searches call, 30 times on batch x beam rows
    as keras-hub does (ours calls it once on batch rows, then 29 times),
    with no search: the LSTM step, the projection and the log-softmax's
    normaliser over every row (column 0 of the log-probabilities is summed
    so that nothing is optimised away). About the floor of any search over
    this step."""
    import tensorflow as tf

    @tf.function(jit_compile=jit, input_signature=[tf.TensorSpec([None, UNITS])])
    def run(h0):
        h = tf.repeat(h0, beam, axis=0)

        def body(t, tokens, h, c, total):
            log_probs, (h, c) = step_fn(tokens, (h, c))
            return t + 1, (tokens + 1) % VOCAB, h, c, total + tf.reduce_sum(log_probs[:, 0])

        tokens = tf.fill([tf.shape(h)[0]], START_ID)
        return tf.while_loop(lambda t, *_: t < MAX_LENGTH, body,
                             (0, tokens, h, h, 0.0))[-1]

    return run


def _keras_hub(next_fn, beam, jit):
    import tensorflow as tf
    from keras_hub.samplers import BeamSampler

    sampler = BeamSampler(num_beams=beam)

    @tf.function(jit_compile=jit, input_signature=[tf.TensorSpec([None, UNITS])])
    def run(h0):
        batch = tf.shape(h0)[0]
        prompt = tf.concat([tf.fill([batch, 1], START_ID),
                            tf.fill([batch, MAX_LENGTH], 0)], axis=1)
        return sampler(next_fn, prompt, cache=tf.stack([h0, h0], axis=1), index=1,
                       stop_token_ids=[END_ID])

    return run


def _tflite_row(repeats):
    import numpy as np
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from keras_rnnx import decoding
    from keras_rnnx.models.language_model import LanguageModel, export_generator, generation_function

    model = LanguageModel(VOCAB, embedding_dim=UNITS, units=UNITS)
    model.build((None, None))
    beam = decoding.BeamSearch(4)
    prompts = np.ones([BATCH, 1], np.int32)  # <s>
    with tempfile.TemporaryDirectory() as tmp:
        path = export_generator(model, os.path.join(tmp, "beam.tflite"), beam, MAX_LENGTH,
                                format="tflite")
        interpreter = Interpreter(model_path=path, num_threads=os.cpu_count())
        runner = interpreter.get_signature_runner("generate")
        fn = generation_function(model, beam, MAX_LENGTH)
        t_lite, t_tf = interleaved_medians(lambda: runner(prompt_ids=prompts),
                                           lambda: fn(tf.constant(prompts))["scores"].numpy(),
                                           repeats, warmup=1)
    return {"benchmark": f"TFLite beam 4 latency (batch {BATCH}, LanguageModel)",
            "ours": t_lite * 1e3, "peer": t_tf * 1e3, "ratio": t_tf / t_lite,
            "unit": "ms (peer: same function in TF graph)"}


def run(args):
    return run_section("decoding", _measure, args)


def _measure(quick):
    import numpy as np
    import tensorflow as tf

    repeats = 2 if quick else 7
    step_fn, next_fn = _lstm_step(VOCAB, UNITS)
    h0 = tf.constant(np.random.default_rng(1).normal(size=(BATCH, UNITS)).astype("float32"))
    try:
        import keras_hub  # noqa: F401

        hub_note = f"keras-hub {keras_hub.__version__}"
    except Exception as e:  # noqa: BLE001 - any import failure skips the peer
        hub_note = f"keras-hub unavailable ({type(e).__name__}); peer rows skipped"
        keras_hub = None
    rows = []
    for beam in (4, 8):
        for jit in (False, True):
            mode = "XLA" if jit else "tf.function"
            ours = _ours(step_fn, beam, jit)
            run_ours = lambda: ours(h0)[0].numpy()  # noqa: E731
            row = {"benchmark": f"beam {beam}, {mode}", "unit": "sequences/s",
                   "notes": hub_note}
            if keras_hub is not None:
                hub = _keras_hub(next_fn, beam, jit)
                t_ours, t_hub = interleaved_medians(run_ours, lambda: hub(h0).numpy(), repeats, warmup=1)
                row.update(peer=BATCH / t_hub, ratio=t_hub / t_ours)
                # same step function, same search: the best sequences agree
                same = (ours(h0)[0].numpy()[:, 0] == hub(h0).numpy()[:, 1:]).all(axis=1)
                row["same_best_rows"] = f"{int(same.sum())}/{BATCH}"
            else:
                t_ours = median_time(run_ours, repeats)
            row["ours"] = BATCH / t_ours
            rows.append(row)
            if beam == 4 and keras_hub is not None:
                alone = _step_alone(step_fn, beam, jit)
                t_alone, t_hub = interleaved_medians(lambda: alone(h0).numpy(),
                                                     lambda: hub(h0).numpy(), repeats, warmup=1)
                rows.append({"benchmark": f"beam 4 step alone (no search), {mode}",
                             "ours": BATCH / t_alone, "peer": BATCH / t_hub,
                             "ratio": t_hub / t_alone, "unit": "sequences/s",
                             "notes": f"{hub_note}; ours_is=the step alone, {MAX_LENGTH} times "
                                      "on 128 rows, no search (about the floor of a search)"})
    rows.append(_tflite_row(repeats))
    return rows
