"""Describe throughput of altgen in front of `transformers serve` vs calling that engine directly, same run.

One `transformers serve` on loopback serves a tiny random LLaVA from a folder (CPU, offline). In alternating
rounds, CLIENTS closed-loop clients send PHOTOS photos, one per request:
  direct: to the engine's /v1/chat/completions, each with the exact request altgen would send (altgen's prompt,
          the photo as altgen encodes it, prepared ahead, so the direct client pays nothing altgen pays);
  altgen: to `altgen serve` (ALTGEN_MODEL=openai:..., engine_concurrency = CLIENTS) at /v1/describe, photo files.
The tiny model never writes an end token, so every answer is exactly max_tokens long on both paths. Prints a
table and writes benchmarks/results/remote_describe_cpu.json; the ratio is the number to quote.

    python benchmarks/bench_remote_describe.py [--clients 8] [--photos 48] [--rounds 3] [--max-tokens 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from common import percentile, sample_jpegs, start_server, stop_server

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the random model builders live beside the tests

from altgen.images.decode import prepare_image  # noqa: E402
from engines import start_transformers_serve  # noqa: E402  (the tests' real engine on loopback)
from altgen.model.vlm.prompts import PROMPTS  # noqa: E402
from altgen.engines.remote_captioner import data_url  # noqa: E402
from altgen.settings import ResizeConfig  # noqa: E402

RESULTS = HERE / "results" / "remote_describe_cpu.json"
async def closed_loop(clients: int, count: int, send) -> dict:
    """``clients`` loops, each sending the next photo as soon as its last one is answered."""
    latencies: list[float] = []
    next_index = 0

    async def client() -> None:
        nonlocal next_index
        while next_index < count:
            index = next_index
            next_index += 1
            started = time.perf_counter()
            await send(index)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return {"photos_per_s": count / elapsed, "p50_latency_s": statistics.median(latencies),
            "p95_latency_s": percentile(latencies, 0.95)}


async def direct_round(engine: str, bodies: list[dict], clients: int, count: int) -> dict:
    async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=clients)) as http:

        async def send(index: int) -> None:
            response = await http.post(f"{engine}/chat/completions", json=bodies[index % len(bodies)])
            response.raise_for_status()

        return await closed_loop(clients, count, send)


async def altgen_round(base: str, jpegs: list[bytes], clients: int, count: int) -> dict:
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=httpx.Limits(max_connections=clients)) as http:

        async def send(index: int) -> None:
            response = await http.post("/v1/describe", files={"images": ("p.jpg", jpegs[index % len(jpegs)])})
            response.raise_for_status()

        return await closed_loop(clients, count, send)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--photos", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args()

    from random_vlms import save_random_llava

    jpegs = sample_jpegs()
    resize = ResizeConfig(halve_rate=1)  # altgen runs with halve_rate 1 below: it sends each photo at its own size
    with tempfile.TemporaryDirectory() as scratch:
        folder = save_random_llava(Path(scratch) / "tiny-llava")
        # The direct client's requests are altgen's own, made ahead: the photo as altgen encodes it, altgen's prompt.
        bodies = []
        for jpeg in jpegs:
            image = prepare_image(jpeg, "p.jpg", resize, max_bytes=10**9, max_pixels=10**9).image
            content = [{"type": "image_url", "image_url": {"url": data_url(image)}},
                       {"type": "text", "text": PROMPTS["en", "alt"]}]
            bodies.append({"model": str(folder), "messages": [{"role": "user", "content": content}],
                           "temperature": 0, "max_tokens": args.max_tokens})
        engine_process, engine = start_transformers_serve(folder, Path(scratch) / "engine.log")
        altgen_process, base = start_server(
            model=f"openai:{engine}#{folder}", engine_concurrency=args.clients, max_new_tokens=args.max_tokens,
            halve_rate=1, queue_capacity=max(256, args.clients), cache_path="none",
        )
        try:
            asyncio.run(direct_round(engine, bodies, args.clients, args.clients))  # warm both paths
            asyncio.run(altgen_round(base, jpegs, args.clients, args.clients))
            rounds = []
            for number in range(args.rounds):
                direct = asyncio.run(direct_round(engine, bodies, args.clients, args.photos))
                through = asyncio.run(altgen_round(base, jpegs, args.clients, args.photos))
                rounds.append({"round": number + 1, "direct": direct, "altgen": through,
                               "ratio": through["photos_per_s"] / direct["photos_per_s"]})
                print(f"round {number + 1}: direct {direct['photos_per_s']:.2f} photos/s, altgen "
                      f"{through['photos_per_s']:.2f} photos/s, ratio {rounds[-1]['ratio']:.3f}", flush=True)
        finally:
            stop_server(altgen_process)
            stop_server(engine_process)
    direct_rate = statistics.median(r["direct"]["photos_per_s"] for r in rounds)
    altgen_rate = statistics.median(r["altgen"]["photos_per_s"] for r in rounds)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "engine": "transformers serve (tiny random LLaVA, CPU)",
        "clients": args.clients, "photos_per_round": args.photos, "max_tokens": args.max_tokens,
        "rounds": rounds,
        "median_direct_photos_per_s": direct_rate,
        "median_altgen_photos_per_s": altgen_rate,
        "ratio_of_medians": altgen_rate / direct_rate,
        "median_ratio": statistics.median(r["ratio"] for r in rounds),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"| path | photos/s (median of {args.rounds}) |\n|---|---|\n| direct to the engine | {direct_rate:.2f} |\n"
          f"| altgen in front | {altgen_rate:.2f} |\n\naltgen / direct = {altgen_rate / direct_rate:.3f} "
          f"(median of per-round ratios {result['median_ratio']:.3f}); written to {RESULTS}")


if __name__ == "__main__":
    main()
