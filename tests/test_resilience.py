"""Overload, deadlines, disconnects, crashes, auth, limits and request ids, through the real app."""

from __future__ import annotations

import asyncio
import logging
import threading

import httpx
import pytest

from conftest import encode, metric, noise_image

from altgen.captioning.contract import Captioner


def small_png(width: int, height: int = 20) -> bytes:
    return encode(noise_image(width, height), "PNG")


class GatedCaptioner(Captioner):
    """Blocks inside the model until released; records the widths of the photos it was given."""

    name, device = "gated", "cpu"

    def __init__(self):
        self.release = threading.Event()
        self.entered = threading.Event()
        self.widths: list[int] = []

    def caption(self, requests):
        self.widths.extend(request.image.size[0] for request in requests)
        self.entered.set()
        self.release.wait(timeout=30)
        return [f"a photo {request.image.size[0]} wide." for request in requests]


async def post_photo(client, width, hash_="h"):
    return await client.post("/getAltText", data={"Id": "i", "Hash": hash_}, files={"Image": ("p.png", small_png(width))})


async def wait_until(predicate, timeout=10.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_deadline_gives_504_and_frees_the_queue(make_client):
    gated = GatedCaptioner()
    async with make_client(captioner_factory=lambda s, d: gated, request_timeout_s=0.3, halve_rate=1.0) as client:
        first = asyncio.create_task(post_photo(client, 30))
        await asyncio.to_thread(gated.entered.wait, 5)
        second = await post_photo(client, 40)  # queued behind the blocked batch past its deadline
        assert second.status_code == 504 and "deadline" in second.json()["error"]
        gated.release.set()
        assert (await first).status_code == 504  # its own deadline passed while the model held it
        assert client.app.state.service.admission.waiting() == 0
        ok = await post_photo(client, 50)
        assert ok.status_code == 200 and "50 wide" in ok.json()[0]["Description"]
    assert 40 not in gated.widths  # the expired photo never reached the model


async def test_client_disconnect_cancels_its_queued_photo(make_client):
    gated = GatedCaptioner()
    async with make_client(captioner_factory=lambda s, d: gated, halve_rate=1.0) as client:
        app = client.app
        blocker = asyncio.create_task(post_photo(client, 30))
        await asyncio.to_thread(gated.entered.wait, 5)

        request = httpx.Request(
            "POST", "http://altgen.test/getAltText", data={"Id": "i", "Hash": "h"}, files={"Image": ("p.png", small_png(40))}
        )
        body = request.read()
        leave = asyncio.Event()
        sent: list[dict] = []

        async def receive():
            if not hasattr(receive, "done"):
                receive.done = True
                return {"type": "http.request", "body": body, "more_body": False}
            await leave.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": "/getAltText", "raw_path": b"/getAltText", "query_string": b"", "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in request.headers.items()],
            "client": ("127.0.0.1", 1), "server": ("altgen.test", 80),
        }
        leaving = asyncio.create_task(app(scope, receive, send))
        service = app.state.service
        await wait_until(lambda: service.admission.waiting() == 1)
        leave.set()
        await asyncio.wait_for(leaving, 5)
        assert metric(client, "altgen_requests_rejected_total", reason="client_disconnected") == 1
        gated.release.set()
        assert (await blocker).status_code == 200
        assert (await post_photo(client, 50)).status_code == 200
    assert 40 not in gated.widths and gated.widths == [30, 50]
    assert not any(m["type"] == "http.response.start" for m in sent)


class Crash(BaseException):
    """Something that escapes the model call's ordinary error handling and takes the consumer down."""


async def test_consumer_killed_mid_batch_is_restarted_and_ready_follows(make_client, captioner):
    class CrashOnce(Captioner):
        name, device = "crash-once", "cpu"
        crashed = False

        def caption(self, requests):
            if not CrashOnce.crashed:
                CrashOnce.crashed = True
                raise Crash("simulated fatal error in the model worker")
            return captioner.caption(requests)

    async with make_client(captioner_factory=lambda s, d: CrashOnce(), restart_backoff_s=0.5) as client:
        response = await post_photo(client, 30)
        assert response.status_code == 500 and "stopped" in response.json()["error"]  # answered, not hung
        assert (await client.get("/ready")).status_code == 503  # during the restart pause
        await wait_until(lambda: client.app.state.service.ready)
        assert (await client.get("/ready")).status_code == 200
        assert (await post_photo(client, 64)).status_code == 200
        assert metric(client, "altgen_consumer_restarts_total", device="cpu") == 1


