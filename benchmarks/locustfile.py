"""Locust load test for altgen: describe one photo, describe several, recommend, read /config.

    pip install locust
    altgen serve --host 127.0.0.1 &
    locust -f benchmarks/locustfile.py --host http://127.0.0.1:8890 --headless -u 32 -r 8 -t 60s

Set ALTGEN_API_KEY in the environment when the server requires a key. A 503 (busy) counts as
expected back-pressure, not as a failure; anything else that is not 200 is a failure.
"""

from __future__ import annotations

import json
import os
import random

from locust import HttpUser, between, task

from common import sample_jpegs

PHOTOS = sample_jpegs()
PAIRS = json.dumps(
    [
        {"Hash": "cat.jpg", "Description": "Image may contain: a cat.", "Id": "load"},
        {"Hash": "hedgehog.jpg", "Description": "Image may contain: a porcupine or hedgehog.", "Id": "load"},
        {"Hash": "coffee.jpg", "Description": "Image may contain: an espresso.", "Id": "load"},
    ]
)
QUERIES = ["고슴도치 사진을 찾아 줘.", "고양이 사진", "coffee please", "find the kitty"]


class AltgenUser(HttpUser):
    wait_time = between(0.1, 0.5)

    def on_start(self) -> None:
        key = os.environ.get("ALTGEN_API_KEY")
        if key:
            self.client.headers["Authorization"] = f"Bearer {key}"

    def _check(self, response) -> None:
        if response.status_code in (200, 503):
            response.success()
        else:
            response.failure(f"{response.status_code}: {response.text[:200]}")

    @task(6)
    def describe_one(self) -> None:
        with self.client.post(
            "/getAltText",
            data={"Id": "load", "Hash": "photo.jpg"},
            files={"Image": ("photo.jpg", random.choice(PHOTOS))},
            catch_response=True,
        ) as response:
            self._check(response)

    @task(2)
    def describe_many(self) -> None:
        count = random.randint(2, 6)
        files = {f"Image{i}": (f"p{i}.jpg", random.choice(PHOTOS)) for i in range(1, count + 1)}
        data = {"Id": "load", "Hash": [f"p{i}" for i in range(1, count + 1)]}
        with self.client.post("/getAltTexts", data=data, files=files, catch_response=True) as response:
            self._check(response)

    @task(2)
    def recommend(self) -> None:
        with self.client.post(
            "/getBestPictures", data={"userText": random.choice(QUERIES), "data": PAIRS}, catch_response=True
        ) as response:
            self._check(response)

    @task(1)
    def read_config(self) -> None:
        with self.client.get("/config", catch_response=True) as response:
            self._check(response)
