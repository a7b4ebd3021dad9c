"""The GPU path in one short command: direct generate vs `altgen serve`, on a real architecture.

Builds LLaVA-1.5-7B's shape with random weights straight on the device (``load_format = dummy``: config
and processor files only, no weights read or written; serving cost depends on the architecture, not the
weight values), fixes the output length, and measures in one run:
  (a) eager generate, one photo at a time (as the old service ran);
  (b) eager generate, batched at the service's batch size;
  (c) the service's configuration called directly (static KV cache, decode step compiled on CUDA):
      compile time per batch bucket, single-photo time, batched throughput, peak GPU memory;
  (d) a real `altgen serve` over HTTP with closed-loop clients, once per busy-wait value, with its
      time to /ready (the compile cache from (c) is shared, as a deployment's persistent cache would be).
Each step runs in its own process with its own timeout, inside one overall budget; the table is printed
and OUT_DIR/gpu_check.json written after every step, so a step that fails or times out loses only itself.

    python benchmarks/gpu_check.py OUT_DIR                          # on a GPU (defaults fit ~8 minutes)
    python benchmarks/gpu_check.py OUT_DIR --shape tiny --device cpu --batch-size 4 --new-tokens 4 \\
        --photos 8 --clients 1 4 --buckets 1,4                      # CPU smoke test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))  # the random model builders live beside the tests

from common import drive, sample_jpegs, start_server, stop_server  # noqa: E402

# (step, timeout in seconds, least time worth starting it with)
DIRECT_STEPS = [("eager", 150, 40), ("compiled", 300, 90)]
SERVICE_STEP = (180, 60)


# ---- the direct steps, each run in a child process -----------------------------------------------
def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def images_per_second(captioner, photos, batch_size: int) -> float:
    from altgen.captioning.contract import CaptionRequest

    requests = [CaptionRequest(photo) for photo in photos]
    captioner.generate_raw(requests[:batch_size])  # warm-up
    synchronize(captioner.device)
    started = time.perf_counter()
    for start in range(0, len(requests), batch_size):
        captioner.generate_raw(requests[start : start + batch_size])
    synchronize(captioner.device)
    return len(requests) / (time.perf_counter() - started)


def single_photo_seconds(captioner, photos) -> float:
    """Median time of one photo's generate: what a lone user waits for at best."""
    from altgen.captioning.contract import CaptionRequest

    times = []
    for photo in photos:
        started = time.perf_counter()
        captioner.generate_raw([CaptionRequest(photo)])
        synchronize(captioner.device)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def prefill_seconds(captioner, photos) -> float:
    """One batch's prompt pass alone (a single new token): the rest of a batch's time is decoding."""
    from altgen.captioning.contract import CaptionRequest

    rows = [CaptionRequest(photo) for photo in photos]
    captioner._generate(rows, max_new_tokens=1, min_new_tokens=1)  # warm-up
    synchronize(captioner.device)
    started = time.perf_counter()
    captioner._generate(rows, max_new_tokens=1, min_new_tokens=1)
    synchronize(captioner.device)
    return time.perf_counter() - started


