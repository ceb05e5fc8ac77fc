"""The text classifier's defaults, in one place, each chosen by measurement.

`keras_rnnx.models.text_classifier` (the model), `TextClassifier.create`
(tokenizer and vocabulary) and `TextClassifier.fit` (the training procedure)
take their defaults from these names, and so do `rnnx train-classifier`'s
options and their help texts. A Python user who calls
`TextClassifier.create(texts, labels, names)` and then `.fit(texts, labels)`
therefore gets the same model and training as the command does.

Measured with `tools/classify_bench.py` on the four real sets it reads:
fortunes-topic, fortunes-language, bible-genre and wordnet-supersense. The
macro-F1 figures below are in that order, and the rows and commands are in
`bench_results.md`. The README's "Text classification" section has the
table.

Nothing is imported here, so `rnnx train-classifier --help` can state the
defaults without importing TensorFlow.
"""

# ---------------------------------------------------------------- the model (`text_classifier`)
CELL = "lstm"
# units per direction: 64 gave +0.7 on WordNet and less on the other three
UNITS = 32
# stacked recurrent layers (more: not measured)
LAYERS = 1
BIDIRECTIONAL = True
# max over the real steps; mean pooling measured lower on Bible passages
POOLING = "max"
# 128-d embeddings: +0.1 only
EMBEDDING_DIM = 64
# after the embedding, between recurrent layers and before the softmax: 0.5 with the wide part
# on (0.2 before it; the ngrams-2-lr10-l2e-4-dropout-0.5 rows)
DROPOUT = 0.5
# word dropout to the OOV id in training; 0.2 measured lower. The wide part leaves out the n-grams
# of the OOV id (dropped and unknown words add nothing to it, `BagOfNgrams(oov_id=1)`): with 200
# and 500 training texts macro-F1 +20.6 / +12.8 / +5.5 summed over the six sets (200 texts seeds
# 0 / 1, 500 texts seed 0) against the wide part reading the OOV id, +1.3 summed over six sets and
# three seeds at full size (12 runs higher, 6 lower); the wide part reading every word instead (token
# dropout on the recurrent part only) gained most of that with little data but lost 2.7 / 3.3 / 5.8
# on wordnet-pos at full size (seeds 0 / 1 / 2)
TOKEN_DROPOUT = 0.1
# the wide part (`BagOfNgrams` over the hashed token 1..N-grams) on by default; with it and the
# refit, macro-F1 +1.4 / -0.3 / +1.9 / +3.7 (seed 0) against no wide part, dropout 0.2, no refit
NGRAMS = 2
# 2**18 buckets: +0.6 to +1.0 on WordNet and Bible passages but -1.2 on fortunes-topic, with a
# 4x table and up to 5x the step time at 21 classes
NGRAM_BUCKETS = 2 ** 16
# sum / sqrt(count) over the real n-grams (mean and sum: not measured)
NGRAM_POOLING = "sqrt"
# the wide part's learning rate as a multiple of the model's: 1 loses 1.5 on Bible passages,
# and 20-100 overfit within 1-3 epochs
NGRAM_LR_MULTIPLIER = 10.0
# L2 on the wide part's table (0 and 1e-3 measured too)
NGRAM_L2 = 1e-4
# how the wide part's table is trained: "dense" (Adam on the whole table, its L2 on every row).
# "lazy" (LazyAdam on the rows a batch reads, their L2 only) makes a step 0.61x / 0.47x as long at
# 21 classes with 2^16 / 2^18 buckets, but with this L2 loses 3.7 on fortunes-topic, and with an
# L2 of 1e-3 moved -0.5 / +0.8 / -0.1 / +0.8 (seed 0) with more epochs before stopping
NGRAM_UPDATES = "dense"
# how each n-gram counts in the wide part: "none" (1 each) or "idf" (its inverse document frequency
# in the training texts, pooled with the weights' L2 norm: the TF-IDF vector a linear model reads).
# Alone: -0.4 on WordNet (seed 0). With WIDE_INIT = "naive_bayes" (the pair is the default),
# macro-F1 against the defaults before (topic / language / bible / wordnet-supersense /
# fortunes-offensive / wordnet-pos): +1.2 / +0.2 / +0.8 / +0.4 / +2.0 / -0.3 (seed 0),
# -0.6 / -0.8 / -0.1 / +1.0 / +1.2 / +0.2 (seed 1), +0.7 language / +1.3 bible / +1.1 wordnet /
# +2.0 offensive (seed 2); above TF-IDF + LR in every run (closest +0.1, wordnet seed 2), where the
# defaults before were 1.4 below on fortunes-offensive (seed 0) and 1.0 below on WordNet (seed 2)
NGRAM_WEIGHTING = "idf"

