"""The typed v1 API, health, metrics, docs, and batching across concurrent HTTP requests."""

from __future__ import annotations

import asyncio
import hashlib
import json

from conftest import EXPECTED_WORD, metric

from altgen.captioning.contract import Captioner


async def test_describe_returns_names_hashes_sizes_and_timings(client, photos):
    files = [("images", ("chelsea.jpg", photos["cat"])), ("images", ("coffee.jpg", photos["coffee"]))]
    response = await client.post("/v1/describe", files=files)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "efficientnet-lite0-imagenet"
    first, second = body["results"]
    assert first["name"] == "chelsea.jpg" and "cat" in first["description"]
    assert second["name"] == "coffee.jpg" and "espresso" in second["description"]
    assert first["sha256"] == hashlib.sha256(photos["cat"]).hexdigest()
    assert first["original_size"] == [451, 300] and first["processed_size"] == [226, 150]
    assert first["timings"]["inference_s"] > 0 and first["timings"]["total_s"] >= first["timings"]["inference_s"]


async def test_describe_detail_long_says_more_and_bad_options_name_the_field(client, photos):
    files = [("images", ("chelsea.jpg", photos["cat"]))]
    short = (await client.post("/v1/describe", files=files)).json()["results"][0]["description"]
    response = await client.post("/v1/describe", files=files, data={"detail": "long", "lang": "ko"})
    assert response.status_code == 200, response.text
    long_korean = response.json()["results"][0]["description"]
    assert long_korean.startswith("사진에 있을 수 있는 것: 고양이.") and len(long_korean) > len("사진에 있을 수 있는 것: 고양이.")
    assert short == "Image may contain: a cat."
    response = await client.post("/v1/describe", files=files, data={"detail": "short"})
    assert response.status_code == 422 and "detail" in response.json()["error"] and "long" in response.json()["error"]


async def test_describe_without_files_is_422(client):
    response = await client.post("/v1/describe", data={"x": "1"})
    assert response.status_code == 422 and "'images'" in response.json()["error"]


async def test_recommend_ranks_korean_request_with_scores(client):
    candidates = [
        {"id": "cat.jpg", "description": "Image may contain: a cat."},
        {"id": "hedgehog.jpg", "description": "Image may contain: a porcupine or hedgehog."},
        {"id": "coffee.jpg", "description": "Image may contain: an espresso."},
    ]
    response = await client.post("/v1/recommend", json={"query": "고슴도치 사진을 찾아 줘.", "candidates": candidates, "top_k": 2})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["id"] for r in results][0] == "hedgehog.jpg" and len(results) == 2
    assert results[0]["score"] >= results[1]["score"]


async def test_recommend_bad_input_names_the_field(make_client):
    async with make_client(max_candidates=2) as client:
        too_many = [{"id": str(i), "description": "a cat"} for i in range(3)]
        response = await client.post("/v1/recommend", json={"query": "cat", "candidates": too_many})
        assert response.status_code == 413 and "'candidates'" in response.json()["error"]
        response = await client.post("/v1/recommend", json={"query": "cat", "candidates": []})
        assert response.status_code == 422 and "candidates" in response.json()["error"]
        response = await client.post("/v1/recommend", json={"query": "cat", "candidates": [{"id": "a"}], "top_k": 0})
        error = response.json()["error"]
        assert response.status_code == 422 and "description" in error and "top_k" in error
        response = await client.post("/v1/recommend", content=b"{not json", headers={"content-type": "application/json"})
        assert response.status_code == 422 and "error" in response.json()


async def test_concurrent_requests_share_batches(make_client, photos):
    async with make_client(max_batch_size=8, max_batch_wait_ms=50) as client:
        kinds = ["cat", "coffee", "camera"] * 4

        async def one(i, kind):
            response = await client.post(
                "/getAltText", data={"Id": str(i), "Hash": f"h{i}"}, files={"Image": ("p.jpg", photos[kind])}
            )
            assert response.status_code == 200
            [item] = response.json()
            assert item["Hash"] == f"h{i}" and item["Id"] == str(i)
            assert EXPECTED_WORD[kind] in item["Description"]

        await asyncio.gather(*(one(i, kind) for i, kind in enumerate(kinds)))
        batches = metric(client, "altgen_batch_size_count")
        images = metric(client, "altgen_batch_size_sum")
        single_batches = metric(client, "altgen_batch_size_bucket", le="1.0")
    assert images == 12
    assert batches < 12 and single_batches < batches  # at least one batch held several requests' photos