async def test_overload_on_a_tiny_queue_answers_everyone(make_client):
    gated = GatedCaptioner()
    async with make_client(captioner_factory=lambda s, d: gated, queue_capacity=3, max_batch_size=2, halve_rate=1.0) as client:
        first = asyncio.create_task(post_photo(client, 21))
        await asyncio.to_thread(gated.entered.wait, 5)
        tasks = [asyncio.create_task(post_photo(client, 22 + i, f"h{i}")) for i in range(20)]
        await wait_until(lambda: sum(t.done() for t in tasks) >= 17)
        gated.release.set()
        responses = [await first] + await asyncio.gather(*tasks)
        codes = [r.status_code for r in responses]
        assert set(codes) <= {200, 503}
        assert codes.count(200) == 4 and codes.count(503) == 17  # 1 in the model + 3 queued
        for r in responses:
            if r.status_code == 503:
                assert r.headers["retry-after"] and "busy" in r.json()["error"]
        assert metric(client, "altgen_requests_rejected_total", reason="queue_full") == 17


async def test_api_keys_guard_everything_but_health(make_client, photos, caplog):
    caplog.set_level(logging.DEBUG)
    async with make_client(api_keys="key-one,key-two", admin_key="admin-secret") as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/ready")).status_code == 200
        refused = await client.post("/getAltText", data={"Id": "i", "Hash": "h"}, files={"Image": ("a.jpg", photos["cat"])})
        assert refused.status_code == 401 and "API key" in refused.json()["error"]
        assert refused.headers["www-authenticate"] == "Bearer"
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/config", headers={"Authorization": "Bearer wrong"})).status_code == 401

        ok = await client.post(
            "/getAltText",
            data={"Id": "i", "Hash": "h"},
            files={"Image": ("a.jpg", photos["cat"])},
            headers={"Authorization": "Bearer key-two"},
        )
        assert ok.status_code == 200
        assert (await client.get("/config", headers={"X-API-Key": "key-one"})).status_code == 200

        change = {"halve": "0.4", "min_size": "12"}
        forbidden = await client.post("/config", data=change, headers={"X-API-Key": "key-one"})
        assert forbidden.status_code == 403 and "admin key" in forbidden.json()["error"]
        allowed = await client.post("/config", data=change, headers={"Authorization": "Bearer admin-secret"})
        assert allowed.status_code == 200 and allowed.json()["halve_rate"] == 0.4
    logged = caplog.text + repr(client.app.state.service.settings)
    for secret in ["key-one", "key-two", "admin-secret"]:
        assert secret not in logged


async def test_chunked_body_over_the_limit_is_413(make_client):
    async with make_client(max_request_bytes=10_000) as client:

        async def chunks():
            yield b"--x\r\nContent-Disposition: form-data; name=\"Id\"\r\n\r\n"
            for _ in range(50):
                yield b"a" * 1000

        response = await client.post(
            "/getAltText", content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"}
        )
    assert response.status_code == 413 and "10000 bytes" in response.json()["error"]


async def test_request_id_is_returned_and_taken_from_the_client(client):
    response = await client.get("/health", headers={"X-Request-ID": "trace-42"})
    assert response.headers["x-request-id"] == "trace-42"
    generated = (await client.get("/health", headers={"X-Request-ID": "bad id with spaces\n"})).headers["x-request-id"]
    assert generated != "bad id with spaces" and len(generated) == 32


@pytest.mark.parametrize(
    ("name", "payload", "status"),
    [
        ("cmyk.jpg", encode(noise_image(40, 30).convert("CMYK"), "JPEG"), 200),
        (
            "animated.gif",
            encode(noise_image(30, 30), "GIF", save_all=True, append_images=[noise_image(30, 30, seed=1)]),
            200,
        ),
        ("zero.jpg", b"", 422),
        ("header-only.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR", 422),
    ],
)
async def test_awkward_files_over_http(client, name, payload, status):
    response = await client.post("/getAltText", data={"Id": "i", "Hash": "h"}, files={"Image": (name, payload)})
    assert response.status_code == status, response.text
    if status != 200:
        assert name in response.json()["error"]


