"""`rnnx generate`: train a small language model on a text file and/or
generate from a prompt with greedy search, sampling or beam search.

    rnnx generate --epochs 5 --save export/lee_lm.keras --prompt "The fire"
    rnnx generate --model export/lee_lm.keras --strategy beam --beam-width 8 \\
        --length-penalty 0.6 --num-return 3 --prompt "Police said"
    rnnx generate --model export/lee_lm.keras --strategy sample --temperature 0.8 \\
        --top-k 10 --seed 1 --prompt "The" --prompt "A"
    rnnx generate --model export/lee_lm.keras --export export/lee_generate \\
        --export-tflite export/lee_generate.tflite

Without --text it trains on gensim's Lee background corpus (300 news
documents). A model saved with --save keeps its vocabulary beside it
(`<model>.vocab.json`).
"""
import os
import time

NAME = "generate"
HELP = "train or sample a character language model"


# the options of each --strategy, by its name in keras_rnnx.decoding.get
_STRATEGY_OPTIONS = {
    "greedy": (),
    "sample": ("temperature", "top_k", "seed", "num_return"),
    "beam": ("beam_width", "length_penalty", "num_return"),
}


def add_arguments(parser):
    g = parser.add_argument_group("model")
    g.add_argument("--model", help="a .keras language model to load instead of training")
    g.add_argument("--text", help="training text file, one document per line "
                                  "(default: gensim's lee_background.cor)")
    g.add_argument("--max-documents", type=int, default=None,
                   help="train on the first N documents only")
    g.add_argument("--level", choices=["char", "word"], default="char",
                   help="vocabulary level (default char)")
    g.add_argument("--min-count", type=int, default=2,
                   help="minimum token count for the vocabulary (default 2)")
    g.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    g.add_argument("--units", type=int, default=256)
    g.add_argument("--embedding-dim", type=int, default=64)
    g.add_argument("--layers", type=int, default=1)
    g.add_argument("--epochs", type=int, default=5)
    g.add_argument("--seq-len", type=int, default=100)
    g.add_argument("--batch-size", type=int, default=64)
    g.add_argument("--learning-rate", type=float, default=3e-3)
    g.add_argument("--save", help="save the trained model to this .keras path")
    g.add_argument("--backup-dir", default=None,
                   help="training backup folder (default: beside --save, if given): a run "
                        "killed part-way resumes after its last completed epoch; removed "
                        "when training finishes")
    d = parser.add_argument_group("generation")
    d.add_argument("--prompt", action="append", default=None,
                   help="prompt text (repeat for several); default 'The'")
    d.add_argument("--strategy", choices=sorted(_STRATEGY_OPTIONS), default="beam")
    d.add_argument("--max-length", type=int, default=200,
                   help="maximum generated tokens (default 200)")
    d.add_argument("--beam-width", type=int, default=4)
    d.add_argument("--length-penalty", type=float, default=0.0)
    d.add_argument("--num-return", type=int, default=1,
                   help="sequences per prompt (beam, sample; default 1)")
    d.add_argument("--temperature", type=float, default=1.0)
    d.add_argument("--top-k", type=int, default=None)
    d.add_argument("--seed", type=int, default=None)
    e = parser.add_argument_group("export")
    e.add_argument("--export", help="write a SavedModel with a 'generate' signature here")
    e.add_argument("--export-tflite", help="write a builtin-ops .tflite with a 'generate' signature")
    e.add_argument("--overwrite", action="store_true", help="replace existing exports")


def _fail(message):
    raise SystemExit(f"rnnx generate: {message}")


def _strategy(args, decoding):
    config = {name: getattr(args, name) for name in _STRATEGY_OPTIONS[args.strategy]}
    try:
        return decoding.get({"class_name": args.strategy, "config": config})
    except (ValueError, TypeError) as e:
        _fail(str(e))