async def test_two_cpu_devices_serve_one_queue(make_client, photos):
    async with make_client(devices="cpu,cpu", max_batch_size=2, max_batch_wait_ms=0) as client:
        assert (await client.get("/ready")).json()["devices"] == ["cpu", "cpu"]
        data = {"Id": "i", "Hash": [f"h{i}" for i in range(8)]}
        files = {f"Image{i}": ("p.jpg", photos["cat"]) for i in range(8)}
        response = await client.post("/getAltTexts", data=data, files=files)
        assert response.status_code == 200
        assert len(client.app.state.service.captioning.consumers) == 2
        assert metric(client, "altgen_inference_seconds_count", device="cpu#0") >= 1
        assert metric(client, "altgen_inference_seconds_count", device="cpu#1") >= 1


async def test_health_ready_metrics_and_docs(client, photos):
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    await client.post("/getAltText", data={"Id": "i", "Hash": "h"}, files={"Image": ("a.jpg", photos["cat"])})
    text = (await client.get("/metrics")).text
    for name in ["altgen_queue_depth", "altgen_batch_size_bucket", "altgen_batch_wait_seconds", "altgen_inference_seconds",
                 "altgen_images_total", "altgen_device_in_flight"]:
        assert name in text
    schema = (await client.get("/openapi.json")).json()
    for path in ["/getAltText", "/getAltTexts", "/getBestPictures", "/config", "/getAltText_time", "/v1/describe", "/v1/recommend"]:
        assert path in schema["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_model_error_fails_only_the_request_that_caused_it(make_client, captioner, photos):
    class FailsOnTinyImages(Captioner):
        name, device = "flaky", "cpu"

        def caption(self, requests):
            if any(request.image.size[0] < 20 for request in requests):
                raise RuntimeError("cannot caption tiny images")
            return captioner.caption(requests)

    from conftest import encode, noise_image

    tiny = encode(noise_image(16, 16), "PNG")
    async with make_client(captioner_factory=lambda s, d: FailsOnTinyImages(), max_batch_wait_ms=50, halve_rate=1.0) as client:
        good = client.post("/getAltText", data={"Id": "a", "Hash": "good"}, files={"Image": ("g.jpg", photos["cat"])})
        bad = client.post("/getAltText", data={"Id": "b", "Hash": "bad"}, files={"Image": ("t.png", tiny)})
        good_response, bad_response = await asyncio.gather(good, bad)
        assert good_response.status_code == 200 and "cat" in good_response.json()[0]["Description"]
        assert bad_response.status_code == 500 and "error" in bad_response.json()
        assert (await client.get("/ready")).status_code == 200


async def test_no_good_match_is_flagged_not_silently_answered(client):
    pairs = [
        {"Hash": "cat.jpg", "Description": "The image shows a tabby cat sleeping on a sofa."},
        {"Hash": "coffee.jpg", "Description": "The image shows a cup of espresso on a wooden table."},
    ]
    response = await client.post(
        "/getBestPictures", data={"userText": "show me the submarine photo", "data": json.dumps(pairs)}
    )
    assert response.status_code == 200
    assert response.json() == "" and response.headers["x-altgen-match"] == "false"

    matched = await client.post("/getBestPictures", data={"userText": "고양이 사진", "data": json.dumps(pairs)})
    assert matched.json() == "cat.jpg" and matched.headers["x-altgen-match"] == "true"

    candidates = [{"id": p["Hash"], "description": p["Description"]} for p in pairs]
    body = (await client.post("/v1/recommend", json={"query": "submarine", "candidates": candidates})).json()
    assert body["match"] is False and all(r["match"] is False for r in body["results"])
    body = (await client.post("/v1/recommend", json={"query": "espresso", "candidates": candidates})).json()
    assert body["match"] is True and body["results"][0]["id"] == "coffee.jpg"
    assert body["results"][0]["relevance"] > body["results"][1]["relevance"]


async def test_resent_candidates_are_embedded_once(client):
    candidates = [{"id": str(i), "description": f"The image shows {i} red apples in a bowl."} for i in range(50)]
    ranker = client.app.state.service.ranker
    before = [cache.misses for cache in ranker.caches]
    for query in ["apples", "사과 사진", "a bowl of fruit"]:
        response = await client.post("/v1/recommend", json={"query": query, "candidates": candidates, "top_k": 1})
        assert response.status_code == 200
    added = [cache.misses - b for cache, b in zip(ranker.caches, before)]
    assert all(n <= 50 for n in added)  # each description embedded at most once per encoder


async def test_describe_in_korean_and_refuse_unknown_language(client, photos):
    response = await client.post("/v1/describe", files=[("images", ("c.jpg", photos["cat"]))], data={"lang": "ko"})
    assert response.status_code == 200
    assert response.json()["results"][0]["description"] == "사진에 있을 수 있는 것: 고양이."
    response = await client.post("/v1/describe", files=[("images", ("c.jpg", photos["cat"]))], data={"lang": "fr"})
    assert response.status_code == 422 and "'lang'" in response.json()["error"]
