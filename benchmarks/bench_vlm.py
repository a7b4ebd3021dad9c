"""Vision-language model serving benchmark, meant for a GPU machine (runs on CPU with --shape tiny).

Builds a random-initialised model of a real shape (LLaVA-1.5-7B by default: serving cost depends on
the architecture, not the weights) and fixes the output length (min_new_tokens == max_new_tokens).
In one run, on the same model, it measures:
  (a) one photo at a time, as the old service did;
  (b) batched generate called directly at the service's batch size;
  (c) a real `altgen serve` over HTTP with 1, 8, 32 and 64 concurrent clients.
Prints a table and writes benchmarks/results/vlm_<shape>_<device>.json.

    python benchmarks/bench_vlm.py --device cuda:0 [--batch-size 64] [--new-tokens 64]
    python benchmarks/bench_vlm.py --shape tiny --device cpu --photos 16 --clients 1 4   # smoke test
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import json
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


def images_per_second(captioner: TransformersCaptioner, photos: list[Image.Image], batch_size: int) -> float:
    requests = [CaptionRequest(photo) for photo in photos]
    captioner.generate_raw(requests[:batch_size])  # warm-up
    if captioner.device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    for start in range(0, len(requests), batch_size):
        captioner.generate_raw(requests[start : start + batch_size])
    if captioner.device.startswith("cuda"):
        torch.cuda.synchronize()
    return len(requests) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="llava-1.5-7b", choices=["llava-1.5-7b", "tiny"])
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--photos", type=int, default=256)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--wait-ms", type=float, default=10.0)
    args = parser.parse_args()

    jpegs = sample_jpegs()
    photos = [Image.open(io.BytesIO(jpegs[i % len(jpegs)])).convert("RGB") for i in range(args.photos)]
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    with tempfile.TemporaryDirectory() as folder:
        save_random_llava(Path(folder), shape=args.shape, dtype=dtype)
        gc.collect()
        captioner = TransformersCaptioner(
            folder, args.device, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens
        )
        prompt_tokens = len(captioner.processor(images=[photos[0]], text=[captioner._prompt("en")])["input_ids"][0])
        if args.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        sequential = images_per_second(captioner, photos[: max(4, args.photos // 32)], 1)
        batched = images_per_second(captioner, photos, args.batch_size)
        peak_gb = torch.cuda.max_memory_allocated() / 2**30 if args.device.startswith("cuda") else None
        del captioner
        gc.collect()
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()

        process, base = start_server(
            model=folder,
            devices=args.device,
            max_batch_size=args.batch_size,
            max_batch_wait_ms=args.wait_ms,
            max_new_tokens=args.new_tokens,
            min_new_tokens=args.new_tokens,
            queue_capacity=max(256, 4 * max(args.clients)),
            request_timeout_s=600,
            halve_rate=1.0,
        )
        try:
            asyncio.run(drive(base, jpegs, min(4, max(args.clients)), 8))  # warm-up
            service = [asyncio.run(drive(base, jpegs, clients, max(args.photos, 4 * clients))) for clients in args.clients]
        finally:
            stop_server(process)

    device_name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "CPU"
    result = {
        "device": device_name,
        "shape": args.shape,
        "prompt_tokens": prompt_tokens,
        "new_tokens": args.new_tokens,
        "batch_size": args.batch_size,
        "sequential_images_per_s": sequential,
        "direct_batched_images_per_s": batched,
        "direct_peak_memory_gb": peak_gb,
        "service": service,
        "service_max_clients_vs_direct_batched": service[-1]["images_per_s"] / batched,
        "direct_batched_vs_sequential": batched / sequential,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"vlm_{args.shape}_{args.device.replace(':', '')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{device_name}, {args.shape}, {prompt_tokens}-token prompts, {args.new_tokens} new tokens")
    print(f"{'path':<36}{'images/s':>10}{'p50 s':>9}{'p95 s':>9}{'mean batch':>12}")
    print(f"{'generate, one photo at a time':<36}{sequential:>10.2f}")
    print(f"{f'generate, batches of {args.batch_size}':<36}{batched:>10.2f}")
    for row in service:
        label = f"service over HTTP, {row['clients']} client(s)"
        print(f"{label:<36}{row['images_per_s']:>10.2f}{row['p50_latency_s']:>9.3f}{row['p95_latency_s']:>9.3f}{row['mean_batch_size']:>12.2f}")
    print(f"peak memory (direct): {peak_gb}  service/direct: {result['service_max_clients_vs_direct_batched']:.2f}  wrote {path}")


if __name__ == "__main__":
    main()
