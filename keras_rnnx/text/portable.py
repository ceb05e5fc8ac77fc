"""`PortableTokenizer`: a `Tokenizer`'s exact twin built from core TensorFlow
ops only, for graphs that must load where tensorflow-text is not installed
(a SavedModel on plain TensorFlow or TF Serving).

The `Tokenizer` normalizes with tensorflow-text (`normalize_utf8`,
`case_fold_utf8`, which is ICU's NFKC_Casefold) and splits with its
`WhitespaceTokenizer` / `UnicodeScriptTokenizer`. Core TensorFlow has no
Unicode normalization op, so the twin carries the normalization as tables,
computed once, when it is built, by running the `Tokenizer`'s own
tensorflow-text ops on every code point:

1. each code point c becomes T(c) = NFD(normalize(c)) (a table of the code
   points that change; ICU's mappings, removals of default-ignorable
   characters included);
2. combining marks are put in canonical order (a table of canonical
   combining classes, from Python's `unicodedata`);
3. for composed forms (NFC, NFKC, case folding) the canonical composition
   algorithm of Unicode's UAX #15 runs over the result, with the primary
   composites found by the `Tokenizer`'s own NFC of every decomposition
   (Hangul syllables included).

normalize(x) = NFC(reorder(T(c) for c in x)) holds because the Unicode
normalization forms and NFKC_Casefold are defined through the full
decomposition of each character followed by canonical ordering and
composition. The rest (`tf.strings.lower`, the regular expressions for
punctuation and whitespace, `unicode_split`) are core ops already and are
shared with the `Tokenizer`; the word splitters become `tf.strings.split`
(whitespace) and runs of one `tf.strings.unicode_script` value (script).
`tests/test_portable_tokenizer.py` checks the twin against the `Tokenizer`
token by token on hostile text.
"""
import functools
import unicodedata

import numpy as np
import tensorflow as tf

from keras_rnnx.text.tokenizer import (
    Tokenizer, _as_string_tensor, _punctuation_and_spaces, _repair_utf8)

_MAX_CODE_POINT = 0x10FFFF
_COMPOSED = ("NFC", "NFKC")


def _all_code_points():
    cps = np.arange(_MAX_CODE_POINT + 1, dtype=np.int32)
    return cps[(cps < 0xD800) | (cps > 0xDFFF)]  # no surrogates


def _decode(values):
    return [v.decode("utf-8") for v in values]


def _row_starts(ragged):
    """bool per flat value: the first value of its row."""
    rows = ragged.value_rowids()
    return tf.concat([tf.ones_like(rows[:1], tf.bool), rows[1:] != rows[:-1]], 0)


@functools.lru_cache(maxsize=8)
def _tables(normalization, lowercase):
    """NumPy tables for one (normalization, lowercase) setting, from the
    `Tokenizer`'s own tensorflow-text ops run on every code point:
    map_keys/map_values (code point -> NFD of its normalized, case-folded
    form, where that differs), ccc_keys/ccc_values (canonical combining
    classes), pair_keys/pair_values (first * 2**21 + second -> primary
    composite), joiners (class-0 code points that compose backwards)."""
    from keras_rnnx.text.tokenizer import _tf_text

    tft = _tf_text()
    cps = _all_code_points()
    chars = tf.strings.unicode_encode(tf.reshape(cps, [-1, 1]), "UTF-8")
    mapped = chars
    if normalization is not None:
        mapped = tft.normalize_utf8(mapped, normalization)
    if lowercase is True:
        mapped = tft.case_fold_utf8(mapped)
    mapped = tft.normalize_utf8(mapped, "NFD").numpy()
    chars = chars.numpy()
    changed = np.nonzero(mapped != chars)[0]
    ccc = np.array([unicodedata.combining(chr(c)) for c in cps], np.int64)
    marks = np.nonzero(ccc)[0]
    # primary composites: c whose canonical decomposition NFC maps back to c
    nfd = tft.normalize_utf8(chars, "NFD").numpy()
    multi = [i for i in np.nonzero(nfd != chars)[0] if len(nfd[i].decode("utf-8")) >= 2]
    back = tft.normalize_utf8(tf.constant(nfd[multi]), "NFC").numpy()
    heads = [d.decode("utf-8")[:-1].encode("utf-8") for d in nfd[multi]]
    head_nfc = _decode(tft.normalize_utf8(tf.constant(heads), "NFC").numpy())
    keys, values, second = [], [], set()
    for i, b, head in zip(multi, back, head_nfc):
        if b != chars[i] or len(head) != 1:
            continue  # a composition exclusion or a singleton
        last = ord(nfd[i].decode("utf-8")[-1])
        keys.append(ord(head) * (1 << 21) + last)
        values.append(int(cps[i]))
        second.add(last)
    # starters (class 0) that still compose with what precedes them (Hangul
    # vowel and trailing jamo, a few Indic vowel signs)
    joiners = sorted(c for c in second if unicodedata.combining(chr(c)) == 0)
    return {
        "map_keys": cps[changed].astype(np.int64), "map_values": mapped[changed],
        "ccc_keys": cps[marks].astype(np.int64), "ccc_values": ccc[marks],
        "pair_keys": np.array(keys, np.int64), "pair_values": np.array(values, np.int64),
        "joiners": np.array(joiners, np.int64),
    }


