"""One client sends /getBestPictures with 2,000 descriptions the service has never seen and gives up
after 2 s; another sends 2-candidate requests every 0.25 s meanwhile (real `altgen serve`, loopback).
Prints the second client's latencies. Writes benchmarks/results/ranking_fairness.json.

    python benchmarks/ranking_fairness.py [--candidates 2000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import httpx

from common import percentile, start_server, stop_server

RESULTS = Path(__file__).parent / "results"


async def run(base: str, candidates: int, seconds: float) -> dict:
    big = json.dumps([{"Hash": f"p{i}", "Description": f"Image may contain: photo number {i} of a street at night."}
                      for i in range(candidates)])
    small = json.dumps([{"Hash": "cat", "Description": "Image may contain: a cat."},
                        {"Hash": "dog", "Description": "Image may contain: a dog."}])
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as patient, httpx.AsyncClient(base_url=base, timeout=2) as hasty:
        async def abandon() -> str:
            try:
                await hasty.post("/getBestPictures", data={"userText": "street", "data": big})
                return "answered"
            except httpx.TimeoutException:
                return "gave up after 2 s"

        async def other_client() -> None:
            give_up = time.monotonic() + seconds
            while time.monotonic() < give_up:
                started = time.monotonic()
                response = await patient.post("/getBestPictures", data={"userText": "고양이 사진", "data": small})
                assert response.json() == "cat", response.text
                latencies.append(time.monotonic() - started)
                await asyncio.sleep(0.25)

        big_task = asyncio.create_task(abandon())
        await asyncio.sleep(0.2)
        await other_client()
        outcome = await big_task
    return {"candidates": candidates, "big_request": outcome, "other_requests": len(latencies),
            "other_p50_s": percentile(latencies, 0.5), "other_max_s": max(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    process, base = start_server(devices="cpu")
    try:
        result = asyncio.run(run(base, args.candidates, args.seconds))
    finally:
        stop_server(process)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ranking_fairness.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
