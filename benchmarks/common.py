"""Helpers the benchmark scripts share: sample photos and a real `altgen serve` process on loopback."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from PIL import Image
from skimage import data as skdata

SAMPLES = ["chelsea", "coffee", "astronaut", "rocket", "camera", "cat", "coins", "horse"]


def sample_jpegs() -> list[bytes]:
    """Real photos that scikit-image ships, as JPEG bytes (no downloads)."""
    photos = []
    for name in SAMPLES:
        buffer = io.BytesIO()
        Image.fromarray(getattr(skdata, name)()).convert("RGB").save(buffer, format="JPEG", quality=90)
        photos.append(buffer.getvalue())
    return photos


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    ready_timeout_s: float = 120, log_path: Path | None = None, source: Path | None = None, **settings: object
) -> tuple[subprocess.Popen, str]:
    """Starts `altgen serve` on a free loopback port with ALTGEN_* settings; returns once /ready says so
    (a compiled GPU model warms up before it is ready: give it a longer ``ready_timeout_s``). With
    ``log_path`` its log (at info level) goes to that file, else nowhere. ``source``: another checkout's
    ``src`` folder to run instead of the installed altgen (an earlier release, to compare in one run)."""
    port = free_port()
    env = {**os.environ, **{f"ALTGEN_{k.upper()}": str(v) for k, v in settings.items()}}
    if source is not None:
        env["PYTHONPATH"] = str(source)
    log = log_path.open("a") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "altgen", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "info" if log_path else "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    if log_path:
        log.close()  # the child holds its own copy
    base = f"http://127.0.0.1:{port}"
    wait_until_ready(process, base, ready_timeout_s)
    return process, base


def wait_until_ready(process: subprocess.Popen, base: str, timeout_s: float) -> None:
    """Polls /ready until it answers 200; kills the server and raises if it exits or the time runs out."""
    give_up = time.monotonic() + timeout_s
    while time.monotonic() < give_up and process.poll() is None:
        try:
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    code = process.poll()
    process.kill()
    raise RuntimeError(f"server exited with code {code} before it was ready" if code is not None
                       else f"server not ready after {timeout_s:.0f} s")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def read_batch_metrics(text: str) -> tuple[float, float]:
    values = {}
    for line in text.splitlines():
        if line.startswith(("altgen_batch_size_sum", "altgen_batch_size_count")):
            name, value = line.split()
            values[name] = float(value)
    return values["altgen_batch_size_sum"], values["altgen_batch_size_count"]


async def drive(base: str, jpegs: list[bytes], clients: int, count: int) -> dict:
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        before = read_batch_metrics((await http.get("/metrics")).text)
        latencies: list[float] = []
        next_index = 0

        async def client_loop():
            nonlocal next_index
            while next_index < count:
                index = next_index
                next_index += 1
                started = time.perf_counter()
                response = await http.post(
                    "/getAltText",
                    data={"Id": "bench", "Hash": str(index)},
                    files={"Image": ("p.jpg", jpegs[index % len(jpegs)])},
                )
                response.raise_for_status()
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(clients)))
        elapsed = time.perf_counter() - started
        after = read_batch_metrics((await http.get("/metrics")).text)
    images, batches = after[0] - before[0], after[1] - before[1]
    return {
        "clients": clients,
        "images": count,
        "images_per_s": count / elapsed,
        "p50_latency_s": statistics.median(latencies),
        "p95_latency_s": percentile(latencies, 0.95),
        # None when /metrics has no batches: on Ray the batches are made in the captioner replicas.
        "mean_batch_size": images / batches if batches else None,
    }
