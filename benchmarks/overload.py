"""Bounded overload test: drives `altgen serve` far past its capacity for a fixed number of requests.

Checks that every request gets an answer (200, 503 or 504: no hangs, resets or 500s), that the
admitted work all completed, and that the server's memory stays flat: RSS after all requests
within 10% of RSS after the first 1,000. Loopback only; the loop is bounded in count and time.

    python benchmarks/overload.py [--requests 10000] [--rate-factor 10]
Writes benchmarks/results/overload.json.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import time
from pathlib import Path

import httpx

from common import rss_bytes, sample_jpegs, start_server, stop_server

RESULTS = Path(__file__).parent / "results" / "overload.json"
PAIRS = json.dumps(
    [
        {"Hash": "cat.jpg", "Description": "Image may contain: a cat.", "Id": "x"},
        {"Hash": "hedgehog.jpg", "Description": "Image may contain: a porcupine or hedgehog.", "Id": "x"},
        {"Hash": "coffee.jpg", "Description": "Image may contain: an espresso.", "Id": "x"},
    ]
)


async def measure_capacity(http: httpx.AsyncClient, jpegs: list[bytes], seconds: float = 5.0) -> float:
    """Photos per second the server sustains with 8 closed-loop clients."""
    done = 0
    stop_at = time.perf_counter() + seconds

    async def client(offset: int) -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            response = await http.post(
                "/getAltText", data={"Id": "c", "Hash": "h"}, files={"Image": ("p.jpg", jpegs[offset % len(jpegs)])}
            )
            response.raise_for_status()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(8)))
    return done / (time.perf_counter() - started)


def encoded_uploads(jpegs: list[bytes]) -> list[tuple[bytes, str]]:
    """Multipart bodies built once, so the load generator spends its CPU on sending, not encoding."""
    uploads = []
    for number, jpeg in enumerate(jpegs):
        request = httpx.Request("POST", "http://x/", data={"Id": "load", "Hash": str(number)}, files={"Image": ("p.jpg", jpeg)})
        uploads.append((request.read(), request.headers["content-type"]))
    return uploads


async def one_request(http: httpx.AsyncClient, index: int, uploads: list[tuple[bytes, str]]) -> str:
    kind = index % 10
    try:
        if kind < 8:
            number = index % len(uploads)
            body, content_type = uploads[number]
            response = await http.post("/getAltText", content=body, headers={"content-type": content_type})
            if response.status_code == 200:
                assert response.json()[0]["Hash"] == str(number)
        elif kind == 8:
            response = await http.post("/getBestPictures", data={"userText": "고양이 사진", "data": PAIRS})
        else:
            response = await http.get("/config")
        return str(response.status_code)
    except httpx.TimeoutException:
        return "client timeout"
    except httpx.TransportError as exc:
        return f"transport error: {type(exc).__name__}"


async def overload(base: str, pid: int, jpegs: list[bytes], total: int, rate_factor: float) -> dict:
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        capacity = await measure_capacity(http, jpegs)
        uploads = encoded_uploads(jpegs)
        rate = capacity * rate_factor
        statuses: collections.Counter[str] = collections.Counter()
        rss_after_first_1000 = None
        in_flight: set[asyncio.Task] = set()
        started = time.perf_counter()
        for index in range(total):
            # Open loop: requests go out at `rate` whatever the server does, up to 256 in flight.
            await asyncio.sleep(max(0.0, started + index / rate - time.perf_counter()))
            while len(in_flight) >= 256:
                finished, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                in_flight -= finished
            task = asyncio.create_task(one_request(http, index, uploads))
            task.add_done_callback(lambda t: statuses.update([t.result()]))
            in_flight.add(task)
            if index == 999:
                rss_after_first_1000 = rss_bytes(pid)
        sending_s = time.perf_counter() - started
        await asyncio.wait_for(asyncio.gather(*in_flight), timeout=120)
        elapsed = time.perf_counter() - started
        metrics = (await http.get("/metrics")).text
    rss_end = rss_bytes(pid)
    described = sum(
        float(line.split()[-1]) for line in metrics.splitlines() if line.startswith('altgen_images_total{outcome="ok"}')
    )
    answered = sum(count for status, count in statuses.items() if status.isdigit())
    return {
        "capacity_photos_per_s": capacity,
        "target_requests_per_s": rate,
        "achieved_requests_per_s": total / sending_s,
        "achieved_vs_capacity": total / sending_s / capacity,
        "requests_sent": total,
        "seconds": elapsed,
        "answered_by_status": dict(sorted(statuses.items())),
        "lost": total - answered,
        "server_errors_5xx_other_than_503_504": sum(
            c for s, c in statuses.items() if s.isdigit() and s.startswith("5") and s not in ("503", "504")
        ),
        "photos_described_by_server": described,
        "rss_after_1000_mb": rss_after_first_1000 / 2**20,
        "rss_after_all_mb": rss_end / 2**20,
        "rss_drift": rss_end / rss_after_first_1000 - 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rate-factor", type=float, default=10.0, help="offered load as a multiple of capacity")
    parser.add_argument("--queue-capacity", type=int, default=32)
    args = parser.parse_args()

    process, base = start_server(queue_capacity=args.queue_capacity, request_timeout_s=10)
    try:
        result = asyncio.run(overload(base, process.pid, sample_jpegs(), args.requests, args.rate_factor))
    finally:
        stop_server(process)
    result["queue_capacity"] = args.queue_capacity
    ok = (
        result["lost"] == 0
        and result["server_errors_5xx_other_than_503_504"] == 0
        and set(result["answered_by_status"]) <= {"200", "503", "504"}
        and abs(result["rss_drift"]) <= 0.10
    )
    result["passed"] = ok
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
