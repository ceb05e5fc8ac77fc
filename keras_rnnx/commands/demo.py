"""`rnnx demo`: the date translator end to end.

Generates dates in twelve locales and many formats (faker + babel), trains
the attention translator with a progress bar, prints exact-match accuracy on
held-out dates (greedy and beam), saves an attention heatmap, exports a
SavedModel (raw strings or token ids in) and a builtin-op TFLite model (token
ids in), runs both on the same examples and checks they agree with Keras.
Exits 1 when an export disagrees (2 when accuracy is below --min-accuracy).
"""
import os
import time

from keras_rnnx.commands import _args

NAME = "demo"
HELP = "train the date translator end to end, evaluate, export, verify"

# full run and --quick (CI) configurations
FULL = dict(train=32000, test=2000, epochs=8, units=64, embedding_dim=32,
            batch_size=128, learning_rate=4e-3)
QUICK = dict(train=1200, test=100, epochs=1, units=16, embedding_dim=16,
             batch_size=64, learning_rate=1e-2)

SHOWCASE = ["25 juin 2009", "Tuesday, March 3, 1998", "3/7/21", "7. März 2021"]
TOLERANCE = 1e-4


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true",
                        help="tiny configuration for CI (well under a minute)")
    parser.add_argument("--out", default="export",
                        help="output folder for the exports and the heatmap (default: export)")
    _args.add_epochs(parser, None,
                     f"training epochs (default {FULL['epochs']}, quick {QUICK['epochs']})")
    _args.add_seed(parser, 0)
    parser.add_argument("--train-size", type=_args.positive_int, default=None,
                        help=f"training pairs (default {FULL['train']})")
    parser.add_argument("--test-size", type=_args.positive_int, default=None,
                        help=f"held-out pairs (default {FULL['test']})")
    _args.add_cell(parser, "lstm", "recurrent cell of encoder and decoder")
    parser.add_argument("--beam-width", type=_args.positive_int, default=4,
                        help="beam width (default 4)")
    _args.add_backup_dir(parser, "OUT/.demo_backup")
    parser.add_argument("--min-accuracy", type=_args.probability, default=None,
                        help="exit 2 when held-out beam accuracy is below this share (0 to 1)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the outputs of an earlier run in --out")


# what the demo writes in --out
OUTPUTS = ("date_attention.png", "date_translator", "date_translator.tflite",
           "date_translator.keras")


def check(args):
    _args.check_output_folder(args.out, "--out", args.overwrite, OUTPUTS)


