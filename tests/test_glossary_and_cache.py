"""The Korean glossary matcher, the embedding cache, and how the ranker combines encoders."""

from __future__ import annotations

import numpy as np

from altgen.ranking.glossary import Glossary, within_one_edit, jamo
from altgen.ranking.byte_lru import ENTRY_OVERHEAD
from altgen.ranking.embedding_cache import CachedPassages, vector_entry_bytes
from altgen.composition import background_descriptions
from altgen.ranking.ranker import Ranker
from altgen.ranking.contract import Embedder

SMALL = Glossary({"고슴도치": "hedgehog", "피자": "pizza", "말": "horse", "생일": "birthday", "케이크": "cake", "부엌": "kitchen", "눈": "snow", "눈 덮인 산": "snow-covered mountain"})


def test_particles_are_stripped_and_compounds_split():
    assert SMALL.english_terms("고슴도치를 찾아 줘") == ["hedgehog"]
    assert SMALL.english_terms("피자사진좀") == ["pizza"]
    assert SMALL.english_terms("생일케이크 나온 거") == ["birthday", "cake"]


def test_phrases_match_before_single_words_and_keep_request_order():
    assert SMALL.english_terms("피자 먹고 눈 덮인 산 올라간") == ["pizza", "snow-covered mountain"]
    assert SMALL.english_terms("눈 오는 날") == ["snow"]


def test_one_typo_in_the_letters_still_matches():
    assert SMALL.english_terms("고슴도지 사진") == ["hedgehog"]  # 치 -> 지
    assert SMALL.english_terms("부억") == ["kitchen"]  # ㅋ -> ㄱ
    assert SMALL.english_terms("고양이") == []  # not a near miss of anything


def test_single_syllable_entries_match_only_whole_words():
    assert SMALL.english_terms("말 사진") == ["horse"]
    assert SMALL.english_terms("말을 찾아") == ["horse"]
    assert SMALL.english_terms("정말 좋은") == []  # 말 inside 정말 is not a horse


def test_edit_distance_on_jamo():
    assert within_one_edit(jamo("고슴도치"), jamo("고슴도지"))
    assert not within_one_edit(jamo("고슴도치"), jamo("고양이"))
    assert within_one_edit("abc", "abxc") and not within_one_edit("abc", "axyc")


def test_packaged_glossary_loads_and_knows_everyday_words():
    glossary = Glossary.packaged()
    assert len(glossary.entries) > 1000
    assert glossary.english_terms(" 고슴도치 사진을 찾아 줘.") == ["hedgehog"]


class CountingEmbedder(Embedder):
    name = "counting"

    def __init__(self):
        self.seen: list[str] = []

    def embed(self, texts, kind="passage"):
        self.seen.extend(texts)
        vectors = np.array([[len(t), t.count("a") + 1.0] for t in texts], dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_cache_embeds_each_description_once_and_keeps_order():
    embedder = CountingEmbedder()
    cache = CachedPassages(embedder, max_bytes=10_000)
    first = cache.embed(["a cat", "a dog", "a cat"])
    second = cache.embed(["a dog", "a cat"])
    assert embedder.seen == ["a cat", "a dog"]
    np.testing.assert_allclose(first[0], second[1])
    np.testing.assert_allclose(first[1], second[0])
    assert (cache.hits, cache.misses) == (3, 2)


def test_a_request_asked_again_is_not_encoded_again():
    embedder = CountingEmbedder()
    ranker = Ranker([embedder], background_descriptions())
    first = ranker.rank("a cat on a sofa", ["a cat", "a dog"])
    encoded = len(embedder.seen)
    second = ranker.rank("a cat on a sofa", ["a cat", "a dog"])
    assert len(embedder.seen) == encoded  # neither the request nor the descriptions were encoded again
    assert first == second
    ranker.rank("a dog in the snow", ["a cat", "a dog"])
    assert embedder.seen[encoded:] == ["a dog in the snow"]


def test_cache_evicts_least_recently_used():
    embedder = CountingEmbedder()
    entry = vector_entry_bytes("three", np.zeros(2, np.float32)) + ENTRY_OVERHEAD
    cache = CachedPassages(embedder, max_bytes=2 * entry)  # room for two of these texts' vectors
    cache.embed(["one"])
    cache.embed(["two"])
    cache.embed(["one"])  # "two" is now the oldest
    cache.embed(["three"])
    assert len(cache) == 2
    cache.embed(["one"])
    cache.embed(["two"])
    assert embedder.seen == ["one", "two", "three", "two"]


def test_ranker_with_glossary_adds_an_english_phrasing(ranker):
    assert ranker.phrasings("고슴도치 사진을 찾아 줘.") == ["고슴도치", "hedgehog"]
    assert ranker.phrasings("show me the cat") == ["the cat"]
    plain = Ranker(ranker.embedders, background_descriptions())
    assert plain.phrasings("고슴도치 사진을 찾아 줘.") == ["고슴도치"]


async def test_the_in_memory_caches_stay_within_their_bytes_however_long_the_texts(make_client, captioner):
    """memory_cache_mb bounds what the ranking caches hold in bytes: 4,000-character descriptions do not
    make 100,000 entries into gigabytes (third hardening pass)."""
    from asgi_lifespan import LifespanManager
    import httpx

    from altgen.api.app import create_app
    from altgen.settings import Settings

    embedder = CountingEmbedder()
    settings = Settings(devices="cpu", memory_cache_mb=1)
    ranker = Ranker([embedder], background_descriptions(), cache_bytes=settings.memory_cache_mb * 2**20)
    app = create_app(settings, lambda _s, _d: captioner, lambda _s: ranker)
    long_text = "a photo of a street at night with shops, lights and people " * 66  # ~4,000 characters
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as client:
            for batch in range(10):
                candidates = [{"id": str(i), "description": f"{batch}-{i} {long_text}"[:4000]} for i in range(100)]
                response = await client.post("/v1/recommend", json={"query": "street", "candidates": candidates})
                assert response.status_code == 200
    held = sum(c.nbytes for c in (ranker.caches[0], ranker._description_core.cache, ranker._encoder_text.cache, ranker._description_words.cache,
                                  ranker._request_vectors.cache))
    assert held <= 2**20, held  # 1,000 texts of 4,000 characters (~8 MB as keys alone) did not all stay
    assert len(embedder.seen) >= 1000  # every text was embedded once: the bound evicts, it does not refuse
