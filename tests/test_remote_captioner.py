"""altgen in front of a real `transformers serve` (ALTGEN_MODEL=openai:<base url>#<model>) on loopback, serving a
tiny random LLaVA from a folder: both APIs answer with the engine's text for altgen's own prompt, cleaned up;
an engine that is down or busy gives 503 with Retry-After and /ready false, one that is slow gives 504 at the deadline."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from PIL import Image
from skimage import data as skdata

from altgen.model.vlm.alt_text import clean_alt_text
from altgen.model.vlm.prompts import PROMPTS
from altgen.engines.remote_captioner import data_url
from engines import start_transformers_serve, stop, wait_until
from test_end_to_end import free_port, start_server

# Token budgets small enough for a quick test, different enough to tell alt from long.
FLAGS = ["--max-new-tokens", "8", "--long-max-new-tokens", "16", "--halve-rate", "1"]


def png(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


PHOTOS = {"chelsea.png": png(skdata.chelsea()), "coffee.png": png(skdata.coffee())}


@pytest.fixture(scope="module")
def llava(tmp_path_factory) -> Path:
    from transformers import AutoConfig, GenerationConfig

    from random_vlms import save_random_llava

    folder = save_random_llava(tmp_path_factory.mktemp("engine") / "tiny-llava")
    # It never ends an answer of its own accord, nor at its context's end (rotary positions: no table to outgrow),
    # so every answer is as long as its budget, however fast the machine.
    generation = GenerationConfig.from_pretrained(folder)
    generation.suppress_tokens = [generation.eos_token_id]
    generation.save_pretrained(folder)
    config = AutoConfig.from_pretrained(folder)
    config.text_config.max_position_embeddings = 4096
    config.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def engine(llava, tmp_path_factory):
    process, base = start_transformers_serve(llava, tmp_path_factory.mktemp("engine-log") / "engine.log")
    try:
        yield base
    finally:
        stop(process)


def engine_says(base: str, model: Path, photo: bytes, language: str, detail: str, max_tokens: int) -> str:
    """What the engine answers when asked directly, with altgen's prompt for the photo as altgen sends it
    (with halve_rate 1 altgen sends the photo as it is, as JPEG)."""
    content = [{"type": "image_url", "image_url": {"url": data_url(Image.open(io.BytesIO(photo)).convert("RGB"))}},
               {"type": "text", "text": PROMPTS[language, detail]}]
    body = {"model": str(model), "messages": [{"role": "user", "content": content}], "temperature": 0,
            "max_tokens": max_tokens}
    response = requests.post(f"{base}/chat/completions", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


@pytest.fixture(scope="module")
def altgen(engine, llava, tmp_path_factory):
    process, base = start_server(tmp_path_factory.mktemp("altgen") / "server.log", "--model",
                                 f"openai:{engine}#{llava}", *FLAGS)
    try:
        yield base
    finally:
        stop(process)


def test_both_apis_answer_with_the_engines_text_for_altgens_prompt_cleaned_up(altgen, engine, llava):
    raw = {name: engine_says(engine, llava, photo, "en", "alt", 8) for name, photo in PHOTOS.items()}
    expected = {name: clean_alt_text(text, 150, language="en") for name, text in raw.items()}
    assert expected["chelsea.png"] != raw["chelsea.png"]  # the cleanup has something to do on this answer

    [one] = requests.post(f"{altgen}/getAltText", data={"Id": "SaGol", "Hash": "h1"},
                          files={"Image": ("chelsea.png", PHOTOS["chelsea.png"])}, timeout=60).json()
    assert one == {"Hash": "h1", "Description": expected["chelsea.png"], "Id": "SaGol"}

    files = {f"Image{i}": (name, photo) for i, (name, photo) in enumerate(PHOTOS.items(), start=1)}
    many = requests.post(f"{altgen}/getAltTexts", data={"Id": "SaGol", "Hash": ["a", "b"]}, files=files, timeout=60)
    assert [d["Description"] for d in many.json()] == [expected["chelsea.png"], expected["coffee.png"]]

    again = requests.post(f"{altgen}/v1/describe", files=[("images", (n, p)) for n, p in PHOTOS.items()] * 2, timeout=60)
    body = again.json()
    assert again.status_code == 200 and body["model"] == str(llava)
    assert [r["description"] for r in body["results"]] == [*expected.values()] * 2  # same photo, same text


def test_korean_and_long_descriptions_ask_the_engine_with_their_own_prompt_and_budget(altgen, engine, llava):
    photo = PHOTOS["chelsea.png"]
    for language, detail, tokens in (("ko", "alt", 8), ("ko", "long", 16), ("en", "long", 16)):
        raw = engine_says(engine, llava, photo, language, detail, tokens)
        response = requests.post(f"{altgen}/v1/describe", data={"lang": language, "detail": detail},
                                 files={"images": ("chelsea.png", photo)}, timeout=60)
        assert response.status_code == 200, response.text
        limit = 150 if detail == "alt" else 800
        expected = clean_alt_text(raw, limit, keep_paragraphs=detail == "long", language=language)
        assert response.json()["results"][0]["description"] == expected, (language, detail)
    english = engine_says(engine, llava, photo, "en", "alt", 8)
    assert engine_says(engine, llava, photo, "ko", "alt", 8) != english  # the prompt reaches the model


def test_a_slow_engine_gets_a_504_at_altgens_deadline_and_stays_ready(engine, llava, tmp_path):
    # 2,048 tokens (the most allowed) take the tiny model ~1.3 s on a quiet 2-core CPU, longer on a busy one (it
    # never ends an answer itself); the deadline is 0.5 s.
    process, base = start_server(tmp_path / "server.log", "--model", f"openai:{engine}#{llava}", *FLAGS,
                                 "--long-max-new-tokens", "2048", "--request-timeout-s", "0.5")
    try:
        started = time.monotonic()
        response = requests.post(f"{base}/v1/describe", data={"detail": "long"},
                                 files={"images": ("chelsea.png", PHOTOS["chelsea.png"])}, timeout=60)
        elapsed = time.monotonic() - started
        assert response.status_code == 504, response.text
        assert "0.5 s deadline" in response.json()["error"]
        assert 0.4 <= elapsed < 1.5, elapsed  # at the deadline, not when the engine is done
        assert requests.get(f"{base}/ready", timeout=5).status_code == 200  # slow is not down
    finally:
        stop(process)


def test_an_engine_that_is_down_makes_ready_false_and_answers_503_until_it_is_back(llava, tmp_path):
    port, altgen_port = free_port(), free_port()
    engine = f"http://127.0.0.1:{port}/v1"
    log = tmp_path / "server.log"
    with open(log, "wb") as out:  # start_server would wait for /ready, which says no while the engine is down
        altgen = subprocess.Popen([sys.executable, "-m", "altgen", "serve", "--host", "127.0.0.1", "--port",
                                   str(altgen_port), "--model", f"openai:{engine}#{llava}", *FLAGS],
                                  stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{altgen_port}"
    photo = {"images": ("chelsea.png", PHOTOS["chelsea.png"])}
    engine_process = None
    try:
        wait_until(f"{base}/health", altgen, log)

        def refused_while_down() -> None:
            deadline = time.monotonic() + 10
            while requests.get(f"{base}/ready", timeout=5).status_code != 503:
                assert time.monotonic() < deadline, "/ready still says yes"
                time.sleep(0.2)
            assert requests.get(f"{base}/ready", timeout=5).json()["ready"] is False
            started = time.monotonic()
            response = requests.post(f"{base}/v1/describe", files=photo, timeout=30)
            assert response.status_code == 503 and response.headers["Retry-After"] == "5", response.text
            assert "not reachable" in response.json()["error"] and time.monotonic() - started < 2  # no hang

        refused_while_down()  # an engine that never came up
        engine_process, _ = start_transformers_serve(llava, tmp_path / "engine.log", port=port)
        wait_until(f"{base}/ready", altgen, log, timeout_s=10)
        assert requests.post(f"{base}/v1/describe", files=photo, timeout=60).status_code == 200
        stop(engine_process)
        refused_while_down()  # an engine that went away
        metrics = requests.get(f"{base}/metrics", timeout=5).text
        assert 'altgen_requests_rejected_total{reason="model_busy"} 2.0' in metrics
    finally:
        if engine_process is not None and engine_process.poll() is None:
            stop(engine_process)
        stop(altgen)
    assert "is not reachable: /ready says no" in log.read_text() and "reachable again" in log.read_text()


class OverloadedEngine(BaseHTTPRequestHandler):
    """An engine at capacity, as vLLM or a gateway in front of it says so: 429 with Retry-After to every request.
    (No real engine can be made to say it on demand.) It keeps the Authorization headers it was sent."""

    authorizations: list[str] = []

    def do_GET(self) -> None:
        self._answer(200, {"object": "list", "data": [{"id": "m", "object": "model"}]})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self._answer(429, {"error": "too many requests"}, {"Retry-After": "7"})

    def _answer(self, status: int, body: dict, headers: dict | None = None) -> None:
        OverloadedEngine.authorizations.append(self.headers.get("Authorization", ""))
        payload = json.dumps(body).encode()
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", "Content-Length": str(len(payload)), **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args) -> None:
        pass


def test_an_overloaded_engine_gives_503_with_its_retry_after_and_the_key_is_sent_but_never_logged(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), OverloadedEngine)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = "sk-engine-secret-7f3a"
    log = tmp_path / "server.log"
    try:
        process, base = start_server(log, "--model", f"openai:http://127.0.0.1:{server.server_port}/v1#m",
                                     "--engine-api-key", secret, "--log-level", "debug")
        try:
            response = requests.post(f"{base}/getAltText", data={"Id": "i", "Hash": "h"},
                                     files={"Image": ("c.png", PHOTOS["chelsea.png"])}, timeout=30)
        finally:
            stop(process)
    finally:
        server.shutdown()
    assert response.status_code == 503 and response.headers["Retry-After"] == "7", response.text
    assert "busy (429)" in response.json()["error"]
    assert set(OverloadedEngine.authorizations) == {f"Bearer {secret}"}
    assert secret not in log.read_text()


def test_a_malformed_engine_address_is_refused_naming_the_setting_and_the_rule():
    for value, why in (("openai:http://127.0.0.1:8000/v1", "no model name after '#'"),
                       ("openai:127.0.0.1:8000/v1#m", "must be http:// or https://"),
                       ("openai:http://user:sk-secret@host/v1#m", "must not carry credentials")):
        result = subprocess.run([sys.executable, "-m", "altgen", "describe", "x.jpg", "--model", value],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, result.stderr
        assert "setting 'model' (ALTGEN_MODEL)" in result.stderr and why in result.stderr, result.stderr
        assert "the rule is openai:<base url>#<model>" in result.stderr
        assert "sk-secret" not in result.stderr