def run(args):
    cfg = dict(QUICK if args.quick else FULL)
    for key, arg in (("epochs", "epochs"), ("train", "train_size"), ("test", "test_size")):
        if getattr(args, arg) is not None:
            cfg[key] = getattr(args, arg)
    os.makedirs(args.out, exist_ok=True)

    import keras
    import numpy as np

    from keras_rnnx.datasets import dates
    from keras_rnnx.models.translator import Translator, source_vocabulary_from_texts

    t_start = time.perf_counter()
    clock = [t_start]

    def lap():
        now = time.perf_counter()
        took, clock[0] = now - clock[0], now
        return f"      ({took:.0f}s)"

    keras.utils.set_random_seed(args.seed)
    print(f"[1/6] generating {cfg['train']} training and {cfg['test']} held-out dates "
          f"({len(dates.LOCALES)} locales) ...", flush=True)
    train = dates.generate(cfg["train"], seed=args.seed, split="train")
    test = dates.generate(cfg["test"], seed=args.seed, split="test")
    sources, targets = [list(x) for x in zip(*train)]
    test_sources, test_targets = [list(x) for x in zip(*test)]
    for s, t in train[:3]:
        print(f"      {s!r} -> {t}")

    translator = Translator(
        source_vocabulary_from_texts(sources), list(dates.TARGET_CHARS), 10,
        embedding_dim=cfg["embedding_dim"], units=cfg["units"], cell=args.cell,
    )
    steps = cfg["epochs"] * -(-cfg["train"] // cfg["batch_size"])
    schedule = keras.optimizers.schedules.CosineDecay(cfg["learning_rate"], steps, alpha=0.05)
    translator.compile(learning_rate=schedule)
    print(lap(), flush=True)
    print(f"[2/6] training: {translator.count_params():,} parameters, "
          f"{cfg['epochs']} epochs of {cfg['train']} pairs", flush=True)
    t0 = time.perf_counter()
    from keras_rnnx.training import AtomicBackupAndRestore

    backup = AtomicBackupAndRestore(
        args.backup_dir or os.path.join(args.out, ".demo_backup"), delete_checkpoint=True)
    from keras_rnnx.progress import EpochProgress

    translator.fit(sources, targets, epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                   verbose=0, seed=args.seed, callbacks=[backup, EpochProgress()])
    train_s = time.perf_counter() - t0

    print(lap(), flush=True)
    print("[3/6] held-out exact match", flush=True)
    greedy = translator.exact_match(test_sources, test_targets, beam_width=1)
    predicted = translator.translate(test_sources, beam_width=args.beam_width)
    beam = float(np.mean([p == t for p, t in zip(predicted, test_targets)]))
    print(f"      greedy: {greedy:.2%}   beam (width {args.beam_width}): {beam:.2%}   "
          f"on {len(test_sources)} dates never seen in training", flush=True)
    mistakes = [(s, t, p) for s, t, p in zip(test_sources, test_targets, predicted) if p != t]
    for s, t, p in mistakes[:5]:
        print(f"      beam mistake: {s!r} -> {p} (expected {t})")

    examples = SHOWCASE + test_sources[:8]
    ids = translator.tokenize(examples)
    keras_out = {k: v.numpy()
                 for k, v in translator.generate(ids, beam_width=args.beam_width).items()}
    keras_text = [s.decode() for s in translator.detokenize(keras_out["sequences"]).numpy()]

    heatmap = os.path.join(args.out, "date_attention.png")
    print(lap(), flush=True)
    print(f"[4/6] attention heatmap -> {heatmap}", flush=True)
    save_heatmap(heatmap, examples[:4], keras_text[:4], keras_out["attention"][:4],
                 translator)

    saved_path = os.path.join(args.out, "date_translator")
    tflite_path = os.path.join(args.out, "date_translator.tflite")
    print(lap(), flush=True)
    print(f"[5/6] exporting SavedModel -> {saved_path}, TFLite -> {tflite_path}; "
          f"Keras model -> {os.path.join(args.out, 'date_translator.keras')}", flush=True)
    translator.export_saved_model(saved_path, beam_width=args.beam_width,
                                  overwrite=args.overwrite)
    info = translator.export_tflite(tflite_path, beam_width=args.beam_width,
                                    overwrite=args.overwrite)
    translator.save(os.path.join(args.out, "date_translator.keras"), overwrite=args.overwrite)
    print(f"      TFLite: {info['size'] / 1024:.0f} KiB, builtin ops only "
          f"({len(info['ops'])} kinds)", flush=True)

    print(lap(), flush=True)
    print("[6/6] running Keras, SavedModel and TFLite on the same examples", flush=True)
    problems = verify(saved_path, tflite_path, examples, ids.numpy(), keras_out, keras_text)
    width = max(len(e) for e in examples)
    for src, text, score in zip(examples, keras_text, keras_out["scores"]):
        print(f"      {src:<{width}} -> {text}   (score {score:.3f})")
    print(lap(), flush=True)
    total = time.perf_counter() - t_start
    print(f"summary: held-out exact match greedy {greedy:.2%}, beam {beam:.2%}; "
          f"training {train_s:.0f}s, total {total:.0f}s", flush=True)
    if problems:
        for p in problems:
            print(f"DISAGREE: {p}", flush=True)
        return 1
    print("exports agree with Keras: SavedModel (strings and ids) and TFLite give the "
          f"same translations, scores and attention within {TOLERANCE:g}", flush=True)
    if args.min_accuracy is not None and beam < args.min_accuracy:
        print(f"accuracy {beam:.2%} is below --min-accuracy {args.min_accuracy:.2%}")
        return 2
    return 0


def load_exports(saved_path, tflite_path):
    """(loaded SavedModel, TFLite runner)."""
    import tensorflow as tf

    from keras_rnnx.export import load_tflite

    return tf.saved_model.load(saved_path), load_tflite(tflite_path)


def verify(saved_path, tflite_path, examples, ids, keras_out, keras_text, exports=None):
    """Compares the exports with Keras (`keras_rnnx.export.verify`); returns a
    list of disagreements.

    `keras_out`: Keras' `sequences`, `scores` and `attention` for the source
    ids `ids` of `examples`, `keras_text` its translations; sequences and
    translations must match exactly, scores and attention within
    `TOLERANCE`. `exports`: optional `(loaded SavedModel, TFLite runner)`
    from `load_exports`, else they are loaded from the paths."""
    import numpy as np

    from keras_rnnx import export

    loaded, runner = exports or load_exports(saved_path, tflite_path)
    searched = {k: np.asarray(keras_out[k]) for k in ("sequences", "scores", "attention")}
    with_text = dict(searched, translations=np.array([t.encode() for t in keras_text],
                                                     dtype=object))
    checks = {
        "SavedModel(text)": (with_text, loaded, {"text": np.array(examples, dtype=object)},
                             "translate"),
        "SavedModel(ids)": (with_text, loaded, {"source_ids": ids}, "serving_default"),
        "TFLite(ids)": (searched, runner, {"source_ids": ids}, None),
    }
    problems = []
    for name, (reference, exported, inputs, signature) in checks.items():
        report = export.verify(lambda _, ref=reference: ref, exported, inputs=inputs,
                               signature=signature, atol=TOLERANCE)
        found = [f"{name}: {p}" for p in report.exports[0].problems(reference="Keras")]
        problems += found
        print(f"      {name:<17} agrees: {'no' if found else 'yes'}", flush=True)
    return problems


def save_heatmap(path, sources, outputs, attention, translator):
    """Attention weights of a few examples as one PNG (written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(sources), 1, figsize=(9, 3.2 * len(sources)))
    axes = [axes] if len(sources) == 1 else axes
    for ax, src, out, weights in zip(axes, sources, outputs, attention):
        src_chars = translator.source_tokenizer.split(src)
        out_chars = list(out) + ["</s>"]
        w = weights[: len(out_chars), : len(src_chars)]
        ax.imshow(w, cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
        ax.set_xticks(range(len(src_chars)), [c if c != " " else "␣" for c in src_chars])
        ax.set_yticks(range(len(out_chars)), out_chars)
        ax.set_title(f"{src!r} -> {out}", fontsize=10)
    fig.tight_layout()
    tmp = f"{path}.tmp{os.getpid()}.png"
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)
