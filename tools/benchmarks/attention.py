"""Bahdanau attention and the attention translator.

Rows:
* teacher-forced attention (3-D query, forward + backward, one tf.function):
  keras_rnnx.BahdanauAttention against the same maths in Keras
  (Dense projections + keras.layers.AdditiveAttention), same weights;
  ratio = keras_time / our_time (> 1: ours faster).
* one decoder step of attention with keys precomputed once (what the
  AttentionDecoder does) against recomputing W_k a every step (the naive
  layer call); ratio = naive / precomputed.
* date translator decoding throughput (untrained weights: speed only),
  greedy vs beam 4, sequences per second; ratio = beam / greedy.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from tools.timing import interleaved_medians  # noqa: E402

SECTION = "Bahdanau attention and the seq2seq translator"


def run(args):
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_rnnx import BahdanauAttention

    quick = getattr(args, "quick", False)
    repeats = 3 if quick else 9
    B, Tq, Tv, H, U = (32, 11, 30, 64, 64) if quick else (64, 11, 40, 128, 128)
    rng = np.random.default_rng(0)
    query = tf.constant(rng.normal(size=(B, Tq, H)).astype("float32"))
    values = tf.constant(rng.normal(size=(B, Tv, 2 * H)).astype("float32"))
    mask = tf.constant(np.arange(Tv)[None, :] < rng.integers(Tv // 2, Tv + 1, (B, 1)))

    ours = BahdanauAttention(U)
    ours(query, values)
    dq, dk = keras.layers.Dense(U, use_bias=False), keras.layers.Dense(U)
    peer = keras.layers.AdditiveAttention()
    dq.build((None, H))
    dk.build((None, 2 * H))
    peer.build([(B, Tq, U), (B, Tv, 2 * H), (B, Tv, U)])
    dq.set_weights([ours.query_kernel.numpy()])
    dk.set_weights([ours.key_kernel.numpy(), ours.bias.numpy()])
    peer.set_weights([ours.energy.numpy()])

    def grad_fn(forward, variables):
        @tf.function
        def f():
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(forward()))
            return tape.gradient(loss, variables)

        return lambda: [g.numpy() for g in f()]

    ours_fn = grad_fn(lambda: ours(query, values, mask=mask)[0], ours.trainable_variables)
    peer_vars = dq.trainable_variables + dk.trainable_variables + peer.trainable_variables
    peer_fn = grad_fn(
        lambda: peer([dq(query), values, dk(values)], mask=[None, mask]), peer_vars
    )
    diff = float(np.max(np.abs(
        ours(query, values, mask=mask)[0].numpy()
        - peer([dq(query), values, dk(values)], mask=[None, mask]).numpy()
    )))
    t_ours, t_peer = interleaved_medians(ours_fn, peer_fn, repeats, warmup=2)
    rows = [dict(
        benchmark=f"attention fwd+bwd B={B} Tq={Tq} Tv={Tv} Hv={2 * H} U={U}",
        ours=t_ours * 1e3, peer=t_peer * 1e3, ratio=t_peer / t_ours, unit="ms",
        peer_is="Dense+keras AdditiveAttention", max_abs_diff=f"{diff:.1e}",
    )]

    # one decoder step: precomputed keys vs recomputing them
    q2 = query[:, 0]
    keys = ours.compute_keys(values)
    pre = tf.function(lambda: ours.attend(q2, values, keys, mask)[0])
    naive = tf.function(lambda: ours(q2, values, mask=mask)[0])
    steps = 11

    def loop(fn):
        return lambda: [fn().numpy() for _ in range(steps)]

    t_pre, t_naive = interleaved_medians(loop(pre), loop(naive), repeats, warmup=2)
    rows.append(dict(
        benchmark=f"{steps} decoder attention steps, keys precomputed",
        ours=t_pre * 1e3, peer=t_naive * 1e3, ratio=t_naive / t_pre, unit="ms",
        peer_is="keys recomputed every step",
    ))

    # translator decoding throughput (speed only; weights untrained)
    from keras_rnnx.datasets import dates
    from keras_rnnx.models.translator import Translator, source_vocabulary_from_texts

    pairs = dates.generate(256 if not quick else 64, seed=0, split="test")
    sources = [s for s, _ in pairs]
    t = Translator(source_vocabulary_from_texts(sources), list(dates.TARGET_CHARS), 10)
    ids = t.tokenize(sources)
    greedy = t.generate_function("greedy")
    beam = t.generate_function(beam_width=4)
    t_greedy, t_beam = interleaved_medians(
        lambda: greedy(ids)["sequences"].numpy(), lambda: beam(ids)["sequences"].numpy(),
        repeats,
    )
    n = len(sources)
    rows.append(dict(
        benchmark=f"date translator, {n} dates: beam 4 vs greedy",
        ours=n / t_beam, peer=n / t_greedy, ratio=t_greedy / t_beam, unit="seq/s",
        ours_is="beam 4", peer_is="greedy",
    ))
    return rows
