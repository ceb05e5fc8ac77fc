"""Exporters: SavedModel for TF Serving and builtin-op TFLite.

    from keras_rnnx import export
    export.to_saved_model(model, "export/tagger")            # TF Serving
    export.to_tflite(model, "export/tagger.tflite")            # WHILE-loop kernel
    export.to_tflite(model, "export/tagger_fused.tflite", lstm_kernel="fused")
    run = export.load_tflite("export/tagger.tflite")
    probs = run(token_ids)                                      # any batch, any length

    with export.for_tflite():                                   # Keras' own exporter,
        model.export("export/tagger.tflite", format="litert")   # builtin ops too

    report = export.verify(model, "export/tagger", "export/tagger.tflite")
    report.ok                                                   # Keras vs exports

    export.to_tflite(model, "m.tflite", target="micro")          # microcontrollers (TFLM)
    export.load_micro("m.tflite")(x); export.arena_size("m.tflite")
    export.to_c_source("m.tflite", "model_data.cc", "g_model")

    export.functions_to_tflite({"generate": fn}, "gen.tflite")  # tf.functions
    gen = export.load_tflite("gen.tflite", signature="generate")

Every `.tflite` the project writes goes through one conversion (builtin ops
only, checked; keras_rnnx metadata; atomic write: `tflite.py`), every
SavedModel through one writer (`saved_model.py`); `runner.py` runs any
signature of a `.tflite`; `verification.py` compares a model with its exports;
`micro.py` runs micro files with TFLM, measures the arena, writes C source.

Both exporters keep the batch dimension dynamic and every dimension the model
declares as `None` (declare `keras.Input(shape=(None, ...))` for a dynamic
time dimension). Writes are atomic: the export goes to a temporary path beside
`path` and is moved into place only once complete, so a failed export leaves
whatever was at `path` untouched; an existing `path` is replaced only with
`overwrite=True`.

Streaming (`streaming=True`): the export takes, besides the model inputs, one
state input per recurrent state (`state{i}_h`, and `state{i}_c` for LSTMs, in
the order the layers run) and returns the new states under the same names, so
an app feeds one step (or a chunk of steps) at a time and carries the state
itself. Only uni-directional layers can stream.
"""
from keras_rnnx._atomic import ExportError
from keras_rnnx.export.micro import (
    MICRO_OPS, MicroRunner, arena_size, is_micro_file, load_micro, to_c_source)
from keras_rnnx.export.runner import TFLiteRunner, load_tflite
from keras_rnnx.export.saved_model import to_saved_model
from keras_rnnx.export.tflite import (
    LSTM_KERNELS, QUANTIZE_MODES, for_tflite, functions_to_tflite, tflite_ops, to_tflite)
from keras_rnnx.export.verification import (
    INT8_CRITERION, TOLERANCE, Case, ExportCheck, VerifyReport, input_names, int8_agreement,
    random_inputs, verify)

__all__ = [
    "ExportError",
    "to_saved_model",
    "to_tflite",
    "functions_to_tflite",
    "for_tflite",
    "load_tflite",
    "tflite_ops",
    "TFLiteRunner",
    "load_micro",
    "MicroRunner",
    "arena_size",
    "to_c_source",
    "is_micro_file",
    "MICRO_OPS",
    "verify",
    "int8_agreement",
    "VerifyReport",
    "ExportCheck",
    "random_inputs",
    "input_names",
]
