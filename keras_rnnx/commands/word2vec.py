"""`rnnx word2vec CORPUS --out vectors.txt`: train skip-gram word vectors."""
from keras_rnnx.commands import _args

NAME = "word2vec"
HELP = "train word2vec (skip-gram, negative sampling) on a corpus"


def add_arguments(parser):
    parser.add_argument("corpus", type=_args.utf8_file,
                        help="UTF-8 text file, one sentence or document a line")
    parser.add_argument("--out", required=True, help="vectors file (word2vec format)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing output files (--out, --projector, --plot)")
    parser.add_argument("--binary", action="store_true", help="write the binary word2vec format")
    parser.add_argument("--vector-size", type=_args.positive_int, default=100,
                        help="dimensions of each word vector (default 100)")
    parser.add_argument("--window", type=_args.positive_int, default=5,
                        help="maximum distance between centre and context words (default 5)")
    parser.add_argument("--negative", type=_args.positive_int, default=5,
                        help="negative samples per pair (default 5)")
    parser.add_argument("--ns-exponent", type=_args.float_in(), default=0.75,
                        help="exponent of the negative-sampling distribution (default 0.75)")
    parser.add_argument("--sample", type=_args.non_negative_float, default=1e-3,
                        help="frequent-word subsampling threshold, 0 disables (default 1e-3)")
    parser.add_argument("--min-count", type=_args.positive_int, default=5,
                        help="ignore words seen fewer times (default 5)")
    parser.add_argument("--max-vocab-size", type=_args.positive_int, default=None,
                        help="keep at most this many words, the most frequent (default: all)")
    _args.add_epochs(parser, 5, "passes over the corpus")
    parser.add_argument("--alpha", type=_args.positive_float, default=0.025,
                        help="initial learning rate, > 0 (default 0.025)")
    parser.add_argument("--min-alpha", type=_args.non_negative_float, default=1e-4,
                        help="final learning rate of the linear decay (default 1e-4)")
    _args.add_batch_size(parser, 4096, "centre words per training block")
    _args.add_seed(parser, 1)
    parser.add_argument("--workers", type=_args.positive_int, default=1,
                        help="parts of each block trained concurrently (each part already uses "
                             "every core); the vectors do not depend on it beyond rounding (default 1)")
    _args.add_backup_dir(parser, "OUT.backup")
    parser.add_argument("--tokenizer", choices=["whitespace", "unicode_script"], default="whitespace",
                        help="split on whitespace or at Unicode script boundaries (default whitespace)")
    parser.add_argument("--keep-punctuation", action="store_true", help="do not strip punctuation")
    parser.add_argument("--no-lowercase", action="store_true", help="keep the case of words")
    parser.add_argument("--stem", default=None, help="Snowball stemmer language, e.g. english")
    parser.add_argument("--projector", default=None, metavar="PREFIX",
                        help="also write PREFIX_vectors.tsv and PREFIX_metadata.tsv for the embedding projector")
    parser.add_argument("--plot", default=None, metavar="PNG", help="also save a PCA plot of --plot-words")
    parser.add_argument("--plot-words", default=None,
                        help="comma-separated words for --plot (default: the 40 most frequent)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar on a terminal, no per-epoch lines when piped")


def check(args):
    _args.check_output_file(args.out, "--out", args.overwrite)
    if args.projector:
        for suffix in ("_vectors.tsv", "_metadata.tsv"):
            _args.check_output_file(args.projector + suffix, "--projector", args.overwrite)
    _args.check_output_file(args.plot, "--plot", args.overwrite)


def run(args):
    from keras_rnnx import progress
    from keras_rnnx.text import Tokenizer
    from keras_rnnx.word2vec import Word2Vec

    try:
        tokenizer = Tokenizer(kind=args.tokenizer, lowercase=not args.no_lowercase,
                              stem=args.stem, drop_punctuation=not args.keep_punctuation)
        model = Word2Vec(
            vector_size=args.vector_size, window=args.window, negative=args.negative,
            ns_exponent=args.ns_exponent, sample=args.sample, min_count=args.min_count,
            max_vocab_size=args.max_vocab_size, epochs=args.epochs, alpha=args.alpha,
            min_alpha=args.min_alpha, batch_size=args.batch_size, seed=args.seed, tokenizer=tokenizer,
            workers=args.workers,
        )
        # a bar on a terminal; piped, one plain line per epoch
        bar = not args.quiet and progress.interactive()
        lines = not args.quiet and not bar

        def epoch_line(epoch, logs, seconds):
            print(progress.epoch_line(epoch, args.epochs, logs, seconds), flush=True)

        model.fit(args.corpus, progress_bar=bar,
                  backup_dir=args.backup_dir or args.out + ".backup",
                  on_epoch_end=epoch_line if lines else None)
    except ValueError as e:
        progress.error(f"rnnx word2vec: {e}")
        return 2
    wv = model.wv
    wv.save_word2vec_format(args.out, binary=args.binary, overwrite=args.overwrite)
    print(f"{len(wv)} words x {wv.vector_size} written to {args.out} "
          f"({model.total_words * model.epochs / max(model.train_seconds, 1e-9):,.0f} words/s, "
          f"{model.train_seconds:.1f} s)")
    if args.projector:
        wv.save_projector_tsv(args.projector + "_vectors.tsv", args.projector + "_metadata.tsv",
                              overwrite=args.overwrite)
        print(f"projector files: {args.projector}_vectors.tsv, {args.projector}_metadata.tsv")
    if args.plot:
        words = args.plot_words.split(",") if args.plot_words else wv.index_to_key[:40]
        wv.plot_pca(words, args.plot, overwrite=args.overwrite)
        print(f"PCA plot: {args.plot}")
    return 0
