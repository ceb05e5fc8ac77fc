#!/usr/bin/env python
"""Measures the figures behind `export.INT8_CRITERION`: `export.verify`'s
correlation and argmax agreement (its default random inputs) for int8
exports of small untrained models, against the model they came from and
against the same architecture with other weights (a wrong file).

    python tools/int8_criterion.py        # about 10 minutes on 2 cores

Exports: LiteRT int8, micro int8 (fused integer LSTM, the default) and,
for models with an LSTM, micro int8 with `lstm_kernel="loop"`; two seeds.
Prints one JSON line per check, then the range of each group.
"""
import json
import os
import sys
import tempfile
import warnings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if not __package__:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

T, D = 10, 3


def _models():
    import keras

    from keras_rnnx import GRUX, LSTMX, BiDirectional

    def frames(layer):
        def make():
            x = keras.Input((T, D), name="frames")
            return keras.Model(x, keras.layers.Dense(4, name="logits")(layer()(x)))
        return make

    def ids():
        i = keras.Input((T,), dtype="int32", name="ids")
        e = keras.layers.Embedding(30, 8, mask_zero=True,
                                   embeddings_initializer=keras.initializers.RandomNormal(
                                       stddev=1.0))(i)
        h = LSTMX(8)(BiDirectional(GRUX(8, return_sequences=True))(e))
        return keras.Model(i, keras.layers.Dense(4, name="logits")(h))

    return {
        "lstm": frames(lambda: LSTMX(16)),
        "lstm_sequences": frames(lambda: LSTMX(16, return_sequences=True)),
        "gru": frames(lambda: GRUX(16)),
        "gru_reset_before": frames(lambda: GRUX(16, reset_after=False)),
        "gru_simplified": frames(lambda: GRUX(16, variant="simplified")),
        "ids_bigru_lstm": ids,
    }


def main():
    import keras

    from keras_rnnx import export

    warnings.filterwarnings("ignore")
    tmp = tempfile.mkdtemp(prefix="rnnx_int8_criterion_")
    rows = []
    for seed in (0, 1):
        for name, make in _models().items():
            keras.utils.set_random_seed(seed)
            model = make()
            keras.utils.set_random_seed(seed + 100)
            other = make()
            rep = [export.random_inputs(model, 1, T, seed=i) for i in range(50)]
            for label, kwargs in (("litert", {}), ("micro", {"target": "micro"}),
                                  ("micro_unrolled", {"target": "micro", "lstm_kernel": "loop"})):
                if label == "micro_unrolled" and "lstm" not in name:
                    continue
                if label == "litert" and name.startswith("ids"):
                    continue  # LiteRT has no int8 REVERSE_SEQUENCE (BiDirectional masks)
                path = os.path.join(tmp, f"{name}_{label}.tflite")
                export.to_tflite(model, path, quantize="int8", representative_data=rep,
                                 overwrite=True, **kwargs)
                for ref, reference in (("same", model), ("other", other)):
                    check = export.verify(reference, path).exports[0]
                    rows.append({"seed": seed, "model": name, "export": label,
                                 "weights": ref,
                                 "correlation": min(check.correlation.values()),
                                 "argmax_agreement": min(check.argmax_agreement.values()),
                                 "max_abs_diff": check.max_diff})
                    print(json.dumps(rows[-1]), flush=True)

    def span(group, key):
        values = [r[key] for r in group]
        return f"{key} {min(values):.3f}..{max(values):.3f}"

    unrolled_stack = [r for r in rows if r["model"].startswith("ids")
                      and r["export"] == "micro_unrolled" and r["weights"] == "same"]
    good = [r for r in rows if r["weights"] == "same" and r not in unrolled_stack]
    wrong = [r for r in rows if r["weights"] == "other"]
    for title, group in (("int8 exports vs their model", good),
                         ("unrolled int8 LSTM in the stacked masked model", unrolled_stack),
                         ("int8 exports vs other weights", wrong)):
        print(f"{title} ({len(group)}): {span(group, 'correlation')}, "
              f"{span(group, 'argmax_agreement')}, {span(group, 'max_abs_diff')}")
    print(f"criterion {export.INT8_CRITERION}")


if __name__ == "__main__":
    main()