def run_direct_step(args: argparse.Namespace) -> dict:
    import io

    import torch
    from PIL import Image

    from altgen.model.vlm.transformers_captioner import TransformersCaptioner

    jpegs = sample_jpegs()
    photos = [Image.open(io.BytesIO(jpegs[i % len(jpegs)])).convert("RGB") for i in range(args.photos)]
    few = photos[:4]
    on_gpu = args.device.startswith("cuda")
    started = time.perf_counter()
    captioner = TransformersCaptioner(
        args.model_folder,
        args.device,
        max_new_tokens=args.new_tokens,
        long_max_new_tokens=args.new_tokens,
        min_new_tokens=args.new_tokens,
        max_batch_size=args.batch_size,
        kv_cache="dynamic" if args.step == "eager" else args.kv_cache,
        compiled_batch_sizes=[int(size) for size in args.buckets.split(",")],
        load_format="dummy",
    )
    result = {"load_s": time.perf_counter() - started}
    if args.step == "eager":
        result["prompt_tokens"] = len(captioner.processor(images=[few[0]], text=[captioner._prompt("en")])["input_ids"][0])
        result["sequential_images_per_s"] = images_per_second(captioner, few, 1)
        result["batched_images_per_s"] = images_per_second(captioner, photos, args.batch_size)
        result["batch_prefill_s"] = prefill_seconds(captioner, photos[: args.batch_size])
        return result
    started = time.perf_counter()
    captioner.warm_up()
    result["warm_up_s"] = time.perf_counter() - started
    result["warm_up_s_per_bucket"] = {str(size): s for size, s in captioner.warm_up_seconds.items()}
    result["static_cache"] = captioner.static_cache
    if on_gpu:
        torch.cuda.reset_peak_memory_stats(args.device)
    result["single_photo_s"] = single_photo_seconds(captioner, few)
    result["batched_images_per_s"] = images_per_second(captioner, photos, args.batch_size)
    result["batch_prefill_s"] = prefill_seconds(captioner, photos[: args.batch_size])
    if on_gpu:
        result["peak_memory_gib"] = torch.cuda.max_memory_allocated(args.device) / 2**30
        result["device_name"] = torch.cuda.get_device_name(args.device)
    return result


