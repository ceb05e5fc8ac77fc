"""A character-level seq2seq translator with Bahdanau attention.

`Translator` is a `keras.Model` built with the functional API in its
`__init__` (as keras-hub's task models are), described once:

    source ids -> Embedding(mask_zero) -> BiDirectional(LSTMX | GRUX,
    return_sequences, return_state) -> encoder outputs, final states
    final states -> bridge (Dense per state over [forward, backward])
    target ids (shifted right) -> Embedding -> AttentionDecoder -> Dense
    -> logits over the target characters

Calling it is teacher forcing (a loss masked on padding); its `encoder`
view (source ids -> encoder outputs, bridged initial decoder state) and
`attention_model` view are functional models over the same layers, and the
decoding step calls the same target embedding, decoder cell and output
layer. Inference encodes the source once with the encoder view, puts the
encoder outputs and their key projection into the decoder state, and runs a
`keras_rnnx.decoding` strategy (greedy search, beam search, sampling) over
the step, all inside one `tf.function`, which also re-runs the decoder on
the best sequence to return its attention weights. The inference model the
exporters take is functional as well: source ids -> encoder view ->
`TranslateLayer` (the strategy over the step).

Source strings are tokenized in-graph by `source_tokenizer` (a characters
`keras_rnnx.text.Tokenizer`: Unicode lowercase, code points kept as given,
core TensorFlow ops only) and looked up in a constant codepoint table built
from the source `Vocabulary`, so an exported SavedModel takes raw strings;
TFLite takes token ids.

Token ids (the specials of the two `keras_rnnx.text.Vocabulary`s): source
0 = padding, 1 = unknown character, 2.. = characters; target 0 = padding,
1 = start, 2 = end, 3.. = characters.
"""
import json

import keras
import numpy as np
import tensorflow as tf

from keras_rnnx.layers.attention import BahdanauAttention
from keras_rnnx.layers.attention_decoder import AttentionDecoder, AttentionDecoderCell
from keras_rnnx.text import Tokenizer, Vocabulary
from keras_rnnx.models.task import Task

SOURCE_SPECIALS = ("<pad>", "<unk>")
TARGET_SPECIALS = ("<pad>", "<s>", "</s>")
PAD_ID, UNK_ID = 0, 1
START_ID, END_ID = 1, 2
_SOURCE_SPECIALS = len(SOURCE_SPECIALS)
_TARGET_SPECIALS = len(TARGET_SPECIALS)


def source_tokenizer(lower=True):
    """The translator's source `Tokenizer`: one token per code point, as
    given, lowercased with `tf.strings.lower` when `lower` (no
    tensorflow-text op, so exported graphs need none)."""
    return Tokenizer("characters", lowercase="lower" if lower else False,
                     normalization=None, whitespace="keep")


def target_tokenizer():
    """The translator's target `Tokenizer`: one token per code point, as given."""
    return Tokenizer("characters", lowercase=False, normalization=None, whitespace="keep")


def _recurrent_layers(cell):
    """(sequence layer class, cell class) of keras_rnnx for "lstm"/"gru"."""
    from keras_rnnx.layers.gru import GRUX, GRUCellX
    from keras_rnnx.layers.lstm import LSTMX, LSTMCellX

    if cell == "lstm":
        return LSTMX, LSTMCellX
    if cell == "gru":
        return GRUX, GRUCellX
    raise ValueError(f"`cell` must be 'lstm' or 'gru', got {cell!r}")


