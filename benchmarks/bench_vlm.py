"""Vision-language model serving benchmark, meant for a GPU machine (runs on CPU with --shape tiny).

Builds a random-initialised model of a real shape (LLaVA-1.5-7B by default: serving cost depends on
the architecture, not the weights) and fixes the output length (min_new_tokens == max_new_tokens).
In one run, on the same model, it measures:
  (a) one photo at a time with transformers' default (eager, dynamic KV cache), as the old service ran;
  (b) batched generate called directly at the service's batch size, eager, and with the static KV
      cache and compiled decode step the service uses on GPUs (plus that path's single-photo time);
  (c) a real `altgen serve` over HTTP with 1, 8, 32 and 64 concurrent clients.
Prints a table with the issue's targets and writes benchmarks/results/vlm_<shape>_<device>.json.

    python benchmarks/bench_vlm.py --device cuda:0 [--batch-size 64] [--new-tokens 64] [--wait-ms 10] [--busy-wait-ms 0]
    python benchmarks/bench_vlm.py --shape tiny --device cpu --photos 16 --clients 1 4   # smoke test
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from common import drive, sample_jpegs, start_server, stop_server

from altgen.model.base import CaptionRequest
from altgen.model.random_models import save_random_llava
from altgen.model.transformers_captioner import TransformersCaptioner

RESULTS = Path(__file__).parent / "results"


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def images_per_second(captioner: TransformersCaptioner, photos: list[Image.Image], batch_size: int) -> float:
    requests = [CaptionRequest(photo) for photo in photos]
    captioner.generate_raw(requests[:batch_size])  # warm-up
    synchronize(captioner.device)
    started = time.perf_counter()
    for start in range(0, len(requests), batch_size):
        captioner.generate_raw(requests[start : start + batch_size])
    synchronize(captioner.device)
    return len(requests) / (time.perf_counter() - started)


def single_photo_seconds(captioner: TransformersCaptioner, photos: list[Image.Image]) -> float:
    """Median time of one photo's generate: what a lone user waits for at best."""
    times = []
    for photo in photos:
        started = time.perf_counter()
        captioner.generate_raw([CaptionRequest(photo)])
        synchronize(captioner.device)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_service(args: argparse.Namespace, folder: str, jpegs: list[bytes], busy_wait_ms: float) -> list[dict]:
    """A real `altgen serve` on the same model, driven by 1, 8, 32, 64 closed-loop clients."""
    process, base = start_server(
        ready_timeout_s=1800,
        model=folder,
        devices=args.device,
        max_batch_size=args.batch_size,
        max_batch_wait_ms=args.wait_ms,
        busy_batch_wait_ms=busy_wait_ms,
        max_new_tokens=args.new_tokens,
        long_max_new_tokens=args.new_tokens,
        min_new_tokens=args.new_tokens,
        queue_capacity=max(256, 4 * max(args.clients)),
        request_timeout_s=600,
        halve_rate=1.0,
    )
    try:
        asyncio.run(drive(base, jpegs, min(4, max(args.clients)), 8))  # warm-up
        rows = [asyncio.run(drive(base, jpegs, clients, max(args.photos, 4 * clients))) for clients in args.clients]
    finally:
        stop_server(process)
    return [{"busy_batch_wait_ms": busy_wait_ms, **row} for row in rows]


def targets(service: list[dict], busy_wait_ms: float, batched: float, eager_batched: float, single_s: float) -> dict:
    """Issue 3's targets for the service runs with one busy_batch_wait_ms value."""
    rows = [row for row in service if row["busy_batch_wait_ms"] == busy_wait_ms]
    busiest = max(rows, key=lambda row: row["clients"])
    lone = next((row for row in rows if row["clients"] == 1), None)
    return {
        "service_max_clients_vs_direct_batched (>= 0.9)": busiest["images_per_s"] / batched,
        "service_max_clients_vs_eager_batched (>= 2.0)": busiest["images_per_s"] / eager_batched,
        "service_max_clients_images_per_s (>= 38)": busiest["images_per_s"],
        "p95_one_client_vs_single_generate (<= 1.2)": lone["p95_latency_s"] / single_s if lone else None,
    }


