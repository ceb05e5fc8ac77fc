"""`rnnx word2vec-eval vectors.txt --analogies FILE --pairs FILE`."""
from keras_rnnx.commands import _args

NAME = "word2vec-eval"
HELP = "evaluate word vectors on analogies and word pairs"


def add_arguments(parser):
    parser.add_argument("vectors", type=_args.input_file,
                        help="word2vec-format file (text or binary)")
    parser.add_argument("--analogies", action="append", default=[], type=_args.utf8_file,
                        help="questions-words format file (repeatable)")
    parser.add_argument("--pairs", action="append", default=[], type=_args.utf8_file,
                        help="word1<TAB>word2<TAB>score file, e.g. wordsim353.tsv (repeatable)")
    parser.add_argument("--restrict-vocab", type=_args.positive_int, default=300000,
                        help="only the most frequent words take part (gensim's default)")
    parser.add_argument("--sections", action="store_true", help="print per-section analogy accuracy")
    parser.add_argument("--plot", default=None, metavar="PNG", help="save a PCA plot of --plot-words")
    parser.add_argument("--plot-words", default=None, help="comma-separated words for --plot")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --plot")


def check(args):
    _args.check_output_file(args.plot, "--plot", args.overwrite)


def run(args):
    import sys

    from keras_rnnx.word2vec.keyed_vectors import KeyedVectors

    try:
        wv = KeyedVectors.load_word2vec_format(args.vectors)
        print(f"{args.vectors}: {len(wv)} words x {wv.vector_size}")
        for path in args.analogies:
            score, sections = wv.evaluate_word_analogies(path, restrict_vocab=args.restrict_vocab)
            total = sections[-1]
            n = len(total["correct"]) + len(total["incorrect"])
            print(f"analogies {path}: accuracy {score:.4f} ({len(total['correct'])}/{n}), "
                  f"out of vocabulary {wv.analogy_oov_ratio:.1f}%")
            if args.sections:
                for s in sections[:-1]:
                    m = len(s["correct"]) + len(s["incorrect"])
                    if m:
                        print(f"  {s['section']}: {len(s['correct']) / m:.4f} ({len(s['correct'])}/{m})")
        for path in args.pairs:
            pearson, spearman, oov = wv.evaluate_word_pairs(path, restrict_vocab=args.restrict_vocab)
            print(f"pairs {path}: spearman {spearman[0]:.4f} pearson {pearson[0]:.4f}, "
                  f"out of vocabulary {oov:.1f}%")
        if args.plot:
            words = args.plot_words.split(",") if args.plot_words else wv.index_to_key[:40]
            wv.plot_pca(words, args.plot, overwrite=args.overwrite)
            print(f"PCA plot: {args.plot}")
    except ValueError as e:
        print(f"rnnx word2vec-eval: {e}", file=sys.stderr)
        return 2
    return 0
