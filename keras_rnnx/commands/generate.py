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
documents). A model saved with --save holds its vocabulary (in the
model's config), so --model needs only the `.keras` file.
"""
import os
import time

from keras_rnnx.commands import _args

NAME = "generate"
HELP = "train or sample a character- or word-level language model"


# the options of each --strategy, by its name in keras_rnnx.decoding.get
_STRATEGY_OPTIONS = {
    "greedy": (),
    "sample": ("temperature", "top_k", "seed", "num_return"),
    "beam": ("beam_width", "length_penalty", "num_return"),
}


def add_arguments(parser):
    g = parser.add_argument_group("model")
    g.add_argument("--model", type=_args.input_file,
                   help="a .keras language model (rnnx generate --save) to load "
                        "instead of training")
    g.add_argument("--text", type=_args.utf8_file,
                   help="UTF-8 training text file, one document per line "
                        "(default: gensim's lee_background.cor)")
    g.add_argument("--max-documents", type=_args.positive_int, default=None,
                   help="train on the first N documents only")
    g.add_argument("--level", choices=["char", "word"], default="char",
                   help="vocabulary level: characters or words (default char)")
    g.add_argument("--min-count", type=_args.positive_int, default=2,
                   help="minimum token count for the vocabulary (default 2)")
    _args.add_cell(g, "lstm")
    _args.add_units(g, 256)
    g.add_argument("--embedding-dim", type=_args.positive_int, default=64,
                   help="token embedding size (default 64)")
    _args.add_layers(g, 1)
    _args.add_epochs(g, 5)
    g.add_argument("--seq-len", type=_args.int_at_least(2), default=100,
                   help="training window in tokens (default 100)")
    _args.add_batch_size(g, 64)
    _args.add_learning_rate(g, 3e-3)
    g.add_argument("--save", help="save the trained model, its vocabulary included, to "
                                  "this .keras path")
    _args.add_backup_dir(g, "beside --save, if given")
    d = parser.add_argument_group("generation")
    d.add_argument("--prompt", action="append", default=None,
                   help="prompt text (repeat for several); default 'The'")
    d.add_argument("--strategy", choices=sorted(_STRATEGY_OPTIONS), default="beam",
                   help="decoding strategy (default beam)")
    d.add_argument("--max-length", type=_args.positive_int, default=200,
                   help="maximum generated tokens (default 200)")
    d.add_argument("--beam-width", type=_args.positive_int, default=4,
                   help="beam width for --strategy beam (default 4)")
    d.add_argument("--length-penalty", type=_args.float_in(), default=0.0,
                   help="beam score length penalty exponent (default 0)")
    d.add_argument("--num-return", type=_args.positive_int, default=1,
                   help="sequences per prompt (beam, sample; default 1)")
    d.add_argument("--temperature", type=_args.positive_float, default=1.0,
                   help="sampling temperature, > 0 (default 1)")
    d.add_argument("--top-k", type=_args.positive_int, default=None,
                   help="sample from the K most probable tokens only (default: all)")
    _args.add_seed(d, None, "random seed (training and sampling)")
    e = parser.add_argument_group("export")
    e.add_argument("--export", help="write a SavedModel with a 'generate' signature here")
    e.add_argument("--export-tflite", help="write a builtin-ops .tflite with a 'generate' signature")
    e.add_argument("--overwrite", action="store_true",
                   help="replace existing outputs (--save, --export, --export-tflite)")


def check(args):
    if args.save:
        _args.check_output_file(args.save, "--save", args.overwrite)
    if args.export and os.path.lexists(args.export) and not args.overwrite:
        raise _args.UsageError(f"--export: {args.export!r} already exists; pass --overwrite "
                               "to replace it")
    _args.check_output_file(args.export_tflite, "--export-tflite", args.overwrite)
    if args.export_tflite and args.strategy == "sample" and args.seed is not None:
        raise _args.UsageError("--export-tflite with --strategy sample needs no --seed "
                               "(TFLite has no builtin stateless random op)")
    for prompt in args.prompt or []:
        _args.check_utf8_text(prompt, "--prompt")


def _fail(message):
    raise _args.UsageError(message)


def _strategy(args, decoding):
    config = {name: getattr(args, name) for name in _STRATEGY_OPTIONS[args.strategy]}
    try:
        return decoding.get({"class_name": args.strategy, "config": config})
    except (ValueError, TypeError) as e:
        _fail(str(e))


def run(args):
    import keras
    import numpy as np

    from keras_rnnx import decoding
    from keras_rnnx.models import language_model as lm_mod
    from keras_rnnx.training import load_model, save_model

    strategy = _strategy(args, decoding)
    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)

    if args.model:
        try:
            model = load_model(args.model)
        except (OSError, ValueError, TypeError) as e:
            _fail(f"--model: {e}")
        if not isinstance(model, lm_mod.LanguageModel) or model.vocabulary is None:
            _fail(f"--model: {args.model!r} is not a LanguageModel with a vocabulary "
                  "(write one with rnnx generate --save)")
        vocab = model.vocabulary
    else:
        try:
            docs = lm_mod.load_corpus(args.text, args.max_documents)
        except (ValueError, ImportError) as e:
            _fail(f"--text: {e}" if args.text else str(e))
        print(f"training a {args.cell.upper()} {args.level}-level language model on "
              f"{len(docs)} documents ({sum(map(len, docs))} characters)", flush=True)
        from keras_rnnx.progress import EpochProgress

        start = time.time()
        n_held = max(1, len(docs) // 20) if len(docs) > 1 else 0
        train, held = docs[n_held:], docs[:n_held]
        model, vocab, _ = lm_mod.train_language_model(
            train, level=args.level, seq_len=args.seq_len, embedding_dim=args.embedding_dim,
            units=args.units, num_layers=args.layers, cell_type=args.cell, epochs=args.epochs,
            batch_size=args.batch_size, learning_rate=args.learning_rate,
            min_count=args.min_count, verbose=0,
            callbacks=_backup_callbacks(args) + [EpochProgress()])
        print(f"trained in {time.time() - start:.0f}s; vocabulary {len(vocab)} tokens")
        if held:
            _, y_train = lm_mod.make_training_arrays(vocab, train, args.seq_len)
            x_held, y_held = lm_mod.make_training_arrays(vocab, held, args.seq_len)
            print(f"held-out perplexity {lm_mod.perplexity(model, x_held, y_held):.2f} "
                  f"(unigram baseline "
                  f"{lm_mod.unigram_perplexity(y_train, y_held, len(vocab)):.2f})")
        if args.save:
            save_model(model, args.save, overwrite=args.overwrite)
            print(f"saved {args.save} (the model and its vocabulary)")

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
