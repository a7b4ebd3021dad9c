"""The five legacy routes through HTTP: exact shapes, key order, pairing, and clear 4xx answers."""

from __future__ import annotations

import json

import pytest

from conftest import EXPECTED_WORD, encode, metric, noise_image

CYCLE = ["cat", "coffee", "camera"]


def multi_form(photos, kinds, id_="SaGol"):
    """The body the clients' requests code sends: repeated Hash, files Image1..ImageN."""
    data = {"Id": id_, "Hash": [f"{kind}-{i}" for i, kind in enumerate(kinds, start=1)]}
    files = {f"Image{i}": (f"{kind}-{i}.jpg", photos[kind]) for i, kind in enumerate(kinds, start=1)}
    return data, files


async def test_get_alt_text_shape_and_key_order(client, photos):
    response = await client.post(
        "/getAltText", data={"Id": "Sagol", "Hash": "21123dasdasd12e"}, files={"Image": ("apple.jpg", photos["cat"])}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = json.loads(response.content)
    assert isinstance(body, list) and len(body) == 1
    assert list(body[0]) == ["Hash", "Description", "Id"]
    assert body[0]["Hash"] == "21123dasdasd12e" and body[0]["Id"] == "Sagol"
    assert "cat" in body[0]["Description"]


@pytest.mark.parametrize("count", [1, 5, 12])
async def test_get_alt_texts_pairs_hash_with_file_in_order(client, photos, count):
    kinds = [CYCLE[i % 3] for i in range(count)]
    data, files = multi_form(photos, kinds)
    response = await client.post("/getAltTexts", data=data, files=files)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["Hash"] for item in body] == data["Hash"]
    for item, kind in zip(body, kinds):
        assert list(item) == ["Hash", "Description", "Id"]
        assert item["Id"] == "SaGol"
        assert EXPECTED_WORD[kind] in item["Description"], (kind, item)


async def test_get_alt_text_time_adds_sizes_and_duration(client):
    image = noise_image(300, 200)
    response = await client.post(
        "/getAltText_time", data={"Id": "i", "Hash": "h"}, files={"Image": ("n.png", encode(image, "PNG"))}
    )
    assert response.status_code == 200
    [item] = response.json()
    assert list(item) == ["Hash", "Description", "Id", "original_size", "resized", "duration"]
    assert item["original_size"] == [300, 200] and item["resized"] == [150, 100]
    assert isinstance(item["duration"], float) and item["duration"] > 0


async def test_get_best_pictures_returns_best_hash_as_json_string(client):
    pairs = [
        {"Hash": "cat.jpg", "Description": "Image may contain: a cat.", "Id": "x"},
        {"Hash": "hedgehog.jpg", "Description": "Image may contain: a porcupine or hedgehog."},
        {"Hash": "coffee.jpg", "Description": "Image may contain: an espresso.", "Id": "x"},
    ]
    response = await client.post("/getBestPictures", data={"userText": " 고슴도치 사진을 찾아 줘.", "data": json.dumps(pairs)})
    assert response.status_code == 200
    assert response.content.decode("UTF-8")[1:-1] == "hedgehog.jpg"
    assert response.json() == "hedgehog.jpg"
    response = await client.post("/getBestPictures", data={"userText": "고양이 사진", "data": json.dumps(pairs)})
    assert response.json() == "cat.jpg"


async def test_config_validates_both_values_before_changing_anything(client):
    assert (await client.get("/config")).json() == {"halve_rate": 0.5, "min_size": 10}
    response = await client.post("/config", data={"halve": "0.1", "min_size": "100"})
    assert response.status_code == 200 and list(response.json()) == ["halve_rate", "min_size"]
    assert response.json() == {"halve_rate": 0.1, "min_size": 100}

    for bad, field in [
        ({"halve": "0.3", "min_size": "-5"}, "min_size"),
        ({"halve": "nan", "min_size": "20"}, "halve"),
        ({"halve": "inf", "min_size": "20"}, "halve"),
        ({"halve": "0", "min_size": "20"}, "halve"),
        ({"halve": "2.5", "min_size": "20"}, "halve"),
        ({"halve": "abc", "min_size": "20"}, "halve"),
        ({"halve": "0.3", "min_size": "1e9"}, "min_size"),
        ({"halve": "0.3", "min_size": "99999"}, "min_size"),
    ]:
        response = await client.post("/config", data=bad)
        assert response.status_code == 422, bad
        assert f"'{field}'" in response.json()["error"], response.json()
    assert (await client.get("/config")).json() == {"halve_rate": 0.1, "min_size": 100}


async def test_config_applies_to_later_requests(client):
    await client.post("/config", data={"halve": "0.25", "min_size": "10"})
    response = await client.post(
        "/getAltText_time", data={"Id": "i", "Hash": "h"}, files={"Image": ("n.png", encode(noise_image(400, 200), "PNG"))}
    )
    assert response.json()[0]["resized"] == [100, 50]


