"""Ranking through a real OpenAI-compatible embedding server (ALTGEN_EMBEDDER=openai:<base url>#<model>): Infinity
on loopback, serving a tiny random BERT from a folder with an API key. Descriptions go in batches, with e5's
"passage: " prefix, are cached under the engine's address and model name, and are not sent twice."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import requests

from altgen.ranking.embedding_store import EmbeddingStore
from altgen.engines.remote_embedder import BATCH
from altgen.composition import background_descriptions
from altgen.ranking.words import description_core
from engines import save_tiny_bert, start_infinity, stop
from test_end_to_end import free_port, start_server

KEY = "inf-key-5b1d"
NAME = "tiny-e5"  # the name says e5, so texts get e5's prefixes
CANDIDATES = [{"id": str(i), "description": f"The image shows a red car and {i} blue cups."} for i in range(40)]


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return save_tiny_bert(tmp_path_factory.mktemp("bert") / "tiny-bert")


@pytest.fixture
def infinity(bert, tmp_path):
    log = tmp_path / "infinity.log"
    process, base = start_infinity(bert, NAME, log, KEY)
    try:
        yield base, log, process
    finally:
        stop(process)


def embedding_requests(log) -> int:
    return log.read_text().count("POST /v1/embeddings")


def recommend(base: str) -> requests.Response:
    return requests.post(f"{base}/v1/recommend", json={"query": "red car", "candidates": CANDIDATES, "top_k": 3}, timeout=60)


def test_descriptions_are_embedded_by_the_engine_in_batches_with_prefixes_and_cached(infinity, tmp_path):
    engine, engine_log, _process = infinity
    cache = tmp_path / "cache.sqlite3"
    log = tmp_path / "server.log"
    process, base = start_server(log, "--embedder", f"openai:{engine}#{NAME}", "--engine-api-key", KEY,
                                 "--cache-path", str(cache))
    try:
        before = embedding_requests(engine_log)
        first = recommend(base)
        after_first = embedding_requests(engine_log)
        second = recommend(base)
        after_second = embedding_requests(engine_log)
    finally:
        stop(process)
    assert first.status_code == 200 and second.status_code == 200, first.text
    assert first.json() == second.json()
    # At start-up: one text for the vector length, the calibration bank BATCH at a time, then the few texts
    # that time the encoder (for admission by cost).
    assert before == 1 + math.ceil(len(background_descriptions()) / BATCH) + 1
    # New descriptions go a turn at a time (other requests run between turns), one engine request each, turns
    # sized by the measured speed (never one text each; a fast engine takes them all in the request's own turn).
    turns = after_first - before - 1
    assert 0 <= turns <= 10, turns
    assert after_second - after_first == 0  # the same descriptions and the same request: both from the caches

    # The stored vector is the engine's for "passage: <description>", kept under the engine's address and model.
    core = description_core(CANDIDATES[0]["description"])
    direct = requests.post(f"{engine}/embeddings", json={"model": NAME, "input": [f"passage: {core}"]},
                           headers={"Authorization": f"Bearer {KEY}"}, timeout=30).json()["data"][0]["embedding"]
    stored = EmbeddingStore(cache).get(f"openai:{engine}#{NAME}@engine", [core], len(direct))
    np.testing.assert_allclose(stored[core], np.asarray(direct) / np.linalg.norm(direct), rtol=1e-4, atol=1e-5)
    assert KEY not in log.read_text()


def test_an_embedding_engine_that_goes_down_gives_503_and_one_that_is_wrong_stops_the_start(infinity, tmp_path):
    engine, _engine_log, engine_process = infinity
    wrong_key = subprocess.run([sys.executable, "-m", "altgen", "serve", "--port", str(free_port()), "--embedder",
                                f"openai:{engine}#{NAME}", "--engine-api-key", "not-the-key"],
                               capture_output=True, text=True, timeout=120)
    assert wrong_key.returncode == 3, wrong_key.stderr
    assert f"cannot start: embedder openai:{engine}#{NAME}: {engine}/embeddings answered 401" in wrong_key.stderr
    assert "Traceback" not in wrong_key.stderr and "not-the-key" not in wrong_key.stderr

    process, base = start_server(tmp_path / "server.log", "--embedder", f"openai:{engine}#{NAME}",
                                 "--engine-api-key", KEY)
    try:
        stop(engine_process)
        response = recommend(base)
    finally:
        stop(process)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5", response.text
    assert "not reachable" in response.json()["error"]
