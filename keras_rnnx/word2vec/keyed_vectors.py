"""KeyedVectors: trained word vectors, queries, evaluations and file formats.

Speaks gensim's vocabulary (`most_similar`, `similarity`,
`evaluate_word_analogies`, `evaluate_word_pairs`, `save_word2vec_format`,
`load_word2vec_format`) and follows gensim's evaluation protocol exactly
(3CosAdd over unit vectors restricted to the `restrict_vocab` most frequent
words, case-insensitive, questions with out-of-vocabulary words skipped), so
numbers agree with gensim's on the same vectors file.
"""
import io
import os

import numpy as np

from keras_rnnx._atomic import check_target
from keras_rnnx.text import atomic_write


def _unit(x):
    x = np.asarray(x, dtype=np.float64 if x.dtype == np.float64 else np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


def _unit_like_gensim(v):
    """`v` / its norm as gensim's `matutils.unitvec`: norm and scaling with
    float64 BLAS, the result in `v`'s dtype."""
    from scipy.linalg import get_blas_funcs

    nrm2, scal = get_blas_funcs(("nrm2", "scal"), (np.zeros(0, np.float64),))
    v64 = np.array(v, dtype=np.float64)
    n = nrm2(v64)
    return scal(1.0 / n, v64).astype(v.dtype) if n > 0 else np.asarray(v)


def _open_text_lines(path, what):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"{what} file {path!r} does not exist")
    with open(path, "rb") as f:
        for i, raw in enumerate(f, 1):
            try:
                yield i, raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError(f"{what} file {path!r} line {i} is not valid UTF-8") from None


