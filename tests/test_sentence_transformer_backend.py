"""The sentence-transformers backend, loaded offline from a tiny random BERT saved to a folder the
same way a downloaded hub model is laid out."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")

from sentence_transformers import SentenceTransformer  # noqa: E402

try:  # where the building blocks live since sentence-transformers 6
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
except ImportError:
    from sentence_transformers.models import Pooling, Transformer
from transformers import BertConfig, BertModel, BertTokenizerFast  # noqa: E402

from altgen.model.encoders.sentence_transformer_embedder import SentenceTransformerEmbedder  # noqa: E402

WORDS = "a an the cat dog photo of red blue car query passage : hedgehog espresso cup".split()


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    bert_dir = tmp_path_factory.mktemp("tiny-bert")
    (bert_dir / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tokenizer = BertTokenizerFast.from_pretrained(str(bert_dir))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    BertModel(config).save_pretrained(str(bert_dir))
    tokenizer.save_pretrained(str(bert_dir))
    encoder = Transformer(str(bert_dir))
    dimension = getattr(encoder, "get_embedding_dimension", None) or encoder.get_word_embedding_dimension
    model = SentenceTransformer(modules=[encoder, Pooling(dimension(), "mean")])
    saved = tmp_path_factory.mktemp("tiny-e5-sentence-model")
    model.save(str(saved))
    return saved


def test_loads_a_local_folder_and_returns_unit_vectors(tiny_model_dir):
    embedder = SentenceTransformerEmbedder(str(tiny_model_dir))
    vectors = embedder.embed(["a red car", "the cat", "espresso cup"], "passage")
    assert vectors.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    again = embedder.embed(["a red car"], "passage")
    np.testing.assert_allclose(again[0], vectors[0], rtol=1e-4, atol=1e-5)  # deterministic


def test_e5_models_get_query_and_passage_prefixes(tiny_model_dir):
    embedder = SentenceTransformerEmbedder(str(tiny_model_dir))  # the folder name says e5
    reference = SentenceTransformer(str(tiny_model_dir))

    def unit(text: str) -> np.ndarray:
        vector = reference.encode([text])[0]
        return vector / np.linalg.norm(vector)

    np.testing.assert_allclose(embedder.embed(["red car"], "query")[0], unit("query: red car"), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(embedder.embed(["red car"], "passage")[0], unit("passage: red car"), rtol=1e-4, atol=1e-5)
    assert not np.allclose(unit("query: red car"), unit("passage: red car"))
