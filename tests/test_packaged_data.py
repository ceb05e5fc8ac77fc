"""One locator for packaged data: the classification loaders and the language
model's Lee corpus find gensim's test data through `datasets.packaged`."""
import os

import pytest

from keras_rnnx.datasets import corpora, packaged


def test_gensim_test_file_locates_and_rejects():
    path = packaged.gensim_test_file("lee_background.cor")
    assert os.path.isfile(path)
    assert os.path.dirname(path) == os.path.dirname(packaged.gensim_test_file("pang_lee_polarity.cor"))
    with pytest.raises(ValueError, match="does not ship"):
        packaged.gensim_test_file("no_such_file.cor")
    with pytest.raises(ValueError, match="pip install"):
        packaged.package_dir("no_such_package_keras_rnnx")


def test_lee_corpus_lives_in_datasets_and_language_model_reexports_it():
    from keras_rnnx.models import language_model

    assert language_model.load_corpus is corpora.load_corpus
    assert language_model.lee_corpus_path is corpora.lee_corpus_path
    assert corpora.lee_corpus_path() == packaged.gensim_test_file("lee_background.cor")
    docs = corpora.load_corpus(max_documents=5)
    assert len(docs) == 5 and all(d == d.strip() and d for d in docs)