def run(args):
    for name in ("units", "embedding_dim", "layers", "epochs", "batch_size", "max_length",
                 "beam_width", "num_return"):
        if getattr(args, name) < 1:
            _fail(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.seq_len < 2:
        _fail(f"--seq-len must be >= 2, got {args.seq_len}")
    if args.text and not os.path.isfile(args.text):
        _fail(f"--text: no such file: {args.text}")
    if args.model and not os.path.isfile(args.model):
        _fail(f"--model: no such file: {args.model}")

    import keras
    import numpy as np

    from keras_rnnx import decoding
    from keras_rnnx.models import language_model as lm_mod
    from keras_rnnx.training import load_model, save_model

    strategy = _strategy(args, decoding)
    if args.export_tflite and isinstance(strategy, decoding.RandomSampler) and (
            args.seed is not None):
        _fail("--export-tflite with --strategy sample needs no --seed (TFLite has no "
              "builtin stateless random op)")
    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)

    if args.model:
        vocab_path = args.model + ".vocab.json"
        if not os.path.isfile(vocab_path):
            _fail(f"--model: its vocabulary {vocab_path} is missing")
        model = load_model(args.model)
        vocab = lm_mod.Vocabulary.load(vocab_path)
    else:
        try:
            docs = lm_mod.load_corpus(args.text, args.max_documents)
        except (ValueError, ImportError) as e:
            _fail(str(e))
        print(f"training a {args.cell.upper()} {args.level}-level language model on "
              f"{len(docs)} documents ({sum(map(len, docs))} characters)", flush=True)
        start = time.time()
        n_held = max(1, len(docs) // 20) if len(docs) > 1 else 0
        train, held = docs[n_held:], docs[:n_held]
        model, vocab, _ = lm_mod.train_language_model(
            train, level=args.level, seq_len=args.seq_len, embedding_dim=args.embedding_dim,
            units=args.units, num_layers=args.layers, cell_type=args.cell, epochs=args.epochs,
            batch_size=args.batch_size, learning_rate=args.learning_rate,
            min_count=args.min_count, verbose=1, callbacks=_backup_callbacks(args))
        print(f"trained in {time.time() - start:.0f}s; vocabulary {len(vocab)} tokens")
        if held:
            _, y_train = lm_mod.make_training_arrays(vocab, train, args.seq_len)
            x_held, y_held = lm_mod.make_training_arrays(vocab, held, args.seq_len)
            print(f"held-out perplexity {lm_mod.perplexity(model, x_held, y_held):.2f} "
                  f"(unigram baseline "
                  f"{lm_mod.unigram_perplexity(y_train, y_held, len(vocab)):.2f})")
        if args.save:
            save_model(model, args.save)
            vocab.save(args.save + ".vocab.json")
            print(f"saved {args.save} and {args.save}.vocab.json")

    prompts = args.prompt or ["The"]
    encoded = [vocab.encode(p) for p in prompts]
    ids = np.zeros([len(encoded), max(map(len, encoded))], np.int32)
    for i, e in enumerate(encoded):
        ids[i, :len(e)] = e
    sequences, scores = model.generate(ids, strategy, args.max_length)  # [P, R, L], [P, R]
    for prompt, seqs, scs in zip(prompts, sequences.numpy(), scores.numpy()):
        print(f"\n>>> {prompt}")
        for seq, sc in zip(seqs, scs):
            sep = "" if vocab.level == "char" else " "
            print(f"[{sc:.2f}] {prompt}{sep}{vocab.decode(seq)}")

    for path, fmt in ((args.export, "saved_model"), (args.export_tflite, "tflite")):
        if path:
            try:
                lm_mod.export_generator(model, path, strategy, args.max_length, format=fmt,
                                        overwrite=args.overwrite)
            except ValueError as e:
                _fail(str(e))
            print(f"exported the 'generate' signature ({fmt}) to {path}")
    return 0


def _backup_callbacks(args):
    """Per-epoch training backup for `--backup-dir` (or beside `--save`)."""
    import os

    from keras_rnnx.training import AtomicBackupAndRestore

    folder = args.backup_dir
    if folder is None and args.save:
        folder = os.path.splitext(args.save)[0] + "_backup"
    return [AtomicBackupAndRestore(folder, delete_checkpoint=True)] if folder else None
