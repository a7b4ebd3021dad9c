"""Describe throughput of `altgen serve --engine ray` (one CPU captioner replica) against `altgen serve`, same run.

Both are real servers on loopback, started the same way (ALTGEN_* settings, same batching, same torch threads),
one at a time so that neither's idle processes slow the other: in-process, then Ray, then in-process again (the
machine's load may drift). In each ROUNDS rounds, CLIENTS closed-loop clients send PHOTOS photos, one per
/getAltText request. Prints a table and writes benchmarks/results/ray_describe_cpu.json; the ratio (Ray over the
mean of the two in-process runs) is the number to quote.

    python benchmarks/bench_ray_describe.py [--clients 8] [--photos 160] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
from pathlib import Path

from common import drive, sample_jpegs, start_server, stop_server

RESULTS = Path(__file__).parent / "results" / "ray_describe_cpu.json"
# The same for both engines; torch gets both cores in either (Ray would give a 1-CPU replica one thread).
SHARED = {"devices": "cpu", "torch_threads": 2, "max_batch_size": 5, "max_batch_wait_ms": 10}
RAY = {"engine": "ray", "ray_captioner_num_cpus": 1, "ray_ingress_num_cpus": 1}


def measure(settings: dict, jpegs: list[bytes], clients: int, photos: int, rounds: int) -> list[dict]:
    process, base = start_server(ready_timeout_s=300, **SHARED, **settings)
    try:
        asyncio.run(drive(base, jpegs, clients, clients * 4))  # warm-up
        return [asyncio.run(drive(base, jpegs, clients, photos)) for _ in range(rounds)]
    finally:
        stop_server(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--photos", type=int, default=160)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    jpegs = sample_jpegs()
    runs = {}
    for name, settings in [("inprocess_before", {}), ("ray", RAY), ("inprocess_after", {})]:
        runs[name] = measure(settings, jpegs, args.clients, args.photos, args.rounds)
    rate = {name: statistics.median(r["images_per_s"] for r in rounds) for name, rounds in runs.items()}
    inprocess = (rate["inprocess_before"] + rate["inprocess_after"]) / 2
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, CPU only",
        "model": "efficientnet-lite0 (embedded default)",
        "settings": SHARED,
        "ray_settings": RAY,
        "clients": args.clients,
        "photos_per_round": args.photos,
        "runs": runs,
        "median_images_per_s": rate,
        "ray_vs_inprocess": rate["ray"] / inprocess,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")

    print(f"{'engine':<18}{'images/s (rounds)':<30}{'median':>8}{'p50 s':>8}{'p95 s':>8}")
    for name, rounds in runs.items():
        each = ", ".join(f"{r['images_per_s']:.1f}" for r in rounds)
        print(f"{name:<18}{each:<30}{rate[name]:>8.1f}{rounds[0]['p50_latency_s']:>8.3f}{rounds[0]['p95_latency_s']:>8.3f}")
    print(f"Ray / in-process: {result['ray_vs_inprocess']:.2f}")


if __name__ == "__main__":
    main()
