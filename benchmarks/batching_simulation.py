"""How the micro-batcher behaves in front of a GPU-like device, without a GPU.

The server is a real `create_app` on uvicorn in its own process; only the model is replaced by a
stand-in that sleeps as long as a batch would take on a device (``--fixed-s`` + ``--per-row-s`` per
row, rows padded to a power of two as with a static KV cache) and returns a fixed sentence. It
is a timing model, not a captioner: use it to see mean batch sizes, throughput against the
stand-in's own batched rate, and latency for closed-loop clients under different wait settings,
and to find how fast this machine's request path (HTTP, decode, pre-processing) can go
(``--fixed-s 0 --per-row-s 0``). Writes benchmarks/results/batching_simulation.json.

    python benchmarks/batching_simulation.py [--batch-size 64] [--wait-ms 10 50] [--busy-wait-ms 0 300] [--clients 1 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from common import drive, free_port, sample_jpegs, wait_until_ready

from altgen.captioning.contract import Captioner

RESULTS = Path(__file__).parent / "results"


class SleepingDevice(Captioner):
    """Takes as long as a batch would on a device; CPU pre-processing is left to the real service path."""

    name, device = "sleeping-device", "cpu"

    def __init__(self, fixed_s: float, per_row_s: float, preprocess_s: float):
        self.fixed_s, self.per_row_s, self.preprocess_s = fixed_s, per_row_s, preprocess_s

    def batch_seconds(self, rows: int) -> float:
        padded = 1 << (rows - 1).bit_length()
        return self.fixed_s + self.per_row_s * padded

    def preprocess(self, request):
        time.sleep(self.preprocess_s)  # an image processor's time on a request thread
        return replace(request, features=True)

    def caption(self, requests):
        time.sleep(self.batch_seconds(len(requests)))
        return ["A photo."] * len(requests)


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from altgen.api.app import create_app
    from altgen.composition import load_ranker
    from altgen.settings import Settings

    settings = Settings(
        devices="cpu",
        max_batch_size=args.batch_size,
        max_batch_wait_ms=args.wait,
        busy_batch_wait_ms=args.busy,
        queue_capacity=1024,
        halve_rate=1.0,
    )
    device = SleepingDevice(args.fixed_s, args.per_row_s, args.preprocess_s)
    app = create_app(settings, captioner_factory=lambda _s, _d: device, ranker_factory=load_ranker)
    uvicorn.run(app, host="127.0.0.1", port=args.serve, log_level="warning", log_config=None)


def measure(args: argparse.Namespace, wait_ms: float, busy_ms: float) -> list[dict]:
    port = free_port()
    command = [sys.executable, __file__, "--serve", str(port), "--wait", str(wait_ms), "--busy", str(busy_ms)]
    for flag in ("batch_size", "fixed_s", "per_row_s", "preprocess_s"):
        command += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(server, base, timeout_s=120)
        jpegs = sample_jpegs()
        rows = []
        for clients in args.clients:
            row = asyncio.run(drive(base, jpegs, clients, max(args.photos, 4 * clients)))
            rows.append({"max_batch_wait_ms": wait_ms, "busy_batch_wait_ms": busy_ms, **row})
            print(
                f"wait {wait_ms:>4.0f} ms, busy {busy_ms:>4.0f} ms  {clients:>3} clients  {row['images_per_s']:7.1f} images/s  "
                f"mean batch {row['mean_batch_size']:5.1f}  p50 {row['p50_latency_s']:.3f} s  p95 {row['p95_latency_s']:.3f} s",
                flush=True,
            )
        return rows
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--fixed-s", type=float, default=0.25, help="device seconds per batch")
    parser.add_argument("--per-row-s", type=float, default=0.012, help="device seconds per (padded) row")
    parser.add_argument("--preprocess-s", type=float, default=0.005, help="pre-processing seconds per photo")
    parser.add_argument("--wait-ms", type=float, nargs="+", default=[10.0, 50.0])
    parser.add_argument("--busy-wait-ms", type=float, nargs="+", default=[0.0, 300.0], help="busy_batch_wait_ms values")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--photos", type=int, default=256)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # internal: run the server on this port
    parser.add_argument("--wait", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--busy", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args)

    device = SleepingDevice(args.fixed_s, args.per_row_s, args.preprocess_s)
    full_rate = args.batch_size / device.batch_seconds(args.batch_size) if args.fixed_s or args.per_row_s else None
    print(f"stand-in device: {args.fixed_s} s + {args.per_row_s} s per row; full batches of {args.batch_size}: {full_rate} images/s")
    rows = [row for busy_ms in args.busy_wait_ms for wait_ms in args.wait_ms for row in measure(args, wait_ms, busy_ms)]
    for row in rows:
        row["vs_full_batches"] = row["images_per_s"] / full_rate if full_rate else None
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "batching_simulation.json"
    settings = {k: v for k, v in vars(args).items() if k not in ("serve", "wait", "busy")}
    result = {"settings": settings, "full_batch_images_per_s": full_rate, "runs": rows}
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