# ---- the service step, run by the driver -----------------------------------------------------------
def gpu_memory_used_mib() -> int | None:
    """What the card has handed out, all processes together (the server's caching allocator keeps its peak)."""
    try:
        output = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
        return int(output.split()[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def run_service_step(args: argparse.Namespace, busy_wait_ms: float, timeout_s: float, log_path: Path) -> dict:
    """A real `altgen serve` on the same model, driven by closed-loop clients over loopback."""
    give_up = time.monotonic() + timeout_s
    started = time.perf_counter()
    process, base = start_server(
        ready_timeout_s=timeout_s,
        log_path=log_path,
        model=args.model_folder,
        load_format="dummy",
        devices=args.device,
        kv_cache=args.kv_cache,
        compiled_batch_sizes=args.buckets,
        max_batch_size=args.batch_size,
        max_batch_wait_ms=args.wait_ms,
        busy_batch_wait_ms=busy_wait_ms,
        max_new_tokens=args.new_tokens,
        long_max_new_tokens=args.new_tokens,
        min_new_tokens=args.new_tokens,
        queue_capacity=max(256, 4 * max(args.clients)),
        request_timeout_s=300,
        halve_rate=1.0,
    )
    result: dict = {"busy_batch_wait_ms": busy_wait_ms, "ready_s": time.perf_counter() - started, "runs": []}
    try:
        jpegs = sample_jpegs()

        async def measure() -> None:
            await drive(base, jpegs, min(4, max(args.clients)), 8)  # warm-up
            for clients in args.clients:
                result["runs"].append(await drive(base, jpegs, clients, max(16, 4 * clients)))

        asyncio.run(asyncio.wait_for(measure(), max(1.0, give_up - time.monotonic())))
    except (TimeoutError, asyncio.TimeoutError):
        result["error"] = f"timed out after {timeout_s:.0f} s"
    finally:
        result["gpu_memory_used_mib"] = gpu_memory_used_mib() if args.device.startswith("cuda") else None
        stop_server(process)
    return result


# ---- the driver -------------------------------------------------------------------------------------
def targets(results: dict) -> dict:
    """The GPU issue's targets, each as a ratio, from whatever steps finished."""
    eager, compiled = results.get("eager", {}), results.get("compiled", {})
    rows = {}
    for service in results.get("service", []):
        runs = service.get("runs", [])
        if not runs:
            continue
        busiest = max(runs, key=lambda run: run["clients"])
        lone = next((run for run in runs if run["clients"] == 1), None)
        ratios = {f"images_per_s_at_{busiest['clients']}_clients (>= 38)": busiest["images_per_s"]}
        if "batched_images_per_s" in compiled:
            ratios["service_vs_direct_same_config (>= 0.9)"] = busiest["images_per_s"] / compiled["batched_images_per_s"]
        if "batched_images_per_s" in eager:
            ratios["service_vs_eager_batched (>= 2.0)"] = busiest["images_per_s"] / eager["batched_images_per_s"]
        if lone and "single_photo_s" in compiled:
            ratios["one_client_p95_vs_single_generate (<= 1.2)"] = lone["p95_latency_s"] / compiled["single_photo_s"]
        rows[f"busy_wait_ms={service['busy_batch_wait_ms']:g}"] = ratios
    return rows


def table(results: dict) -> str:
    setup, eager, compiled = results["setup"], results.get("eager", {}), results.get("compiled", {})
    lines = [
        f"{compiled.get('device_name', setup['device'])}, {setup['shape']} (random weights), "
        f"{eager.get('prompt_tokens', '?')}-token prompts, {setup['new_tokens']} new tokens, "
        f"batch {setup['batch_size']}, compiled buckets {setup['buckets']}",
        f"{'path':<52}{'images/s':>10}{'p50 s':>9}{'p95 s':>9}{'batch':>8}",
    ]

    def row(label: str, rate: float | None, p50: float | None = None, p95: float | None = None, batch=None) -> None:
        cells = [f"{value:>{width}.{digits}f}" if value is not None else " " * width
                 for value, width, digits in ((rate, 10, 2), (p50, 9, 3), (p95, 9, 3), (batch, 8, 1))]
        lines.append(f"{label:<52}" + "".join(cells))

    if "sequential_images_per_s" in eager:
        row("(a) eager generate, one photo at a time", eager["sequential_images_per_s"])
        row(f"(b) eager generate, batches of {setup['batch_size']}", eager["batched_images_per_s"])
    if "batched_images_per_s" in compiled:
        row("(c) service config direct, one photo", 1 / compiled["single_photo_s"], compiled["single_photo_s"])
        row(f"(c) service config direct, batches of {setup['batch_size']}", compiled["batched_images_per_s"])
    for service in results.get("service", []):
        for run in service.get("runs", []):
            label = f"(d) altgen serve, busy wait {service['busy_batch_wait_ms']:g} ms, {run['clients']} client(s)"
            row(label, run["images_per_s"], run["p50_latency_s"], run["p95_latency_s"], run["mean_batch_size"])
    for name, step in (("eager", eager), ("service config", compiled)):
        if "batch_prefill_s" in step:
            batch_s = setup["batch_size"] / step["batched_images_per_s"]
            lines.append(f"{name}, one batch of {setup['batch_size']}: {batch_s:.2f} s, of which prompt pass "
                         f"{step['batch_prefill_s']:.2f} s, decoding {batch_s - step['batch_prefill_s']:.2f} s")
    if "warm_up_s" in compiled:
        per_bucket = ", ".join(f"{size}: {s:.1f} s" for size, s in compiled["warm_up_s_per_bucket"].items())
        lines.append(f"compile + graph capture, cold cache: {compiled['warm_up_s']:.1f} s ({per_bucket})")
    if "peak_memory_gib" in compiled:
        lines.append(f"peak GPU memory, direct (c): {compiled['peak_memory_gib']:.1f} GiB allocated")
    for service in results.get("service", []):
        memory = service.get("gpu_memory_used_mib")
        lines.append(
            f"altgen serve busy wait {service['busy_batch_wait_ms']:g} ms: ready in {service.get('ready_s', float('nan')):.1f} s"
            " (warm compile cache)" + (f", GPU memory in use {memory / 1024:.1f} GiB" if memory else "")
        )
    for setting, ratios in targets(results).items():
        lines.append(f"targets, {setting}: " + ", ".join(f"{name} = {value:.3g}" for name, value in ratios.items()))
    for step, error in results.get("errors", {}).items():
        lines.append(f"step {step}: {error}")
    return "\n".join(lines)


def save(results: dict, out_dir: Path) -> str:
    results["targets"] = targets(results)
    (out_dir / "gpu_check.json").write_text(json.dumps(results, indent=2) + "\n")
    text = table(results)
    (out_dir / "gpu_check.txt").write_text(text + "\n")
    return text


def run_step_process(args: argparse.Namespace, step: str, timeout_s: float, log_path: Path) -> dict:
    """One direct step in a child process (a crashed or hung CUDA context cannot take the driver down)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as output, log_path.open("a") as log:
        command = [sys.executable, __file__, *sys.argv[1:], "--step", step, "--step-output", output.name,
                   "--model-folder", args.model_folder]
        try:
            subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s, check=True)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"timed out after {timeout_s:.0f} s (log: {log_path.name})") from None
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"exited with {exc.returncode} (log: {log_path.name})") from None
        return json.loads(Path(output.name).read_text())


def versions() -> dict:
    import torch
    import transformers

    return {"python": sys.version.split()[0], "torch": torch.__version__, "cuda": torch.version.cuda,
            "transformers": transformers.__version__}


def drive_all(args: argparse.Namespace) -> None:
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    give_up = time.monotonic() + args.budget_s
    results: dict = {
        "setup": {key: getattr(args, key) for key in ("shape", "device", "batch_size", "new_tokens", "photos", "clients",
                                                       "wait_ms", "busy_wait_ms", "buckets", "kv_cache", "budget_s")},
        "errors": {},
        "versions": versions(),
    }
    with tempfile.TemporaryDirectory() as work:
        from random_vlms import save_random_llava

        args.model_folder = str(save_random_llava(Path(work) / "model", shape=args.shape, weights=False))
        # One compile cache for every process: the server reuses what step (c) compiled.
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(Path(work) / "inductor"))
        steps = [(name, timeout, least, None) for name, timeout, least in DIRECT_STEPS]
        steps += [("service", *SERVICE_STEP, busy) for busy in args.busy_wait_ms]
        for name, timeout, least, busy in steps:
            label = name if busy is None else f"service busy wait {busy:g} ms"
            left = give_up - time.monotonic()
            if left < least:
                results["errors"][label] = f"skipped: {left:.0f} s of the budget left"
                continue
            print(f"--- {label} (timeout {min(timeout, left):.0f} s)", flush=True)
            started = time.monotonic()
            try:
                if busy is None:
                    results[name] = run_step_process(args, name, min(timeout, left), out_dir / f"{name}.log")
                else:
                    log_path = out_dir / f"server-busy{busy:g}.log"
                    results.setdefault("service", []).append(run_service_step(args, busy, min(timeout, left), log_path))
            except Exception as exc:  # noqa: BLE001 - record it and go on to the next step
                results["errors"][label] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
            save(results, out_dir)
            print(f"    {time.monotonic() - started:.0f} s, {results['errors'].get(label, 'done')}", flush=True)
    print(save(results, out_dir), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", help="folder for gpu_check.json, gpu_check.txt and the step logs")
    parser.add_argument("--shape", default="llava-1.5-7b", choices=["llava-1.5-7b", "tiny"])
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--photos", type=int, default=128, help="photos per throughput measurement")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--wait-ms", type=float, default=10.0)
    parser.add_argument("--busy-wait-ms", type=float, nargs="+", default=[0.0, 500.0], help="one service run per value")
    parser.add_argument("--buckets", default="1,64", help="batch sizes compiled (a deployment's default: powers of two)")
    parser.add_argument("--kv-cache", default="auto", choices=["auto", "static", "dynamic"], help="the service's setting")
    parser.add_argument("--budget-s", type=float, default=450, help="wall clock for all steps together")
    parser.add_argument("--step", choices=[name for name, _, _ in DIRECT_STEPS], help=argparse.SUPPRESS)
    parser.add_argument("--step-output", help=argparse.SUPPRESS)
    parser.add_argument("--model-folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step is None:
        drive_all(args)
        return
    Path(args.step_output).write_text(json.dumps(run_direct_step(args)))


if __name__ == "__main__":
    main()