@pytest.mark.parametrize(
    ("data", "files", "field"),
    [
        ({"Hash": "h"}, {"Image": ("a.jpg", b"x")}, "Id"),
        ({"Id": "i"}, {"Image": ("a.jpg", b"x")}, "Hash"),
        ({"Id": "i", "Hash": "h"}, None, "Image"),
    ],
)
async def test_get_alt_text_missing_field_names_it(client, data, files, field):
    response = await client.post("/getAltText", data=data, files=files)
    assert response.status_code == 422
    assert f"'{field}'" in response.json()["error"]


async def test_get_alt_text_refuses_non_image_with_415_naming_the_file(client):
    response = await client.post("/getAltText", data={"Id": "i", "Hash": "h"}, files={"Image": ("notes.txt", b"hello")})
    assert response.status_code == 415
    body = response.json()
    assert "notes.txt" in body["error"] and "not a recognised image" in body["error"]


async def test_get_alt_text_refuses_empty_and_truncated(client, photos):
    empty = await client.post("/getAltText", data={"Id": "i", "Hash": "h"}, files={"Image": ("e.jpg", b"")})
    assert empty.status_code == 422 and "empty" in empty.json()["error"]
    cut = await client.post(
        "/getAltText", data={"Id": "i", "Hash": "h"}, files={"Image": ("cut.jpg", photos["cat"][:3000])}
    )
    assert cut.status_code == 422 and "cut.jpg" in cut.json()["error"]


async def test_get_alt_texts_count_mismatch_names_both_counts(client, photos):
    data, files = multi_form(photos, ["cat", "coffee"])
    data["Hash"] = data["Hash"][:1]
    response = await client.post("/getAltTexts", data=data, files=files)
    assert response.status_code == 422
    assert "1 'Hash'" in response.json()["error"] and "2 image file" in response.json()["error"]


async def test_get_alt_texts_missing_id_and_no_files(client, photos):
    data, files = multi_form(photos, ["cat"])
    del data["Id"]
    response = await client.post("/getAltTexts", data=data, files=files)
    assert response.status_code == 422 and "'Id'" in response.json()["error"]
    response = await client.post("/getAltTexts", data={"Id": "i"})
    assert response.status_code == 422 and "no image file" in response.json()["error"]


async def test_get_alt_texts_one_bad_file_is_named_and_nothing_is_queued(client, photos):
    data, files = multi_form(photos, ["cat", "coffee", "camera"])
    files["Image2"] = ("broken.jpg", b"GIF89a-not-really")
    response = await client.post("/getAltTexts", data=data, files=files)
    assert response.status_code == 415
    assert "Image2 (broken.jpg)" in response.json()["error"] and "coffee-2" in response.json()["error"]
    assert metric(client, "altgen_images_total", outcome="ok") == 0


async def test_too_many_files_is_413_with_the_limit(make_client, photos):
    async with make_client(max_files_per_request=3) as client:
        data, files = multi_form(photos, ["cat"] * 4)
        response = await client.post("/getAltTexts", data=data, files=files)
    assert response.status_code == 413
    assert "3" in response.json()["error"]


async def test_file_over_byte_limit_is_413(make_client, photos):
    async with make_client(max_file_bytes=1000) as client:
        response = await client.post("/getAltText", data={"Id": "i", "Hash": "h"}, files={"Image": ("big.jpg", photos["cat"])})
    assert response.status_code == 413
    assert "big.jpg" in response.json()["error"] and "1000 bytes" in response.json()["error"]


async def test_request_over_body_limit_is_413_before_parsing(make_client, photos):
    async with make_client(max_request_bytes=5000) as client:
        response = await client.post("/getAltText", data={"Id": "i", "Hash": "h"}, files={"Image": ("a.jpg", photos["cat"])})
    assert response.status_code == 413 and "5000 bytes" in response.json()["error"]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"userText": "cat", "data": "not json"}, "not valid JSON"),
        ({"userText": "cat", "data": "[]"}, "empty"),
        ({"userText": "cat", "data": '{"Hash": "a"}'}, "must be a JSON list"),
        ({"userText": "cat", "data": '[1, 2]'}, "item 0 must be an object"),
        ({"userText": "cat", "data": '[{"Hash": "a"}]'}, "item 0 needs a text 'Description'"),
        ({"userText": "   ", "data": '[{"Hash": "a", "Description": "b"}]'}, "'userText'"),
        ({"data": '[{"Hash": "a", "Description": "b"}]'}, "'userText'"),
        ({"userText": "cat"}, "'data'"),
    ],
)
async def test_get_best_pictures_bad_input_is_422_with_reason(client, data, words):
    response = await client.post("/getBestPictures", data=data)
    assert response.status_code == 422
    assert words in response.json()["error"]


async def test_queue_full_is_503_with_retry_after(make_client, photos):
    async with make_client(queue_capacity=2) as client:
        data, files = multi_form(photos, ["cat"] * 3)
        response = await client.post("/getAltTexts", data=data, files=files)
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1
        assert "busy" in response.json()["error"]
        assert metric(client, "altgen_requests_rejected_total", reason="queue_full") == 1
        ok = await client.post("/getAltText", data={"Id": "i", "Hash": "h"}, files={"Image": ("a.jpg", photos["cat"])})
        assert ok.status_code == 200