def release(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="llava-1.5-7b", choices=["llava-1.5-7b", "tiny"])
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--photos", type=int, default=256)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--wait-ms", type=float, default=10.0)
    parser.add_argument("--busy-wait-ms", type=float, nargs="+", default=[0.0], help="one service run per value")
    args = parser.parse_args()

    jpegs = sample_jpegs()
    photos = [Image.open(io.BytesIO(jpegs[i % len(jpegs)])).convert("RGB") for i in range(args.photos)]
    few = photos[: max(4, args.photos // 32)]
    on_gpu = args.device.startswith("cuda")
    dtype = torch.bfloat16 if on_gpu else torch.float32
    # Both details get the same fixed length: the static cache is sized for the larger budget.
    lengths = dict(
        max_new_tokens=args.new_tokens,
        long_max_new_tokens=args.new_tokens,
        min_new_tokens=args.new_tokens,
        max_batch_size=args.batch_size,
    )
    with tempfile.TemporaryDirectory() as folder:
        save_random_llava(Path(folder), shape=args.shape, dtype=dtype)
        release(args.device)

        eager = TransformersCaptioner(folder, args.device, kv_cache="dynamic", **lengths)
        prompt_tokens = len(eager.processor(images=[photos[0]], text=[eager._prompt("en")])["input_ids"][0])
        sequential = images_per_second(eager, few, 1)
        eager_batched = images_per_second(eager, photos, args.batch_size)
        del eager
        release(args.device)

        # The service's own configuration on this device (static cache + compiled decode on GPUs).
        served = TransformersCaptioner(folder, args.device, kv_cache="auto", **lengths)
        started = time.perf_counter()
        served.warm_up()
        warm_up_s = time.perf_counter() - started
        if on_gpu:
            torch.cuda.reset_peak_memory_stats(args.device)
        single_s = single_photo_seconds(served, few)
        batched = images_per_second(served, photos, args.batch_size)
        peak_gb = torch.cuda.max_memory_allocated(args.device) / 2**30 if on_gpu else None
        del served
        release(args.device)

        service = []
        for busy_wait_ms in args.busy_wait_ms:
            service += run_service(args, folder, jpegs, busy_wait_ms)

    device_name = torch.cuda.get_device_name(args.device) if on_gpu else "CPU"
    result = {
        "device": device_name,
        "shape": args.shape,
        "prompt_tokens": prompt_tokens,
        "new_tokens": args.new_tokens,
        "batch_size": args.batch_size,
        "max_batch_wait_ms": args.wait_ms,
        "busy_batch_wait_ms": args.busy_wait_ms,
        "static_cache_and_compiled_decode": on_gpu,
        "warm_up_s": warm_up_s,
        "sequential_eager_images_per_s": sequential,
        "direct_batched_eager_images_per_s": eager_batched,
        "direct_batched_images_per_s": batched,
        "single_photo_generate_s": single_s,
        "direct_peak_memory_gb": peak_gb,
        "service": service,
        "targets": {f"busy_batch_wait_ms={busy:g}": targets(service, busy, batched, eager_batched, single_s) for busy in args.busy_wait_ms},
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"vlm_{args.shape}_{args.device.replace(':', '')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")

    print(f"{device_name}, {args.shape}, {prompt_tokens}-token prompts, {args.new_tokens} new tokens, warm-up {warm_up_s:.1f} s")
    print(f"{'path':<48}{'images/s':>10}{'p50 s':>9}{'p95 s':>9}{'mean batch':>12}")
    print(f"{'generate, eager, one photo at a time':<48}{sequential:>10.2f}")
    print(f"{f'generate, eager, batches of {args.batch_size}':<48}{eager_batched:>10.2f}")
    print(f"{'generate, service config, one photo':<48}{1 / single_s:>10.2f}{single_s:>9.3f}")
    print(f"{f'generate, service config, batches of {args.batch_size}':<48}{batched:>10.2f}")
    for row in service:
        label = f"service, busy wait {row['busy_batch_wait_ms']:g} ms, {row['clients']} client(s)"
        print(
            f"{label:<48}{row['images_per_s']:>10.2f}{row['p50_latency_s']:>9.3f}"
            f"{row['p95_latency_s']:>9.3f}{row['mean_batch_size']:>12.2f}"
        )
    print(f"peak memory (direct, GiB): {peak_gb}")
    for setting, values in result["targets"].items():
        print(setting)
        for target, value in values.items():
            print(f"  {target}: {value if value is None else round(value, 3)}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