@keras.saving.register_keras_serializable(package="keras_rnnx")
def masked_sparse_categorical_crossentropy(y_true, y_pred):
    """Mean cross-entropy (from logits) over the non-padding targets (id 0)."""
    y_true = tf.cast(y_true, tf.int32)
    mask = tf.cast(tf.not_equal(y_true, PAD_ID), tf.float32)
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=y_true, logits=tf.cast(y_pred, tf.float32)
    )
    return tf.reduce_sum(loss * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


@keras.saving.register_keras_serializable(package="keras_rnnx")
def masked_token_accuracy(y_true, y_pred):
    """Share of non-padding target tokens predicted right."""
    y_true = tf.cast(y_true, tf.int32)
    mask = tf.cast(tf.not_equal(y_true, PAD_ID), tf.float32)
    hit = tf.cast(tf.equal(y_true, tf.argmax(y_pred, -1, output_type=tf.int32)), tf.float32)
    return tf.reduce_sum(hit * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def source_vocabulary_from_texts(texts, lower=True):
    """Sorted list of the characters in `texts` (after in-graph lowercasing)."""
    chars = source_tokenizer(lower).tokenize(list(texts)).flat_values
    unique = tf.unique(chars).y.numpy()
    return sorted(c.decode("utf-8") for c in unique)


def _is_texts(x):
    """True for a list, tuple or 1-D array of Python strings (or bytes)."""
    if isinstance(x, np.ndarray):
        return x.ndim == 1 and x.dtype.kind in "USO" and all(
            isinstance(s, (str, bytes)) for s in x.tolist())
    return (isinstance(x, (list, tuple)) and len(x) > 0
            and all(isinstance(s, (str, bytes)) for s in x))


def _characters(value, name, specials):
    """The character list of a `source_vocabulary`/`target_vocabulary`
    argument: a list of strings, a `Vocabulary` with the translator's
    specials, or a `Vocabulary` config dict (what `get_config` stores)."""
    if isinstance(value, dict):
        try:
            value = Vocabulary.from_config(value)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(
                f"Translator: `{name}` config is not a Vocabulary config ({e})") from None
    if isinstance(value, Vocabulary):
        if tuple(value.specials) != tuple(specials):
            raise ValueError(
                f"Translator: `{name}` must have the specials {tuple(specials)}, got "
                f"{tuple(value.specials)}")
        value = value.tokens[len(specials):]
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError(
            f"Translator: `{name}` must be a list of characters or a Vocabulary, "
            f"got {type(value).__name__}")
    chars = [str(c) for c in value]
    if not chars or len(set(chars)) != len(chars) or "" in chars:
        raise ValueError(
            f"Translator: `{name}` must be a non-empty list of distinct "
            f"non-empty strings, got {chars[:10]!r}..."
        )
    return chars


@keras.saving.register_keras_serializable(package="keras_rnnx")
class Translator(Task):
    """The attention translator: a functional `keras.Model` over strings.

    The model is described once, in `__init__`, with the functional API (as
    keras-hub's task models are):

        source_ids -> Embedding(mask_zero) -> BiDirectional(LSTMX | GRUX)
        -> encoder outputs, final states -> bridge (Dense per state)
        target_in -> Embedding -> AttentionDecoder -> Dense -> logits

    Calling it is teacher forcing (`[source_ids, target_in] -> logits`), so
    `fit`, `evaluate` and `predict` are Keras'; `fit` and `evaluate` also
    take string pairs, and the default `compile()` (a `Task`'s: Adam with
    clipnorm 1, `masked_sparse_categorical_crossentropy`,
    `masked_token_accuracy`) is in place. Two functional views share the same layers: `encoder`
    (source ids -> encoder outputs and the bridged initial decoder state) and
    `attention_model` (the call's inputs -> attention weights). Decoding
    steps the same target embedding, decoder cell and output layer
    (`step_fn`) under a `keras_rnnx.decoding` strategy; the exporters take
    `inference_model(strategy)`, functional too. The vocabularies are part
    of `get_config`, so `save("x.keras")` and `keras.saving.load_model`
    round-trip the whole translator.

    Token ids: source 0 = padding, 1 = unknown character, 2.. = characters;
    target 0 = padding, 1 = start, 2 = end, 3.. = characters.

    Args:
        source_vocabulary: the source characters: a list of single
            characters (see `source_vocabulary_from_texts`) or a
            `keras_rnnx.text.Vocabulary` with the specials `SOURCE_SPECIALS`
            (or its config dict).
        target_vocabulary: the target tokens, likewise (specials
            `TARGET_SPECIALS`).
        max_target_length: longest target in characters (the end token is
            added to it).
        embedding_dim: size of both embeddings.
        units: encoder units per direction.
        decoder_units: decoder cell units (default `2 * units`).
        attention_units: Bahdanau attention units (default `decoder_units`).
        cell: "lstm" (`LSTMX`/`LSTMCellX`) or "gru" (`GRUX`/`GRUCellX`).
        normalize: weight-normalised attention energy.
        lower: lowercase the source in-graph before tokenizing.
        **kwargs: base `keras.Model` arguments (`name`, ...).

    Call arguments:
        inputs: `[source_ids, target_in]`, int `[B, Ts]` source ids
            (right-padded with 0) and int `[B, max_target_length + 1]` target
            ids shifted right (start token first), as `encode_targets` gives.
        training: Python boolean.

    Returns:
        Logits `[B, max_target_length + 1, len(target vocabulary)]`.

    Attributes:
        encoder: `source_ids -> [encoder outputs (B, Ts, 2 * units),
            *initial decoder state]`, a functional view.
        attention_model: `[source_ids, target_in] -> attention weights
            (B, Tt, Ts)`, a functional view.
        source_vocab, target_vocab: the two `Vocabulary`s.
        max_length: `max_target_length + 1`, the decoded length.

    Example:

    >>> t = Translator(list("0123456789"), list("0123456789"), 4, units=16)
    >>> _ = t.fit(["12", "345"], ["21", "543"], epochs=1, verbose=0)
    >>> out = t.generate(t.tokenize(["12", "345"]), beam_width=2)
    >>> tuple(out["sequences"].shape), tuple(out["attention"].shape)
    ((2, 5), (2, 5, 3))
    >>> len(t.translate(["12"], "greedy"))
    1
    """

    def __init__(
        self,
        source_vocabulary,
        target_vocabulary,
        max_target_length,
        embedding_dim=32,
        units=64,
        decoder_units=None,
        attention_units=None,
        cell="lstm",
        normalize=False,
        lower=True,
        **kwargs,
    ):
        from keras_rnnx.layers.bidirectional import BiDirectional

        for name, value, allow_none in (
            ("max_target_length", max_target_length, False),
            ("embedding_dim", embedding_dim, False),
            ("units", units, False),
            ("decoder_units", decoder_units, True),
            ("attention_units", attention_units, True),
        ):
            if value is None and allow_none:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"Translator: `{name}` must be a positive int, got {value!r}")
        layer_cls, cell_cls = _recurrent_layers(cell)
        source_chars = _characters(source_vocabulary, "source_vocabulary", SOURCE_SPECIALS)
        target_chars = _characters(target_vocabulary, "target_vocabulary", TARGET_SPECIALS)
        if any(len(c) != 1 for c in source_chars):
            raise ValueError(
                "Translator: `source_vocabulary` must hold single characters, got "
                f"{[c for c in source_chars if len(c) != 1][:5]!r}"
            )
        lower = bool(lower)
        source_vocab = Vocabulary(source_chars, specials=SOURCE_SPECIALS,
                                  tokenizer=source_tokenizer(lower))
        target_vocab = Vocabulary(target_chars, specials=TARGET_SPECIALS,
                                  tokenizer=target_tokenizer())
        max_length = int(max_target_length) + 1  # with the end token
        decoder_units = int(decoder_units or 2 * units)
        attention_units = int(attention_units or decoder_units)

        # === layers ===
        source_embedding = keras.layers.Embedding(
            len(source_vocab), embedding_dim, mask_zero=True, name="source_embedding")
        encoder_rnn = BiDirectional(
            layer_cls(units, return_sequences=True, return_state=True), name="encoder")
        n_states = 2 if cell == "lstm" else 1
        bridge_inputs = [keras.layers.Concatenate(name=f"bridge_in_{i}")
                         for i in range(n_states)]
        bridges = [keras.layers.Dense(decoder_units, activation="tanh" if i == 0 else None,
                                      name=f"bridge_{i}") for i in range(n_states)]
        target_embedding = keras.layers.Embedding(
            len(target_vocab), embedding_dim, name="target_embedding")
        decoder = AttentionDecoder(
            AttentionDecoderCell(cell_cls(decoder_units),
                                 BahdanauAttention(attention_units, normalize=normalize)),
            unroll=True, name="decoder")
        output_layer = keras.layers.Dense(len(target_vocab), name="output")

        # === the functional graph ===
        source = keras.Input((None,), dtype="int32", name="source_ids")
        target_in = keras.Input((max_length,), dtype="int32", name="target_in")
        enc_out, *states = encoder_rnn(source_embedding(source))
        bridged = [bridge(concat([states[i], states[n_states + i]]))
                   for i, (concat, bridge) in enumerate(zip(bridge_inputs, bridges))]
        dec_out, weights = decoder(target_embedding(target_in), enc_out, initial_state=bridged)
        logits = output_layer(dec_out)

        # the step's layers and the two views, set before the functional
        # init (after it the model's state is locked)
        self.target_embedding = target_embedding
        self.decoder = decoder
        self.output_layer = output_layer
        self.encoder = keras.Model(source, [enc_out, *bridged], name="source_encoder")
        self.attention_model = keras.Model([source, target_in], weights, name="attention")
        self._functions = {}
        super().__init__([source, target_in], logits, **kwargs)

        self.source_vocab = source_vocab
        self.target_vocab = target_vocab
        self.source_tokenizer = source_vocab.tokenizer
        self.max_length = max_length
        self._settings = dict(
            max_target_length=int(max_target_length), embedding_dim=int(embedding_dim),
            units=int(units), decoder_units=decoder_units, attention_units=attention_units,
            cell=cell, normalize=bool(normalize), lower=lower)
        # codepoint -> id as a dense table (a constant, not a resource: the
        # SavedModel needs nothing tracked); codepoints past it are unknown
        table = np.full(max(ord(c) for c in source_chars) + 2, source_vocab.unk_id, np.int32)
        for c in source_chars:
            table[ord(c)] = source_vocab.index(c)
        self._source_table = table
        self._target_strings = tf.constant(
            [""] * len(target_vocab.specials) + target_vocab.tokens[len(target_vocab.specials):])
        self.compile()  # the default: `fit` works without an explicit compile()

    # ------------------------------------------------------------ config
    def get_config(self):
        """`name`, `trainable`, the constructor's arguments, and both
        vocabularies as `Vocabulary.get_config()` dicts."""
        # not the functional model's config: `from_config` rebuilds the graph
        return {"name": self.name, "trainable": self.trainable,
                "source_vocabulary": self.source_vocab.get_config(),
                "target_vocabulary": self.target_vocab.get_config(),
                **self._settings}

    def default_loss(self):
        """`masked_sparse_categorical_crossentropy`: padding targets ignored."""
        return masked_sparse_categorical_crossentropy

    def default_metrics(self):
        """`[masked_token_accuracy]`."""
        return [masked_token_accuracy]

    # ------------------------------------------------------------ tokenizing
    def tokenize(self, strings):
        """Raw strings `[B]` -> int32 source ids `[B, Ts]` (in-graph)."""
        codepoints = self.source_tokenizer.code_points(strings)
        table = tf.constant(self._source_table)
        last = len(self._source_table) - 1

        def lookup(cp):
            return tf.gather(table, tf.clip_by_value(cp, 0, last))

        ids = tf.ragged.map_flat_values(lookup, codepoints)
        return ids.to_tensor(default_value=PAD_ID)

    def encode_sources(self, strings, length=None):
        """NumPy int32 source ids, right-padded to `length` (or the longest)."""
        ids = self.tokenize(list(strings)).numpy()
        if length is not None:
            if ids.shape[1] > length:
                raise ValueError(
                    f"encode_sources: a source is longer than `length`={length}"
                )
            ids = np.pad(ids, [(0, 0), (0, length - ids.shape[1])])
        return ids

    def encode_targets(self, strings):
        """(target_in, target_out) int32 `[B, max_length]` for teacher forcing."""
        n = len(strings)
        out = np.zeros((n, self.max_length), np.int32)
        for i, s in enumerate(strings):
            if len(s) > self.max_length - 1:
                raise ValueError(
                    f"encode_targets: target {s!r} is longer than "
                    f"max_target_length={self.max_length - 1}"
                )
            try:
                ids = [self.target_vocab.index(c) for c in self.target_vocab.tokenizer.split(s)]
            except KeyError as e:
                raise ValueError(
                    f"encode_targets: character {e.args[0]!r} of {s!r} is not in "
                    "the target vocabulary"
                ) from None
            out[i, : len(ids)] = ids
            out[i, len(ids)] = END_ID
        target_in = np.concatenate(
            [np.full((n, 1), START_ID, np.int32), out[:, :-1]], axis=1
        )
        return target_in, out

    def detokenize(self, sequences):
        """int32 target ids `[..., L]` -> strings `[...]` (up to the end token)."""
        sequences = tf.convert_to_tensor(sequences, tf.int32)
        alive = tf.math.cumsum(tf.cast(tf.equal(sequences, END_ID), tf.int32), axis=-1) == 0
        ids = tf.where(alive, sequences, PAD_ID)
        return tf.strings.reduce_join(tf.gather(self._target_strings, ids), axis=-1)

    def _pairs(self, sources, targets, caller):
        """`([source_ids, target_in], target_out)` of string pairs."""
        if targets is None or len(sources) != len(targets):
            raise ValueError(
                f"{caller}: `x` (sources) and `y` (targets) must be string lists of the "
                f"same length, got {len(sources)} and "
                f"{'None' if targets is None else len(targets)}"
            )
        target_in, target_out = self.encode_targets([str(t) for t in targets])
        return [self.encode_sources([str(s) for s in sources]), target_in], target_out

    # -------------------------------------------------------------- training
    def fit(self, x=None, y=None, batch_size=None, epochs=1, *, validation_data=None,
            bucket=True, seed=0, **kwargs):
        """Keras' `fit`; `x` and `y` may also be lists of source and target strings.

        With strings, teacher-forced pairs are built here, and `bucket=True`
        batches sources of similar length together (lengths rounded up to a
        multiple of 8), reshuffled every epoch (deterministic in `seed`), so
        short sources do not pay for the longest one. `validation_data` may
        then be a `(sources, targets)` pair of string lists too. Other
        inputs (`[source_ids, target_in]`, `target_out` arrays, a dataset)
        go to `keras.Model.fit` as they are.

        Args:
            x: source strings, or what `keras.Model.fit` takes.
            y: target strings (or arrays).
            batch_size: batch size (default 128 for strings, else Keras').
            epochs: number of epochs.
            validation_data: `(sources, targets)` strings, or Keras' forms.
            bucket: length-bucketed batches (strings only).
            seed: the bucketed batches' shuffling seed.
            **kwargs: other `keras.Model.fit` arguments (`verbose`,
                `callbacks`, ...).

        Returns:
            The Keras `History`.
        """
        if not _is_texts(x):
            return super().fit(x, y, batch_size=batch_size, epochs=epochs,
                               validation_data=validation_data, **kwargs)
        batch_size = 128 if batch_size is None else batch_size
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"fit: `batch_size` must be a positive int, got {batch_size!r}")
        (ids, target_in), target_out = self._pairs(x, y, "fit")
        if (isinstance(validation_data, (list, tuple)) and len(validation_data) == 2
                and _is_texts(validation_data[0])):
            validation_data = self._pairs(*validation_data, "fit")
        if bucket:
            data = _bucketed_dataset(ids, target_in, target_out, batch_size, seed)
            return super().fit(data, epochs=epochs, validation_data=validation_data,
                               shuffle=False, **kwargs)
        return super().fit([ids, target_in], target_out, batch_size=batch_size, epochs=epochs,
                           validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        """Keras' `evaluate`; `x` and `y` may also be source and target
        strings (the loss and metrics of teacher forcing on them)."""
        if _is_texts(x):
            x, y = self._pairs(x, y, "evaluate")
        return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    # ------------------------------------------------------------- inference
    def initial_state(self, source_ids):
        """Encodes int `[B, Ts]` `source_ids` (right-padded with 0) into the
        decoder state nest: the `encoder` view's outputs, padding masked
        out of attention, the attention keys precomputed."""
        source_ids = tf.cast(source_ids, tf.int32)
        return self._decoder_state(source_ids, self.encoder(source_ids, training=False))

    def _decoder_state(self, source_ids, encoded):
        enc_out, bridged = encoded[0], list(encoded[1:])
        mask = tf.not_equal(tf.cast(source_ids, tf.int32), PAD_ID)
        return self.decoder.cell.get_initial_state(enc_out, mask, bridged)

    def step(self, tokens, state):
        """One decoding step: target embedding, decoder cell, output layer
        (the layers the call runs).

        Args:
            tokens: int32 `[N]` previous target tokens.
            state: the decoder state nest (leading dimension `N`).

        Returns:
            `(logits [N, V], attention weights [N, Ts], new_state)`.
        """
        (out, weights), state = self.decoder.cell(self.target_embedding(tokens), state)
        return self.output_layer(out), weights, state

    def step_fn(self, tokens, state):
        """The decoding contract: `(tokens [N], state) -> (log_probs [N,V], state)`
        (`step` with a log-softmax)."""
        logits, _, state = self.step(tokens, state)
        return tf.nn.log_softmax(tf.cast(logits, tf.float32)), state

    def _force_attention(self, state, sequences):
        """Attention weights `[B, L, Ts]` of the decoder fed `sequences`."""
        batch = tf.shape(sequences)[0]
        tokens = tf.fill([batch], START_ID)
        done = tf.zeros([batch], tf.bool)
        weights = []
        for t in range(self.max_length):
            _, w, state = self.step(tokens, state)
            weights.append(tf.where(tf.expand_dims(done, -1), tf.zeros_like(w), w))
            tokens = sequences[:, t]
            done = done | tf.equal(tokens, END_ID)
        return tf.stack(weights, axis=1)

    def _decode(self, state, strategy):
        """The search on a decoder state: the dict `generate` returns."""
        sequences, scores = strategy(self.step_fn, state, START_ID, END_ID, self.max_length)
        sequences, scores = sequences[:, 0], scores[:, 0]  # the best of [B, R]
        attention = self._force_attention(state, sequences)
        return {"sequences": sequences, "scores": scores, "attention": attention}

    def _search(self, source_ids, encoded, strategy, with_strings=False):
        out = self._decode(self._decoder_state(source_ids, encoded), strategy)
        if with_strings:
            out["translations"] = self.detokenize(out["sequences"])
        return out

    def generate_function(self, strategy=None, *, beam_width=None, length_penalty=None,
                          jit_compile=False):
        """The `tf.function` of `generate` (int32 ids `[B, Ts]` -> its dict)
        for a strategy (arguments as in `generate`), made once per strategy."""
        from keras_rnnx import decoding

        strategy = _decoding_strategy(strategy, beam_width, length_penalty)
        key = (json.dumps(decoding.serialize(strategy), sort_keys=True), jit_compile)
        if key not in self._functions:
            def generate(source_ids):
                return self._decode(self.initial_state(source_ids), strategy)

            self._functions[key] = tf.function(
                generate,
                input_signature=[tf.TensorSpec([None, None], tf.int32, name="source_ids")],
                jit_compile=jit_compile,
                autograph=False,  # explicit tf.while_loops only
            )
        return self._functions[key]

    def generate(self, source_ids, strategy=None, *, beam_width=None, length_penalty=None):
        """Decodes source ids with a `keras_rnnx.decoding` strategy, in one
        `tf.function`.

        Args:
            source_ids: int `[B, Ts]` source ids (`tokenize`).
            strategy: a `keras_rnnx.decoding` strategy, its name ("greedy",
                "beam", "sample") or config dict; default "greedy".
            beam_width: convenience for `strategy=BeamSearch(beam_width,
                length_penalty)` (width 1 gives greedy search's sequences,
                and its scores without a length penalty); not together
                with `strategy`.
            length_penalty: with `beam_width` only.

        Returns:
            A dict of the strategy's best hypothesis: `sequences` int32
            `[B, L]` (padded with the end token), `scores` float32 `[B]` and
            `attention` float32 `[B, L, Ts]`, `L = max_length`.
        """
        fn = self.generate_function(strategy, beam_width=beam_width,
                                    length_penalty=length_penalty)
        return fn(tf.convert_to_tensor(source_ids, tf.int32))

    def translate(self, texts, strategy=None, *, beam_width=None, length_penalty=None,
                  batch_size=512):
        """Translates strings.

        Args:
            texts: a list of source strings.
            strategy, beam_width, length_penalty: as in `generate`.
            batch_size: sources decoded per call.

        Returns:
            A list of translated strings.
        """
        if isinstance(texts, str):
            raise ValueError("translate: `texts` must be a list of strings, got one str")
        fn = self.generate_function(strategy, beam_width=beam_width,
                                    length_penalty=length_penalty)
        out = []
        texts = list(texts)
        for i in range(0, len(texts), batch_size):
            seq = fn(self.tokenize(texts[i : i + batch_size]))["sequences"]
            out.extend(s.decode("utf-8") for s in self.detokenize(seq).numpy())
        return out

    def exact_match(self, sources, targets, strategy=None, *, beam_width=None):
        """Share of `sources` translated exactly to `targets` (`strategy`,
        `beam_width` as in `generate`)."""
        predicted = self.translate(sources, strategy, beam_width=beam_width)
        return float(np.mean([p == t for p, t in zip(predicted, targets)]))

    # ----------------------------------------------------------------- export
    def inference_model(self, strategy=None, *, beam_width=None, length_penalty=None,
                        with_strings=False):
        """The functional model the exporters take.

        `source_ids -> encoder view -> search`: the encoder is this model's
        own `encoder` view, and the last layer runs the strategy over the
        step (the graph of `generate`).

        Args:
            strategy: a `keras_rnnx.decoding` strategy, its name or config
                dict; default "beam" (`BeamSearch(4)`).
            beam_width, length_penalty: the `BeamSearch(beam_width,
                length_penalty)` shortcut, as in `generate`; not with `strategy`.
            with_strings: also return `"translations"` (strings).

        Returns:
            A `keras.Model`: int32 `source_ids (B, Ts)` -> `{"sequences"
            (B, L), "scores" (B,), "attention" (B, L, Ts)}` (and
            `"translations"` (B,) with `with_strings`).

        Example:

        >>> t = Translator(list("0123456789"), list("0123456789"), 4, units=8)
        >>> m = t.inference_model("greedy")
        >>> sorted(m(t.encode_sources(["12"])))
        ['attention', 'scores', 'sequences']
        """
        strategy = _decoding_strategy(strategy, beam_width, length_penalty, default="beam")
        ids = keras.Input((None,), dtype="int32", name="source_ids")
        encoded = self.encoder(ids)
        outputs = TranslateLayer(self, strategy, with_strings, name="translate")([ids, *encoded])
        return keras.Model(ids, outputs, name="translator_inference")

    def export_saved_model(self, path, strategy=None, *, beam_width=None,
                           length_penalty=None, overwrite=False):
        """SavedModel for TF Serving, written with `keras_rnnx.export`.

        Signatures: `serving_default` (int32 `source_ids` `[B, Ts]`) and
        `translate` (raw strings `text` `[B]`, tokenized in-graph), both
        returning `translations` (strings), `sequences` `[B, L]`, `scores`
        `[B]` and `attention` `[B, L, Ts]` of the strategy's best hypothesis.

        Args:
            path: the SavedModel folder (written atomically).
            strategy, beam_width, length_penalty: as in `inference_model`
                (default `BeamSearch(4)`).
            overwrite: replace an existing `path` (default: refuse it with
                `ExportError`).

        Returns:
            What `keras_rnnx.export.to_saved_model` returns.

        Example:

        >>> t = Translator(list("0123456789"), list("0123456789"), 4, units=8)
        >>> _ = t.export_saved_model("doctest_translator", beam_width=2,
        ...                          overwrite=True)
        """
        from keras_rnnx.export import to_saved_model

        model = self.inference_model(strategy, beam_width=beam_width,
                                     length_penalty=length_penalty, with_strings=True)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def translate(text):
            return model(self.tokenize(text), training=False)

        return to_saved_model(model, path, signatures={"translate": translate},
                              overwrite=overwrite)

    def export_tflite(self, path, strategy=None, *, beam_width=None, length_penalty=None,
                      overwrite=False):
        """Builtin-op TFLite: int32 `source_ids` `[B, Ts]` -> `sequences`,
        `scores`, `attention` (written with `keras_rnnx.export.to_tflite`).

        Args:
            path: the `.tflite` file (written atomically).
            strategy, beam_width, length_penalty: as in `inference_model`
                (default `BeamSearch(4)`; sampling only with `seed=None`).
            overwrite: replace an existing `path` (default: refuse it with
                `ExportError`).

        Returns:
            What `keras_rnnx.export.to_tflite` returns.

        Example:

        >>> t = Translator(list("0123456789"), list("0123456789"), 4, units=8)
        >>> _ = t.export_tflite("doctest_translator.tflite", "greedy", overwrite=True)
        """
        from keras_rnnx.export import to_tflite

        model = self.inference_model(strategy, beam_width=beam_width,
                                     length_penalty=length_penalty)
        return to_tflite(model, path, overwrite=overwrite)

def _decoding_strategy(strategy, beam_width, length_penalty, default="greedy"):
    """The strategy of `Translator.generate`'s arguments: `strategy` (else
    `default`), or `BeamSearch(beam_width, length_penalty)`."""
    from keras_rnnx import decoding

    if isinstance(strategy, (int, np.integer)) and not isinstance(strategy, bool):
        raise TypeError(
            f"`strategy` must be a decoding strategy, its name or config, got {strategy!r}; "
            f"for a beam width pass beam_width={strategy!r}"
        )
    if beam_width is None:
        if length_penalty is not None:
            raise ValueError(
                "`length_penalty` goes with `beam_width`; otherwise pass "
                "strategy=BeamSearch(..., length_penalty=...)"
            )
        return decoding.get(default if strategy is None else strategy)
    if strategy is not None:
        raise ValueError(
            f"pass `strategy` or `beam_width`, not both (got {strategy!r} and {beam_width!r})"
        )
    return decoding.BeamSearch(beam_width, 0.0 if length_penalty is None else length_penalty)


def _bucketed_dataset(x, target_in, target_out, batch_size, seed=0, chunk=32):
    """tf.data of shuffled batches of sources of similar length, each trimmed
    to a multiple of 8 steps; reshuffled every epoch (deterministic in seed)."""
    lengths = (x != PAD_ID).sum(axis=1)
    rng = np.random.default_rng(seed)

    def batches():
        order = rng.permutation(len(x))
        size = batch_size * chunk
        groups = []
        for i in range(0, len(order), size):
            part = order[i : i + size]
            part = part[np.argsort(lengths[part], kind="stable")]
            groups.extend(part[j : j + batch_size] for j in range(0, len(part), batch_size))
        for k in rng.permutation(len(groups)):
            idx = groups[k]
            steps = max(8, int(np.ceil(lengths[idx].max() / 8)) * 8)
            xb = x[idx, :steps]
            if xb.shape[1] < steps:
                xb = np.pad(xb, [(0, 0), (0, steps - xb.shape[1])])
            yield (xb, target_in[idx]), target_out[idx]

    length = target_in.shape[1]
    spec = (
        (tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, length], tf.int32)),
        tf.TensorSpec([None, length], tf.int32),
    )
    size = batch_size * chunk
    n_batches = sum(
        -(-min(size, len(x) - i) // batch_size) for i in range(0, len(x), size)
    )
    data = tf.data.Dataset.from_generator(batches, output_signature=spec)
    return data.apply(tf.data.experimental.assert_cardinality(n_batches))


class TranslateLayer(keras.layers.Layer):
    """The inference model's last layer: a decoding strategy over the
    translator's step, on the `encoder` view's outputs.

    Args:
        translator: the `Translator`; only its step's layers (target
            embedding, decoder, output layer) are tracked here, the
            encoder's are tracked by the `encoder` view before this layer.
        strategy: a `keras_rnnx.decoding` strategy.
        with_strings: also return `"translations"`.

    Call arguments:
        inputs: `[source_ids (B, Ts), encoder outputs, *bridged states]`.

    Returns:
        The dict of `Translator.generate` (with `"translations"` when
        `with_strings`).
    """

    def __init__(self, translator, strategy, with_strings=False, **kwargs):
        super().__init__(**kwargs)
        # a bound method is not tracked, so the translator's weights are not
        # owned twice; the step's layers are
        self._search = translator._search
        self._max_length = translator.max_length
        self.step_layers = [translator.target_embedding, translator.decoder,
                            translator.output_layer]
        self.strategy = strategy
        self.with_strings = bool(with_strings)
        self.built = True

    def call(self, inputs, mask=None):
        # `mask`: the source padding mask the encoder outputs carry; the
        # decoder state takes it from `source_ids` (the same mask)
        return self._search(inputs[0], inputs[1:], self.strategy, self.with_strings)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_spec(self, inputs, mask=None):
        batch, steps = inputs[0].shape[0], inputs[0].shape[1]
        length = self._max_length
        spec = {
            "sequences": keras.KerasTensor((batch, length), "int32"),
            "scores": keras.KerasTensor((batch,), "float32"),
            "attention": keras.KerasTensor((batch, length, steps), "float32"),
        }
        if self.with_strings:
            spec["translations"] = keras.KerasTensor((batch,), "string")
        return spec