async def test_non_utf8_multipart_text_is_echoed_as_latin1_not_lost(client, photos):
    boundary = "b0undary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"Id\"\r\n\r\n".encode()
        + b"caf\xe9"  # Latin-1, not UTF-8
        + f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"Hash\"\r\n\r\nh\r\n".encode()
        + f"--{boundary}\r\nContent-Disposition: form-data; name=\"Image\"; filename=\"a.jpg\"\r\n"
        "Content-Type: image/jpeg\r\n\r\n".encode()
        + photos["cat"]
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = await client.post(
        "/getAltText", content=body, headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert response.status_code == 200
    assert response.json()[0]["Id"] == "café"


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("/getBestPictures", "userText=%FF%FE&data=%5B%5D", "userText"),
        ("/getBestPictures", "userText=cat&data=%5B%7B%22Hash%22%3A%22a%22%7D%5D%00", "data"),
    ],
)
async def test_undecodable_or_control_text_is_422_naming_the_field(client, route, body, field):
    response = await client.post(route, content=body.encode(), headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 422
    assert f"'{field}'" in response.json()["error"] and "UTF-8" in response.json()["error"]


async def test_control_characters_in_a_repeated_hash_are_422(client, photos):
    response = await client.post(
        "/getAltTexts", data={"Id": "i", "Hash": ["ok", "bad\x00"]},
        files={"Image1": ("a.jpg", photos["cat"]), "Image2": ("b.jpg", photos["cat"])},
    )
    assert response.status_code == 422 and "'Hash'" in response.json()["error"]


async def test_full_queue_refuses_before_parsing_the_body(make_client):
    gated = GatedCaptioner()
    async with make_client(captioner_factory=lambda s, d: gated, queue_capacity=1, halve_rate=1.0) as client:
        first = asyncio.create_task(post_photo(client, 30))
        await asyncio.to_thread(gated.entered.wait, 5)
        second = asyncio.create_task(post_photo(client, 31))  # fills the one queue slot
        await wait_until(lambda: client.app.state.service.admission.waiting() == 1)
        body_reads = 0

        async def body():
            nonlocal body_reads
            body_reads += 1
            yield b"--x\r\n"

        refused = await client.post(
            "/getAltText", content=body(), headers={"content-type": "multipart/form-data; boundary=x"}
        )
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert body_reads == 1  # drained and discarded, never parsed
        gated.release.set()
        assert (await first).status_code == 200 and (await second).status_code == 200


async def test_a_client_back_before_its_retry_after_waits_in_line_and_gets_the_next_place(make_client):
    """Room for one photo, taken. A first refusal is prompt; the same client asking again before its
    Retry-After (1 s) waits in line instead, and takes the place as soon as one frees: under a storm of
    such clients the model is never left idle while they are being refused, and refusing costs less."""
    import time

    gated = GatedCaptioner()
    async with make_client(captioner_factory=lambda s, d: gated, queue_capacity=1, halve_rate=1.0) as client:
        first = asyncio.create_task(post_photo(client, 30))
        await asyncio.to_thread(gated.entered.wait, 5)
        second = asyncio.create_task(post_photo(client, 31))  # fills the one place
        await wait_until(lambda: client.app.state.service.admission.waiting() == 1)
        started = time.monotonic()
        refused = await post_photo(client, 32)
        assert refused.status_code == 503 and time.monotonic() - started < 0.5  # a first refusal is prompt
        in_line = asyncio.create_task(post_photo(client, 33, hash_="in line"))
        await asyncio.sleep(0.2)
        assert not in_line.done()  # back within its Retry-After: waiting, not refused
        gated.release.set()  # the model takes the queued photo: its place goes to the one in line
        answers = [await first, await second, await in_line]
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert answers[2].json()[0]["Hash"] == "in line"


async def test_a_client_back_before_its_retry_after_is_refused_when_it_ends_if_no_place_frees(make_client):
    import time

    gated = GatedCaptioner()
    async with make_client(captioner_factory=lambda s, d: gated, queue_capacity=1, halve_rate=1.0) as client:
        first = asyncio.create_task(post_photo(client, 30))
        await asyncio.to_thread(gated.entered.wait, 5)
        second = asyncio.create_task(post_photo(client, 31))
        await wait_until(lambda: client.app.state.service.admission.waiting() == 1)
        started = time.monotonic()
        answers = await asyncio.gather(*(post_photo(client, 40 + i, hash_=str(i)) for i in range(5)))
        waited = time.monotonic() - started
        line = list(client.app.state.service.admission._line)  # no place freed meanwhile
        gated.release.set()
        assert (await first).status_code == 200 and (await second).status_code == 200
    assert [a.status_code for a in answers] == [503] * 5
    assert all(a.headers["retry-after"] == "1" for a in answers)
    assert 0.8 <= waited < 3.0  # held until the first refusal's Retry-After ended, no longer
    assert line == []  # those who gave up waiting left the line


def test_refusal_pacer_holds_until_the_window_ends_and_forgets_ended_windows(monkeypatch):
    from altgen.api import middleware

    now = [100.0]
    monkeypatch.setattr(middleware.time, "monotonic", lambda: now[0])
    pacer = middleware.RefusalPacer(max_addresses=2)
    assert pacer.pause_s("a", 1.0) == 0.0  # first refusal: prompt; the window runs to 101
    now[0] = 100.25
    assert pacer.pause_s("a", 1.0) == 0.75  # back early: held to the window's end, which does not move
    assert pacer.pause_s("b", 1.0) == 0.0  # another client has its own window
    now[0] = 101.1
    pacer.pause_s("c", 1.0)
    assert list(pacer._last) == ["b", "c"]  # a's ended window is forgotten
    now[0] = 101.2
    assert pacer.pause_s("a", 1.0) == 0.0  # its window ended: prompt again, a new window
    for address in ("d", "e", "f"):
        pacer.pause_s(address, 1.0)
    assert len(pacer._last) == 2  # and no more addresses than the bound are kept


class ThreadRecordingCaptioner(Captioner):
    """A backend with the optional hooks; records which thread ran each and what caption() was given."""

    name, device = "threads", "cpu"

    def __init__(self):
        self.threads: dict[str, set[str]] = {"warm_up": set(), "preprocess": set(), "caption": set(), "finish": set()}
        self.features: list[object] = []

    def _record(self, hook: str) -> None:
        self.threads[hook].add(threading.current_thread().name)

    def warm_up(self):
        self._record("warm_up")

    def preprocess(self, request):
        from dataclasses import replace

        self._record("preprocess")
        if request.image.size[0] == 13:
            raise ValueError("this model cannot read 13-pixel-wide photos")
        return replace(request, features=request.image.size[0])

    def caption(self, requests):
        self._record("caption")
        self.features.extend(request.features for request in requests)
        return [f"a photo {request.features} wide." for request in requests]

    def finish(self, request, description):
        self._record("finish")
        if request.features == 17:
            raise ValueError("this model cannot finish 17-pixel-wide photos")
        return description.replace("a photo", "A photo")


async def test_backend_hooks_run_on_the_right_threads_and_a_failing_hook_fails_only_its_request(make_client):
    backend = ThreadRecordingCaptioner()
    async with make_client(captioner_factory=lambda s, d: backend, halve_rate=1.0) as client:
        # Warm-up ran before start-up finished, on the thread that later runs the model.
        assert backend.threads["warm_up"] and backend.threads["caption"] == set()
        bad = client.post(
            "/getAltTexts",
            data={"Id": "i", "Hash": ["a", "b"]},
            files=[("Image0", ("ok.png", small_png(30))), ("Image1", ("odd.png", small_png(13)))],
        )
        good = post_photo(client, 40)
        bad, good = await asyncio.gather(bad, good)
        assert bad.status_code == 500 and "odd.png" in bad.json()["error"]
        assert "13-pixel" not in bad.text and bad.headers["x-request-id"] in bad.json()["error"]  # the reason stays in the log
        assert good.status_code == 200 and good.json()[0]["Description"] == "A photo 40 wide."
        unfinished, good = await asyncio.gather(post_photo(client, 17), post_photo(client, 41))
        assert unfinished.status_code == 500 and "p.png" in unfinished.json()["error"] and "17-pixel" not in unfinished.text
        assert good.status_code == 200 and good.json()[0]["Description"] == "A photo 41 wide."
    assert backend.threads["caption"] == backend.threads["warm_up"]
    assert all(name.startswith("model-") for name in backend.threads["caption"])
    assert all(name.startswith("images") for name in backend.threads["preprocess"] | backend.threads["finish"])
    assert backend.features[0] == 40  # the model got the pre-processed input; the failed request queued nothing


async def test_photos_being_decoded_hold_their_place_so_a_burst_is_refused_at_once(make_client, monkeypatch):
    """Eight requests at once, room for two photos, decoding slow: the queue is empty while they decode, yet
    only two may be decoding or queued; the others are refused on arrival, not after seconds of decoding."""
    import time

    import altgen.service

    finish = altgen.service.finish_image

    def slow_finish(*args):
        time.sleep(2.0)
        return finish(*args)

    monkeypatch.setattr(altgen.service, "finish_image", slow_finish)
    async with make_client(queue_capacity=2) as client:

        async def timed(index: int) -> tuple[int, float]:
            started = time.monotonic()
            response = await post_photo(client, 30 + index, hash_=str(index))
            return response.status_code, time.monotonic() - started

        answers = await asyncio.gather(*(timed(i) for i in range(8)))
    refused = [seconds for status, seconds in answers if status == 503]
    assert sorted(status for status, _ in answers) == [200, 200] + [503] * 6, answers
    assert max(refused) < 1.0, answers  # refused on arrival, not after two seconds of decoding


class SlowPreprocessCaptioner(Captioner):
    """Pre-processing waits until released, so a test can send requests while a photo is being pre-processed."""

    name, device = "slow-preprocess", "cpu"

    def __init__(self):
        self.release = threading.Event()
        self.entered = threading.Event()

    def preprocess(self, request):
        self.entered.set()
        self.release.wait(timeout=30)
        return request

    def caption(self, requests):
        return [f"a photo {request.image.size[0]} wide." for request in requests]


async def test_an_admitted_photo_keeps_its_place_until_queued_so_its_work_is_never_thrown_away(make_client):
    """Room for two photos. While the first request's photo is pre-processed, two more arrive: one fits, the
    other is refused at once. Before, the first photo's place was free again once it was decoded: both
    newcomers were let in, three photos were pre-processed for two places, and whichever reached the queue
    last when it was full was refused after all its work (under a storm, most of the work went that way)."""
    backend = SlowPreprocessCaptioner()
    async with make_client(captioner_factory=lambda s, d: backend, queue_capacity=2) as client:
        first = asyncio.ensure_future(post_photo(client, 30, hash_="first"))
        await wait_until(backend.entered.is_set)
        second = asyncio.ensure_future(post_photo(client, 31, hash_="second"))
        third = asyncio.ensure_future(post_photo(client, 32, hash_="third"))
        await asyncio.wait([second, third], timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
        preparing = metric(client, "altgen_photos_preparing")  # operators see the places they hold
        backend.release.set()
        answers = [await first, await second, await third]
        assert metric(client, "altgen_photos_preparing") == 0
    assert preparing == 2
    assert [a.status_code for a in answers] == [200, 200, 503], [a.text for a in answers]
    assert answers[0].json()[0]["Description"] == "a photo 15 wide."  # halved by the /config rule


def test_the_service_keeps_numpys_blas_to_one_thread():
    """The photo threads already run side by side; OpenBLAS's own workers spun against them (a third of the
    CPU on two cores). Checked in a fresh process whose BLAS would otherwise start two threads."""
    import os
    import subprocess
    import sys

    script = (
        "from threadpoolctl import threadpool_info\n"
        "from altgen.composition import build_service\n"
        "from altgen.settings import Settings\n"
        "before = [p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas']\n"
        "build_service(Settings())\n"
        "after = [p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas']\n"
        "print(before, after)\n"
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    before, after = done.stdout.split("] [")
    assert "2" in before, done.stdout  # numpy's BLAS is loaded and would use two threads
    assert after.strip(" []\n") and set(after.strip(" []\n").split(", ")) == {"1"}, done.stdout
