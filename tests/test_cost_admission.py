"""Ranking requests are admitted by what their new descriptions cost at the measured encoding speed,
and large ones take turns behind small ones (third hardening pass)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import numpy as np
import requests
from asgi_lifespan import LifespanManager

from test_end_to_end import start_server

from altgen.api.app import create_app
from altgen.ranking.contract import Embedder
from altgen.ranking.ranker import Ranker
from altgen.settings import Settings


class SlowEncoder(Embedder):
    """10 ms a text; vectors from a hash, so ranking still works."""

    name, dimension, version = "slow", 8, "1"

    def __init__(self, per_text_s: float = 0.01):
        self.per_text_s = per_text_s

    def embed(self, texts, kind="passage"):
        time.sleep(self.per_text_s * len(texts))
        rows = [np.random.default_rng(abs(hash(t)) % 2**32).normal(size=8) for t in texts]
        return np.array(rows, dtype=np.float32) / np.linalg.norm(rows, axis=1, keepdims=True)


class LoggingRanker(Ranker):
    """Writes down, in order, each turn of embedding and each ranking that ran on the ranking thread."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def embed_passages(self, passages):
        encoded = super().embed_passages(passages)
        with self._lock:
            self.log.append(("turn", len(passages)))
        return encoded

    def rank(self, query, descriptions):
        ranked = super().rank(query, descriptions)
        with self._lock:
            self.log.append(("rank", len(descriptions)))
        return ranked


def candidates(prefix: str, count: int) -> list[dict]:
    return [{"id": f"{prefix}{i}", "description": f"{prefix} description number {i}"} for i in range(count)]


async def serve(ranker: Ranker, captioner, **settings):
    app = create_app(Settings(devices="cpu", **settings), lambda _s, _d: captioner, lambda _s: ranker)
    manager = LifespanManager(app)
    await manager.__aenter__()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://t", timeout=60)
    return manager, client


async def test_a_small_search_waits_for_at_most_one_turn_of_large_ones(captioner):
    ranker = LoggingRanker([SlowEncoder()], ["a photo", "a picture"])
    manager, client = await serve(ranker, captioner, request_timeout_s=60)
    try:
        await client.post("/v1/recommend", json={"query": "x", "candidates": candidates("warm", 40)})  # speed measured
        large = [
            asyncio.create_task(client.post("/v1/recommend", json={"query": "x", "candidates": candidates(f"big{n}", 300)}))
            for n in range(3)
        ]
        while sum(kind == "turn" for kind, _ in ranker.log) < 8:  # all three are taking turns
            await asyncio.sleep(0.01)
        waits = []
        for _ in range(5):
            before = len(ranker.log)
            small = await client.post("/v1/recommend", json={"query": "cat", "candidates": candidates("small", 2)})
            assert small.status_code == 200
            after = ranker.log[before:]
            waits.append(sum(kind == "turn" for kind, _ in after[: after.index(("rank", 2))]))
        answers = await asyncio.gather(*large)
    finally:
        await client.aclose()
        await manager.__aexit__(None, None, None)
    assert max(waits) <= 1, waits  # never behind more than the turn already running (FIFO: behind all three)
    assert [a.status_code for a in answers] == [200, 200, 200]


async def test_large_requests_that_fit_alone_but_not_together_are_told_to_retry(captioner):
    ranker = Ranker([SlowEncoder(0.02)], ["a photo", "a picture"])
    manager, client = await serve(ranker, captioner, request_timeout_s=4)
    try:
        await client.post("/v1/recommend", json={"query": "x", "candidates": candidates("warm", 40)})  # speed measured
        # Each needs about 2.4 s of encoding (fits 4 s alone); three need about 7 s together.
        sent = [client.post("/v1/recommend", json={"query": "x", "candidates": candidates(f"big{n}", 120)}) for n in range(3)]
        answers = await asyncio.gather(*sent)
    finally:
        await client.aclose()
        await manager.__aexit__(None, None, None)
    codes = sorted(a.status_code for a in answers)
    assert codes[0] == 200 and codes[-1] == 503, codes
    busy = next(a for a in answers if a.status_code == 503)
    assert "encoder" in busy.json()["error"] and int(busy.headers["retry-after"]) >= 1
    assert 504 not in codes  # refused at once, never run into the deadline


def test_ten_thousand_long_new_descriptions_get_a_clear_413_at_once_and_others_are_served(tmp_path):
    process, base = start_server(tmp_path / "server.log")
    text = "A long description of a street at night with shops, lights, people and cars. " * 52  # 4,000+ characters
    body = json.dumps({"query": "street", "candidates": [{"id": str(i), "description": f"{i} {text}"[:4000]}
                                                         for i in range(10_000)]})  # 40 MB
    small = {"query": "cat", "candidates": [{"id": "c", "description": "a cat"}, {"id": "d", "description": "a dog"}]}
    outcomes, small_times = [], []

    def large() -> None:
        started = time.monotonic()
        response = requests.post(f"{base}/v1/recommend", data=body, headers={"content-type": "application/json"}, timeout=60)
        outcomes.append((response.status_code, response.json()["error"], time.monotonic() - started))

    try:
        senders = [threading.Thread(target=large) for _ in range(3)]  # three at once, as in the report
        for sender in senders:
            sender.start()
        while any(sender.is_alive() for sender in senders):
            started = time.monotonic()
            assert requests.post(f"{base}/v1/recommend", json=small, timeout=30).status_code == 200
            small_times.append(time.monotonic() - started)
            time.sleep(0.1)
        for sender in senders:
            sender.join()
    finally:
        process.terminate()
        process.wait(timeout=30)
    for status, error, seconds in outcomes:
        assert status == 413 and "field 'candidates'" in error and "of them fit in one request" in error, error
        assert seconds < 10, seconds
    assert len(outcomes) == 3 and small_times
