"""The embedding cache file: survives restarts, is shared by processes, never returns another encoder's
vectors, and a corrupt, unreadable or full file only turns it off."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from altgen.ranking.contract import Embedder, l2_normalise
from altgen.ranking.embedding_cache import CachedPassages
from altgen.ranking.embedding_store import EmbeddingStore


class Encoder(Embedder):
    """Deterministic vectors from the text; counts what it had to embed."""

    def __init__(self, name: str = "enc", version: str = "1", dimension: int = 4):
        self.name, self.version, self.dimension, self.embedded = name, version, dimension, 0

    def embed(self, texts, kind="passage"):
        self.embedded += len(texts)
        rows = [np.random.default_rng(sum(map(ord, t)) + len(t)).normal(size=self.dimension) for t in texts]
        return l2_normalise(np.asarray(rows, dtype=np.float32))  # unit vectors, as the contract says


def test_a_new_process_finds_what_an_earlier_one_embedded(tmp_path):
    path = tmp_path / "cache.sqlite3"
    first = Encoder()
    vectors = CachedPassages(first, 100, EmbeddingStore(path)).embed(["a cat", "a dog"])
    again = Encoder()  # a restart: empty memory, same file
    assert np.array_equal(CachedPassages(again, 100, EmbeddingStore(path)).embed(["a cat", "a dog"]), vectors)
    assert first.embedded == 2 and again.embedded == 0


def test_another_encoder_or_version_never_gets_those_vectors(tmp_path):
    path = tmp_path / "cache.sqlite3"
    CachedPassages(Encoder(version="1"), 100, EmbeddingStore(path)).embed(["a cat"])
    for other in (Encoder(version="2"), Encoder(name="other"), Encoder(dimension=8)):
        CachedPassages(other, 100, EmbeddingStore(path)).embed(["a cat"])
        assert other.embedded == 1, other.__dict__


def test_the_file_is_bounded_least_recently_used_first(tmp_path):
    store = EmbeddingStore(tmp_path / "cache.sqlite3", max_entries=100)
    cache = CachedPassages(Encoder(), 10, store)
    cache.embed(["keep"])
    for i in range(30):
        cache.embed([f"text {i}-{j}" for j in range(10)])
        cache.embed(["keep"])  # used again and again (the memory LRU is small, so the file sees it)
    assert len(store) <= 110 and store.get(cache.identity, ["keep"], 4)


def test_a_corrupt_or_unreadable_file_turns_the_store_off(tmp_path, caplog):
    corrupt = tmp_path / "corrupt.sqlite3"
    corrupt.write_bytes(b"this is not a database" * 100)
    directory = tmp_path / "a-folder"
    directory.mkdir()
    for path in (corrupt, directory):
        store = EmbeddingStore(path)
        encoder = Encoder()
        assert not store.available
        assert CachedPassages(encoder, 100, store).embed(["a cat"]).shape == (1, 4) and encoder.embedded == 1
    assert sum("carrying on without it" in r.message for r in caplog.records) == 2


def test_a_full_disk_is_reported_as_such_and_the_cache_comes_back_when_there_is_room(tmp_path, caplog, monkeypatch):
    from altgen.ranking import embedding_store

    monkeypatch.setattr(embedding_store, "WRITE_RETRY_S", 0.0)  # try again at every write
    store = EmbeddingStore(tmp_path / "cache.sqlite3")
    store._db.execute("PRAGMA max_page_count = 8")  # as good as a full disk
    encoder = Encoder(dimension=512)
    cache = CachedPassages(encoder, 100, store)  # (a memory cache too small to hold anything: the file answers)
    for i in range(20):
        assert cache.embed([f"text {i}-{j}" for j in range(50)]).shape == (50, 512)
    assert store.available and encoder.embedded == 1000  # ranking went on, and the file is still read
    full = [r for r in caplog.records if "the disk is full" in r.message]
    assert len(full) == 1 and "carrying on without it" not in caplog.text  # said once, as what it is
    stored = len(store)
    store._db.execute("PRAGMA max_page_count = 100000")  # room again
    cache.embed(["after the disk was freed"])
    assert len(store) == stored + 1 and "writing again" in caplog.text
    again = Encoder(dimension=512)
    CachedPassages(again, 100, store).embed(["after the disk was freed"])
    assert again.embedded == 0  # found in the file


def test_several_processes_write_and_read_one_file_at_once(tmp_path):
    path = tmp_path / "cache.sqlite3"
    worker = (
        "import sys, numpy as np\n"
        "from altgen.ranking.embedding_store import EmbeddingStore\n"
        "store = EmbeddingStore(sys.argv[1]); n = int(sys.argv[2])\n"
        "for i in range(200):\n"
        "    store.put('enc@1', {f'p{n}-{i}': np.full(4, n, dtype=np.float32)})\n"
        "    assert store.get('enc@1', [f'p{n}-{i}'], 4), i\n"
        "assert store.available\n"
    )
    processes = [subprocess.Popen([sys.executable, "-c", worker, str(path), str(n)]) for n in range(4)]
    assert [p.wait(timeout=120) for p in processes] == [0, 0, 0, 0]
    store = EmbeddingStore(path)
    assert len(store) == 800
    assert float(store.get("enc@1", ["p3-199"], 4)["p3-199"][0]) == 3.0


async def test_descriptions_the_service_writes_are_embedded_soon_after_and_survive_a_restart(make_client, photos, tmp_path):
    import asyncio

    from altgen.composition import load_ranker
    from altgen.settings import Settings

    path = tmp_path / "cache.sqlite3"
    async with make_client() as client:
        service = client.app.state.service
        service.ranker = load_ranker(Settings(cache_path=str(path)))  # this test's own cache file
        response = await client.post("/getAltText", data={"Id": "i", "Hash": "c"}, files={"Image": ("c.jpg", photos["cat"])})
        description = response.json()[0]["Description"]
        for _ in range(50):  # embedded in the background, soon after the answer
            if not service.ranker.uncached([description]):
                break
            await asyncio.sleep(0.1)
        assert service.ranker.uncached([description]) == []
    restarted = load_ranker(Settings(cache_path=str(path)))  # a new process would build it the same way
    misses = restarted.caches[0].misses
    restarted.rank("고양이", [description])
    assert restarted.caches[0].misses == misses  # found in the file, not embedded again


async def test_random_bytes_inside_the_file_never_become_a_wrong_answer(make_client, tmp_path, caplog):
    """Bytes written over stored vectors (the file's header and structure intact) are caught by the
    row checksum: those rows are dropped and embedded again, and 200 searches over them all rank exactly
    as without a file."""
    from altgen.ranking.ranker import Ranker

    path = tmp_path / "cache.sqlite3"
    encoder = Encoder(dimension=64)
    texts = [f"photo {i}: a {'red blue green'.split()[i % 3]} thing number {i}" for i in range(2000)]
    store = EmbeddingStore(path)
    CachedPassages(encoder, 2**20, store).embed(texts)
    store.close()
    raw = bytearray(path.read_bytes())
    rng = np.random.default_rng(7)
    damaged = []
    for index in rng.choice(len(texts), size=9, replace=False):
        blob = encoder.embed([texts[index]]).tobytes()
        at = raw.find(blob)
        assert at > 100  # past the header
        garbage = [np.float32(1e38).tobytes(), np.float32(np.nan).tobytes(), rng.bytes(4)][len(damaged) % 3]
        raw[at + 8 : at + 12] = garbage  # one value of the vector, as a stray write would
        damaged.append(int(index))
    path.write_bytes(bytes(raw))

    background = [f"a generic photo {i}" for i in range(20)]
    reference = Ranker([Encoder(dimension=64)], background)  # no file: the right answers
    reopened = Ranker([Encoder(dimension=64)], background, store=EmbeddingStore(path))  # a restart on the damaged file
    wrong = 0
    async with make_client() as client:
        client.app.state.service.ranker = reopened  # the service, restarted on the damaged file
        for search in range(200):
            picked = [texts[i] for i in rng.choice(len(texts), size=30, replace=False)]
            picked[search % 30] = texts[damaged[search % len(damaged)]]  # every search holds a damaged row
            query = f"thing number {search}"
            body = {"query": query, "top_k": 30, "candidates": [{"id": str(i), "description": t} for i, t in enumerate(picked)]}
            response = await client.post("/v1/recommend", json=body)
            assert response.status_code == 200, response.text
            got = [(int(r["id"]), r["match"]) for r in response.json()["results"]]
            expected = [(r.index, reference.is_match(r)) for r in reference.rank(query, picked)]
            wrong += got != expected
        assert (await client.get("/health")).status_code == 200
    assert wrong == 0
    assert reopened.caches[0].store.available  # the file is still in use
    assert sum("failed their checksum" in r.message for r in caplog.records) == 1  # said once
