"""A character-level seq2seq translator with Bahdanau attention.

The network is described once, by `build_model` (functional API):

    source ids -> Embedding(mask_zero) -> BiDirectional(LSTMX | GRUX,
    return_sequences, return_state) -> encoder outputs, final states
    final states -> bridge (Dense per state over [forward, backward])
    target ids (shifted right) -> Embedding -> AttentionDecoder -> Dense
    -> logits over the target characters

and returned as a `TranslatorNetwork`: the training model (teacher forcing,
a loss masked on padding), the attention model and the encoder sub-model
(source ids -> encoder outputs, bridged initial decoder state) are
functional views of the same layers, and the decoding step calls the same
target embedding, decoder cell and output layer. Inference encodes the
source once with the encoder sub-model, puts the encoder outputs and their
key projection into the decoder state, and runs a `keras_rnnx.decoding`
strategy (greedy search, beam search, sampling) over the step, all inside
one `tf.function`, which also re-runs the decoder on the best sequence to
return its attention weights. The inference model the exporters take is
functional as well: source ids -> encoder sub-model -> `TranslateLayer`
(the strategy over the step).

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
import os

import keras
import numpy as np
import tensorflow as tf

from keras_rnnx._atomic import atomic_write, check_target
from keras_rnnx.layers.attention import BahdanauAttention
from keras_rnnx.layers.attention_decoder import AttentionDecoder, AttentionDecoderCell
from keras_rnnx.text import Tokenizer, Vocabulary
from keras_rnnx.training import save_model

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


class TranslatorNetwork:
    """The translator's network, wired once by `build_model`.

    One set of layers and three views of it: the training model, the
    attention model and the encoder sub-model are functional `keras.Model`s
    over the same graph, and the decoding step (`step`) calls the same
    target embedding, decoder cell and output layer the training graph
    calls, so training, search and export run the same weights through the
    same code.

    Attributes:
        model: `[source_ids (B, Ts), target_in (B, Tt)] -> logits (B, Tt, V)`,
            the training model (teacher forcing).
        attention_model: the same inputs -> attention weights `(B, Tt, Ts)`.
        encoder: `source_ids (B, Ts) -> [encoder outputs (B, Ts, 2 * units),
            *initial decoder state]` (the bridged final encoder states).
        target_embedding: the target token `Embedding`.
        decoder: the `AttentionDecoder` (its `cell` is the decoding step).
        output: the `Dense` layer giving logits over the target ids.

    Example:

    >>> import tensorflow as tf
    >>> net = build_model(12, 13, 5, embedding_dim=4, units=8)
    >>> state = net.initial_state(tf.constant([[2, 3, 0], [4, 0, 0]]))
    >>> logits, weights, state = net.step(tf.constant([START_ID, START_ID]), state)
    >>> tuple(logits.shape), tuple(weights.shape)
    ((2, 13), (2, 3))
    """

    def __init__(self, model, attention_model, encoder, target_embedding, decoder, output):
        self.model = model
        self.attention_model = attention_model
        self.encoder = encoder
        self.target_embedding = target_embedding
        self.decoder = decoder
        self.output = output

    def decoder_state(self, source_ids, encoded):
        """The decoder state nest for `encoded`, the encoder sub-model's
        outputs on `source_ids` (padding, id 0, masked out of attention).

        Args:
            source_ids: int `[B, Ts]` source ids.
            encoded: `[encoder outputs, *bridged states]` from `encoder`.

        Returns:
            The `AttentionDecoderCell` state dict (keys precomputed).
        """
        enc_out, bridged = encoded[0], list(encoded[1:])
        mask = tf.not_equal(tf.cast(source_ids, tf.int32), PAD_ID)
        return self.decoder.cell.get_initial_state(enc_out, mask, bridged)

    def initial_state(self, source_ids):
        """Encodes int `[B, Ts]` `source_ids` into the decoder state nest.

        Args:
            source_ids: int `[B, Ts]` source ids, right-padded with 0.

        Returns:
            The state dict `step` takes.
        """
        source_ids = tf.cast(source_ids, tf.int32)
        encoded = self.encoder(source_ids, training=False)
        return self.decoder_state(source_ids, encoded)

    def step(self, tokens, state):
        """One decoding step: target embedding, decoder cell, output layer.

        Args:
            tokens: int32 `[N]` previous target tokens.
            state: the decoder state nest (leading dimension `N`).

        Returns:
            `(logits [N, V], attention weights [N, Ts], new_state)`.
        """
        (out, weights), state = self.decoder.cell(self.target_embedding(tokens), state)
        return self.output(out), weights, state


def build_model(
    source_vocab_size,
    target_vocab_size,
    target_length,
    embedding_dim=32,
    units=64,
    decoder_units=None,
    attention_units=None,
    cell="lstm",
    normalize=False,
):
    """The translator's network, described once (functional API).

        source ids -> Embedding(mask_zero) -> BiDirectional(LSTMX | GRUX)
        -> encoder outputs, final states -> bridge (Dense per state)
        target ids (shifted right) -> Embedding -> AttentionDecoder -> Dense

    Args:
        source_vocab_size: number of source ids (specials included).
        target_vocab_size: number of target ids (specials included).
        target_length: length of the teacher-forced target input.
        embedding_dim: size of both embeddings.
        units: encoder units per direction.
        decoder_units: decoder cell units (default `2 * units`).
        attention_units: Bahdanau attention units (default `decoder_units`).
        cell: "lstm" (`LSTMX`/`LSTMCellX`) or "gru" (`GRUX`/`GRUCellX`).
        normalize: weight-normalized attention energy.

    Returns:
        A `TranslatorNetwork`: the training model (`[source_ids (B, Ts),
        target_in (B, Tt)] -> logits`, `target_in` the target shifted right,
        start token first), the attention model, the encoder sub-model and
        the step, all sharing one set of layers.

    Example:

    >>> net = build_model(12, 13, 5, embedding_dim=4, units=8)
    >>> [t.shape[-1] for t in net.model.outputs]
    [13]
    """
    for name, value in (
        ("source_vocab_size", source_vocab_size),
        ("target_vocab_size", target_vocab_size),
        ("target_length", target_length),
        ("embedding_dim", embedding_dim),
        ("units", units),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"build_model: `{name}` must be a positive int, got {value!r}")
    from keras_rnnx.layers.bidirectional import BiDirectional

    layer_cls, cell_cls = _recurrent_layers(cell)
    decoder_units = decoder_units or 2 * units
    attention_units = attention_units or decoder_units

    source = keras.Input((None,), dtype="int32", name="source_ids")
    target_in = keras.Input((target_length,), dtype="int32", name="target_in")
    src_emb = keras.layers.Embedding(
        source_vocab_size, embedding_dim, mask_zero=True, name="source_embedding"
    )(source)
    encoded = BiDirectional(
        layer_cls(units, return_sequences=True, return_state=True), name="encoder"
    )(src_emb)
    enc_out, states = encoded[0], encoded[1:]
    n = len(states) // 2
    bridged = []
    for i in range(n):
        both = keras.layers.Concatenate(name=f"bridge_in_{i}")([states[i], states[n + i]])
        bridged.append(
            keras.layers.Dense(
                decoder_units,
                activation="tanh" if i == 0 else None,
                name=f"bridge_{i}",
            )(both)
        )
    target_embedding = keras.layers.Embedding(
        target_vocab_size, embedding_dim, name="target_embedding"
    )
    decoder = AttentionDecoder(
        AttentionDecoderCell(
            cell_cls(decoder_units),
            BahdanauAttention(attention_units, normalize=normalize),
        ),
        unroll=True,
        name="decoder",
    )
    output = keras.layers.Dense(target_vocab_size, name="output")
    dec_out, weights = decoder(target_embedding(target_in), enc_out, initial_state=bridged)
    logits = output(dec_out)
    return TranslatorNetwork(
        model=keras.Model([source, target_in], logits, name="translator"),
        attention_model=keras.Model([source, target_in], weights, name="attention"),
        encoder=keras.Model(source, [enc_out, *bridged], name="source_encoder"),
        target_embedding=target_embedding,
        decoder=decoder,
        output=output,
    )


class Translator:
    """Trains and runs the attention translator on pairs of strings.

    Args:
        source_vocabulary: list of source characters (see
            `source_vocabulary_from_texts`).
        target_vocabulary: list of target characters.
        max_target_length: longest target in characters (the end token is
            added to it).
        embedding_dim, units, decoder_units, attention_units, cell, normalize:
            see `build_model` (`units` per encoder direction).
        lower: lowercase the source in-graph before tokenizing.

    Attributes:
        network: the `TranslatorNetwork` of `build_model` (the one
            description of the architecture; search, export and saving use it).
        model, attention_model: its training and attention models.

    Example:

    >>> t = Translator(list("0123456789"), list("0123456789"), 4, units=16)
    >>> ids = t.encode_sources(["12", "345"])
    >>> out = t.translate(ids, beam_width=2)
    >>> tuple(out["sequences"].shape)
    (2, 5)
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
    ):
        if (isinstance(max_target_length, bool)
                or not isinstance(max_target_length, (int, np.integer))
                or max_target_length <= 0):
            raise ValueError(
                "Translator: `max_target_length` must be a positive int, got "
                f"{max_target_length!r}"
            )
        source_vocabulary = [str(c) for c in source_vocabulary]
        target_vocabulary = [str(c) for c in target_vocabulary]
        if any(len(c) != 1 for c in source_vocabulary):
            raise ValueError(
                "Translator: `source_vocabulary` must hold single characters, got "
                f"{[c for c in source_vocabulary if len(c) != 1][:5]!r}"
            )
        for name, vocab in (("source_vocabulary", source_vocabulary),
                            ("target_vocabulary", target_vocabulary)):
            if not vocab or len(set(vocab)) != len(vocab) or "" in vocab:
                raise ValueError(
                    f"Translator: `{name}` must be a non-empty list of distinct "
                    f"non-empty strings, got {vocab[:10]!r}..."
                )
        self.config = dict(
            source_vocabulary=source_vocabulary,
            target_vocabulary=target_vocabulary,
            max_target_length=int(max_target_length),
            embedding_dim=embedding_dim,
            units=units,
            decoder_units=decoder_units,
            attention_units=attention_units,
            cell=cell,
            normalize=normalize,
            lower=lower,
        )
        self.source_vocabulary = source_vocabulary
        self.target_vocabulary = target_vocabulary
        self.lower = lower
        self.source_tokenizer = source_tokenizer(lower)
        self.source_vocab = Vocabulary(source_vocabulary, specials=SOURCE_SPECIALS,
                                       tokenizer=self.source_tokenizer)
        self.target_vocab = Vocabulary(target_vocabulary, specials=TARGET_SPECIALS,
                                       tokenizer=target_tokenizer())
        self.max_length = int(max_target_length) + 1  # with the end token
        self.network = build_model(
            len(source_vocabulary) + _SOURCE_SPECIALS,
            len(target_vocabulary) + _TARGET_SPECIALS,
            self.max_length,
            embedding_dim=embedding_dim,
            units=units,
            decoder_units=decoder_units,
            attention_units=attention_units,
            cell=cell,
            normalize=normalize,
        )
        self.model = self.network.model
        self.attention_model = self.network.attention_model
        # codepoint -> id as a dense table (a constant, not a resource: the
        # SavedModel needs nothing tracked); codepoints past it are unknown
        table = np.full(max(ord(c) for c in source_vocabulary) + 2,
                        self.source_vocab.unk_id, np.int32)
        for c in source_vocabulary:
            table[ord(c)] = self.source_vocab.index(c)
        self._source_table = table
        target = self.target_vocab
        self._target_strings = tf.constant(
            [""] * len(target.specials) + target.tokens[len(target.specials):]
        )
        self._functions = {}

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

    # -------------------------------------------------------------- training
    def compile(self, learning_rate=3e-3, **kwargs):
        """Adam (clipnorm 1) with the masked loss and token accuracy;
        `learning_rate` may be a schedule."""
        self.model.compile(
            optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
            loss=masked_sparse_categorical_crossentropy,
            metrics=[masked_token_accuracy],
            **kwargs,
        )

    def fit(self, sources, targets, epochs=1, batch_size=128, validation=None,
            verbose=1, callbacks=None, bucket=True, seed=0):
        """Teacher-forced training on string pairs, with Keras' progress bar.

        `bucket=True` batches sources of similar length together (lengths
        rounded up to a multiple of 8), so short sources do not pay for the
        longest one; batches are reshuffled every epoch (deterministic in
        `seed`).
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"fit: `batch_size` must be a positive int, got {batch_size!r}")
        if len(sources) != len(targets):
            raise ValueError(
                f"fit: `sources` and `targets` must have the same length, got "
                f"{len(sources)} and {len(targets)}"
            )
        x = self.encode_sources(sources)
        target_in, target_out = self.encode_targets(targets)
        val = None
        if validation is not None:
            vs, vt = validation
            vi, vo = self.encode_targets(vt)
            val = ([self.encode_sources(vs), vi], vo)
        if getattr(self.model, "optimizer", None) is None:  # never compiled
            self.compile()
        if bucket:
            data = _bucketed_dataset(x, target_in, target_out, batch_size, seed)
            return self.model.fit(data, epochs=epochs, validation_data=val, shuffle=False,
                                  verbose=verbose, callbacks=callbacks)
        return self.model.fit(
            [x, target_in], target_out, epochs=epochs, batch_size=batch_size,
            validation_data=val, verbose=verbose, callbacks=callbacks,
        )

    # ------------------------------------------------------------- inference
    def initial_state(self, source_ids):
        """Encodes int `[B, Ts]` `source_ids` into the decoder state nest
        (`TranslatorNetwork.initial_state`: the encoder sub-model, keys
        precomputed)."""
        return self.network.initial_state(source_ids)

    def step_fn(self, tokens, state):
        """The decoding contract: `(tokens [N], state) -> (log_probs [N,V], state)`
        (`TranslatorNetwork.step` with a log-softmax)."""
        logits, _, state = self.network.step(tokens, state)
        return tf.nn.log_softmax(tf.cast(logits, tf.float32)), state

    def _force_attention(self, state, sequences):
        """Attention weights `[B, L, Ts]` of the decoder fed `sequences`."""
        batch = tf.shape(sequences)[0]
        tokens = tf.fill([batch], START_ID)
        done = tf.zeros([batch], tf.bool)
        weights = []
        for t in range(self.max_length):
            _, w, state = self.network.step(tokens, state)
            weights.append(tf.where(tf.expand_dims(done, -1), tf.zeros_like(w), w))
            tokens = sequences[:, t]
            done = done | tf.equal(tokens, END_ID)
        return tf.stack(weights, axis=1)

    def _decode(self, state, strategy):
        """The search on a decoder state: the dict `search` returns."""
        sequences, scores = strategy(self.step_fn, state, START_ID, END_ID, self.max_length)
        sequences, scores = sequences[:, 0], scores[:, 0]  # the best of [B, R]
        attention = self._force_attention(state, sequences)
        return {"sequences": sequences, "scores": scores, "attention": attention}

    def search(self, source_ids, strategy=None, *, beam_width=None, length_penalty=None):
        """Decodes with a `keras_rnnx.decoding` strategy; the graph of `translate`.

        Args:
            source_ids: int `[B, Ts]` source ids.
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
            `attention` float32 `[B, L, Ts]`.
        """
        strategy = _decoding_strategy(strategy, beam_width, length_penalty)
        return self._decode(self.initial_state(source_ids), strategy)

    def translate_function(self, strategy=None, *, beam_width=None, length_penalty=None,
                           jit_compile=False):
        """The `tf.function` (ids `[B, Ts]` int32 -> the dict of `search`)
        for a strategy (arguments as in `search`), made once per strategy."""
        from keras_rnnx import decoding

        strategy = _decoding_strategy(strategy, beam_width, length_penalty)
        key = (json.dumps(decoding.serialize(strategy), sort_keys=True), jit_compile)
        if key not in self._functions:
            def translate(source_ids):
                return self.search(source_ids, strategy)

            self._functions[key] = tf.function(
                translate,
                input_signature=[tf.TensorSpec([None, None], tf.int32, name="source_ids")],
                jit_compile=jit_compile,
                autograph=False,  # explicit tf.while_loops only
            )
        return self._functions[key]

    def translate(self, source_ids, strategy=None, *, beam_width=None, length_penalty=None):
        """Decodes int32 source ids `[B, Ts]` in one tf.function: a dict of
        `sequences` `[B, L]`, `scores` `[B]` and `attention` `[B, L, Ts]`
        (arguments and result as in `search`)."""
        fn = self.translate_function(strategy, beam_width=beam_width,
                                     length_penalty=length_penalty)
        return fn(tf.convert_to_tensor(source_ids, tf.int32))

    def translate_strings(self, strings, strategy=None, *, beam_width=None, batch_size=512):
        """Python list of strings -> list of translated strings (`strategy`,
        `beam_width` as in `search`)."""
        fn = self.translate_function(strategy, beam_width=beam_width)
        out = []
        strings = list(strings)
        for i in range(0, len(strings), batch_size):
            seq = fn(self.tokenize(strings[i : i + batch_size]))["sequences"]
            out.extend(s.decode("utf-8") for s in self.detokenize(seq).numpy())
        return out

    def exact_match(self, sources, targets, strategy=None, *, beam_width=None):
        """Share of `sources` translated exactly to `targets` (`strategy`,
        `beam_width` as in `search`)."""
        predicted = self.translate_strings(sources, strategy, beam_width=beam_width)
        return float(np.mean([p == t for p, t in zip(predicted, targets)]))

    # ----------------------------------------------------------------- export
    def inference_model(self, strategy=None, *, beam_width=None, length_penalty=None,
                        with_strings=False):
        """The functional model the exporters take.

        `source_ids -> encoder sub-model -> search`: the encoder is the
        network's own sub-model, and the last layer runs the strategy over
        the network's step (the graph of `search`).

        Args:
            strategy: a `keras_rnnx.decoding` strategy, its name or config
                dict; default "beam" (`BeamSearch(4)`).
            beam_width, length_penalty: the `BeamSearch(beam_width,
                length_penalty)` shortcut, as in `search`; not with `strategy`.
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
        encoded = self.network.encoder(ids)
        outputs = TranslateLayer(self, strategy, with_strings, name="translate")(
            [ids, *encoded])
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
        >>> _ = t.export_saved_model("/tmp/doctest_translator", beam_width=2,
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
        >>> _ = t.export_tflite("/tmp/doctest_translator.tflite", "greedy", overwrite=True)
        """
        from keras_rnnx.export import to_tflite

        model = self.inference_model(strategy, beam_width=beam_width,
                                     length_penalty=length_penalty)
        return to_tflite(model, path, overwrite=overwrite)

    def save_config(self, path):
        """The translator's config (vocabularies, sizes) as JSON, atomically."""
        atomic_write(path, json.dumps(self.config, ensure_ascii=False, indent=1))

    def save(self, directory, overwrite=False):
        """Writes `config.json` and `model.weights.h5` into `directory`
        (each file atomically); `Translator.load(directory)` restores it.
        A `directory` that already holds either file is refused
        (`ExportError` naming it) unless `overwrite=True`."""
        for name in ("config.json", "model.weights.h5"):
            check_target(os.path.join(directory, name), overwrite, argument="directory")
        os.makedirs(directory, exist_ok=True)
        self.save_config(os.path.join(directory, "config.json"))
        save_model(self.model, os.path.join(directory, "model.weights.h5"), overwrite=overwrite)
        return directory

    @classmethod
    def load(cls, directory):
        """A translator saved with `save(directory)`."""
        config_path = os.path.join(directory, "config.json")
        weights_path = os.path.join(directory, "model.weights.h5")
        for path in (config_path, weights_path):
            if not os.path.isfile(path):
                raise ValueError(
                    f"Translator.load: `directory` {directory!r} has no "
                    f"{os.path.basename(path)} (write it with Translator.save)"
                )
        with open(config_path, encoding="utf-8") as f:
            translator = cls(**json.load(f))
        translator.model.load_weights(weights_path)
        return translator


def _decoding_strategy(strategy, beam_width, length_penalty, default="greedy"):
    """The strategy of `Translator.search`'s arguments: `strategy` (else
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
    translator's step, on the encoder sub-model's outputs.

    Args:
        translator: the `Translator` (its network's step layers are tracked
            here; the encoder's are tracked by the encoder sub-model).
        strategy: a `keras_rnnx.decoding` strategy.
        with_strings: also return `"translations"`.

    Call arguments:
        inputs: `[source_ids (B, Ts), encoder outputs, *bridged states]`.

    Returns:
        The dict of `Translator.search`.
    """

    def __init__(self, translator, strategy, with_strings=False, **kwargs):
        super().__init__(**kwargs)
        self._translator = translator
        net = translator.network
        self.step_layers = [net.target_embedding, net.decoder, net.output]
        self.strategy = strategy
        self.with_strings = bool(with_strings)
        self.built = True

    def call(self, inputs, mask=None):
        # `mask`: the source padding mask the encoder outputs carry; the
        # decoder state takes it from `source_ids` (the same mask)
        source_ids, encoded = inputs[0], inputs[1:]
        t = self._translator
        out = t._decode(t.network.decoder_state(source_ids, encoded), self.strategy)
        if self.with_strings:
            out["translations"] = t.detokenize(out["sequences"])
        return out

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_spec(self, inputs, mask=None):
        batch, steps = inputs[0].shape[0], inputs[0].shape[1]
        length = self._translator.max_length
        spec = {
            "sequences": keras.KerasTensor((batch, length), "int32"),
            "scores": keras.KerasTensor((batch,), "float32"),
            "attention": keras.KerasTensor((batch, length, steps), "float32"),
        }
        if self.with_strings:
            spec["translations"] = keras.KerasTensor((batch,), "string")
        return spec