class PortableTokenizer(tf.Module):
    """The tokens of a `Tokenizer`, from core TensorFlow ops only.

    Building it needs tensorflow-text (it runs the `Tokenizer`'s ops on
    every code point to fill its tables, a few seconds); calling it, and any
    SavedModel that holds it, needs nothing but TensorFlow.

    Args:
        tokenizer: a `Tokenizer` without stemming (Python-side, so never in
            a graph).

    Call arguments:
        strings: a string tensor `[B]`.

    Returns:
        A `tf.RaggedTensor` of UTF-8 tokens `[B, None]`, equal to
        `tokenizer.tokenize(strings)`.

    Example:

    >>> portable = PortableTokenizer(Tokenizer("whitespace"))
    >>> portable(tf.constant(["Straße  ＡＢＣ"])).to_list()
    [[b'strasse', b'abc']]
    """

    def __init__(self, tokenizer):
        super().__init__(name="portable_tokenizer")
        if not isinstance(tokenizer, Tokenizer):
            raise TypeError(f"tokenizer must be a keras_rnnx.text.Tokenizer, got "
                            f"{type(tokenizer).__name__}")
        if tokenizer.stem is not None:
            raise ValueError("tokenizer: stem=... runs in Python and cannot be in a "
                             "portable graph; use stem=None")
        self.config = tokenizer.get_config()
        self.kind = tokenizer.kind
        self.lowercase = tokenizer.lowercase
        self.normalization = tokenizer.normalization
        self.drop_punctuation = tokenizer.drop_punctuation
        self.whitespace = tokenizer.whitespace
        # tensorflow-text does the Unicode work: normalization, case folding
        self._tables = tokenizer.normalization is not None or tokenizer.lowercase is True
        self._compose = tokenizer.lowercase is True or tokenizer.normalization in _COMPOSED
        if self._tables:
            self._build_tables(tokenizer)

    # ---------------------------------------------------------------- tables
    def _build_tables(self, tokenizer):
        t = _tables(tokenizer.normalization, tokenizer.lowercase)
        self._map_values = tf.constant(t["map_values"])
        self._map = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(t["map_keys"]), tf.range(len(t["map_keys"]), dtype=tf.int64)), -1)
        self._ccc = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(t["ccc_keys"]), tf.constant(t["ccc_values"])), 0)
        if not self._compose:
            return
        self._pairs = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(t["pair_keys"]), tf.constant(t["pair_values"])), -1)
        self._joiners = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(t["joiners"]), tf.ones([len(t["joiners"])], tf.int64)), 0)

    # --------------------------------------------------------------- graph
    def _normalize(self, strings):
        strings = _repair_utf8(strings)
        if self._tables:
            strings = self._unicode(strings)
        if self.lowercase == "lower":
            strings = tf.strings.lower(strings, encoding="utf-8")
        return _punctuation_and_spaces(strings, self.drop_punctuation, self.whitespace)

    def _unicode(self, strings):
        cps = tf.strings.unicode_decode(strings, "UTF-8")
        flat = tf.cast(cps.flat_values, tf.int64)
        index = self._map.lookup(flat)
        single = tf.strings.unicode_encode(tf.reshape(cps.flat_values, [-1, 1]), "UTF-8")
        pieces = tf.where(index >= 0, tf.gather(self._map_values, tf.maximum(index, 0)), single)
        strings = tf.strings.reduce_join(cps.with_flat_values(pieces), axis=-1)
        cps = tf.strings.unicode_decode(strings, "UTF-8")
        flat = tf.cast(cps.flat_values, tf.int64)
        n = tf.shape(flat, out_type=tf.int64)[0]
        row_start = _row_starts(cps)
        # canonical ordering: a stable sort of each run of marks by class
        ccc = self._ccc.lookup(flat)
        segment = tf.cumsum(tf.cast((ccc == 0) | row_start, tf.int64)) - 1
        position = tf.range(n, dtype=tf.int64)
        order = tf.argsort(segment * (1 << 40) + ccc * (1 << 32) + position)
        flat = tf.gather(flat, order)
        ccc = tf.gather(ccc, order)
        if self._compose:
            flat, keep = self._canonical_composition(flat, ccc, row_start)
            rows = tf.gather(tf.cast(cps.value_rowids(), tf.int64), tf.where(keep)[:, 0])
            kept = tf.boolean_mask(flat, keep)
            cps = tf.RaggedTensor.from_value_rowids(
                kept, rows, nrows=tf.cast(cps.nrows(), tf.int64))
        else:
            cps = cps.with_flat_values(flat)
        return tf.strings.unicode_encode(tf.cast(cps, tf.int32), "UTF-8")

    def _canonical_composition(self, flat, ccc, row_start):
        """UAX #15 canonical composition over flat code points in canonical
        order: returns (code points, which to keep)."""
        n = tf.shape(flat, out_type=tf.int64)[0]
        joiner = self._joiners.lookup(flat) > 0
        # a group: a starter (or a row's first code point) and what follows
        # it up to the next starter that cannot compose backwards
        start = row_start | ((ccc == 0) & ~joiner)
        group = tf.cumsum(tf.cast(start, tf.int64)) - 1
        groups = tf.maximum(tf.reduce_max(tf.concat([group, [-1]], 0)) + 1, 0)
        first = tf.math.unsorted_segment_min(tf.range(n), group, groups)
        length = tf.math.bincount(group, minlength=groups, maxlength=groups, dtype=tf.int64)
        steps = tf.reduce_max(tf.concat([length, [1]], 0)) - 1
        keep = tf.ones([n], tf.bool)

        def body(k, flat, keep, starter_pos, last_ccc):
            live = length > k
            pos = tf.boolean_mask(first + k, live)
            g = tf.boolean_mask(tf.range(groups), live)
            sp = tf.gather(starter_pos, g)
            starter = tf.gather(flat, sp)
            c = tf.gather(flat, pos)
            cc = tf.gather(ccc, pos)
            last = tf.gather(last_ccc, g)
            blocked = (last >= 0) & ((last == 0) | (last >= cc))
            composite = self._pairs.lookup(starter * (1 << 21) + c)
            compose = ~blocked & (composite >= 0)
            flat = tf.tensor_scatter_nd_update(
                flat, tf.reshape(tf.boolean_mask(sp, compose), [-1, 1]),
                tf.boolean_mask(composite, compose))
            keep = tf.tensor_scatter_nd_update(
                keep, tf.reshape(tf.boolean_mask(pos, compose), [-1, 1]),
                tf.zeros_like(tf.boolean_mask(pos, compose), tf.bool))
            # not composed: a starter becomes the new starter, a mark the
            # last uncomposed class
            restart = ~compose & (cc == 0)
            new_sp = tf.where(restart, pos, sp)
            new_last = tf.where(compose, last, tf.where(restart, -tf.ones_like(cc), cc))
            idx = tf.reshape(g, [-1, 1])
            starter_pos = tf.tensor_scatter_nd_update(starter_pos, idx, new_sp)
            last_ccc = tf.tensor_scatter_nd_update(last_ccc, idx, new_last)
            return k + 1, flat, keep, starter_pos, last_ccc

        _, flat, keep, _, _ = tf.while_loop(
            lambda k, *_: k <= steps, body,
            [tf.constant(1, tf.int64), flat, keep, first, -tf.ones([groups], tf.int64)])
        return flat, keep

    def _split(self, strings):
        if self.kind == "characters":
            if self.whitespace != "keep":
                strings = tf.strings.strip(tf.strings.regex_replace(strings, r"\s+", " "))
            return tf.strings.unicode_split(strings, "UTF-8")
        if self.kind == "whitespace":
            return tf.strings.split(strings)
        return self._script_split(strings)

    def _script_split(self, strings):
        """tensorflow-text's UnicodeScriptTokenizer(keep_whitespace=False):
        runs of one Unicode script value (ICU's, `tf.strings.unicode_script`)
        over the whole text, whitespace included (Common, like digits and
        punctuation), then whitespace removed from each run and empty runs
        dropped: "a b" -> "a", "b" but "1 2" -> "12"."""
        cps = tf.strings.unicode_decode(strings, "UTF-8")
        script = tf.strings.unicode_script(cps.flat_values)
        previous = tf.concat([[-2], script[:-1]], 0)
        row_start = _row_starts(cps)
        new_run = row_start | (script != previous)
        run = tf.cumsum(tf.cast(new_run, tf.int64)) - 1
        chars = tf.strings.unicode_encode(tf.reshape(cps.flat_values, [-1, 1]), "UTF-8")
        runs = tf.strings.reduce_join(tf.RaggedTensor.from_value_rowids(chars, run), axis=-1)
        runs = tf.strings.regex_replace(runs, r"[ \t\n\x0B\f\r]", "")
        row_of_run = tf.boolean_mask(tf.cast(cps.value_rowids(), tf.int64), new_run)
        real = tf.strings.length(runs) > 0
        return tf.RaggedTensor.from_value_rowids(
            tf.boolean_mask(runs, real), tf.boolean_mask(row_of_run, real),
            nrows=tf.cast(cps.nrows(), tf.int64))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, strings):
        return self._split(self._normalize(strings))

    def tokenize(self, strings):
        """`__call__` on str, bytes, lists of them or a string tensor `[B]`."""
        return self(tf.reshape(_as_string_tensor(strings), [-1]))