# ---------------------------------------------------------------- tokenizer and vocabulary (`create`)
# words split at whitespace and at Unicode script boundaries; "whitespace": -1.1 on WordNet
TOKENIZER = "unicode_script"
LOWERCASE = True
NORMALIZATION = "NFKC"
MIN_COUNT = 1
MAX_VOCABULARY = 20000
# recurrent_length=None (the tokens the recurrent part reads): this percentile of the training
# texts' token counts, at most MAX_AUTO_LENGTH; a 128-token cap on Bible passages measured lower,
# a 384-token cap no better (both parts reading that many then)
LENGTH_PERCENTILE = 95
MAX_AUTO_LENGTH = 256
# max_length=None (the tokens kept per text, all read by the wide part): the longest training
# text, at most this many tokens:
# on the 200-post newsgroup task (posts up to 6,054 tokens, 42% longer than 256) accuracy 0.935 ->
# 0.970 (mean of 5 splits; 0.965 with 2048, LR on whole posts 0.980); on the six real sets (3-11%
# of the tokens past the recurrent part's length) macro-F1 +3.6 summed over three seeds (11 runs
# higher, 7 lower) against the wide part cut at the recurrent length; with 200 training texts
# -0.5 / -0.9 summed over six (seeds 0 / 1)
MAX_WIDE_LENGTH = 1024

# ---------------------------------------------------------------- the procedure (`fit`)
# a maximum: training stops early when the validation score stops improving
EPOCHS = 30
# batch 16 and 64 measured lower
BATCH_SIZE = 32
# Adam's learning rate (the gradient is clipped to norm 1)
LEARNING_RATE = 3e-3
CLASS_WEIGHT = "balanced"
# the stratified share of the training texts held out to choose the epoch
VALIDATION_FRACTION = 0.1
MONITOR = "macro_f1"
PATIENCE = 3
# a constant learning rate: the plateau schedule (halve it after each epoch without
# improvement) measured no better
REDUCE_LR = None
# the factor of that plateau schedule (`rnnx train-classifier --lr-schedule plateau`,
# `fit(reduce_lr=PLATEAU_FACTOR)`)
PLATEAU_FACTOR = 0.5
# train again on the training + validation texts for the epoch count found, whenever there is a
# validation part: with the wide part on, macro-F1 +0.5 / -0.7 / +0.7 / +0.5 (seed 0), and it
# lifts the two sets where TF-IDF + LR is closest, at 1.1-1.9x the training time
REFIT = True
# batches of similar length, each padded to its own longest text: off. An epoch on Bible
# passages takes 0.56x the time, but macro-F1 moved +0.2 / -0.6 / -0.7 / -2.8
BUCKETING = False
# skip-gram vectors from the training texts start the embedding (`rnnx train-classifier
# --pretrain`, `TextClassifier.create(pretrain=True)`, `text_classifier.pretrain_vectors`),
# frozen for the first EMBEDDING_WARMUP epochs, then fine-tuned: with the wide part and refit
# on, macro-F1 -0.5 / +0.8 / -0.3 / +1.1 (seed 0) and -0.2 / +0.8 / +0.9 / +0.1 (seed 1), every
# run within 0.5 of TF-IDF + LR, at 1.0-2.1x the epochs plus Word2Vec; without the warm-up
# -1.6 / +0.7 / -0.5 / +0.3 (seed 0)
PRETRAIN = True
# epochs the embedding stays frozen when it starts from word vectors (--embedding-warmup)
EMBEDDING_WARMUP = 2
# wide first (--wide-warmup K): the deep part's logits start at zero and the deep part stays
# frozen for the first K epochs while the wide part (a linear model) trains alone; then both train
# (the embedding's warm-up follows, for EMBEDDING_WARMUP epochs more). K = 2: -0.5 on WordNet
# (seed 0)
WIDE_WARMUP = 0
# how the wide part's table starts (--wide-init): "zeros", as a linear model; "naive_bayes": the
# multinomial naive Bayes log-count ratios of the n-grams of the texts trained on (Wang & Manning
# 2012). Alone: +0.5 / -0.2 on WordNet (seeds 0 / 1); with IDF weighting see NGRAM_WEIGHTING.
# Validation macro-F1 peaks early from this start, so early stopping keeps fewer epochs (0.15-1.4x)
WIDE_INIT = "naive_bayes"
