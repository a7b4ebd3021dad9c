"""Describe throughput and latency of the embedded default, in one run on this machine.

Measures, on the same real photos and the same model:
  (a) the captioner called one photo at a time (the old service's way),
  (b) the captioner called directly in batches of the service's max batch size,
  (c) a real `altgen serve` process over HTTP with 1 and 16 concurrent clients (one photo each).
Prints a table and writes benchmarks/results/describe_cpu.json. Ratios are the numbers to quote;
absolute times depend on the machine.

    python benchmarks/bench_describe_cpu.py [--photos 96] [--batch-size 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from pathlib import Path

from PIL import Image

from common import drive, sample_jpegs, start_server, stop_server

from altgen.images.decode import prepare_image
from altgen.captioning.contract import Captioner, CaptionRequest
from altgen.composition import load_captioner
from altgen.settings import ResizeConfig, Settings

RESULTS = Path(__file__).parent / "results" / "describe_cpu.json"


def direct(captioner: Captioner, jpegs: list[bytes], count: int, batch_size: int) -> float:
    """Images per second of decode + resize + captioner, in batches of batch_size (1 = sequential)."""
    captioner.caption([CaptionRequest(Image.new("RGB", (64, 64)))] * batch_size)  # warm-up
    started = time.perf_counter()
    for start in range(0, count, batch_size):
        chunk = [jpegs[i % len(jpegs)] for i in range(start, min(count, start + batch_size))]
        images = [prepare_image(j, "p", ResizeConfig(), max_bytes=10**9, max_pixels=10**9).image for j in chunk]
        captioner.caption([CaptionRequest(image) for image in images])
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=5)
    parser.add_argument("--wait-ms", type=float, default=10.0)
    args = parser.parse_args()

    jpegs = sample_jpegs()
    captioner = load_captioner(Settings(), "cpu")  # the same captioner the service runs
    sequential = direct(captioner, jpegs, args.photos, 1)
    batched = direct(captioner, jpegs, args.photos, args.batch_size)
    del captioner

    process, base = start_server(max_batch_size=args.batch_size, max_batch_wait_ms=args.wait_ms)
    try:
        asyncio.run(drive(base, jpegs, 4, 16))  # warm-up
        service = [asyncio.run(drive(base, jpegs, clients, args.photos)) for clients in (1, 16)]
    finally:
        stop_server(process)

    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, CPU only",
        "model": "efficientnet-lite0 (embedded default)",
        "batch_size": args.batch_size,
        "max_batch_wait_ms": args.wait_ms,
        "direct_sequential_images_per_s": sequential,
        "direct_batched_images_per_s": batched,
        "service": service,
        "service_16_clients_vs_direct_batched": service[1]["images_per_s"] / batched,
        "service_16_clients_vs_direct_sequential": service[1]["images_per_s"] / sequential,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")

    print(f"{'path':<34}{'images/s':>10}{'p50 s':>9}{'p95 s':>9}{'mean batch':>12}")
    print(f"{'direct, one at a time':<34}{sequential:>10.1f}")
    print(f"{f'direct, batches of {args.batch_size}':<34}{batched:>10.1f}")
    for row in service:
        label = f"service over HTTP, {row['clients']} client(s)"
        print(
            f"{label:<34}{row['images_per_s']:>10.1f}{row['p50_latency_s']:>9.3f}"
            f"{row['p95_latency_s']:>9.3f}{row['mean_batch_size']:>12.2f}"
        )
    print(f"service (16 clients) / direct batched: {result['service_16_clients_vs_direct_batched']:.2f}")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