class KeyedVectors:
    """Word vectors with gensim-compatible queries and evaluations.

    Args:
        index_to_key: words, most frequent first (ids are positions).
        vectors: float array [len(index_to_key), vector_size].
        counts: optional word counts (kept for saving / inspection).

    Example:

    >>> import numpy as np
    >>> kv = KeyedVectors(["a", "b", "c"], np.eye(3, dtype="float32"))
    >>> kv.similarity("a", "b")
    0.0
    >>> kv.most_similar("a", topn=1)[0][0] in ("b", "c")
    True
    """

    def __init__(self, index_to_key, vectors, counts=None):
        vectors = np.asarray(vectors, dtype=np.float32)
        index_to_key = [str(k) for k in index_to_key]
        if vectors.ndim != 2 or vectors.shape[0] != len(index_to_key):
            raise ValueError(
                f"vectors must have shape [{len(index_to_key)}, vector_size], got {vectors.shape}"
            )
        if len(set(index_to_key)) != len(index_to_key):
            raise ValueError("index_to_key must not contain duplicate words")
        self.index_to_key = index_to_key
        self.key_to_index = {k: i for i, k in enumerate(index_to_key)}
        self.vectors = vectors
        self.counts = None if counts is None else [int(c) for c in counts]
        self._norm = None

    # ----------------------------------------------------------- basics
    @property
    def vector_size(self):
        return self.vectors.shape[1]

    def __len__(self):
        return len(self.index_to_key)

    def __contains__(self, key):
        return key in self.key_to_index

    def __getitem__(self, key):
        return self.get_vector(key)

    def __repr__(self):
        return f"KeyedVectors(words={len(self)}, vector_size={self.vector_size})"

    @property
    def vectors_norm(self):
        if self._norm is None:
            self._norm = _unit(self.vectors)
        return self._norm

    def get_index(self, key):
        try:
            return self.key_to_index[key]
        except KeyError:
            raise KeyError(f"word {key!r} not in vocabulary") from None

    def get_vector(self, key, norm=False):
        i = self.get_index(key)
        return (self.vectors_norm if norm else self.vectors)[i]

    def similarity(self, w1, w2):
        """Cosine similarity of two words, rounded as gensim's: each vector
        scaled to unit length in float64, stored as float32, the dot product
        in float32 (so rankings of near-equal similarities agree)."""
        return float(np.dot(_unit_like_gensim(self.get_vector(w1)), _unit_like_gensim(self.get_vector(w2))))

    def most_similar(self, positive=None, negative=None, topn=10, restrict_vocab=None):
        """Words closest (cosine) to the mean of unit `positive` minus `negative`.

        Args:
            positive: a word or list of words (or vectors) adding to the query.
            negative: words subtracting from it.
            topn: results to return.
            restrict_vocab: only search the first (most frequent) words.

        Returns:
            list of `(word, cosine)`, the query words excluded.
        """
        positive = [positive] if isinstance(positive, (str, np.ndarray)) else list(positive or [])
        negative = [negative] if isinstance(negative, (str, np.ndarray)) else list(negative or [])
        if not positive and not negative:
            raise ValueError("most_similar needs at least one positive or negative word")
        if not isinstance(topn, int) or topn < 1:
            raise ValueError(f"topn must be an int >= 1, got {topn!r}")
        mean = np.zeros(self.vector_size, np.float32)
        exclude = set()
        for sign, words in ((1.0, positive), (-1.0, negative)):
            for w in words:
                if isinstance(w, np.ndarray):
                    mean += sign * w
                else:
                    mean += sign * self.get_vector(w, norm=True)
                    exclude.add(self.get_index(w))
        mean = mean / (len(positive) + len(negative))
        mean = _unit(mean)
        end = restrict_vocab or len(self)
        dists = self.vectors_norm[:end] @ mean
        k = min(topn + len(exclude), len(dists))
        best = np.argpartition(-dists, k - 1)[:k] if k < len(dists) else np.arange(len(dists))
        best = best[np.argsort(-dists[best], kind="stable")]
        return [(self.index_to_key[i], float(dists[i])) for i in best if i not in exclude][:topn]

    # ----------------------------------------------------------- evaluation
    def _ok_vocab(self, restrict_vocab, case_insensitive):
        keys = self.index_to_key[:restrict_vocab]
        if case_insensitive:
            return {k.upper(): self.key_to_index[k] for k in reversed(keys)}
        return {k: self.key_to_index[k] for k in reversed(keys)}

    def evaluate_word_analogies(self, analogies, restrict_vocab=300000, case_insensitive=True,
                                dummy4unknown=False):
        """Accuracy on the questions-words analogy format (3CosAdd), as gensim.

        Returns:
            `(score, sections)`: overall accuracy, and a list of dicts
            `{"section", "correct", "incorrect"}` (lists of quadruples), the
            last one "Total accuracy". Also sets `self.analogy_oov_ratio`.
        """
        ok_vocab = self._ok_vocab(restrict_vocab, case_insensitive)
        norm = self.vectors_norm[:restrict_vocab]
        sections, section = [], None
        questions = 0
        oov = 0
        pending = []  # (section, a, b, c, expected, ia, ib, ic)

        def flush():
            if not pending:
                return
            ia = np.array([p[5] for p in pending])
            ib = np.array([p[6] for p in pending])
            ic = np.array([p[7] for p in pending])
            q = _unit(norm[ib] + norm[ic] - norm[ia])  # mean of the 3 then unit: same direction
            dists = q @ norm.T
            for row, p in enumerate(pending):
                sec, a, b, c, expected = p[:5]
                d = dists[row]
                k = min(5 + 3, len(d))
                best = np.argpartition(-d, k - 1)[:k] if k < len(d) else np.arange(len(d))
                best = best[np.argsort(-d[best], kind="stable")]
                exclude = {p[5], p[6], p[7]}
                sims = [i for i in best if i not in exclude][:5]
                predicted = None
                for i in sims:
                    word = self.index_to_key[i]
                    predicted = word.upper() if case_insensitive else word
                    if predicted in ok_vocab and predicted not in {a, b, c}:
                        break
                (sec["correct"] if predicted == expected else sec["incorrect"]).append((a, b, c, expected))
            pending.clear()

        for line_no, line in _open_text_lines(analogies, "analogies"):
            if line.startswith(": "):
                flush()
                if section:
                    sections.append(section)
                section = {"section": line.lstrip(": ").strip(), "correct": [], "incorrect": []}
                continue
            if not line.strip():
                continue
            if section is None:
                raise ValueError(
                    f"analogies file {os.fspath(analogies)!r} line {line_no}: expected a ': section' "
                    "header before the first question (questions-words format)"
                )
            words = line.split()
            if len(words) != 4:
                continue  # gensim skips invalid lines too
            a, b, c, expected = [w.upper() for w in words] if case_insensitive else words
            questions += 1
            if a not in ok_vocab or b not in ok_vocab or c not in ok_vocab or expected not in ok_vocab:
                oov += 1
                if dummy4unknown:
                    section["incorrect"].append((a, b, c, expected))
                continue
            pending.append((section, a, b, c, expected, ok_vocab[a], ok_vocab[b], ok_vocab[c]))
            if len(pending) >= 2048:
                flush()
        flush()
        if section:
            sections.append(section)
        if questions == 0:
            raise ValueError(f"analogies file {os.fspath(analogies)!r} has no questions in the questions-words format")
        total = {
            "section": "Total accuracy",
            "correct": [q for s in sections for q in s["correct"]],
            "incorrect": [q for s in sections for q in s["incorrect"]],
        }
        n = len(total["correct"]) + len(total["incorrect"])
        score = len(total["correct"]) / n if n else 0.0
        sections.append(total)
        self.analogy_oov_ratio = oov / questions * 100
        return score, sections

    def evaluate_word_pairs(self, pairs, delimiter="\t", restrict_vocab=300000, case_insensitive=True,
                            dummy4unknown=False):
        """Pearson and Spearman correlation with human similarity judgements.

        Returns:
            `((pearson, p), (spearman, p), oov_ratio_percent)`, as gensim.
        """
        from scipy import stats

        ok_vocab = self._ok_vocab(restrict_vocab, case_insensitive)
        gold, model = [], []
        oov = 0
        for _, line in _open_text_lines(pairs, "pairs"):
            if not line or line.startswith("#"):
                continue
            try:
                parts = line.split(delimiter)
                if case_insensitive:
                    parts = [w.upper() for w in parts]
                a, b, sim = parts
                sim = float(sim)
            except (ValueError, TypeError):
                continue
            if a not in ok_vocab or b not in ok_vocab:
                oov += 1
                if dummy4unknown:
                    model.append(0.0)
                    gold.append(sim)
                continue
            gold.append(sim)
            model.append(float(np.dot(_unit_like_gensim(self.vectors[ok_vocab[a]]),
                                      _unit_like_gensim(self.vectors[ok_vocab[b]]))))
        if len(gold) < 3:
            raise ValueError(
                f"pairs file {os.fspath(pairs)!r}: fewer than 3 in-vocabulary pairs "
                f"({len(gold)} found, {oov} out of vocabulary); expected 'word1{delimiter}word2{delimiter}score' lines"
            )
        pearson = stats.pearsonr(gold, model)
        spearman = stats.spearmanr(gold, model)
        oov_ratio = oov / len(gold) * 100 if dummy4unknown else oov / (len(gold) + oov) * 100
        return (
            (float(pearson[0]), float(pearson[1])),
            (float(spearman[0]), float(spearman[1])),
            oov_ratio,
        )

    # ----------------------------------------------------------- formats
    def save_word2vec_format(self, path, binary=False, overwrite=False):
        """Writes the word2vec C format (text or binary), atomically. An
        existing `path` is refused (`ExportError`) unless `overwrite=True`."""
        check_target(path, overwrite)
        n, d = self.vectors.shape
        for k in self.index_to_key:
            if not k or any(ch.isspace() for ch in k):
                raise ValueError(f"word {k!r} cannot be saved in word2vec format (empty or contains whitespace)")
        if binary:
            buf = io.BytesIO()
            buf.write(f"{n} {d}\n".encode("utf-8"))
            vecs = self.vectors.astype("<f4")
            for k, v in zip(self.index_to_key, vecs):
                buf.write(k.encode("utf-8") + b" " + v.tobytes() + b"\n")
            atomic_write(path, buf.getvalue(), mode="wb")
        else:
            lines = [f"{n} {d}"]
            for k, v in zip(self.index_to_key, self.vectors):
                lines.append(k + " " + " ".join(f"{x:.9g}" for x in v.tolist()))
            atomic_write(path, "\n".join(lines) + "\n")

    @classmethod
    def load_word2vec_format(cls, path, binary=None):
        """Reads a word2vec C format file (`binary=None` guesses the format).

        Raises `ValueError` naming the problem for files in another format.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise ValueError(f"vectors file {path!r} does not exist")
        with open(path, "rb") as f:
            data = f.read()
        nl = data.find(b"\n")
        header = data[: nl if nl >= 0 else len(data)].split()
        try:
            n, d = int(header[0]), int(header[1])
            if len(header) != 2 or n < 0 or d < 1:
                raise ValueError
        except (ValueError, IndexError):
            raise ValueError(
                f"{path!r} is not in word2vec format: the first line must be '<word count> <vector size>', "
                f"got {data[:60]!r}"
            ) from None
        body = data[nl + 1:]
        if binary is None:
            try:
                text = body.decode("utf-8")
                first = text.split("\n", 1)[0].split(" ")
                binary = len(first) != d + 1 or not all(_is_float(x) for x in first[1:])
            except UnicodeDecodeError:
                binary = True
        words, vecs = [], np.zeros((n, d), np.float32)
        if binary:
            pos = 0
            for i in range(n):
                sp = body.find(b" ", pos)
                if sp < 0 or sp + 4 * d > len(body):
                    raise ValueError(f"{path!r}: binary word2vec file truncated at word {i + 1} of {n}")
                word = body[pos:sp].lstrip(b"\n")
                try:
                    words.append(word.decode("utf-8"))
                except UnicodeDecodeError:
                    raise ValueError(f"{path!r}: word {i + 1} is not valid UTF-8") from None
                vecs[i] = np.frombuffer(body, "<f4", d, sp + 1)
                pos = sp + 1 + 4 * d
        else:
            lines = [ln for ln in body.decode("utf-8").split("\n") if ln.strip()]
            if len(lines) != n:
                raise ValueError(f"{path!r}: header says {n} words, found {len(lines)} lines")
            for i, ln in enumerate(lines):
                parts = ln.rstrip().split(" ")
                if len(parts) != d + 1:
                    raise ValueError(
                        f"{path!r} line {i + 2}: expected a word and {d} numbers, got {len(parts) - 1} fields"
                    )
                words.append(parts[0])
                try:
                    vecs[i] = [float(x) for x in parts[1:]]
                except ValueError:
                    raise ValueError(f"{path!r} line {i + 2}: vector values are not numbers") from None
        return cls(words, vecs)

    def save_projector_tsv(self, vectors_path, metadata_path, limit=None, overwrite=False):
        """Writes the TSV pair TensorBoard's embedding projector loads. An
        existing file is refused (`ExportError`) unless `overwrite=True`."""
        check_target(vectors_path, overwrite, argument="vectors_path")
        check_target(metadata_path, overwrite, argument="metadata_path")
        n = len(self) if limit is None else min(limit, len(self))
        atomic_write(vectors_path, "".join(
            "\t".join(f"{x:.6g}" for x in v.tolist()) + "\n" for v in self.vectors[:n]
        ))
        atomic_write(metadata_path, "".join(k + "\n" for k in self.index_to_key[:n]))

    def plot_pca(self, words, path, title=None, overwrite=False):
        """Saves a 2-D PCA projection of `words` (those in vocabulary) as PNG.
        An existing `path` is refused (`ExportError`) unless `overwrite=True`."""
        words = [w for w in words if w in self]
        if len(words) < 2:
            raise ValueError("plot_pca needs at least 2 words that are in the vocabulary")
        check_target(path, overwrite)
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure

        x = np.stack([self.get_vector(w).astype(np.float64) for w in words])
        x = x - x.mean(0)
        _, _, vt = np.linalg.svd(x, full_matrices=False)
        xy = x @ vt[:2].T
        if xy.shape[1] < 2:
            xy = np.pad(xy, [(0, 0), (0, 2 - xy.shape[1])])
        fig = Figure(figsize=(7, 6))
        ax = fig.add_subplot()
        ax.scatter(xy[:, 0], xy[:, 1], s=12)
        for (px, py), w in zip(xy, words):
            ax.annotate(w, (px, py), fontsize=9, xytext=(3, 3), textcoords="offset points")
        ax.set_title(title or f"PCA of {len(words)} word vectors")
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        atomic_write(path, buf.getvalue(), mode="wb")
        return xy


def _is_float(s):
    try:
        float(s)
        return True
    except ValueError:
        return False
