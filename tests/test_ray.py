"""altgen as a Ray Serve application on a real local Ray cluster (loopback only), through Ray's HTTP proxy:
two ingress replicas and two captioner replicas. Run with `pytest -m ray` (needs the `ray` extra)."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import requests

ray = pytest.importorskip("ray")
from ray import serve  # noqa: E402

from altgen.distributed.app import build_app  # noqa: E402
from altgen.settings import Settings  # noqa: E402
from test_end_to_end import free_port, test_errors_come_back_as_json_with_status, test_legacy_clients_work_verbatim  # noqa: E402,F401
from test_legacy_api import (  # noqa: E402,F401
    test_config_applies_to_later_requests,
    test_config_validates_both_values_before_changing_anything,
    test_get_alt_text_refuses_non_image_with_415_naming_the_file,
    test_get_alt_text_shape_and_key_order,
    test_get_alt_text_time_adds_sizes_and_duration,
    test_get_alt_texts_count_mismatch_names_both_counts,
    test_get_alt_texts_pairs_hash_with_file_in_order,
    test_get_best_pictures_bad_input_is_422_with_reason,
    test_get_best_pictures_returns_best_hash_as_json_string,
)

pytestmark = pytest.mark.ray

APP = "altgen"
REPLICAS = {"ray_ingress_replicas": 2, "ray_captioner_min_replicas": 2, "ray_captioner_max_replicas": 2}


def deploy(base: str, **overrides) -> None:
    settings = Settings(devices="cpu", max_batch_wait_ms=20, ray_ingress_num_cpus=0.5, ray_captioner_num_cpus=0.5, **overrides)
    serve.run(build_app(settings), name=APP, route_prefix="/")
    deadline = time.monotonic() + 120
    while requests.get(f"{base}/ready", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "not ready"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def server():
    """The Ray proxy's address, with two ingress and two captioner replicas behind it."""
    ray.init(num_cpus=4, include_dashboard=False, _node_ip_address="127.0.0.1", namespace="altgen-test")
    base = f"http://127.0.0.1:{free_port()}"
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": int(base.rsplit(":", 1)[1])})
        deploy(base, **REPLICAS)
        yield base
    finally:
        serve.shutdown()
        ray.shutdown()


@pytest.fixture
async def client(server):
    """The legacy API tests' client, sent through Ray's HTTP proxy; each test starts from the start-up rule."""
    async with httpx.AsyncClient(base_url=server, timeout=60) as client:
        assert (await client.post("/config", data={"halve": "0.5", "min_size": "10"})).status_code == 200
        yield client


def ingress_replicas_states() -> dict[str, dict]:
    """Every ingress replica's view, asked through Serve's handle until both replicas have answered."""
    handle = serve.get_deployment_handle("Ingress", APP)
    states: dict[str, dict] = {}
    for _ in range(20):
        for state in [response.result() for response in [handle.replica_state.remote() for _ in range(10)]]:
            states[state["replica"]] = state
        if len(states) == REPLICAS["ray_ingress_replicas"]:
            return states
    pytest.fail(f"only {len(states)} ingress replica(s) answered")


def captioner_replicas() -> list[str]:
    return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if "#Captioner#" in a["name"]]


def test_config_reaches_every_ingress_replica_within_a_second(server):
    for halve, min_size in [("0.2", "30"), ("0.5", "10")]:
        changed = time.monotonic()
        response = requests.post(f"{server}/config", data={"halve": halve, "min_size": min_size})
        assert response.status_code == 200
        while {tuple(s["resize"].values()) for s in ingress_replicas_states().values()} != {(float(halve), int(min_size))}:
            assert time.monotonic() - changed < 1.0, ingress_replicas_states()
        # What the change answered is what any later request sees, whichever replica takes it.
        assert {requests.get(f"{server}/config").json()["min_size"] for _ in range(10)} == {int(min_size)}


def test_killing_a_captioner_replica_mid_load_loses_no_request(server, photo_dir):
    photos = [(photo_dir / name).read_bytes() for name in ("chelsea.jpg", "coffee.png", "camera.jpg")]
    killed_at: list[float] = []

    def client(index: int) -> list[tuple[float, float, int, str]]:
        outcomes = []
        for round_ in range(8):
            files = {f"Image{i}": (f"{i}.jpg", photo) for i, photo in enumerate(photos)}
            started = time.monotonic()
            response = requests.post(
                f"{server}/getAltTexts", data={"Id": str(index), "Hash": [f"{round_}-{i}" for i in range(3)]}, files=files, timeout=120
            )
            outcomes.append((started, time.monotonic(), response.status_code, response.text))
        return outcomes

    [victim, *_] = captioner_replicas()
    with ThreadPoolExecutor(8) as pool:
        pending = [pool.submit(client, i) for i in range(8)]
        time.sleep(2.0)  # well into the load: both replicas hold photos
        ray.kill(ray.get_actor(victim, namespace="serve"), no_restart=True)
        killed_at.append(time.monotonic())
        outcomes = [outcome for future in pending for outcome in future.result()]
    spanning = [o for o in outcomes if o[0] < killed_at[0] < o[1]]
    assert spanning, "no request was in flight when the replica was killed"
    assert [(code, text) for _s, _e, code, text in outcomes if code != 200] == []
    assert all("cat" in text for _s, _e, _code, text in outcomes)

    # Serve replaces the replica; the service stays ready and answers.
    deadline = time.monotonic() + 60
    while len([name for name in captioner_replicas() if name != victim]) < 2:
        assert time.monotonic() < deadline, captioner_replicas()
        time.sleep(0.5)
    assert requests.get(f"{server}/ready").json()["ready"] is True


def test_overload_is_503_with_retry_after(server, photo_dir):
    """Last: it deploys the application again with a queue of two photos per captioner replica."""
    deploy(server, queue_capacity=2, **REPLICAS)
    photo = (photo_dir / "chelsea.jpg").read_bytes()
    files = {f"Image{i}": ("c.jpg", photo) for i in range(5)}
    response = requests.post(f"{server}/getAltTexts", data={"Id": "i", "Hash": [str(i) for i in range(5)]}, files=files)
    assert response.status_code == 503 and int(response.headers["retry-after"]) >= 1
    assert "busy" in response.json()["error"]

    # Many two-photo requests at once: each is answered, or refused at once with 503 + Retry-After, never hung.
    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server, timeout=60) as client:
            two = {"Image1": ("a.jpg", photo), "Image2": ("b.jpg", photo)}
            return await asyncio.gather(
                *(client.post("/getAltTexts", data={"Id": "i", "Hash": ["a", "b"]}, files=two) for _ in range(24))
            )

    answers = asyncio.run(burst())
    codes = [response.status_code for response in answers]
    assert set(codes) <= {200, 503} and 200 in codes and 503 in codes, codes
    assert all(int(r.headers["retry-after"]) >= 1 for r in answers if r.status_code == 503)
