"""Soak: RSS of a real `altgen serve` (loopback) while its in-memory caches fill and then stay full.

Four clients for ``--minutes``: three send searches whose descriptions are mostly new (each new text
is embedded and cached, so the caches fill and then evict), one describes photos. ``memory_cache_mb``
is set small (8 MB) so that the caches are full within the first minutes. RSS is sampled every
``--sample-s``; the check is that RSS at the end is within 5% of RSS once the caches were full
(the first third of the run).

    python benchmarks/soak.py [--minutes 10] [--sample-s 15]
Writes benchmarks/results/soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import time
from pathlib import Path

import httpx

from common import rss_bytes, sample_jpegs, start_server, stop_server

RESULTS = Path(__file__).parent / "results" / "soak.json"
WORDS = "cat dog red blue green small large old young bright dark beach street park table window chair tree sky".split()
counter = itertools.count()


def new_description() -> str:
    words = " ".join(random.choice(WORDS) for _ in range(random.randint(8, 40)))
    return f"Image {next(counter)}: {words}."


async def searcher(http: httpx.AsyncClient, stop_at: float, statuses: dict) -> None:
    while time.monotonic() < stop_at:
        texts = [new_description() for _ in range(30)] + ["Image may contain: a cat.", "Image may contain: a dog."]
        body = {"query": "a cat", "candidates": [{"id": str(i), "description": t} for i, t in enumerate(texts)]}
        status = (await http.post("/v1/recommend", json=body)).status_code
        statuses[status] = statuses.get(status, 0) + 1


async def describer(http: httpx.AsyncClient, stop_at: float, statuses: dict, photos: list[bytes]) -> None:
    for photo in itertools.cycle(photos):
        if time.monotonic() >= stop_at:
            return
        status = (await http.post("/v1/describe", files={"images": ("p.jpg", photo)})).status_code
        statuses[status] = statuses.get(status, 0) + 1


async def soak(base: str, pid: int, minutes: float, sample_s: float) -> dict:
    statuses: dict[int, int] = {}
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    stop_at = started + minutes * 60
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        clients = [asyncio.create_task(searcher(http, stop_at, statuses)) for _ in range(3)]
        clients.append(asyncio.create_task(describer(http, stop_at, statuses, sample_jpegs())))
        while time.monotonic() < stop_at:
            samples.append((round(time.monotonic() - started, 1), rss_bytes(pid) / 2**20))
            await asyncio.sleep(sample_s)
        await asyncio.gather(*clients)
    samples.append((round(time.monotonic() - started, 1), rss_bytes(pid) / 2**20))
    full = samples[len(samples) // 3][1]  # the caches are full by then (8 MB fill in a minute or two)
    return {
        "minutes": minutes,
        "memory_cache_mb": 8,
        "answers_by_status": {str(k): v for k, v in sorted(statuses.items())},
        "new_descriptions_sent": next(counter),
        "rss_mb_samples": samples,
        "rss_mb_when_caches_full": full,
        "rss_mb_end": samples[-1][1],
        "rss_mb_peak_after_full": max(mb for _, mb in samples[len(samples) // 3 :]),
        "rss_drift_after_full": samples[-1][1] / full - 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--sample-s", type=float, default=15.0)
    args = parser.parse_args()
    process, base = start_server(memory_cache_mb=8, cache_path="none", request_timeout_s=60)
    try:
        result = asyncio.run(soak(base, process.pid, args.minutes, args.sample_s))
    finally:
        stop_server(process)
    result["passed"] = abs(result["rss_drift_after_full"]) <= 0.05 and set(result["answers_by_status"]) <= {"200", "503"}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rss_mb_samples"}, indent=2))
    raise SystemExit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
